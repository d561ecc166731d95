package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// smallTables do not grow with the population: a query may read all of
// them. Every other table holds rows per person (or per message, token,
// case…) and must be reached through an index bounded by the person's own
// rows.
var smallTables = map[string]string{
	"jurisdictions":            "the state, its counties and towns: hundreds of rows",
	"jurisdiction_zips":        "the state's ZIP codes: a few thousand rows",
	"agencies":                 "the agencies of one state: hundreds of rows",
	"services":                 "published service versions: grows with agencies' work, not with citizens",
	"catalog_search":           "one row per service",
	"catalog_jurisdictions":    "services × jurisdictions they serve",
	"catalog_life_events":      "services × the life events they belong to",
	"catalog_usage":            "submissions counted per service, day and shard (at most 8): grows with services and days, not with citizens; the home page reads the last 90 days through its day index",
	"notify_templates":         "agencies' message templates",
	"notify_template_versions": "versions of those templates",
	"notify_services":          "one Notify API service per agency",
	"notify_api_keys":          "a few API keys per agency",
	"payment_api_keys":         "a few payments API keys per agency",
	"oidc_clients":             "registered relying parties: one per agency application",
	"oidc_keys":                "the provider's signing keys: a handful",
	"audit_head":               "at most eight chain heads",
	"reference_counters":       "one counter per agency and year",
	"staff_roles":              "grows with agency staff, not with citizens",
	"goose_db_version":         "migration bookkeeping",
	"event_sequence":           "the event log's one sequencer row",
	"event_consumers":          "one cursor per named event consumer (webhooks, NATS, outcomes): tens of rows",
	"plugins":                  "registered plug-ins: one per agency system or provider product",
	"plugin_enablements":       "plug-ins × the agencies that enabled them",
	"plugin_access":            "access rights: agencies' services × plug-in operations",
	"webhook_stops":            "plug-ins × agencies whose webhook answered 410 Gone",
	"sealing_keys":             "one row per process key: two",
	"plugin_registry_revision": "one row: the plug-in registry's revision",
	"report_services":          "report-a-problem services: a few per city or county agency",
	"open311_keys":             "a few Open311 API keys per agency",
	"outcome_daily":            "outcome counters per day, agency and service: grows with services and days (about 100,000 rows a year at state scale), not with citizens; reports read a range of days",
	"outcome_decision_times":   "decision-time histograms per day, agency, service and bucket: grows with services and days, not with citizens",
	"outcome_totals":           "running outcome counters: one row per agency and service",
	"outcome_costs":            "agencies' monthly costs: one row per agency, service and month",
	"outcome_monthly":          "transactions per agency, service and month",
}

// isSmall reports whether table is in smallTables or is one of SQLite's
// FTS5 tables of the catalog's search index (catalog_fts and its shadow
// tables: one document per service).
// smallIndexes are partial indexes whose rows stay few whatever the
// population, so walking one whole is reading a small set, with why.
var smallIndexes = map[string]string{
	"event_log_unsequenced": "events not yet given a position: the last moment's appends, which the sequencer empties every poll",
}

func isSmall(table string) bool {
	_, ok := smallTables[table]
	return ok || strings.HasPrefix(table, "catalog_fts")
}

