package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/web"
)

// tokens stands in for the OpenID Provider's verifier so the table can
// name callers directly; the verifier itself (signature, expiry,
// revocation) is tested against real tokens in internal/oidc.
type tokens map[string]oidc.AccessToken

func (t tokens) VerifyAccessToken(_ context.Context, raw string) (oidc.AccessToken, error) {
	if tok, ok := t[raw]; ok {
		return tok, nil
	}
	return oidc.AccessToken{}, platform.Errorf(platform.CodeUnauthorized, "the bearer access token is not valid")
}

type rig struct {
	app    *app.App
	srv    *httptest.Server
	api    *api.API
	schema *jsonschema.Compiler
	doc    []byte
}

func newRig(t *testing.T) (*rig, map[string]string) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
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
	// The renewal uses the vehicle-registry plug-in: registered and
	// enabled before publishing, as `portico demo` does.
	if _, err := demo.SeedPlugins(ctx, a.Plugins, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedExamples(ctx, a.Catalog); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, who := range []string{"ana.citizen@example.com", "beto.ciudadano@example.com", "dana.dmv-admin@example.gov", "eli.clerk@example.gov"} {
		acct, err := a.Identity.AccountByEmail(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		ids[who] = acct.ID
	}
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), cat, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	apps := []string{oidc.ScopeApplications, "openid"}
	v := tokens{
		"ana":         {ID: "at_1", ClientID: "pc_rp", AccountID: ids["ana.citizen@example.com"], Scopes: apps},
		"ana-noscope": {ID: "at_2", ClientID: "pc_rp", AccountID: ids["ana.citizen@example.com"], Scopes: []string{"openid", "email"}},
		"beto":        {ID: "at_3", ClientID: "pc_rp", AccountID: ids["beto.ciudadano@example.com"], Scopes: apps},
		"dana":        {ID: "at_4", ClientID: "pc_rp", AccountID: ids["dana.dmv-admin@example.gov"], Scopes: apps},
		"eli":         {ID: "at_7", ClientID: "pc_rp", AccountID: ids["eli.clerk@example.gov"], Scopes: []string{"openid"}},
		"client":      {ID: "at_5", ClientID: "pc_sys", Scopes: []string{"records.read"}},
		"ghost":       {ID: "at_6", ClientID: "pc_rp", AccountID: "acct-deleted", Scopes: apps},
	}
	r := &rig{app: a, api: api.New(s, v, a.Identity)}
	(&api.Applications{Cases: a.Casework, Services: a.Catalog, Drafts: a.Applications}).Register(r.api)
	(&api.StaffCases{Cases: a.Casework, Services: a.Catalog}).Register(r.api)
	registerEvents(t, r, v)
	r.srv = httptest.NewServer(s)
	t.Cleanup(r.srv.Close)
	r.doc = r.get(t, "", "/api/openapi.json", http.StatusOK)
	var docJSON any
	if err := json.Unmarshal(r.doc, &docJSON); err != nil {
		t.Fatal(err)
	}
	r.schema = jsonschema.NewCompiler()
	if err := r.schema.AddResource("https://portico.test/openapi.json", docJSON); err != nil {
		t.Fatal(err)
	}
	return r, ids
}

func (r *rig) get(t *testing.T, token, path string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s with %q: %d, want %d: %s", path, token, resp.StatusCode, want, body)
	}
	if want >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("GET %s: error as %q, want problem+json", path, resp.Header.Get("Content-Type"))
	}
	if want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
		t.Fatalf("GET %s: 401 without a Bearer challenge", path)
	}
	return body
}

