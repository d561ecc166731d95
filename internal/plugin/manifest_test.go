package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/plugin"
)

var eventTypes = []string{"gov.portico.case.opened", "gov.portico.case.transitioned", "gov.portico.case.document_issued"}

func exampleDir(name string) string { return filepath.Join("..", "..", "examples", "plugins", name) }

func readExample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir(name), "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openapiOf(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir(name), "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// memLoader serves OpenAPI documents by reference from a map.
func memLoader(docs map[string]string) plugin.Loader {
	return func(_ context.Context, ref string) ([]byte, error) {
		d, ok := docs[ref]
		if !ok {
			return nil, errors.New("no such file or directory")
		}
		return []byte(d), nil
	}
}

func TestValidateExamples(t *testing.T) {
	for _, name := range []string{"vehicle-registry", "counter-booking"} {
		t.Run(name, func(t *testing.T) {
			src := readExample(t, name)
			chk, probs := plugin.Validate(context.Background(), name+"/plugin.yaml", []byte(src), plugin.Options{Load: plugin.FileLoader(exampleDir(name)), EventTypes: eventTypes})
			if len(probs) > 0 {
				t.Fatalf("problems: %v", probs)
			}
			if chk.Manifest.ID != name || len(chk.OpenAPI) == 0 || len(chk.OpenAPISHA256) != 64 {
				t.Fatalf("checked: %+v", chk.Manifest)
			}
		})
	}
}

