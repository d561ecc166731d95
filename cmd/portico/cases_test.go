package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
)

// openCase submits an application as the citizen with email would (the
// applying block's part: the application row with its frozen answers) and
// opens its case in the same transaction, as submission does.
// submittedFee works out the fee of answers as submitting would (nil: the
// service has none), for tests that open cases without the form.
func submittedFee(t *testing.T, a *app.App, svc catalog.Published, answers map[string]map[string]any) *manifest.Charge {
	t.Helper()
	rt, err := a.Catalog.RuntimeOf(svc)
	if err != nil {
		t.Fatal(err)
	}
	fee, ok, err := rt.Fee(answers, manifest.Person{}, a.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return &fee
}

func openCase(t *testing.T, a *app.App, id, email, service string, answers map[string]map[string]any) casework.Case {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := a.Catalog.Latest(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(answers)
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: acct.ID})
	var c casework.Case
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		now := a.Clock.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at, submitted_at)
			VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7, $7, $7)`, id, svc.ID, svc.Version, svc.AgencyID, acct.ID, string(b), now); err != nil {
			return err
		}
		var err error
		c, err = a.Casework.Open(ctx, tx, casework.Opening{ApplicationID: id, AccountID: acct.ID, AgencyID: svc.AgencyID, ServiceID: svc.ID, Version: svc.Version,
			Fee: submittedFee(t, a, svc, answers)})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE applications SET reference = $2 WHERE id = $1`, id, c.Reference)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vehicleAnswers are a complete vehicle registration renewal.
var vehicleAnswers = map[string]map[string]any{
	"vehicle":   {"plate": "ABC123", "type": "car"},
	"insurance": {"insurer": "Acme Mutual", "policy": "P-12345"},
}

// signInClient signs a demo person in on the server at base (staff with
// their authenticator code) and returns a client that keeps the session
// and does not follow redirects.
func signInClient(t *testing.T, base, email string, staff bool) *http.Client {
	t.Helper()
	return signInAt(t, base, email, staff, time.Now())
}