// notPersonalPages are GET routes the plan test does not visit, with why.
// Every other GET route must be in the test's page list, so a new signed-in
// page cannot escape the check.
var notPersonalPages = map[string]string{
	"GET /static/":                              "embedded files, no database",
	"GET /favicon.ico":                          "embedded file, no database",
	"GET /healthz":                              "no database read",
	"GET /readyz":                               "a ping",
	"GET /metrics":                              "operators' scrape; job counts come from River's own indexes",
	"GET /dev/mailbox":                          "development only",
	"GET /dev/mailbox/{id}":                     "development only",
	"GET /dev/mailbox/{id}/raw":                 "development only",
	"GET /government":                           "public, reads only small tables",
	"GET /sign-up":                              "a form, no personal data",
	"GET /sign-up/code":                         "reached with a one-time challenge: by primary key",
	"GET /sign-up/confirm":                      "reached with a one-time token: by unique hash",
	"GET /sign-up/details":                      "reached with a one-time token: by unique hash",
	"GET /sign-in":                              "a form",
	"GET /sign-in/verify":                       "a form",
	"GET /recover":                              "a form",
	"GET /recover/code":                         "reached with a one-time challenge",
	"GET /recover/confirm":                      "reached with a one-time token",
	"GET /recover/reset":                        "reached with a one-time token",
	"GET /account/email/code":                   "reached with a one-time challenge",
	"GET /console/agencies/{agency}":            "agency administration: staff of one agency",
	"GET /console/plugins/{id}/agency":          "a redirect to the agency's plug-in page after checking the agency exists",
	"GET /admin/users":                          "platform administration: searches every account by design",
	"GET /feedback":                             "a form, no database read",
	"GET /feedback/thanks":                      "no database read",
	"GET /admin/feedback":                       "platform administration: the newest feedback, a page at a time by the (created_at, id) index",
	"GET /satisfaction":                         "a form: the published service (small tables), no personal data",
	"GET /satisfaction/thanks":                  "no database read",
	"GET /console/satisfaction":                 "the staff member's agencies' published services: small tables",
	"GET /console/plugins/{id}/deliveries":      "plug-in administration: a plug-in's newest deliveries by the (plugin_id, created_at) index; no person's data",
	"GET /console/cases/{id}/files/{file}":      "a staff download: by primary key, like the case page",
	"GET /v2/notifications/{id}":                "Notify API reads by primary key; the hot send is checked",
	"GET /v2/notifications":                     "an agency's own notification history (paged by agency)",
	"GET /v2/template/{id}":                     "templates are a small table",
	"GET /v2/template/{id}/version/{version}":   "templates are a small table",
	"GET /v2/templates":                         "templates are a small table",
	"GET /v2/received-text-messages":            "an agency's inbound texts",
	"GET /v1/payments":                          "an agency system's search of its own payments (paged by agency and mode, like GET /v2/notifications)",
	"GET /.well-known/openid-configuration":     "no database read",
	"GET /oauth/keys":                           "the signing keys: a small table",
	"GET /oauth/authorize":                      "checked through the code flow the test runs first",
	"GET /oauth/authorize/callback":             "checked through the code flow the test runs first",
	"GET /oauth/end_session":                    "ends the session, reads by primary key",
	"GET /oauth/login":                          "reads the auth request by primary key",
	"GET /oauth/consent":                        "reads the auth request by primary key",
	"GET /oauth/logout":                         "reads by primary key",
	"GET /api/openapi.json":                     "generated once, no database",
	"GET /calendar/{file}":                      "the feed is read by its unique token hash, then the person's obligations as on Coming up, and their cases (casework ForAccount, by account_id) with the recorded values of those whose service books appointments (case_records by case_id): the person's own rows",
	"GET /services/{id}/apply":                  "goes to the person's draft (read by account and service) or starts one; no listing",
	"GET /console/cases":                        "the staff queue lists an agency's open cases by design (paged; index cases_queue); it grows with the agency's open work, not with citizens' history",
	"GET /api/v1/cases":                         "agency systems' case list, scoped to the agency (staff tokens)",
	"GET /apply/{app}/done":                     "after submission; reads the application by primary key",
	"GET /government/lookup":                    "public ZIP lookup: small tables",
	"GET /services":                             "public search over the catalog: small tables",
	"GET /services/{id}":                        "public: small tables (signed in and not eligible: the services offered where the person lives, as on services for you)",
	"GET /api/v1/services":                      "public search over the catalog: small tables",
	"GET /api/v1/services/{id}":                 "public: small tables",
	"GET /agencies/{id}":                        "public: an agency and its services, small tables",
	"GET /api/v1/applications/{id}":             "by primary key and owner, like /applications/{id}",
	"GET /api/v1/cases/{id}":                    "by primary key and owner, like /applications/{id}",
	"GET /coming-up/{id}/calendar":              "one obligation by primary key and owner",
	"GET /apply/{app}/files/{file}":             "one file by primary key and application",
	"GET /console/cases/{id}/files/{file}/view": "staff view of one file by primary key",
	// Report a problem (internal/report): no signed-in person's rows.
	"GET /report":        "public: the report-a-problem services, a small table",
	"GET /report/{slug}": "public form: one service from a small table",
	"GET /report/follow/{token}/photos/{photo}":    "one photo by primary key and report",
	"GET /console/reports/{number}/photos/{photo}": "one photo by primary key and report",
	"GET /console/open311/keys":                    "an agency's Open311 API keys: a small table",
	"GET /open311/v2/services/{file}":              "public Open311: one service from a small table",
}

// recorder keeps the statements run while a page is being served.
type recorder struct {
	mu    sync.Mutex
	page  string // "" when not recording
	stmts []recorded
}

type recorded struct {
	page string
	storage.Statement
}

func (r *recorder) observe(_ context.Context, s storage.Statement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.page != "" {
		r.stmts = append(r.stmts, recorded{page: r.page, Statement: s})
	}
}

func (r *recorder) on(page string) {
	r.mu.Lock()
	r.page = page
	r.mu.Unlock()
}

// TestQueryPlansAtStateScale serves every signed-in page and hot API of a
// citizen with the real HTTP server over a database seeded with many other
// people's rows, records the SQL each one actually runs, and EXPLAINs every
// statement with its recorded arguments: none may read a whole table that
// grows with the population (a sequential scan, or a walk of a whole index
// without a condition). See docs/performance.md, "Cost follows the person".
func TestQueryPlansAtStateScale(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a state-sized database")
	}
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { checkPlans(t, d) })
	}
}