// validate checks body against the document's response schema for the
// operation at docPath (the path template) and status.
func (r *rig) validate(t *testing.T, docPath, status, media string, body []byte) {
	t.Helper()
	ptr := "/paths/" + strings.ReplaceAll(docPath, "/", "~1") + "/get/responses/" + status + "/content/" + strings.ReplaceAll(media, "/", "~1") + "/schema"
	sch, err := r.schema.Compile("https://portico.test/openapi.json#" + ptr)
	if err != nil {
		t.Fatalf("schema for %s: %v", ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("response of %s does not match the OpenAPI document: %v\n%s", docPath, err, body)
	}
}

// vehicleAnswers are answers the vehicle renewal's fee can be computed
// from; other services' fees do not read answers.
const vehicleAnswers = `{"vehicle":{"plate":"ABC123","type":"car"},"insurance":{"insurer":"Acme","policy":"P-1"}}`

func openCase(t *testing.T, a *app.App, id, account, service string) casework.Case {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: account})
	svc, err := a.Catalog.Latest(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	var c casework.Case
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		now := a.Clock.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'submitted', $7, $6, $6)`, id, svc.ID, svc.Version, svc.AgencyID, account, now, vehicleAnswers); err != nil {
			return err
		}
		var err error
		c, err = a.Casework.Open(ctx, tx, casework.Opening{ApplicationID: id, AccountID: account, AgencyID: svc.AgencyID,
			ServiceID: svc.ID, Version: svc.Version, Fee: &manifest.Charge{Amount: 4500, Currency: "USD"}}) // a car, as vehicleAnswers say
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApplicationsAPI walks the application operations as every kind of
// caller: only the applicant with the applications scope reads an
// application; everyone else gets the same answer as for one that does
// not exist, or is refused outright. Successful answers match the
// OpenAPI document, and every read is audited.
func TestApplicationsAPI(t *testing.T) {
	r, ids := newRig(t)
	ana := ids["ana.citizen@example.com"]
	c := openCase(t, r.app, "app-ana-1", ana, "vehicle-registration-renewal")
	openCase(t, r.app, "app-beto-1", ids["beto.ciudadano@example.com"], "springfield-pothole")

	for _, tc := range []struct {
		name, token, path string
		want              int
	}{
		{"no token", "", "/api/v1/applications", http.StatusUnauthorized},
		{"bad token", "forged", "/api/v1/applications", http.StatusUnauthorized},
		{"client token", "client", "/api/v1/applications", http.StatusForbidden},
		{"deleted account", "ghost", "/api/v1/applications", http.StatusUnauthorized},
		{"no scope", "ana-noscope", "/api/v1/applications", http.StatusForbidden},
		{"staff", "dana", "/api/v1/applications", http.StatusForbidden},
		{"own list", "ana", "/api/v1/applications", http.StatusOK},
		{"own application", "ana", "/api/v1/applications/app-ana-1", http.StatusOK},
		{"another's application", "beto", "/api/v1/applications/app-ana-1", http.StatusNotFound},
		{"no such application", "ana", "/api/v1/applications/nope", http.StatusNotFound},
		{"another's, no scope", "ana-noscope", "/api/v1/applications/app-beto-1", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := r.get(t, tc.token, tc.path, tc.want)
			if tc.want != http.StatusOK {
				r.validate(t, "/api/v1/applications", "default", "application/problem+json", body)
			}
		})
	}

	// A draft Ana started is listed apart, with where to carry on.
	draft, err := r.app.Applications.Start(context.Background(), application.Applicant{AccountID: ana}, "springfield-pothole")
	if err != nil {
		t.Fatal(err)
	}
	// ...and in Ana's "Coming up" until it is submitted, withdrawn or expires.
	coming, err := r.app.Reminders.List(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: ana}, false)
	if err != nil || !slices.ContainsFunc(coming, func(o reminder.Obligation) bool { return o.Source == "draft:"+draft.ID && o.URL == "/apply/"+draft.ID }) {
		t.Fatalf("draft not in Coming up: %+v %v", coming, err)
	}
	if err := r.app.Applications.Withdraw(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: ana}, draft.ID); err != nil {
		t.Fatal(err)
	}
	if coming, _ := r.app.Reminders.List(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: ana}, false); slices.ContainsFunc(coming, func(o reminder.Obligation) bool { return o.Source == "draft:"+draft.ID }) {
		t.Fatal("a withdrawn draft stays in Coming up")
	}
	draft, err = r.app.Applications.Start(context.Background(), application.Applicant{AccountID: ana}, "springfield-pothole")
	if err != nil {
		t.Fatal(err)
	}
	list := r.get(t, "ana", "/api/v1/applications", http.StatusOK)
	r.validate(t, "/api/v1/applications", "200", "application/json", list)
	var got api.ApplicationList
	if err := json.Unmarshal(list, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Applications) != 1 || got.Applications[0].Reference != c.Reference || got.Applications[0].ServiceTitle.EN == "" ||
		got.Applications[0].StateTitle.ES == "" || got.Applications[0].WaitingOn != casework.WaitingOnAgency ||
		len(got.Drafts) != 1 || got.Drafts[0].ID != draft.ID || got.Drafts[0].ResumeURL != "/apply/"+draft.ID || got.Drafts[0].ExpiresAt == nil {
		t.Fatalf("list = %s", list)
	}
	one := r.get(t, "ana", "/api/v1/applications/app-ana-1", http.StatusOK)
	r.validate(t, "/api/v1/applications/{id}", "200", "application/json", one)

	var n int
	if err := r.app.DB.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action IN ('case.list', 'case.read') AND actor = $1 AND CAST(detail AS TEXT) LIKE '%via_client%'`,
		"citizen:"+ana).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("audited API reads = %d, want at least 4", n)
	}
}