// TestValidateManifest changes the vehicle registry example one way at a
// time and expects the problem at its path and line.
func TestValidateManifest(t *testing.T) {
	base := readExample(t, "vehicle-registry")
	oas := openapiOf(t, "vehicle-registry")
	tests := []struct {
		name    string
		edit    func(src, oas string) (string, string)
		want    string // substring of one problem: "LINE: message"
		wantNot bool
	}{
		{"valid", func(s, o string) (string, string) { return s, o }, "", true},
		{"yaml syntax", func(s, o string) (string, string) { return s + "\n  : [", o }, "YAML syntax", false},
		{"empty", func(s, o string) (string, string) { return "", o }, "1: the file is empty", false},
		{"unknown key", func(s, o string) (string, string) { return s + "colour: blue\n", o }, `manifest: unknown key "colour"`, false},
		{"missing operations", func(s, o string) (string, string) { return cut(s, "operations:", "data:"), o }, `manifest: "operations" is required`, false},
		{"bad id", func(s, o string) (string, string) {
			return strings.Replace(s, "id: vehicle-registry", "id: Vehicle_Registry", 1), o
		}, `4: id: "Vehicle_Registry" must be 1 to 64 lowercase letters`, false},
		{"name without spanish", func(s, o string) (string, string) {
			return strings.Replace(s, "  es: Registros de vehículos del DMV\n", "", 1), o
		}, `name: "es" is required`, false},
		{"provider both", func(s, o string) (string, string) {
			return strings.Replace(s, "  agency: dmv\n", "  agency: dmv\n  name: Acme\n", 1), o
		}, "provider: give either agency", false},
		{"private provider without email", func(s, o string) (string, string) {
			return strings.Replace(s, "  agency: dmv\n", "  name: Acme\n  website: https://acme.example.com\n", 1), o
		}, "provider: give agency (an agency of the platform), or the name, website and email", false},
		{"private provider bad email", func(s, o string) (string, string) {
			return strings.Replace(s, "  agency: dmv\n", "  name: Acme\n  website: https://acme.example.com\n  email: acme at example\n", 1), o
		}, `provider.email: "acme at example" is not an email address`, false},
		{"http base url", func(s, o string) (string, string) {
			return strings.Replace(s, "base_url: http://127.0.0.1:8091", "base_url: http://dmv.example.gov", 1), o
		}, `16: base_url: "http://dmv.example.gov" must use https`, false},
		{"https base url", func(s, o string) (string, string) {
			return strings.Replace(s, "base_url: http://127.0.0.1:8091", "base_url: https://vehicles.dmv.example.gov/v1", 1), o
		}, "", true},
		{"base url with query", func(s, o string) (string, string) {
			return strings.Replace(s, "base_url: http://127.0.0.1:8091", "base_url: https://x.example.gov/?a=1", 1), o
		}, "must not carry a user name, query or fragment", false},
		{"bad method", func(s, o string) (string, string) { return strings.Replace(s, "method: GET", "method: FETCH", 1), o }, `operations[0].method: value must be one of`, false},
		{"timeout too long", func(s, o string) (string, string) { return strings.Replace(s, "timeout: 3s", "timeout: 45s", 1), o }, "operations[0].timeout: 45s is longer than the 30s", false},
		{"timeout not a duration", func(s, o string) (string, string) {
			return strings.Replace(s, "timeout: 3s", "timeout: 3 minutes", 1), o
		}, `operations[0].timeout: "3 minutes" must be a duration`, false},
		{"duplicate operation id", func(s, o string) (string, string) {
			return strings.Replace(s, "id: record-renewal", "id: find-vehicle", 1), o
		}, `operations[1].id: operation id "find-vehicle" is also used by operations[0]`, false},
		{"path not in openapi", func(s, o string) (string, string) {
			return strings.Replace(s, "path: /vehicles/{plate}/renewals", "path: /vehicles/{plate}/renewal", 1), o
		}, "operations[1].path: /vehicles/{plate}/renewal is not in the OpenAPI document", false},
		{"method not in openapi", func(s, o string) (string, string) {
			return strings.Replace(s, "method: POST", "method: PUT", 1), o
		}, "operations[1].method: the OpenAPI document has no PUT operation at /vehicles/{plate}/renewals", false},
		{"operation id mismatch", func(s, o string) (string, string) {
			return strings.Replace(s, "operation_id: findVehicle", "operation_id: getVehicle", 1), o
		}, `operations[0].operation_id: GET /vehicles/{plate} has operationId "findVehicle" in the OpenAPI document, not "getVehicle"`, false},
		{"no request schema", func(s, o string) (string, string) {
			return s, cut(o, "      requestBody:", "      responses:\n        \"201\"")
		}, "operations[1]: POST /vehicles/{plate}/renewals has no request body schema", false},
		{"no response schema", func(s, o string) (string, string) {
			return s, strings.Replace(o, "          description: The vehicle\n          content:\n            application/json:\n              schema:\n                $ref: \"#/components/schemas/Vehicle\"\n", "          description: The vehicle\n", 1)
		}, "operations[0]: GET /vehicles/{plate}: response 200 has no JSON schema", false},
		{"no success response", func(s, o string) (string, string) {
			return s, strings.Replace(o, `"201":`, `"301":`, 1)
		}, "operations[1]: POST /vehicles/{plate}/renewals documents no successful (2xx) response", false},
		{"openapi missing", func(s, o string) (string, string) {
			return strings.Replace(s, "openapi: openapi.yaml", "openapi: nope.yaml", 1), o
		}, "openapi: cannot read nope.yaml: no such file or directory", false},
		{"openapi not openapi", func(s, o string) (string, string) { return s, "hello: world\n" }, "openapi: openapi.yaml:", false},
		{"openapi swagger 2", func(s, o string) (string, string) {
			return s, "swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\npaths: {}\n"
		}, `Portico reads OpenAPI 3.0 and 3.1`, false},
		{"openapi invalid", func(s, o string) (string, string) { return s, strings.Replace(o, "info:\n", "inf:\n", 1) }, "not a valid OpenAPI document", false},
		{"unknown datum", func(s, o string) (string, string) { return strings.Replace(s, "  - address\n", "  - ssn\n", 1), o }, `data[1]: "ssn" is not personal data Portico can share`, false},
		{"answers datum bad service", func(s, o string) (string, string) {
			return strings.Replace(s, "answers:vehicle-registration-renewal", "answers:Vehicle_Renewal", 1), o
		}, `data[2]: "answers:Vehicle_Renewal" is not personal data`, false},
		{"unknown event", func(s, o string) (string, string) {
			return strings.Replace(s, "gov.portico.case.document_issued", "gov.portico.case.exploded", 1), o
		}, `events[1]: "gov.portico.case.exploded" is not an event type of the event log`, false},
		{"event wildcard", func(s, o string) (string, string) {
			return strings.Replace(s, "gov.portico.case.document_issued", "gov.portico.case.*", 1), o
		}, "", true},
		{"events without webhook", func(s, o string) (string, string) { return cut(s, "webhook:", ""), o }, "events: a plug-in that asks for events needs a webhook URL", false},
		{"alias", func(s, o string) (string, string) { return s + "x: &a 1\ny: *a\n", o }, "YAML aliases", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, doc := tt.edit(base, oas)
			_, probs := plugin.Validate(context.Background(), "plugin.yaml", []byte(src), plugin.Options{Load: memLoader(map[string]string{"openapi.yaml": doc}), EventTypes: eventTypes})
			if tt.wantNot {
				if len(probs) > 0 {
					t.Fatalf("want no problems, got %v", probs)
				}
				return
			}
			if len(probs) == 0 {
				t.Fatal("want problems, got none")
			}
			for _, p := range probs {
				if strings.Contains(p.String(), tt.want) {
					return
				}
			}
			t.Fatalf("no problem contains %q:\n%v", tt.want, probs)
		})
	}
}