func checkPlans(t *testing.T, d storage.Dialect) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	rec := &recorder{}
	began := time.Now()
	// Port 0, bound by New (Options.Listen): a port found free and bound
	// later can be taken meanwhile by another package's test running
	// beside this one (the scale-out test's thousands of connections).
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d),
		LogFormat: "text", LogLevel: 8, DevMailbox: true}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Listen: true, ObserveSQL: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + a.URL()[strings.LastIndex(a.URL(), ":")+1:]
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a.Stop(ctx)
	})
	if err := seedDemo(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The pothole report manifest: an example the demo leaves out
	// (demo.NotInDemo), here a case at a second agency.
	if _, err := demo.SeedExamples(ctx, a.Catalog); err != nil {
		t.Fatal(err)
	}

	// Beto's own rows: a case, an inbox message, a draft with a file, his
	// demo obligations, a grant to an agency's app.
	const betoEmail = "beto.ciudadano@example.com"
	beto, err := a.Identity.AccountByEmail(ctx, betoEmail)
	if err != nil {
		t.Fatal(err)
	}
	kase := openCase(t, a, "app-plans", betoEmail, "vehicle-registration-renewal", vehicleAnswers)
	// A state's cases are mostly closed history spread over many
	// agencies, not the open work of the one agency the staff member
	// pages read: give the copies that shape (Ana's closed pothole
	// reports), so the planner meets an agency's open cases and latest
	// entries as the small part of the tables they are.
	works := platform.Actor{Kind: platform.ActorStaff, ID: "plans-works", Grants: []platform.Grant{{Agency: "springfield-public-works", Role: "caseworker"}}}
	for i := range 40 {
		c := openCase(t, a, fmt.Sprintf("app-plans-closed-%d", i), "ana.citizen@example.com", "springfield-pothole",
			map[string]map[string]any{"where": {"location": "Elm St", "size": "small"}})
		if _, err := a.Casework.Take(ctx, works, c.ID, "duplicate"); err != nil {
			t.Fatal(err)
		}
	}
	tpl, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal",
		Subject: "Renew ((plate))", Body: "Dear ((name)), renew ((plate))."})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, err := a.Notify.Send(ctx, tx, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelInApp, AccountID: beto.ID,
				Personalisation: notify.Personalisation{"name": "Beto", "plate": "ABC123"}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	draft, err := a.Applications.Start(ctx, application.Applicant{AccountID: beto.ID, DateOfBirth: beto.DateOfBirth}, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	if _, prob, err := a.Applications.Attach(ctx, beto.ID, draft.ID, "divorce", "decree",
		application.Upload{Filename: "decree.pdf", Size: 9, Content: strings.NewReader("%PDF-1.7\n")}); err != nil || prob != nil {
		t.Fatalf("attach: %v %v", prob, err)
	}
	_, apiKey, err := a.Notify.CreateAPIKey(ctx, "dmv", "plans", notify.KeyLive)
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "https://rp.example.gov/callback"
	rp, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "DMV app", Grant: oidc.GrantAuthorizationCode, RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "DMV records sync", Grant: oidc.GrantClientCredentials})
	if err != nil {
		t.Fatal(err)
	}
	browser := signInClient(t, base, betoEmail, false)
	staff := signInClient(t, base, "dana.dmv-admin@example.gov", true)
	admin := signInClient(t, base, "pat.admin@example.gov", true)
	tok := codeFlow(t, browser, base, rp, redirect)
	// The DMV's system reading its agency's events (GET /api/v1/events):
	// positions are given before the copies are made, so the copies have
	// theirs too.
	eventsTok := systemToken(t, a, base, "dmv", api.ScopeEvents)
	if _, err := events.Sequence(ctx, a.DB, 0); err != nil {
		t.Fatal(err)
	}

	// Rows in the tables the pages read that the steps above leave empty:
	// a calendar feed, notification preferences, a passkey, a document
	// issued on the case, and a throttle (a mistyped password).
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{"/account/calendar", nil},
		{"/account/notifications", url.Values{"email": {"on"}, "inapp": {"on"}, "lang": {"en"}}},
	} {
		if r := postForm(t, browser, base+f.path, f.form); r.StatusCode >= 400 {
			t.Fatalf("POST %s: %d", f.path, r.StatusCode)
		}
	}
	jar, _ := cookiejar.New(nil)
	stranger := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	postForm(t, stranger, base+"/sign-in", url.Values{"email": {"ana.citizen@example.com"}, "password": {"not her password"}}).Body.Close()
	now := a.Clock.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO passkeys (id, account_id, name, credential, created_at) VALUES ('pk-beto', $1, 'Phone', '{}', $2)`, []any{beto.ID, now}},
		{`INSERT INTO case_documents (case_id, document, issued_at) VALUES ($1, 'registration', $2)`, []any{kase.ID, now}},
	} {
		if _, err := a.DB.Write().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	// A question from the agency waits for Beto's answer (his home's
	// "answer" item reads the case's latest request).
	if _, err := a.Casework.RequestInfo(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "plans-staff", Grants: []platform.Grant{{Agency: kase.AgencyID, Role: "caseworker"}}},
		kase.ID, "Which plate is it?"); err != nil {
		t.Fatal(err)
	}
	// Beto agreed to share his data with the DMV's vehicle records, which
	// looked his vehicle up: a consent and a use on "Who has used my data".
	giveConsent(t, a, beto.ID)
	// Beto paid his renewal fee online: his receipt, and the payment in
	// his application's and the DMV's case timelines.
	receiptOf := paidCheckout(t, a, kase)
	if _, err := a.Gateway.Call(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "plans-staff", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}},
		gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Person: beto.ID, Plugin: "vehicle-registry", Operation: "find-vehicle",
			Path: map[string]string{"plate": "EX7MB904"}, Data: map[string]any{"name": "Beto Ciudadano"}}); err != nil {
		t.Fatal(err)
	}
	// The DMV's system took a payment through /v1/payments and refunded
	// part of it: its reads are by primary key and the payment's own rows.
	_, payKey, err := a.PaymentKeys.Create(ctx, platform.Actor{Kind: platform.ActorOperator, ID: "plans"}, "dmv", "plans", false)
	if err != nil {
		t.Fatal(err)
	}
	payNew := payment.New{Agency: "dmv", Amount: 4500, Reference: "DMV-PLANS", Description: "Renewal", ReturnURL: "https://dmv.example.gov/done", Email: betoEmail}
	var payCheckout payment.Checkout
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		payCheckout, err = a.Payments.OpenCheckout(ctx, tx, platform.Actor{Kind: platform.ActorSystem, ID: "plans"}, payment.OpenCheckout{Payment: &payNew})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Payments.Settle(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "plans"}, payCheckout.ID, payment.Outcome{Status: payment.Success}); err != nil {
		t.Fatal(err)
	}
	payID := payCheckout.Payments[0]
	payRefund, err := a.Payments.Refund(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "plans"}, "dmv", payID, 500, -1, "plans")
	if err != nil {
		t.Fatal(err)
	}
	// Beto began paying his property-tax instalment online: a checkout,
	// its item and claim, and the sandbox's charge.
	betoCheckout := beginObligationCheckout(t, a, base, beto.ID)
	// The demo's DMV payment (paid, so it has a charge in the ledger),
	// the object of the finance console's pages.
	dmvPays, err := a.Payments.List(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "plans", PlatformAdmin: true}, payment.Filter{Agency: "dmv"})
	if err != nil || len(dmvPays.Payments) == 0 {
		t.Fatalf("the demo's DMV payments: %+v %v", dmvPays, err)
	}
	dmvPayment := dmvPays.Payments[0].ID
	local := a.Clock.Now().In(a.Tenancy.Zone(ctx))
	today := fmt.Sprintf("%02d/%02d/%04d", int(local.Month()), local.Day(), local.Year())
	// People answered the satisfaction survey about the renewal, some
	// with a comment.
	for i := range 4 {
		comment := ""
		if i%2 == 0 {
			comment = "It was quick."
		}
		if _, err := a.Satisfaction.Give(ctx, satisfaction.Answer{Service: "vehicle-registration-renewal", After: satisfaction.AfterPaid, Score: 4, Comment: comment}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	// Someone reported a pothole with a photo and an email address to
	// follow it; the copies make a state's reports at the same place and
	// time, the worst case for the pages that read by place and date.
	lat, long := 39.7817, -89.6501
	pothole, err := a.Reports.Submit(ctx, report.NewReport{ServiceCode: "pothole", Lat: &lat, Long: &long, Address: "100 Main Street", Zip: "70102",
		Email: "rosa@example.com", Attributes: map[string][]string{"SIZE": {"large"}}},
		[]report.Photo{{Content: strings.NewReader("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Size: 16}}, report.Via{})
	if err != nil {
		t.Fatal(err)
	}
	potholeNumber := strconv.FormatInt(pothole.Number, 10)
	// A state's reports are spread over its cities: the copies of these
	// (graffiti in Lakeside) make Springfield's open potholes the small
	// part of the table they are, not all of it.
	for range 60 {
		glat, glong := 42.04, -88.05
		if _, err := a.Reports.Submit(ctx, report.NewReport{ServiceCode: "graffiti", Lat: &glat, Long: &glong, Zip: "60010",
			Attributes: map[string][]string{"OFFENSIVE": {"no"}}}, nil, report.Via{}); err != nil {
			t.Fatal(err)
		}
	}
	// Every obligation's earlier reminder (two weeks before) was sent: the
	// copies make the history of sends a state's reminders leave, which a
	// send batch's records meet (ADR 76).
	if _, err := a.DB.Write().ExecContext(ctx, `INSERT INTO reminder_sends (obligation_id, due_on, offset_minutes, outcome, notification_id, at)
		SELECT id, due_on, -20160, 'sent', '', $1 FROM obligations`, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	t.Logf("set up in %s", time.Since(began).Round(time.Millisecond))
	seeded := seedPopulation(t, a.DB)
	// The population's events are history that a worker sequenced long
	// ago (this app works no jobs): sequence them, as a state's log is but
	// for the last moment's appends, so that the worker started for the
	// bulk path below meets a realistic log (on PostgreSQL, with
	// statistics that say so).
	for {
		n, err := events.Sequence(ctx, a.DB, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if d == storage.Postgres {
		if _, err := a.DB.Write().ExecContext(ctx, `ANALYZE event_log`); err != nil {
			t.Fatal(err)
		}
	}

	// The pages and APIs, as Beto (and his agency's systems) use them.
	type visit struct {
		pattern string
		do      func() *http.Response
	}
	pageAs := func(c *http.Client, path string) func() *http.Response {
		return func() *http.Response {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
	}
	page := func(path string) func() *http.Response { return pageAs(browser, path) }
	bearer := func(method, path string, token string) func() *http.Response {
		return func() *http.Response {
			req, _ := http.NewRequest(method, base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
	}
	service, secret := apiKey[len(apiKey)-73:len(apiKey)-37], []byte(apiKey[len(apiKey)-36:])
	visits := []visit{
		{"GET /dashboard", page("/dashboard")},
		// The next page of the dashboard: the cursor is one of Beto's own
		// applications, read by primary key and owner.
		{"GET /dashboard", page("/dashboard?older=" + draft.ID)},
		{"GET /inbox", page("/inbox")},
		{"GET /coming-up", page("/coming-up")},
		// Paying: what Beto owes (his fees through cases_account, his
		// obligations, his checkouts' claims through checkouts_account),
		// and his checkout's pages by primary key.
		{"GET /pay", page("/pay")},
		{"GET /pay/checkouts/{id}", page("/pay/checkouts/" + betoCheckout.ID)},
		{"GET /pay/checkouts/{id}/return", page("/pay/checkouts/" + betoCheckout.ID + "/return")},
		{"GET /pay/sandbox/{ref}", page("/pay/sandbox/" + betoCheckout.ProviderRef)},
		{"GET /account", page("/account")},
		{"GET /account/profile", page("/account/profile")},
		{"GET /account/security", page("/account/security")},
		{"GET /account/connected-services", page("/account/connected-services")},
		{"GET /account/reauth", page("/account/reauth")},
		{"GET /account/email", page("/account/email")},
		{"GET /account/password", page("/account/password")},
		{"GET /account/mfa/setup", page("/account/mfa/setup")},
		{"GET /account/calendar", page("/account/calendar")},
		{"GET /account/notifications", page("/account/notifications")},
		// Who has used my data: the person's consents (consents_account)
		// and their audit entries (audit_entries_person), newest first.
		{"GET /account/data", page("/account/data")},
		{"GET /consent", page("/consent?service=vehicle-registration-renewal&plugin=vehicle-registry&return=%2Fdashboard")},
		{"GET /services/for-you", page("/services/for-you")},
		{"GET /{$}", page("/")},
		{"GET /life-events/{id}", page("/life-events/moving")},
		{"GET /applications/{id}", page("/applications/" + kase.ID)},
		{"GET /pay/receipts/{file}", page("/pay/receipts/" + receiptOf.ID)},
		{"GET /pay/receipts/{file} (PDF)", page("/pay/receipts/" + receiptOf.ID + ".pdf")},
		{"GET /apply/{app}", page("/apply/" + draft.ID)},
		{"GET /apply/{app}/pages/{page}", page("/apply/" + draft.ID + "/pages/you")},
		{"GET /apply/{app}/check", page("/apply/" + draft.ID + "/check")},
		{"GET /apply/{app}/withdraw", page("/apply/" + draft.ID + "/withdraw")},
		{"GET /api/v1/applications", bearer("GET", "/api/v1/applications", tok.AccessToken)},
		// The agency's events in log order: one range of event_log_agency.
		{"GET /api/v1/events", bearer("GET", "/api/v1/events?after=0&limit=100", eventsTok)},
		{"GET /console/cases/{id}", pageAs(staff, "/console/cases/"+kase.ID)},
		// The console's home counts the agency's open cases by service and
		// state through cases_queue (agency, open, state) and reads its
		// latest entries through case_entries_agency; the platform
		// administrator's counts every agency the same way.
		{"GET /console", pageAs(staff, "/console")},
		{"GET /console (platform administrator)", pageAs(admin, "/console")},
		// The plug-in catalogue reads the small plug-in tables and, per
		// plug-in, its latest calls from the audit log through
		// audit_entries_subject_action (subject, action, at), bounded.
		{"GET /console/plugins", pageAs(admin, "/console/plugins")},
		{"GET /console/plugins/{id}", pageAs(admin, "/console/plugins/vehicle-registry")},
		{"GET /console/plugins/{id}/agencies/{agency}", pageAs(staff, "/console/plugins/vehicle-registry/agencies/dmv")},
		// The finance console: an agency's newest payments through
		// payments_agency (agency_id, created_at), one payment by primary
		// key with its history, items (by checkout), refunds and postings
		// (by payment), and the day's ledger through ledger_entries_agency_at.
		{"GET /console/payments", pageAs(staff, "/console/payments?agency=dmv")},
		// A service's newest comments through the partial index
		// satisfaction_comments (service_id, created_at, id).
		{"GET /console/satisfaction/{service}", pageAs(staff, "/console/satisfaction/vehicle-registration-renewal")},
		{"GET /console/payments/{id}", pageAs(staff, "/console/payments/"+dmvPayment)},
		{"GET /console/payments/reports", pageAs(staff, "/console/payments/reports?agency=dmv")},
		{"GET /console/payments/reports/reconciliation.csv", pageAs(staff, "/console/payments/reports/reconciliation.csv?agency=dmv&day="+url.QueryEscape(today))},
		{"GET /console/payments/reports/remittance.csv", pageAs(staff, "/console/payments/reports/remittance.csv?agency=dmv&from="+url.QueryEscape(today)+"&to="+url.QueryEscape(today))},
		// Outcomes: the public performance pages and the console's
		// dashboards read only the pre-aggregated outcome tables (small:
		// per day and service, never per person) and the catalog.
		{"GET /performance", pageAs(stranger, "/performance")},
		{"GET /performance.json", pageAs(stranger, "/performance.json")},
		{"GET /performance/{service}", pageAs(stranger, "/performance/vehicle-registration-renewal")},
		{"GET /console/outcomes", pageAs(staff, "/console/outcomes?agency=dmv")},
		{"GET /console/outcomes (platform administrator)", pageAs(admin, "/console/outcomes")},
		{"GET /console/outcomes.csv", pageAs(staff, "/console/outcomes.csv?agency=dmv")},
		{"GET /console/outcomes/agencies", pageAs(admin, "/console/outcomes/agencies")},
		{"GET /console/outcomes/offline", pageAs(staff, "/console/outcomes/offline?agency=dmv")},
		{"GET /console/outcomes/costs", pageAs(staff, "/console/outcomes/costs?agency=dmv")},
		// Report a problem: reports near a point through the latitude
		// band index and in a ZIP code through report_requests_zip (both
		// the last 90 days, bounded); the reporter's follow link by its
		// unique hash with the report's history and photos; the report
		// console's newest reports of an agency through (agency_id,
		// status, requested_at) and one report by number; Open311's
		// request list (the last 90 days by requested_at, at most 1000),
		// one request by number and one by token.
		{"GET /report/nearby", pageAs(stranger, "/report/nearby?lat=39.7817&long=-89.6501")},
		{"GET /report/nearby (ZIP code)", pageAs(stranger, "/report/nearby?zipcode=70102")},
		{"GET /report/follow/{token}", pageAs(stranger, "/report/follow/"+pothole.FollowToken)},
		{"GET /console/reports", pageAs(admin, "/console/reports?agency=springfield-public-works")},
		{"GET /console/reports/{number}", pageAs(admin, "/console/reports/"+potholeNumber)},
		{"GET /open311/v2/{file}", pageAs(stranger, "/open311/v2/requests.json")},
		{"GET /open311/v2/requests/{file}", pageAs(stranger, "/open311/v2/requests/"+potholeNumber+".json")},
		{"GET /open311/v2/tokens/{file}", pageAs(stranger, "/open311/v2/tokens/"+pothole.Token+".xml")},
		{"GET /oauth/userinfo", bearer("GET", "/oauth/userinfo", tok.AccessToken)},
		// The payments API: the key by its unique hash, the payment by
		// primary key, its history, refunds and refund sums by payment_id.
		{"GET /v1/payments/{id}", bearer("GET", "/v1/payments/"+payID, payKey)},
		{"GET /v1/payments/{id}/events", bearer("GET", "/v1/payments/"+payID+"/events", payKey)},
		{"GET /v1/payments/{id}/refunds", bearer("GET", "/v1/payments/"+payID+"/refunds", payKey)},
		{"GET /v1/payments/{id}/refunds/{refundId}", bearer("GET", "/v1/payments/"+payID+"/refunds/"+payRefund.ID, payKey)},
		{"POST /inbox/{id}/read", func() *http.Response {
			msgs, err := a.Notify.Inbox(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID}, 1)
			if err != nil || len(msgs) == 0 {
				t.Fatalf("inbox: %v %v", msgs, err)
			}
			return postForm(t, browser, base+"/inbox/"+msgs[0].ID+"/read", nil)
		}},
		{"POST /oauth/token (refresh_token)", func() *http.Response {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(rp.ID, rp.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		// An agency system ending every token it was issued: its client
		// by primary key, then one update of it (ADR 60, issue 11).
		{"POST /oauth/revoke_all", func() *http.Response {
			form := url.Values{"client_id": {sys.ID}, "client_secret": {sys.Secret}}
			req, _ := http.NewRequest("POST", base+"/oauth/revoke_all", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{"POST /v2/notifications/email", func() *http.Response {
			body, _ := json.Marshal(map[string]any{"email_address": betoEmail, "template_id": tpl.ID, "reference": "plans",
				"personalisation": map[string]any{"name": "Beto", "plate": "ABC123"}})
			jwtTok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": time.Now().Unix()}).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", base+"/v2/notifications/email", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+jwtTok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{"POST /sign-in", func() *http.Response {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			return postForm(t, c, base+"/sign-in", url.Values{"email": {betoEmail}, "password": {demo.CitizenPassword}})
		}},
	}

	// Every GET route is either visited or explained.
	for _, p := range a.Web.Routes() {
		if !strings.HasPrefix(p, "GET ") {
			continue
		}
		if _, ok := notPersonalPages[p]; ok {
			continue
		}
		if !slices.ContainsFunc(visits, func(v visit) bool { return v.pattern == p }) {
			t.Errorf("GET route %q is neither visited by the plan test nor in notPersonalPages", p)
		}
	}

	for _, v := range visits {
		rec.on(v.pattern)
		resp := v.do()
		rec.on("")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			t.Fatalf("%s: status %d: %.500s", v.pattern, resp.StatusCode, b)
		}
	}

	// The bulk reminder path (issue 14), which no page runs but which runs
	// for a million people at once: a sweep claiming the due reminders,
	// and a send job's batch for Beto's obligations (his reminder sends,
	// obligations and contact, the notifications and the batch's delivery
	// job), through the same calls the jobs make.
	obs, err := a.Reminders.List(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID}, true)
	if err != nil || len(obs) == 0 {
		t.Fatalf("Beto's obligations: %d, %v", len(obs), err)
	}
	var sends []reminder.SendArgs
	for _, o := range obs {
		sends = append(sends, reminder.SendArgs{ObligationID: o.ID, DueOn: o.Due.String(), Offset: -10080})
	}
	// The email batch's delivery (notify.email_batch, ADR 71) runs in a
	// worker: the recording runs on until Beto's reminder emails have left "created" and
	// "sending" (the wait's own count reads the recipient index, and is
	// checked with the rest).
	const bulkPage = "bulk reminders: sweep, send batch, email batch delivery"
	rec.on(bulkPage)
	if _, err := a.Reminders.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reminders.SendBatch(ctx, sends); err != nil {
		t.Fatal(err)
	}
	// This app works no jobs (pages were recorded alone): a worker on the
	// same database (`portico serve --role worker`) starts now, for the
	// batch's delivery and whatever else is queued.
	wcfg := cfg
	wcfg.Role = "worker"
	worker, err := app.New(ctx, wcfg, app.NewLogger(wcfg, io.Discard), app.Options{Work: true, ObserveSQL: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		worker.Stop(ctx)
	}()
	waitDelivered := func() int {
		var pending int
		for range 600 { // up to a minute: the worker starts its periodic jobs too, on a loaded machine
			if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND status IN ('created', 'sending')`,
				betoEmail).Scan(&pending); err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return pending
	}
	if n := waitDelivered(); n > 0 {
		t.Fatalf("%d of Beto's emails still undelivered after a minute", n)
	}
	rec.on("")
	delivered := false
	for _, st := range rec.stmts {
		delivered = delivered || st.page == bulkPage && strings.Contains(st.Query, "UPDATE notifications")
	}
	if !delivered {
		t.Fatal("no email batch delivery was recorded: Beto's reminders sent no email")
	}

	// A control: a query no index serves must be reported, or a green run
	// would prove nothing.
	if sc, err := fullScans(ctx, a.DB, storage.Statement{Query: `SELECT id FROM notifications WHERE body_text = $1`, Args: []any{"x"}}); err != nil || len(sc) == 0 {
		t.Fatalf("the plan check missed a full scan of notifications: %v %v", sc, err)
	}

	// EXPLAIN each distinct statement once, with the arguments it first ran
	// with.
	seen := map[string]bool{}
	checked := 0
	for _, s := range rec.stmts {
		if seen[s.Query] || !explainable(s.Query) {
			continue
		}
		seen[s.Query] = true
		checked++
		scans, err := fullScans(ctx, a.DB, s.Statement)
		if err != nil {
			t.Errorf("%s: explain %q: %v", s.page, s.Query, err)
			continue
		}
		for _, sc := range scans {
			hint := ""
			if !seeded[sc.table] {
				hint = " — the table was empty when the population was seeded: give Beto a row there first"
			}
			t.Errorf("%s reads all of %s (%s%s):\n%s", s.page, sc.table, sc.how, hint, s.Query)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d statements recorded: the recorder is not seeing the pages' SQL", checked)
	}
	t.Logf("%s: %d distinct statements explained", d, checked)
}

