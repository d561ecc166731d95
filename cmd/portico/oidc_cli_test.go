package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOIDCCLI runs `portico oidc client add|list` and `portico keys
// rotate|list` in order against one migrated database, as an operator
// would, and checks what each prints and how it exits.
func TestOIDCCLI(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, _, errOut := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	for _, args := range [][]string{
		{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "Ex"},
		{"agency", "create", "--id", "dmv", "--jurisdiction", "ex", "--name", "DMV"},
	} {
		if code, _, errOut := cli(t, env, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	var secret string // the confidential client's, to prove it is printed once
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
		check  func(t *testing.T, stdout string)
	}{
		{"client add help", []string{"oidc", "client", "add", "--help"}, exitOK, "-redirect-uri", "", nil},
		{"client add without name", []string{"oidc", "client", "add", "--grant", "client_credentials"}, exitUsage, "", "--name and --grant are required", nil},
		{"client add bad grant", []string{"oidc", "client", "add", "--name", "X", "--grant", "password"}, exitError, "", "grant", nil},
		{"code flow without redirect", []string{"oidc", "client", "add", "--name", "X", "--grant", "authorization_code"}, exitError, "", "redirect", nil},
		{"plain http redirect", []string{"oidc", "client", "add", "--name", "X", "--grant", "authorization_code", "--redirect-uri", "http://fishing.example.gov/cb"}, exitError, "", "http", nil},
		{"unknown agency", []string{"oidc", "client", "add", "--name", "X", "--grant", "client_credentials", "--agency", "atlantis"}, exitError, "", "atlantis", nil},
		{"confidential web app", []string{"oidc", "client", "add", "--name", "Fishing Licences", "--agency", "dmv", "--grant", "authorization_code",
			"--redirect-uri", "https://fishing.example.gov/cb", "--post-logout-uri", "https://fishing.example.gov/", "--json"}, exitOK, `"client_secret"`, "",
			func(t *testing.T, out string) {
				var reg struct {
					ID     string `json:"id"`
					Secret string `json:"client_secret"`
				}
				if err := json.Unmarshal([]byte(out), &reg); err != nil || reg.Secret == "" {
					t.Fatalf("JSON %q: %v", out, err)
				}
				secret = reg.Secret
			}},
		{"public app", []string{"oidc", "client", "add", "--name", "Example Wallet", "--grant", "authorization_code", "--public",
			"--redirect-uri", "gov.example.wallet:/callback"}, exitOK, "must use PKCE", "", func(t *testing.T, out string) {
			if strings.Contains(out, "client_secret:") {
				t.Fatalf("a public client got a secret:\n%s", out)
			}
		}},
		{"system client", []string{"oidc", "client", "add", "--name", "DMV records sync", "--agency", "dmv", "--grant", "client_credentials",
			"--scope", "records.read"}, exitOK, "client_secret:", "", nil},
		{"person scope for a system client", []string{"oidc", "client", "add", "--name", "X", "--grant", "client_credentials", "--scope", "email"}, exitError, "", "scope", nil},
		{"client list", []string{"oidc", "client", "list"}, exitOK, "Fishing Licences", "", func(t *testing.T, out string) {
			for _, want := range []string{"CLIENT ID", "Example Wallet", "DMV records sync", "https://fishing.example.gov/cb"} {
				if !strings.Contains(out, want) {
					t.Fatalf("list lacks %q:\n%s", want, out)
				}
			}
			if secret == "" || strings.Contains(out, secret) {
				t.Fatal("the secret is shown again by list")
			}
		}},
		{"client list json", []string{"oidc", "client", "list", "--json"}, exitOK, `"Example Wallet"`, "", func(t *testing.T, out string) {
			var cs []map[string]any
			if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 3 {
				t.Fatalf("JSON list of %d: %v\n%s", len(cs), err, out)
			}
		}},
		{"keys list before any key", []string{"keys", "list"}, exitOK, "KID", "", nil},
		{"keys rotate bad alg", []string{"keys", "rotate", "--alg", "HS256"}, exitUsage, "", "--alg must be ES256 or RS256", nil},
		{"keys rotate", []string{"keys", "rotate"}, exitOK, "(ES256) is published now and signs from", "", nil}, // keys list made the first key
		{"keys rotate to RS256 at once", []string{"keys", "rotate", "--alg", "RS256", "--now", "--json"}, exitOK, `"alg": "RS256"`, "", func(t *testing.T, out string) {
			var res struct {
				Active   struct{ Alg string }
				Retiring []struct {
					Alg         string `json:"alg"`
					RetireAfter string `json:"retire_after"`
				} `json:"retiring"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Retiring) == 0 {
				t.Fatalf("rotation %+v: %v\n%s", res, err, out)
			}
			// Every earlier key stays published until its retire_after.
			for _, k := range res.Retiring {
				if k.Alg != "ES256" || k.RetireAfter == "" {
					t.Fatalf("retiring key %+v", k)
				}
			}
		}},
		{"keys list", []string{"keys", "list", "--json"}, exitOK, `"active": true`, "", func(t *testing.T, out string) {
			var keys []struct {
				Alg    string `json:"alg"`
				Active bool   `json:"active"`
			}
			if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) < 2 {
				t.Fatalf("keys %+v: %v", keys, err)
			}
			active := 0
			for _, k := range keys {
				if k.Active {
					active++
					if k.Alg != "RS256" {
						t.Fatalf("active key is %s", k.Alg)
					}
				}
			}
			if active != 1 {
				t.Fatalf("%d active keys", active)
			}
		}},
		{"keys rotate publishes the key before it signs", []string{"keys", "rotate"}, exitOK, "(ES256) is published now and signs from", "", nil},
		{"keys list shows the key to come", []string{"keys", "list"}, exitOK, "published; signs from", "", func(t *testing.T, out string) {
			if !strings.Contains(out, "signing until its successor does") {
				t.Fatalf("the RS256 key signs until the new one does:\n%s", out)
			}
		}},
		{"everything was audited and the log is intact", []string{"audit", "list", "--json", "--limit", "1000"}, exitOK, `"action": "oidc.keys.rotate"`, "",
			func(t *testing.T, out string) {
				if strings.Count(out, `"action": "oidc.client.add"`) != 3 {
					t.Fatalf("want 3 client registrations audited:\n%s", out)
				}
				if code, vout, verr := cli(t, env, "audit", "verify"); code != exitOK {
					t.Fatalf("audit verify: %s %s", vout, verr)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

// TestOIDCClientRevokeTokensCLI: `portico oidc client revoke-tokens`
// ends every token of a client, a system's or one that signs people in
// (after a leak), says from when and how soon replicas follow, refuses an
// unknown client, and is audited as the operator.
func TestOIDCClientRevokeTokensCLI(t *testing.T) {
	env := map[string]string{"PORTICO_DATA": t.TempDir()}
	if code, _, errOut := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	add := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(t, env, append([]string{"oidc", "client", "add", "--json"}, args...)...)
		var reg struct {
			ID string `json:"client_id"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &reg) != nil || reg.ID == "" {
			t.Fatalf("add: %d %s %s", code, out, errOut)
		}
		return reg.ID
	}
	sys := add("--name", "DMV records sync", "--grant", "client_credentials")
	app := add("--name", "Fishing Licences", "--grant", "authorization_code", "--redirect-uri", "https://fishing.example.gov/cb")
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"no client", []string{}, exitUsage, "", "name one CLIENT_ID"},
		{"two clients", []string{sys, app}, exitUsage, "", "name one CLIENT_ID"},
		{"unknown client", []string{"pc_nobody"}, exitError, "", "no client"},
		{"a client that signs people in", []string{app}, exitOK, "is refused, by every running replica at once", ""},
		{"the system client", []string{sys}, exitOK, "is refused, by every running replica at once", ""},
		{"again, as JSON", []string{sys, "--json"}, exitOK, `"tokens_not_before"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, append([]string{"oidc", "client", "revoke-tokens"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %s\nstderr %s", code, tc.code, out, errOut)
			}
		})
	}
	code, out, _ := cli(t, env, "audit", "list", "--json", "--limit", "100")
	if code != 0 || strings.Count(out, `"oidc.client.tokens_revoke"`) != 3 {
		t.Fatalf("audit: %d revocations recorded\n%s", strings.Count(out, `"oidc.client.tokens_revoke"`), out)
	}
}