// signInAt is signInClient for a program whose clock reads at.
func signInAt(t *testing.T, base, email string, staff bool, at time.Time) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pw := demo.CitizenPassword
	if staff {
		pw = demo.StaffPassword
	}
	if r := post(t, c, base+"/sign-in", url.Values{"email": {email}, "password": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d", email, r.StatusCode)
	}
	if staff {
		code, _ := totp.GenerateCode(demo.StaffTOTPSecret, at)
		if r := post(t, c, base+"/sign-in/verify", url.Values{"code": {code}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("second factor for %s: %d", email, r.StatusCode)
		}
	}
	return c
}

// page GETs path with c and returns the status and body.
func page(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postPage POSTs form with c and returns the status, redirect and body.
func postPage(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestCaseJourney works a case through the real program over HTTP: a
// caseworker finds it in the queue, takes it and asks the applicant for
// more information; the applicant answers on their case page; the
// caseworker cannot renew before the fee is paid, the agency
// administrator records the payment at the counter, and the caseworker
// renews. Each side sees what it should, and the citizen never sees
// internal notes.
func TestCaseJourney(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	kase := openCase(t, a, "app-journey", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	casePath := base + "/console/cases/" + kase.ID
	citizenPath := base + "/applications/" + kase.ID

	casey := signInClient(t, base, "casey.dmv@example.gov", true)
	status, body := page(t, casey, base+"/console/cases?sla=on_time&assignee=none&lang=en")
	if status != 200 || !strings.Contains(body, kase.Reference) || !strings.Contains(body, "Vehicle registration") && !strings.Contains(body, "registration") {
		t.Fatalf("queue %d lacks %s:\n%s", status, kase.Reference, body)
	}
	if _, body := page(t, casey, base+"/console/cases?sla=overdue"); strings.Contains(body, kase.Reference) {
		t.Fatal("a new case is listed as overdue")
	}
	steps := []struct {
		path string
		form url.Values
		done string
	}{
		{"/assign", url.Values{"assignee": {"me"}}, "assign"},
		{"/note", url.Values{"body": {"Plate looks altered; ask for a photo."}}, "note"},
		{"/request", url.Values{"body": {"Please send a photo of your plate."}}, "request"},
	}
	for _, s := range steps {
		if st, loc, b := postPage(t, casey, casePath+s.path, s.form); st != http.StatusSeeOther || !strings.Contains(loc, "done="+s.done) {
			t.Fatalf("POST %s: %d %q\n%s", s.path, st, loc, b)
		}
	}
	_, body = page(t, casey, casePath+"?lang=en")
	for _, want := range []string{"Casey Caseworker", "Plate looks altered", "Please send a photo", "Paused", "Internal", "Acme Mutual"} {
		if !strings.Contains(body, want) {
			t.Errorf("staff case page lacks %q", want)
		}
	}
	// Bad input comes back as an error on the page, never a 500.
	if st, _, b := postPage(t, casey, casePath+"/message", url.Values{"body": {"   "}}); st != http.StatusBadRequest || !strings.Contains(b, "error-summary") {
		t.Fatalf("empty message: %d", st)
	}

	// The request is an obligation in the applicant's "Coming up" (and
	// calendar); answering it completes it.
	betoAcct, err := a.Identity.AccountByEmail(context.Background(), "beto.ciudadano@example.com")
	if err != nil {
		t.Fatal(err)
	}
	obligation := func(source string) string {
		t.Helper()
		all, err := a.Reminders.List(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: betoAcct.ID}, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range all {
			if o.Source == source {
				return string(o.Status)
			}
		}
		return ""
	}
	if st := obligation("case:" + kase.ID + "/request"); st != "open" {
		t.Fatalf("request obligation is %q, want open", st)
	}
	beto := signInClient(t, base, "beto.ciudadano@example.com", false)
	status, body = page(t, beto, citizenPath+"?lang=en")
	if status != 200 || !strings.Contains(body, "Please send a photo of your plate.") || !strings.Contains(body, `id="respond-submit"`) {
		t.Fatalf("citizen page %d:\n%s", status, body)
	}
	if strings.Contains(body, "Plate looks altered") || strings.Contains(body, "Casey") {
		t.Fatal("the citizen sees an internal note or a staff name")
	}
	if st, loc, b := postPage(t, beto, citizenPath+"/respond", url.Values{"body": {"Photo: the plate reads ABC123, nothing altered."}}); st != http.StatusSeeOther || !strings.Contains(loc, "done=respond") {
		t.Fatalf("respond: %d %q\n%s", st, loc, b)
	}
	if st := obligation("case:" + kase.ID + "/request"); st != "done" {
		t.Fatalf("request obligation after the answer is %q, want done", st)
	}
	if st, _ := page(t, beto, base+"/console/cases/"+kase.ID); st != http.StatusNotFound {
		t.Fatalf("citizen on the staff case page: %d", st)
	}

	// Renewing needs the fee: refused with the reason, in Spanish too.
	st, _, b := postPage(t, casey, casePath+"/transition?lang=es", url.Values{"transition": {"renew"}})
	if st != http.StatusConflict || !strings.Contains(b, "la tarifa aún no se ha pagado") {
		t.Fatalf("renew before payment: %d\n%s", st, b)
	}
	// A caseworker may not record payments; the agency administrator may.
	if st, _, _ := postPage(t, casey, casePath+"/payment", url.Values{"amount": {"45.00"}}); st != http.StatusForbidden {
		t.Fatalf("caseworker records a payment: %d", st)
	}
	dana := signInClient(t, base, "dana.dmv-admin@example.gov", true)
	if st, _, b := postPage(t, dana, casePath+"/payment", url.Values{"amount": {"44.00"}}); st != http.StatusBadRequest || !strings.Contains(b, "45.00") {
		t.Fatalf("wrong amount: %d", st)
	}
	if st, loc, b := postPage(t, dana, casePath+"/payment", url.Values{"amount": {"$45"}, "ref": {"COUNTER-7"}}); st != http.StatusSeeOther || !strings.Contains(loc, "done=payment") {
		t.Fatalf("payment: %d %q\n%s", st, loc, b)
	}
	if st, loc, b := postPage(t, casey, casePath+"/transition", url.Values{"transition": {"renew"}}); st != http.StatusSeeOther || !strings.Contains(loc, "done=transition") {
		t.Fatalf("renew: %d %q\n%s", st, loc, b)
	}
	final, err := a.Casework.Case(context.Background(), kase.ID)
	if err != nil || final.State != "renewed" || final.ClosedAt == nil {
		t.Fatalf("final case %+v, %v", final, err)
	}
	_, body = page(t, beto, citizenPath+"?lang=es")
	for _, want := range []string{"Renovado", "Registro del vehículo", "Pago recibido", "Su registro está renovado"} {
		if !strings.Contains(body, want) {
			t.Errorf("Spanish citizen page lacks %q", want)
		}
	}
	// Every view and change is on the audit record.
	var views, changes int
	a.DB.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action = 'case.read'`, "case:"+kase.ID).Scan(&views)
	a.DB.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action IN ('case.assign', 'case.note', 'case.request_info', 'case.respond', 'case.payment.record', 'case.transition')`, "case:"+kase.ID).Scan(&changes)
	if views < 3 || changes != 6 {
		t.Errorf("audited %d views and %d changes", views, changes)
	}
	// An auditor reads the case but changes nothing.
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
	aud, err := a.Identity.AddStaff(ctx, identity.NewStaff{Email: "ava.audit@example.gov", LegalName: "Ava Auditor", Password: demo.StaffPassword, AgencyID: "dmv", Role: identity.Auditor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.SetTOTPSecret(ctx, aud.ID, demo.StaffTOTPSecret); err != nil {
		t.Fatal(err)
	}
	ava := signInClient(t, base, "ava.audit@example.gov", true)
	open2 := openCase(t, a, "app-journey-2", "ana.citizen@example.com", "vehicle-registration-renewal", vehicleAnswers)
	if st, body := page(t, ava, base+"/console/cases/"+open2.ID+"?lang=en"); st != 200 || strings.Contains(body, "<form class=\"usa-form\" method=\"post\"") || !strings.Contains(body, "You can read this case but not change it.") {
		t.Fatalf("auditor case page: %d\n%s", st, body)
	}
	if st, _, _ := postPage(t, ava, base+"/console/cases/"+open2.ID+"/note", url.Values{"body": {"x"}}); st != http.StatusForbidden {
		t.Fatalf("auditor adds a note: %d", st)
	}
	// Renewing set next year's renewal: an obligation due when the new
	// registration expires.
	if st := obligation("case:" + kase.ID + "/reminder:renew_next_year"); st != "open" {
		t.Errorf("renewal obligation is %q, want open", st)
	}
	// The applicant was emailed the request, the receipt and the decision,
	// and each is in their inbox too.
	for _, ch := range []string{"email", "inapp"} {
		var n int
		a.DB.Read().QueryRow(`SELECT COUNT(*) FROM notifications WHERE reference = $1 AND channel = $2`, "case:"+kase.ID, ch).Scan(&n)
		if n != 3 { // request, payment received, renewed
			t.Errorf("%d %s messages about the case", n, ch)
		}
	}
}

// sessionCookie returns the session cookie c holds for base.
func sessionCookie(t *testing.T, c *http.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "portico-session") { // __Host- prefixed on a secure context
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// useSession makes the browser tab's requests carry the session of c.
func useSession(t *testing.T, p *browsertest.Page, c *http.Client, base string) {
	t.Helper()
	ck := sessionCookie(t, c, base)
	httpOnly := true
	p.Run(t, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		secure := strings.HasPrefix(ck.Name, "__Host-")
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: ck.Name, Value: ck.Value, URL: base, Path: "/", HTTPOnly: &httpOnly, Secure: &secure})
		return chromedp.Void{}, err
	})
}

// TestCaseBrowser checks the case pages with axe-core (WCAG 2.2 A/AA) in
// English and Spanish: the staff queue, the staff case page (also with an
// error), and the citizen's case page before and after they answer a
// request for more information.
func TestCaseBrowser(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	kase := openCase(t, a, "app-browser", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	openCase(t, a, "app-browser-2", "ana.citizen@example.com", "vehicle-registration-renewal", vehicleAnswers)
	casey := signInClient(t, base, "casey.dmv@example.gov", true)
	for _, s := range []struct{ path, body string }{{"/note", "Checked the plate."}, {"/request", "Please send a photo of your plate."}} {
		if st, _, _ := postPage(t, casey, base+"/console/cases/"+kase.ID+s.path, url.Values{"body": {s.body}}); st != http.StatusSeeOther {
			t.Fatalf("%s: %d", s.path, st)
		}
	}
	if st, _, _ := postPage(t, casey, base+"/console/cases/"+kase.ID+"/assign", url.Values{"assignee": {"me"}}); st != http.StatusSeeOther {
		t.Fatalf("assign: %d", st)
	}
	beto := signInClient(t, base, "beto.ciudadano@example.com", false)

	for _, lang := range []string{"en", "es"} {
		t.Run("staff/"+lang, func(t *testing.T) {
			p := b.Page(t)
			useSession(t, p, casey, base)
			for _, path := range []string{"/console/cases?lang=" + lang, "/console/cases?sla=overdue&lang=" + lang, "/console/cases/" + kase.ID + "?lang=" + lang} {
				p.Visit(t, base+path)
				if s := p.Status(); s != 200 {
					t.Fatalf("%s: status %d", path, s)
				}
				if errs := p.ConsoleErrors(); len(errs) > 0 {
					t.Errorf("%s: console errors: %v", path, errs)
				}
			}
			// An empty message: the error summary and the inline error.
			p.Run(t,
				chromedp.Click(chromedp.CSS("#message-submit")),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			p.CheckA11y(t)
			if s := p.Status(); s != 400 {
				t.Errorf("empty message status %d", s)
			}
		})
	}
	for _, lang := range []string{"en", "es"} {
		t.Run("citizen/"+lang, func(t *testing.T) {
			p := b.Page(t)
			useSession(t, p, beto, base)
			p.Visit(t, base+"/applications/"+kase.ID+"?lang="+lang)
			if s := p.Status(); s != 200 {
				t.Fatalf("status %d", s)
			}
			if got := p.Text(t, "main"); strings.Contains(got, "Checked the plate") {
				t.Fatal("the citizen sees an internal note")
			}
			if lang == "es" {
				return // answered once, in English; the page after is checked below
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#body"), "Here is the photo description: plate ABC123."),
				chromedp.Click(chromedp.CSS("#respond-submit")),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--success")),
			)
			p.CheckA11y(t)
		})
	}
	t.Run("citizen/after", func(t *testing.T) {
		p := b.Page(t)
		useSession(t, p, beto, base)
		p.Visit(t, base+"/applications/"+kase.ID+"?lang=es")
		if got := p.Text(t, "#timeline"); !strings.Contains(got, "Respuesta del solicitante") {
			t.Errorf("timeline lacks the answer:\n%s", got)
		}
	})
}

// TestSLAJob runs the SLA sweep as the program does, as a River job in
// the worker, against the platform's fake clock: a case whose time limit
// passed becomes overdue and shows so on the staff page.
func TestSLAJob(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Now())
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Work: true, Clock: clock, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	kase := openCase(t, a, "app-sla", "ana.citizen@example.com", "vehicle-registration-renewal", vehicleAnswers) // submitted: 2d
	clock.Advance(49 * time.Hour)
	if _, err := a.Jobs.Insert(ctx, casework.SLAArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := a.Casework.Case(ctx, kase.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Overdue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("case not overdue after the sweep job: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	dana := signInAt(t, a.URL(), "dana.dmv-admin@example.gov", true, clock.Now())
	if st, body := page(t, dana, a.URL()+"/console/cases?sla=overdue&lang=en"); st != 200 || !strings.Contains(body, kase.Reference) || !strings.Contains(body, "Overdue") {
		t.Fatalf("overdue queue %d lacks the case", st)
	}
	if _, body := page(t, dana, a.URL()+"/console/cases/"+kase.ID+"?lang=en"); !strings.Contains(body, `id="overdue"`) {
		t.Fatal("case page does not say overdue")
	}
}
