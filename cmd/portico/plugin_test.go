package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// seededData returns a migrated data directory with the demo's
// jurisdictions and agencies.
func seededData(t *testing.T) (string, map[string]string) {
	t.Helper()
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, _, errOut := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	db, err := storage.Open(context.Background(), "sqlite://"+filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := platform.SystemClock{}
	ten, err := tenancy.New(db, audit.New(db, clock, nil), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	return data, env
}

// TestPluginCLI runs every `portico plugin` command, its successes and
// its errors, in order against one database.
func TestPluginCLI(t *testing.T) {
	_, env := seededData(t)
	ex := func(name string) string { return filepath.Join("..", "..", "examples", "plugins", name, "plugin.yaml") }
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vehicle, err := os.ReadFile(ex("vehicle-registry"))
	if err != nil {
		t.Fatal(err)
	}
	oas, err := os.ReadFile(filepath.Join(filepath.Dir(ex("vehicle-registry")), "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write("openapi.yaml", string(oas))
	badPath := write("bad-path.yaml", strings.Replace(string(vehicle), "path: /vehicles/{plate}/renewals", "path: /vehicles/{plate}/renewal", 1))
	grown := write("grown.yaml", strings.Replace(string(vehicle), "  - address\n", "  - address\n  - phone\n", 1))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"help", []string{"plugin", "--help"}, exitOK, "register", ""},
		{"validate no file", []string{"plugin", "validate"}, exitUsage, "", "name one plug-in manifest file"},
		{"validate example", []string{"plugin", "validate", ex("vehicle-registry")}, exitOK, "is valid: plug-in vehicle-registry with 2 operation(s)", ""},
		{"validate example json", []string{"plugin", "validate", ex("counter-booking"), "--json"}, exitOK, `"id": "counter-booking"`, ""},
		{"validate bad path", []string{"plugin", "validate", badPath}, exitError, "bad-path.yaml:27: operations[1].path: /vehicles/{plate}/renewal is not in the OpenAPI document", "1 problem(s)"},
		{"validate bad json", []string{"plugin", "validate", "--json", badPath}, exitError, `"path": "operations[1].path"`, ""},
		{"validate missing file", []string{"plugin", "validate", filepath.Join(dir, "nope.yaml")}, exitError, "", "cannot read"},
		{"list empty", []string{"plugin", "list"}, exitOK, "No plug-ins are registered", ""},
		{"register bad", []string{"plugin", "register", badPath}, exitError, "is not in the OpenAPI document", "nothing was registered"},
		{"register", []string{"plugin", "register", ex("vehicle-registry")}, exitOK, "Webhook secret (shown only now", ""},
		{"register private json", []string{"plugin", "register", ex("counter-booking"), "--json"}, exitOK, `"webhook_secret": "whsec_`, ""},
		{"register again", []string{"plugin", "register", ex("vehicle-registry")}, exitOK, "The webhook secret is unchanged", ""},
		{"enable no agency", []string{"plugin", "enable", "vehicle-registry"}, exitUsage, "", "give one plug-in ID and --agency"},
		{"enable service without operation", []string{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--service", "x"}, exitUsage, "", "--service needs at least one --operation"},
		{"enable unknown agency", []string{"plugin", "enable", "vehicle-registry", "--agency", "atlantis"}, exitError, "", `agency "atlantis" does not exist`},
		{"enable unknown plugin", []string{"plugin", "enable", "nope", "--agency", "dmv"}, exitError, "", `there is no plug-in "nope"`},
		{"enable data not asked", []string{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--data", "phone"}, exitError, "", `does not ask for "phone"`},
		{"enable unknown operation", []string{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--operation", "fly"}, exitError, "", `has no operation "fly"`},
		{"enable", []string{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--data", "name", "--service", "vehicle-registration-renewal", "--operation", "find-vehicle,record-renewal"}, exitOK, "Service vehicle-registration-renewal may call find-vehicle carrying name.", ""},
		{"enable reuse", []string{"plugin", "enable", "counter-booking", "--agency", "adams-clerk", "--data", "name,email", "--operation", "book-slot", "--json"}, exitOK, `"service": "*"`, ""},
		{"enable reuse second agency", []string{"plugin", "enable", "counter-booking", "--agency", "dmv"}, exitOK, "No service may call it yet", ""},
		{"list", []string{"plugin", "list"}, exitOK, "counter-booking   2.3.0    QueueWise Scheduling, Inc.  3           name,email,phone", ""},
		{"list agencies", []string{"plugin", "list"}, exitOK, "adams-clerk, dmv", ""},
		{"list json", []string{"plugin", "list", "--json"}, exitOK, `"agency": "adams-clerk"`, ""},
		{"show", []string{"plugin", "show", "vehicle-registry"}, exitOK, "dmv  service vehicle-registration-renewal  may call find-vehicle", ""},
		{"show json has no secret", []string{"plugin", "show", "counter-booking", "--json"}, exitOK, `"provider"`, ""},
		{"show unknown", []string{"plugin", "show", "nope"}, exitError, "", `there is no plug-in "nope"`},
		{"show no id", []string{"plugin", "show"}, exitUsage, "", "name one plug-in id"},
		{"register grown", []string{"plugin", "register", grown}, exitOK, "calls are refused for: dmv", ""},
		{"show needs approval", []string{"plugin", "show", "vehicle-registry"}, exitOK, "dmv: needs approval", ""},
		{"disable not enabled", []string{"plugin", "disable", "vehicle-registry", "--agency", "adams-clerk"}, exitError, "", "is not enabled for adams-clerk"},
		{"disable", []string{"plugin", "disable", "vehicle-registry", "--agency", "dmv"}, exitOK, "Disabled vehicle-registry for dmv", ""},
		{"list disabled", []string{"plugin", "list"}, exitOK, "dmv (disabled)", ""},
		{"remove in use", []string{"plugin", "remove", "counter-booking"}, exitError, "", "is enabled for adams-clerk, dmv; each agency must disable it first"},
		{"remove force", []string{"plugin", "remove", "counter-booking", "--force", "--json"}, exitOK, `"removed": true`, ""},
		{"remove", []string{"plugin", "remove", "vehicle-registry"}, exitOK, "Removed plug-in vehicle-registry", ""},
		{"remove unknown", []string{"plugin", "remove", "vehicle-registry"}, exitError, "", `there is no plug-in "vehicle-registry"`},
		{"audit", []string{"audit", "list", "--subject", "plugin:counter-booking", "--json"}, exitOK, `"action": "plugin.remove"`, ""},
		{"audit verify", []string{"audit", "verify"}, exitOK, "Audit log OK", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}

// TestServiceValidatePluginOperations checks `portico service validate`
// on a manifest that uses plug-in operations, against the registry.
func TestServiceValidatePluginOperations(t *testing.T) {
	data, env := seededData(t)
	ex := func(name string) string { return filepath.Join("..", "..", "examples", "plugins", name, "plugin.yaml") }
	for _, args := range [][]string{
		{"plugin", "register", ex("vehicle-registry")},
		{"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--data", "name,answers:vehicle-registration-renewal", "--service", "vehicle-registration-renewal", "--operation", "find-vehicle,record-renewal"},
	} {
		if code, out, errOut := cli(t, env, args...); code != 0 {
			t.Fatalf("%v: %s%s", args, out, errOut)
		}
	}
	src, err := os.ReadFile(filepath.Join("testdata", "renewal-with-plugins.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	variant := func(name string, pairs ...string) string {
		s := string(src)
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("%s: %q is not in the manifest", name, pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := variant("ok")
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout string
		stderr string
	}{
		{"ok", []string{"service", "validate", ok}, env, exitOK, "Plug-in operations were checked against the plug-in registry", ""},
		{"unknown operation", []string{"service", "validate", variant("unknown-op", "check: {plugin: vehicle-registry/find-vehicle}", "check: {plugin: vehicle-registry/find-car}")}, env, exitError,
			`pages[0].check: vehicle-registry/find-car: plug-in vehicle-registry has no operation "find-car"`, "1 problem(s)"},
		{"unknown plug-in", []string{"service", "validate", variant("unknown-plugin", "call_plugin: {plugin: vehicle-registry,", "call_plugin: {plugin: tax-balance,")}, env, exitError,
			`workflow.states.renewed.on_enter[1].call_plugin: tax-balance/record-renewal: there is no plug-in "tax-balance"`, ""},
		{"not enabled for the agency", []string{"service", "validate", variant("other-agency", "agency: dmv", "agency: adams-clerk")}, env, exitError,
			"plug-in vehicle-registry is not enabled for adams-clerk", ""},
		{"data not approved", []string{"service", "validate", variant("address", "data: [name]", "data: [name, address]")}, env, exitError,
			`pages[1].prefill_from: vehicle-registry/find-vehicle: dmv has not approved sending "address" to plug-in vehicle-registry`, ""},
		{"data not asked for", []string{"service", "validate", variant("phone", "data: [name]", "data: [phone]")}, env, exitError,
			`plug-in vehicle-registry does not ask for "phone"`, ""},
		{"data not in the vocabulary", []string{"service", "validate", variant("ssn", "data: [name]", "data: [ssn]")}, env, exitError, "pages[1].prefill_from.data[0]", ""},
		{"another service", []string{"service", "validate", variant("service", "id: vehicle-registration-renewal", "id: boat-registration")}, env, exitError,
			"no access right lets dmv's service boat-registration call vehicle-registry/find-vehicle", ""},
		{"prefill field missing", []string{"service", "validate", variant("field", "fields: {make: make, model: model}", "fields: {make: make, colour: color}")}, env, exitError,
			`pages[1].prefill_from.fields.colour: the page's schema has no property "colour"`, ""},
		{"without a database", []string{"service", "validate", ok}, map[string]string{"PORTICO_DATA": t.TempDir()}, exitError,
			"can be checked only against the plug-in registry", "there is no database at"},
		{"publish checks the registry", []string{"service", "publish", variant("publish-unknown-op", "check: {plugin: vehicle-registry/find-vehicle}", "check: {plugin: vehicle-registry/find-car}"), "--agency", "dmv"}, env, exitError,
			`plug-in vehicle-registry has no operation "find-car"`, "nothing was published"},
		{"publish", []string{"service", "publish", ok, "--agency", "dmv"}, env, exitOK, "Published vehicle-registration-renewal", ""},
	}
	_ = data
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}