// explainable reports whether q is a statement EXPLAIN takes and one of
// Portico's own: River's queue statements (river_*) and goose's version
// check are the libraries', over their own tables.
func explainable(q string) bool {
	s := strings.ToUpper(strings.TrimSpace(q))
	if strings.Contains(s, "RIVER_") || strings.Contains(s, "GOOSE_DB_VERSION") {
		return false // the job queue's and the migration library's (a process's start), over their own tables
	}
	for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

type scan struct{ table, how string }

// fullScans EXPLAINs s and returns each read of a whole population table.
func fullScans(ctx context.Context, db *storage.DB, s storage.Statement) ([]scan, error) {
	if db.Dialect == storage.SQLite {
		return sqliteScans(ctx, db, s)
	}
	return postgresScans(ctx, db, s)
}

// SQLite's EXPLAIN QUERY PLAN says "SCAN t" (optionally "USING [COVERING]
// INDEX i") for a full pass and "SEARCH t USING …" for an index search.
var sqliteScan = regexp.MustCompile(`^SCAN (\S+)(.*)$`)

func sqliteScans(ctx context.Context, db *storage.DB, s storage.Statement) ([]scan, error) {
	tables, err := tableSet(ctx, db)
	if err != nil {
		return nil, err
	}
	rows, err := db.Write().QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.Query, s.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []scan
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		m := sqliteScan.FindStringSubmatch(detail)
		if m == nil || !tables[m[1]] {
			continue // a search, a subquery, a CTE or a constant row
		}
		if isSmall(m[1]) {
			continue
		}
		out = append(out, scan{table: m[1], how: detail})
	}
	return out, rows.Err()
}

