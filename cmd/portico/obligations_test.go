package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// seedPeopleData migrates a database in a new data directory and seeds the
// demo's jurisdictions, agencies and people (ana.citizen@example.com,
// beto.ciudadano@example.com), for commands to run against.
func seedPeopleData(t testing.TB) (env map[string]string, cfg config.Config) {
	return seedPeopleDataIn(t, "")
}

// seedPeopleDataIn is seedPeopleData in the database at dbURL ("" for
// SQLite in the data directory).
func seedPeopleDataIn(t testing.TB, dbURL string) (env map[string]string, cfg config.Config) {
	t.Helper()
	data := t.TempDir()
	cfg = config.Config{DataDir: data, DB: dbURL, LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(ctx, a.Identity); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"PORTICO_DATA": data, "PORTICO_DB": dbURL}, cfg
}

// count runs a COUNT query on the data directory's database.
func countIn(t *testing.T, cfg config.Config, q string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	var n int
	if err := a.DB.Read().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const cliImportFile = `person,kind,title_en,title_es,amount,currency,due,reference
ana.citizen@example.com,property_tax,,,612.50,,03/31/2027,01-234-567
beto.ciudadano@example.com,property_tax,,,"1,204.00",USD,2027-03-31,02-468-135
nobody@example.com,property_tax,,,10.00,,03/31/2027,03-000-001
ana.citizen@example.com,property_tax,,,12.3.4,,03/31/2027,03-000-002
ana.citizen@example.com,sewer,Sewer bill,Factura de alcantarillado,45,,09/30/2027,SW-17
`

// TestObligationsImportCLI: `portico obligations import` loads the good
// rows, writes the bad ones with their line and reason to a rejects file
// beside the input and exits 1 with a summary; --dry-run loads nothing;
// loading the file again changes nothing; the corrected rejects file
// loads as it is; mistakes on the command line are precise.
func TestObligationsImportCLI(t *testing.T) {
	env, cfg := seedPeopleData(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "instalments.csv")
	if err := os.WriteFile(file, []byte(cliImportFile), 0o600); err != nil {
		t.Fatal(err)
	}
	rejects := filepath.Join(dir, "instalments.rejects.csv")
	obligations := func() int {
		return countIn(t, cfg, `SELECT COUNT(*) FROM obligations WHERE agency_id = 'adams-treasurer' AND source LIKE 'import:%'`)
	}

	code, out, errOut := cli(t, env, "obligations", "import", "--agency", "adams-treasurer", "--dry-run", file)
	if code != exitError || !strings.Contains(out, "Dry run: 5 row(s) checked for adams-treasurer") || !strings.Contains(out, "3 would load, 2 rejected") ||
		!strings.Contains(errOut, "2 row(s) rejected") || obligations() != 0 {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, env, "obligations", "import", "--agency", "adams-treasurer", file)
	if code != exitError || !strings.Contains(out, "3 new, 0 updated, 0 unchanged, 2 rejected") || !strings.Contains(out, rejects) || obligations() != 3 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	f, err := os.Open(rejects)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 3 || strings.Join(recs[0][:3], ",") != "line,error,person" ||
		recs[1][0] != "4" || !strings.Contains(recs[1][1], "person: no Portico account") ||
		recs[2][0] != "5" || !strings.Contains(recs[2][1], "amount:") || recs[2][6] != "12.3.4" {
		t.Fatalf("rejects file: %v %q", err, recs)
	}

	code, out, errOut = cli(t, env, "obligations", "import", "--agency", "adams-treasurer", "--json", file)
	var rep struct {
		Created, Unchanged, Rejected int
		Rejects                      string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitError || rep.Created != 0 || rep.Unchanged != 3 || rep.Rejected != 2 || rep.Rejects != rejects {
		t.Fatalf("again: %d %v\n%s\n%s", code, err, out, errOut)
	}

	// Correct the rejects file and load it as it is.
	fixed := strings.ReplaceAll(strings.ReplaceAll(readFile(t, rejects), "12.3.4", "12.34"), "nobody@example.com", "beto.ciudadano@example.com")
	fixedPath := filepath.Join(dir, "fixed.csv")
	if err := os.WriteFile(fixedPath, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut = cli(t, env, "obligations", "import", "--agency", "adams-treasurer", fixedPath); code != exitOK || !strings.Contains(out, "2 new") || obligations() != 5 {
		t.Fatalf("corrected rejects: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "fixed.rejects.csv")); !os.IsNotExist(err) {
		t.Errorf("a rejects file for a file without rejects: %v", err)
	}
	if n := countIn(t, cfg, `SELECT COUNT(*) FROM audit_entries WHERE action = 'obligation.import' AND agency_id = 'adams-treasurer'`); n != 4 {
		t.Errorf("%d audit entries for 4 imports", n)
	}

	header := filepath.Join(dir, "header.csv")
	if err := os.WriteFile(header, []byte("person,amount,due\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no agency", []string{file}, exitUsage, "give the agency with --agency"},
		{"no file", []string{"--agency", "adams-treasurer"}, exitUsage, "name one CSV file"},
		{"two files", []string{"--agency", "adams-treasurer", file, file}, exitUsage, "name one CSV file"},
		{"rejects over the input", []string{"--agency", "adams-treasurer", "--rejects", file, file}, exitUsage, "must not be the input"},
		{"missing file", []string{"--agency", "adams-treasurer", filepath.Join(dir, "nope.csv")}, exitError, "cannot open"},
		{"bad header", []string{"--agency", "adams-treasurer", header}, exitError, `the column "kind" is missing`},
		{"unknown agency", []string{"--agency", "atlantis", file}, exitError, `no agency "atlantis"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, append([]string{"obligations", "import"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestObligationsAPI: an agency system loads amounts owed through POST
// /api/v1/obligations with a real client_credentials token carrying
// obligations.write: per-element results, the caller's agency only,
// problem+json for a malformed body, 403 without the scope.
func TestObligationsAPI(t *testing.T) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(ctx, a.Identity); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := a.Config.PublicURL
	post := func(token, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/obligations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	token := systemToken(t, a, base, "adams-treasurer", api.ScopeObligationsWrite)
	body := `[{"person":"ana.citizen@example.com","kind":"property_tax","amount":"612.50","due":"03/31/2027","reference":"01-234-567"},
		{"person":"nobody@example.com","kind":"property_tax","amount":"10.00","due":"03/31/2027","reference":"03-000-001"},
		{"person":"beto.ciudadano@example.com","kind":"fee","amount":"ten","due":"03/31/2027","reference":"F-1"}]`
	status, _, out := post(token, body)
	var res api.ObligationsResult
	if err := json.Unmarshal([]byte(out), &res); status != http.StatusOK || err != nil || res.Agency != "adams-treasurer" || res.Created != 1 || res.Rejected != 2 ||
		len(res.Results) != 3 || res.Results[0].Status != "created" || res.Results[0].ObligationID == "" ||
		res.Results[1].Index != 1 || res.Results[1].Field != "person" || res.Results[2].Field != "amount" {
		t.Fatalf("load: %d %v %s", status, err, out)
	}
	if status, _, out = post(token, body); status != http.StatusOK || !strings.Contains(out, `"unchanged":1`) {
		t.Fatalf("again: %d %s", status, out)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"person":`, "JSON array"},
		{"an object", `{"person":"a"}`, "JSON array"},
		{"empty", `[]`, "from 1 to 1000"},
		{"a number in an element", `[{"amount":612.5}]`, "element 0"},
		{"an unknown field", `[{"person":"a","parcel":"x"}]`, "element 0"},
		{"not an object", `["a"]`, "element 0"},
		{"too many", "[" + strings.Repeat(`{},`, 1000) + "{}]", "from 1 to 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, out := post(token, tc.body)
			if status != http.StatusBadRequest || ctype != "application/problem+json" || !strings.Contains(out, tc.want) {
				t.Fatalf("%d %s %s", status, ctype, out)
			}
		})
	}
	if status, _, out := post(systemToken(t, a, base, "adams-treasurer", api.ScopeEvents), body); status != http.StatusForbidden || !strings.Contains(out, "obligations.write") {
		t.Errorf("without the scope: %d %s", status, out)
	}
	// Another agency's client loads into its own agency, never adams-treasurer's.
	status, _, out = post(systemToken(t, a, base, "dmv", api.ScopeObligationsWrite), body)
	if status != http.StatusOK || !strings.Contains(out, `"agency":"dmv"`) || !strings.Contains(out, `"created":1`) {
		t.Errorf("dmv: %d %s", status, out)
	}
}
