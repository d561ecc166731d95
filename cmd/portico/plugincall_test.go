package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPluginCallCLI calls the vehicle records through the gateway from
// the CLI: a plug-in on loopback that answers valid and invalid bodies.
func TestPluginCallCLI(t *testing.T) {
	_, env := seededData(t)
	var auth string
	var issuers []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		issuers = append(issuers, tokenIssuer(auth))
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/BAD1") {
			_, _ = w.Write([]byte(`{"plate":"BAD1"}`))
			return
		}
		_, _ = w.Write([]byte(`{"plate":"EX 4KQ-218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2018,"registration_expires":"2027-01-01"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "plugins", "vehicle-registry", "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	oas, err := os.ReadFile(filepath.Join("..", "..", "examples", "plugins", "vehicle-registry", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "plugin.yaml")
	if err := os.WriteFile(manifest, []byte(strings.Replace(string(src), "http://127.0.0.1:8091", srv.URL, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), oas, 0o600); err != nil {
		t.Fatal(err)
	}
	env["PORTICO_PUBLIC_URL"] = "http://localhost:8080"
	call := []string{"plugin", "call", "vehicle-registry", "find-vehicle", "--agency", "dmv", "--service", "vehicle-registration-renewal"}
	noURL := map[string]string{"PORTICO_DATA": env["PORTICO_DATA"]}
	tests := []struct {
		name           string
		env            map[string]string // nil: env
		args           []string
		code           int
		stdout, stderr string
	}{
		{"register", nil, []string{"plugin", "register", manifest}, exitOK, "Registered", ""},
		{"not enabled", nil, append(call, "--path", "plate=EX4KQ218"), exitError, "", "is not enabled for dmv"},
		{"enable", nil, []string{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--data", "name", "--service", "vehicle-registration-renewal", "--operation", "find-vehicle"}, exitOK, "", ""},
		{"no agency", nil, []string{"plugin", "call", "vehicle-registry", "find-vehicle"}, exitUsage, "", "--agency and --service are required"},
		{"bad path flag", nil, append(call, "--path", "plate"), exitUsage, "", "write NAME=VALUE"},
		{"missing path parameter", nil, call, exitError, "", `path parameter "plate"`},
		{"other service", nil, []string{"plugin", "call", "vehicle-registry", "find-vehicle", "--agency", "dmv", "--service", "x", "--path", "plate=EX4KQ218"}, exitError, "", "no access right"},
		{"no public url", noURL, append(call, "--path", "plate=EX4KQ218"), exitUsage, "", "--public-url (or PORTICO_PUBLIC_URL) is required"},
		{"ok", nil, append(call, "--path", "plate=EX4KQ218"), exitOK, "status 200", ""},
		{"ok json", nil, append(call, "--path", "plate=EX4KQ218", "--json"), exitOK, `"make": "Honda"`, ""},
		{"public url is the issuer", nil, append(call, "--path", "plate=EX4KQ218", "--public-url", "https://portico.example.gov"), exitOK, "status 200", ""},
		{"invalid response", nil, append(call, "--path", "plate=BAD1"), exitError, "", "not answering (invalid_response)"},
		{"audit", nil, []string{"audit", "list", "--subject", "plugin:vehicle-registry", "--json"}, exitOK, `"outcome": "invalid_response"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.env != nil {
				e = tt.env
			}
			code, out, errOut := cli(t, e, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
	if !strings.HasPrefix(auth, "Bearer ey") {
		t.Fatalf("the plug-in got no token: %q", auth)
	}
	if slices.Contains(issuers, "") {
		t.Fatalf("a token without an issuer reached the plug-in: %q", issuers)
	}
	if !slices.Contains(issuers, "https://portico.example.gov") {
		t.Fatalf("--public-url is not the token's iss: %q", issuers)
	}
}

// tokenIssuer is the iss of a bearer JWT's payload ("" if unreadable).
func tokenIssuer(auth string) string {
	parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Iss
}
