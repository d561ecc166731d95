package todo_test

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// startApp runs the whole program on SQLite with a fake clock, seeded
// with the demo's agencies, people and services (no obligations: each
// test sets its own).
func startApp(t *testing.T, d storage.Dialect) (*app.App, *platform.FakeClock, string) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	// Noon in Chicago, November 24, 2026.
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC))
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	seed := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem})
	if _, err := demo.Seed(seed, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(seed, a.Identity); err != nil {
		t.Fatal(err)
	}
	// The renewal uses the vehicle-registry plug-in: registered and
	// enabled before publishing, as `portico demo` does.
	if _, err := demo.SeedPlugins(seed, a.Plugins, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedExamples(seed, a.Catalog); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)
	return a, clock, srv.URL
}

// applicant is a demo person as the applying pages describe them.
func applicant(t *testing.T, a *app.App, email string) application.Applicant {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	ap := application.Applicant{AccountID: acct.ID, Email: acct.Email, Lang: acct.Lang, LegalName: acct.LegalName, DateOfBirth: acct.DateOfBirth,
		Residential: application.Address(acct.Residential)}
	js, err := a.Tenancy.ResolveZIP(ctx, acct.Residential.ZIP)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		ap.Jurisdictions = append(ap.Jurisdictions, j.ID)
	}
	return ap
}

// apply starts an application to service, answers its pages (a file
// field gets an uploaded PDF) and submits it unless draft; it returns
// the application.
func apply(t *testing.T, a *app.App, ap application.Applicant, service string, pages map[string]url.Values, files map[string]string, draft bool) *application.Application {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: ap.AccountID})
	app, err := a.Applications.Start(ctx, ap, service)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"dog", "rabies", "where"} {
		form, ok := pages[page]
		if !ok {
			continue
		}
		if field, ok := files[page]; ok {
			pdf := []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
			at, prob, err := a.Applications.Attach(ctx, ap.AccountID, app.ID, page, field, application.Upload{Filename: "certificate.pdf", Size: int64(len(pdf)), Content: bytes.NewReader(pdf)})
			if err != nil || prob != nil {
				t.Fatalf("attach: %v %+v", err, prob)
			}
			form.Set(field, at.ID)
		}
		res, err := a.Applications.SavePage(ctx, ap, app.ID, page, form)
		if err != nil || len(res.Problems) > 0 {
			t.Fatalf("save %s: %v %+v", page, err, res.Problems)
		}
		app = res.App
	}
	if draft {
		return app
	}
	sent, err := a.Applications.Submit(ctx, ap, app.ID, app.Revision)
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

func oblige(t *testing.T, a *app.App, o reminder.Obligation) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem, ID: "test"})
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error { _, err := a.Reminders.Set(ctx, tx, o); return err }); err != nil {
		t.Fatal(err)
	}
}

type browser struct {
	t          *testing.T
	base, lang string
	c          *http.Client
}

func signIn(t *testing.T, base, email string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: base, lang: "en", c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := url.Values{"email": {email}, "password": {demo.CitizenPassword}}
	req, _ := http.NewRequest("POST", base+"/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, _ := b.do(req); status != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d", email, status)
	}
	return b
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Accept-Language", b.lang)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) get(path string) string {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	status, body := b.do(req)
	if status != http.StatusOK {
		b.t.Fatalf("GET %s: %d\n%s", path, status, body)
	}
	return body
}

// TestHome: Ana's home with every kind of item (a fee her dog license
// application was asked for, a property tax installment, a question from
// Springfield Public Works, a registration to renew, an application to
// finish and an overdue request with nothing to do online), the total she
// owes, what she applied for and the services she uses; Coming up with
// the amounts; Beto, who has nothing to do, gets the empty state. In
// English and Spanish, pinned by golden files, on each engine.
func TestHome(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { checkHome(t, d) })
	}
}