func postgresScans(ctx context.Context, db *storage.DB, s storage.Statement) ([]scan, error) {
	var raw string
	if err := db.Write().QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+s.Query, s.Args...).Scan(&raw); err != nil {
		return nil, err
	}
	type node struct {
		NodeType  string `json:"Node Type"`
		Relation  string `json:"Relation Name"`
		IndexName string `json:"Index Name"`
		IndexCond string `json:"Index Cond"`
		Plans     []node `json:"Plans"`
	}
	var plans []struct {
		Plan node `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &plans); err != nil {
		return nil, err
	}
	var out []scan
	var walk func(n node)
	walk = func(n node) {
		if n.Relation != "" && !isSmall(n.Relation) {
			switch {
			case n.NodeType == "Seq Scan":
				out = append(out, scan{table: n.Relation, how: "Seq Scan"})
			case (n.NodeType == "Index Scan" || n.NodeType == "Index Only Scan") && n.IndexCond == "" && smallIndexes[n.IndexName] == "":
				out = append(out, scan{table: n.Relation, how: n.NodeType + " of all of " + n.IndexName})
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	for _, p := range plans {
		walk(p.Plan)
	}
	return out, nil
}

// tableSet returns the names of the database's tables.
func tableSet(ctx context.Context, db *storage.DB) (map[string]bool, error) {
	names, err := tablesInOrder(ctx, db)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}

// tablesInOrder lists the tables in the order they were created (parents
// before the tables that refer to them).
func tablesInOrder(ctx context.Context, db *storage.DB) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid`
	if db.Dialect == storage.Postgres {
		q = `SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = 'public'::regnamespace ORDER BY oid`
	}
	rows, err := db.Read().QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// personalColumns are the columns that identify a person or one of their
// rows; seedPopulation gives each copy its own value there, so copies are
// other people's rows, and keeps every other column (agency, service,
// status, times) as it was.
var personalColumns = map[string]bool{
	"id": true, "seq": true, "account_id": true, "case_id": true, "application_id": true, "obligation_id": true,
	"grant_id": true, "auth_request_id": true, "token_hash": true, "code_hash": true, "email": true, "email_key": true,
	"recipient": true, "reference": true, "subject": true, "key": true, "feed_id": true, "phone": true, "blob_key": true,
	"event_id": true, "position": true, "person_id": true, "refund_id": true,
	// Reports: unique per report and its follow link and token.
	"number": true, "token": true, "follow_hash": true, "request_id": true, "secret_hash": true,
	// A payment's rows point at their payment and checkout, and a checkout
	// item at what it pays (a case fee's id): copies kept pointing at the
	// seeded person's would make every copy of a case's payment join every
	// copy of its history. Likewise the keys unique per charge or claim
	// (provider references, claimed sources, sandbox refund keys).
	"payment_id": true, "checkout_id": true, "source": true, "provider_ref": true, "ref": true, "refund_key": true,
	// A payment's ledger postings are one payer's rows too.
	"txn": true,
	// ("token", above, is also a satisfaction answer's form token: unique per answer.)
	// The name typed as the cardholder's (migration 00047).
	"cardholder_name": true,
}

// seedPopulation copies every row of every population table (everything
// not in smallTables) until the notifications table holds the target, so
// that the seeded people (demo citizens and Beto) become a state's worth
// of people with the same kinds of rows. Copies are made in one INSERT …
// SELECT per table over generate_series (PostgreSQL) or a recursive CTE
// (SQLite), with foreign key checks off while copying, and PostgreSQL's
// statistics are refreshed afterwards (as autovacuum would).
func seedPopulation(t *testing.T, db *storage.DB) (seeded map[string]bool) {
	t.Helper()
	ctx := context.Background()
	target, perTable := 10_000, 8_000
	if db.Dialect == storage.Postgres {
		target, perTable = 100_000, 25_000
	}
	names, err := tablesInOrder(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Write().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("seed: %s: %v", q, err)
		}
	}
	if db.Dialect == storage.Postgres {
		exec(`SET session_replication_role = replica`)
		defer exec(`SET session_replication_role = DEFAULT`)
	} else {
		exec(`PRAGMA foreign_keys = OFF`)
		defer exec(`PRAGMA foreign_keys = ON`)
	}
	count := func(table string) int {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	copies := target / max(1, count("notifications")) // notifications: the table of defect 5
	start := time.Now()
	report := []string{}
	seeded = map[string]bool{}
	for _, table := range names {
		if isSmall(table) || strings.HasPrefix(table, "river_") {
			continue
		}
		n := count(table)
		if n == 0 {
			continue
		}
		k := max(1, perTable/n)
		if table == "notifications" {
			k = copies
		}
		cols, err := columnsOf(ctx, conn, table)
		if err != nil {
			t.Fatal(err)
		}
		var names, exprs []string
		for _, c := range cols {
			q := `"` + c.name + `"`
			names = append(names, q)
			switch {
			case !personalColumns[c.name] && c.time && db.Dialect == storage.Postgres:
				// Spread the copies over time, a minute apart, as real
				// history is: a query bounded by a recent time range (an
				// agency's messages today) then meets its share of rows.
				// SQLite's planner does not look at values.
				exprs = append(exprs, "t."+q+" - s.n * interval '1 minute'")
			case !personalColumns[c.name] || !(c.text || c.integer || c.bytes):
				exprs = append(exprs, "t."+q)
			case c.integer:
				exprs = append(exprs, "t."+q+" + s.n * CAST(100000000 AS BIGINT)")
			case c.bytes && db.Dialect == storage.Postgres:
				exprs = append(exprs, "t."+q+" || int4send(s.n)")
			case c.name == "provider_ref":
				// Empty until the provider answers, and unique once set:
				// copies of an empty one stay empty.
				exprs = append(exprs, "CASE WHEN t."+q+" = '' THEN '' ELSE t."+q+" || '~' || s.n END")
			default:
				exprs = append(exprs, "t."+q+" || '~' || s.n")
			}
		}
		sel := `SELECT ` + strings.Join(exprs, ", ") + ` FROM ` + table + ` t CROSS JOIN `
		var q string
		if db.Dialect == storage.Postgres {
			// OVERRIDING SYSTEM VALUE: identity columns (case_entries.id)
			// take the copies' ids.
			q = `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) OVERRIDING SYSTEM VALUE ` + sel + fmt.Sprintf(`generate_series(1, %d) AS s(n)`, k)
		} else {
			q = fmt.Sprintf(`WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) `, k) +
				`INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) ` + sel + `s`
		}
		began := time.Now()
		exec(q)
		seeded[table] = true
		report = append(report, fmt.Sprintf("%s %d (%s)", table, n*(k+1), time.Since(began).Round(time.Millisecond)))
	}
	if db.Dialect == storage.Postgres {
		began := time.Now()
		var list []string
		for t := range seeded {
			list = append(list, t)
		}
		sort.Strings(list)
		exec(`ANALYZE ` + strings.Join(list, ", "))
		report = append(report, fmt.Sprintf("ANALYZE (%s)", time.Since(began).Round(time.Millisecond)))
	}
	sort.Strings(report)
	t.Logf("seeded in %s: %s", time.Since(start).Round(time.Millisecond), strings.Join(report, ", "))
	return seeded
}

type column struct {
	name                       string
	text, integer, bytes, time bool
}

func columnsOf(ctx context.Context, conn *sql.Conn, table string) ([]column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT * FROM `+table+` LIMIT 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []column
	for _, ct := range types {
		tn := strings.ToUpper(ct.DatabaseTypeName())
		out = append(out, column{name: ct.Name(), integer: strings.Contains(tn, "INT"), bytes: tn == "BYTEA" || tn == "BLOB",
			time: strings.HasPrefix(tn, "TIMESTAMP"), text: tn == "" || strings.Contains(tn, "TEXT") || strings.Contains(tn, "CHAR")})
	}
	return out, nil
}

// codeFlow runs the authorization code flow with PKCE for the signed-in
// browser, consenting to the applications scope, and returns the tokens.
func codeFlow(t *testing.T, browser *http.Client, base string, rp *oidc.Registered, redirect string) *oauth2.Token {
	t.Helper()
	conf := &oauth2.Config{ClientID: rp.ID, ClientSecret: rp.Secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"},
		Scopes:   []string{"openid", oidc.ScopeApplications, "offline_access"}}
	verifier := oauth2.GenerateVerifier()
	follow := func(resp *http.Response) (*http.Response, *url.URL) {
		return followToClient(t, browser, resp, redirect)
	}
	req, _ := http.NewRequest("GET", conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")), nil)
	start, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, cb := follow(start)
	if cb == nil {
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no consent form:\n%.2000s", body)
		}
		_, cb = follow(postForm(t, browser, base+"/oauth/consent", url.Values{"id": {string(m[1])}, "decision": {"allow"}}))
	}
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("no code at the relying party: %v", cb)
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok
}