// TestDocument checks the OpenAPI document is 3.1, names every operation
// once and describes errors as problems.
func TestDocument(t *testing.T) {
	r, _ := newRig(t)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.doc, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Components.Schemas["Problem"] == nil {
		t.Fatalf("document head: %s %v", doc.OpenAPI, doc.Components.Schemas)
	}
	seen := map[string]bool{}
	for _, op := range r.api.Ops() {
		o := doc.Paths[op.Path][strings.ToLower(op.Method)]
		if o == nil || o["operationId"] != op.ID || seen[op.ID] {
			t.Errorf("operation %s %s (%s) missing or repeated in the document", op.Method, op.Path, op.ID)
		}
		seen[op.ID] = true
	}
	if bytes.Contains(r.doc, []byte(`#/$defs/`)) {
		t.Error("document refers to $defs; references must point into components")
	}
}

// TestCasesAPI: staff read the queue and cases of their own agencies only;
// citizens and clients are refused; bad filters are problems, not 500s.
func TestCasesAPI(t *testing.T) {
	r, ids := newRig(t)
	c := openCase(t, r.app, "app-ana-1", ids["ana.citizen@example.com"], "vehicle-registration-renewal")
	for _, tc := range []struct {
		name, token, path string
		want              int
	}{
		{"no token", "", "/api/v1/cases", http.StatusUnauthorized},
		{"citizen", "ana", "/api/v1/cases", http.StatusForbidden},
		{"client", "client", "/api/v1/cases", http.StatusForbidden},
		{"dmv queue", "dana", "/api/v1/cases", http.StatusOK},
		{"dmv queue filtered", "dana", "/api/v1/cases?agency=dmv&sla=on_time&page=1", http.StatusOK},
		{"another agency's queue", "eli", "/api/v1/cases?agency=dmv", http.StatusBadRequest},
		{"bad sla", "dana", "/api/v1/cases?sla=soon", http.StatusBadRequest},
		{"bad page", "dana", "/api/v1/cases?page=-1", http.StatusBadRequest},
		{"bad closed", "dana", "/api/v1/cases?closed=maybe", http.StatusBadRequest},
		{"dmv case", "dana", "/api/v1/cases/" + c.ID, http.StatusOK},
		{"another agency's case", "eli", "/api/v1/cases/" + c.ID, http.StatusNotFound},
		{"no such case", "dana", "/api/v1/cases/nope", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := r.get(t, tc.token, tc.path, tc.want)
			if tc.want != http.StatusOK {
				r.validate(t, "/api/v1/cases", "default", "application/problem+json", body)
			}
		})
	}
	q := r.get(t, "dana", "/api/v1/cases", http.StatusOK)
	r.validate(t, "/api/v1/cases", "200", "application/json", q)
	var queue api.CaseQueue
	if err := json.Unmarshal(q, &queue); err != nil || queue.Total != 1 || queue.Cases[0].Reference != c.Reference {
		t.Fatalf("queue = %s (%v)", q, err)
	}
	if q := r.get(t, "eli", "/api/v1/cases", http.StatusOK); !bytes.Contains(q, []byte(`"total":0`)) {
		t.Fatalf("Adams clerk sees DMV cases: %s", q)
	}
	one := r.get(t, "dana", "/api/v1/cases/"+c.ID, http.StatusOK)
	r.validate(t, "/api/v1/cases/{id}", "200", "application/json", one)
	var detail api.CaseDetail
	if err := json.Unmarshal(one, &detail); err != nil || detail.Answers["vehicle"]["plate"] != "ABC123" || len(detail.Timeline) == 0 {
		t.Fatalf("case detail = %s (%v)", one, err)
	}
}