func checkHome(t *testing.T, d storage.Dialect) {
	a, clock, base := startApp(t, d)
	ana := applicant(t, a, "ana.citizen@example.com")
	dog := apply(t, a, ana, "adams-dog-licence", map[string]url.Values{
		"dog": {"name": {"Rex"}, "sex": {"male"}, "neutered": {"yes"}}, "rabies": {},
	}, map[string]string{"rabies": "certificate"}, false)
	pothole := apply(t, a, ana, "springfield-pothole", map[string]url.Values{"where": {"location": {"Elm Street and 3rd"}, "size": {"large"}}}, nil, false)
	apply(t, a, ana, "adams-marriage-licence", nil, nil, true)
	staff := platform.Actor{Kind: platform.ActorStaff, ID: "staff-1", Grants: []platform.Grant{{Agency: "springfield-public-works", Role: "caseworker"}}}
	if _, err := a.Casework.RequestInfo(context.Background(), staff, pothole.ID, "Is it in the left or the right lane?"); err != nil {
		t.Fatal(err)
	}
	today := a.Reminders.Today()
	tax := platform.MustMoney(123550, "USD")
	for _, o := range []reminder.Obligation{
		{AgencyID: "dmv", Kind: reminder.KindRenewal, Source: "demo:vehicle-registration", Title: reminder.Text{EN: "Renew your vehicle registration (EX 4KQ-218)", ES: "Renueve el registro de su vehículo (EX 4KQ-218)"},
			URL: "/services/vehicle-registration-renewal", Due: today.AddDays(21)},
		{AgencyID: "adams-treasurer", Kind: reminder.KindPayment, Source: "demo:property-tax-2", Title: reminder.Text{EN: "Pay your property tax, second installment", ES: "Pague su impuesto predial, segunda cuota"},
			Amount: &tax, Reference: "Parcel 01-234-567", Due: today.AddDays(45)},
		{AgencyID: "lakeside-licensing", Kind: reminder.KindAction, Source: "demo:proof-of-address", Title: reminder.Text{EN: "Send proof of address", ES: "Envíe un comprobante de domicilio"},
			Due: today.AddDays(-2)},
	} {
		o.AccountID = ana.AccountID
		oblige(t, a, o)
	}
	clock.Advance(time.Hour)

	b := signIn(t, base, "ana.citizen@example.com")
	for _, lang := range []string{"en", "es"} {
		b.lang = lang
		home := b.get("/dashboard")
		for _, want := range map[string][]string{
			"en": {"You owe $1,245.50 to 2 agencies.", "$10.00", "Adams County Clerk", "How to pay at the counter", "100 Main Street, Room 110", "Monday to Friday, 8 a.m. to 4:30 p.m.",
				"ADAMS-CLERK-2026-000001", "Parcel 01-234-567", "Overdue", `href="/applications/` + pothole.ID + `#body"`, `href="/services/vehicle-registration-renewal"`,
				"How to contact the agency", `href="/agencies/adams-clerk"`, `href="/dashboard" aria-current="page"`},
			"es": {"Debe $1,245.50 a 2 agencias.", "Cómo pagar en ventanilla", "Secretaría del Condado de Adams", "De lunes a viernes, de 8:00 a 16:30", "Vencido"},
		}[lang] {
			if !strings.Contains(home, want) {
				t.Errorf("%s home lacks %q", lang, want)
			}
		}
		golden(t, "home."+lang, home)
		golden(t, "comingup."+lang, b.get("/coming-up"))
	}
	// Each block audited its own read of Ana's data, in her name.
	for _, action := range []string{"application.list", "case.payment.list", "case.request.list", "obligation.list"} {
		var n int
		if err := a.DB.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action = $1 AND subject = $2 AND actor = $3`,
			action, "account:"+ana.AccountID, platform.Actor{Kind: platform.ActorCitizen, ID: ana.AccountID}.String()).Scan(&n); err != nil || n == 0 {
			t.Errorf("the home's read %s is not audited in Ana's name (%d, %v)", action, n, err)
		}
	}
	// Overdue first, then soonest due.
	en := b.get("/dashboard")
	b.lang = "en"
	order := []string{"Send proof of address", "Answer the agency", "Pay the fee: Get a dog licen", "Renew your vehicle registration", "Finish and send", "Pay your property tax"}
	last := -1
	for _, s := range order {
		i := strings.Index(en, s)
		if i < last {
			t.Errorf("%q is out of order", s)
		}
		last = i
	}

	// Paid at the counter: the fee leaves the list, the total goes.
	fin := platform.Actor{Kind: platform.ActorStaff, ID: "staff-2", Grants: []platform.Grant{{Agency: "adams-clerk", Role: "finance"}}}
	if _, err := a.Casework.RecordPayment(context.Background(), fin, dog.ID, 1000, "CASH-1"); err != nil {
		t.Fatal(err)
	}
	home := b.get("/dashboard")
	if strings.Contains(home, "$10.00") || strings.Contains(home, "You owe") || !strings.Contains(home, "$1,235.50") {
		t.Errorf("after paying, the home still shows the fee or the total")
	}
	if cu := b.get("/coming-up"); strings.Contains(cu, "$10.00") {
		t.Errorf("after paying, Coming up still shows the fee")
	}

	beto := signIn(t, base, "beto.ciudadano@example.com")
	for _, lang := range []string{"en", "es"} {
		beto.lang = lang
		empty := beto.get("/dashboard")
		if !strings.Contains(empty, `id="todo-none"`) || strings.Contains(empty, "Rex") || strings.Contains(empty, "ADAMS-CLERK") {
			t.Errorf("Beto's %s home is not his empty state", lang)
		}
		golden(t, "home-empty."+lang, empty)
	}
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// golden compares a page with testdata/NAME.html, generated ids replaced
// (go test ./internal/portal/todo -update rewrites).
func golden(t *testing.T, name, body string) {
	t.Helper()
	body = uuidPattern.ReplaceAllString(body, "GENERATED-ID")
	path := filepath.Join("testdata", name+".html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/portal/todo -update)", err)
	}
	if body != string(want) {
		g, w := strings.Split(body, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) && i < len(w); i++ {
			if g[i] != w[i] {
				t.Fatalf("%s differs from its golden file at line %d:\n got: %s\nwant: %s", name, i+1, g[i], w[i])
			}
		}
		t.Fatalf("%s differs from its golden file in length", name)
	}
}

// TestHomePagesApplications: with more applications than one page holds,
// the home lists the most recent and links to the older ones, whose page
// links back; a page to continue from that is not the person's own is a
// 400, not a silent first page.
func TestHomePagesApplications(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a, _, base := startApp(t, d)
			ana := applicant(t, a, "ana.citizen@example.com")
			sent := apply(t, a, ana, "adams-dog-licence", map[string]url.Values{
				"dog": {"name": {"Rex"}, "sex": {"male"}, "neutered": {"yes"}}, "rabies": {},
			}, map[string]string{"rabies": "certificate"}, false)
			at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
			for i := range application.DashboardLimit + 5 {
				if _, err := a.DB.Write().Exec(`INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, reference, created_at, updated_at, submitted_at)
					SELECT $2, service_id, service_version, agency_id, account_id, status, answers, page, $3, created_at, $4, submitted_at FROM applications WHERE id = $1`,
					sent.ID, fmt.Sprintf("old-%03d", i), fmt.Sprintf("OLD-%03d", i), at.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			b := signIn(t, base, "ana.citizen@example.com")
			home := b.get("/dashboard")
			link := regexp.MustCompile(`href="(/dashboard\?older=[^"#]+)#applied" id="older"`).FindStringSubmatch(home)
			if link == nil || strings.Contains(home, "OLD-000") || strings.Contains(home, `id="newer"`) {
				t.Fatalf("the first page: older link %v, lists the oldest: %v", link, strings.Contains(home, "OLD-000"))
			}
			older := b.get(strings.ReplaceAll(link[1], "&amp;", "&"))
			if !strings.Contains(older, "OLD-000") || !strings.Contains(older, `id="newer"`) || strings.Contains(older, `id="older"`) {
				t.Fatal("the second page lacks the oldest application or the link back, or links further")
			}
			req, _ := http.NewRequest("GET", base+"/dashboard?older=someone-elses", nil)
			if status, _ := b.do(req); status != http.StatusBadRequest {
				t.Fatalf("continuing from an unknown application: %d", status)
			}
		})
	}
}