// cut removes src from the line starting with from up to (not including)
// the line starting with to ("" = the end).
func cut(src, from, to string) string {
	i := strings.Index(src, from)
	if i < 0 {
		return src
	}
	if to == "" {
		return src[:i]
	}
	j := strings.Index(src[i+len(from):], to)
	if j < 0 {
		return src[:i]
	}
	return src[:i] + src[i+len(from)+j:]
}

func FuzzParsePluginManifest(f *testing.F) {
	f.Add(readExample(f, "vehicle-registry"))
	f.Add(readExample(f, "counter-booking"))
	f.Add("id: x\n")
	f.Add("- a\n- b\n")
	oas := map[string]string{"openapi.yaml": openapiOf(f, "vehicle-registry")}
	f.Fuzz(func(t *testing.T, src string) {
		chk, probs := plugin.Validate(context.Background(), "f.yaml", []byte(src), plugin.Options{Load: memLoader(oas), EventTypes: eventTypes})
		if (chk == nil) == (len(probs) == 0) {
			t.Fatalf("want exactly one of a result or problems; got %v and %v", chk, probs)
		}
		for _, p := range probs {
			if p.Message == "" || p.Line < 0 {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}

// TestOpenAPIByURL reads the OpenAPI document from a URL (http on
// loopback, as in tests and the demo) and refuses http elsewhere.
func TestOpenAPIByURL(t *testing.T) {
	oas := openapiOf(t, "vehicle-registry")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openapi.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write([]byte(oas))
	}))
	defer srv.Close()
	base := readExample(t, "vehicle-registry")
	for _, tt := range []struct {
		ref, want string
	}{
		{srv.URL + "/openapi.yaml", ""},
		{srv.URL + "/missing.yaml", "the server answered 404 Not Found"},
		{"http://example.gov/openapi.yaml", "must use https"},
	} {
		src := strings.Replace(base, "openapi: openapi.yaml", "openapi: "+tt.ref, 1)
		_, probs := plugin.Validate(context.Background(), "plugin.yaml", []byte(src), plugin.Options{Load: plugin.FileLoader(t.TempDir()), EventTypes: eventTypes})
		got := fmt.Sprint(probs)
		if tt.want == "" && len(probs) > 0 || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("openapi: %s: got %s, want %q", tt.ref, got, tt.want)
		}
	}
}
