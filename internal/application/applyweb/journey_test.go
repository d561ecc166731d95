package applyweb_test

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"github.com/portico-gov/portico/internal/notify"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files")

// startApp runs the whole program (app.New, as `portico serve` does) on
// SQLite with a fake clock, seeded with the demo, behind a real HTTP
// server.
func startApp(t *testing.T) (*app.App, string) {
	t.Helper()
	return startAppOn(t, storage.SQLite)
}

// startAppOn is startApp on a fresh database of dialect d.
func startAppOn(t *testing.T, d storage.Dialect) (*app.App, string) {
	t.Helper()
	ctx := context.Background()
	// The plug-in journeys wait for a tripped circuit breaker to let a
	// trial call through: one second, not an operator's 30.
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, PluginBreakerOpen: time.Second}
	if d != storage.SQLite {
		cfg.DB = storagetest.MigratedURL(t, d)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
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
	return a, srv.URL
}

// browser is one device: a cookie jar, no automatic redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	lang string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, lang: "en", c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Accept-Language", b.lang)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// upload posts a multipart form with one file.
func (b *browser) upload(path string, form url.Values, field, filename string, content []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile(field, filename)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func (b *browser) signIn(email string) {
	b.t.Helper()
	if p := b.post("/sign-in", url.Values{"email": {email}, "password": {demo.CitizenPassword}}); p.status != http.StatusSeeOther {
		b.t.Fatalf("sign in %s: %d", email, p.status)
	}
}

func expect(t *testing.T, what string, p page, status int, location string) {
	t.Helper()
	if p.status != status || location != "" && p.location != location {
		t.Fatalf("%s: status %d location %q, want %d %q\n%s", what, p.status, p.location, status, location, p.body)
	}
}

func contains(t *testing.T, what string, p page, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(p.body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

var pdf = []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")

// TestApplyJourney is a citizen applying for a marriage licence through the
// real HTTP server: sent to sign in and back, prefilled answers, a bad
// answer then a good one, a conditional page, a refused upload then a good
// one, leaving and resuming on another device, checking, submitting twice,
// downloading the file and seeing the dashboard.
func TestApplyJourney(t *testing.T) {
	a, base := startApp(t)
	ana := newBrowser(t, base)
	start := "/services/adams-marriage-licence/apply"
	expect(t, "anonymous start", ana.post(start, nil), http.StatusSeeOther, "/sign-in?next=%2Fservices%2Fadams-marriage-licence%2Fapply")
	ana.signIn("ana.citizen@example.com")
	// A service whose conditions Ana does not meet sends her to its start
	// page, which says why, and starts nothing.
	expect(t, "ineligible start page", ana.get("/services/springfield-business-licence/apply"), http.StatusSeeOther, "/services/springfield-business-licence#not-eligible")
	expect(t, "ineligible start", ana.post("/services/springfield-business-licence/apply", nil), http.StatusSeeOther, "/services/springfield-business-licence#not-eligible")
	contains(t, "why not", ana.get("/services/springfield-business-licence"), "You cannot use this service", "Your identity must be verified before you can get a business license.")
	p := ana.post(start, nil)
	expect(t, "start", p, http.StatusSeeOther, "")
	appURL := strings.TrimSuffix(p.location, "/pages/you")
	id := strings.TrimPrefix(appURL, "/apply/")
	expect(t, "start lands on the first page", p, http.StatusSeeOther, appURL+"/pages/you")
	expect(t, "resume new draft", ana.get(appURL), http.StatusSeeOther, appURL+"/pages/you")
	expect(t, "start again", ana.post(start, nil), http.StatusSeeOther, appURL+"/pages/you")
	expect(t, "start page with a draft", ana.get(start), http.StatusSeeOther, appURL)

	p = ana.get(appURL + "/pages/you")
	expect(t, "first page", p, http.StatusOK, "")
	contains(t, "prefilled page", p, `value="Ana Citizen"`, `value="12 Elm Street"`, `value="1988"`, "We filled in some answers from your profile")
	golden(t, "you-prefilled.en", p.body, id)
	ana.lang = "es" // the date's boxes in Spanish order: día, mes, año
	golden(t, "you-prefilled.es", ana.get(appURL+"/pages/you").body, id)
	ana.lang = "en"

	bad := url.Values{"name": {"Ana Q. Citizen"}, "born-day": {"31"}, "born-month": {"2"}, "born-year": {"1988"},
		"address-line1": {"12 Elm Street"}, "address-city": {"Springfield"}, "address-zip": {"7010"}, "action": {"continue"}}
	p = ana.post(appURL+"/pages/you", bad)
	expect(t, "bad answers", p, http.StatusBadRequest, "")
	contains(t, "error page", p, `id="error-summary"`, `<a href="#f-born-month">`, `value="Ana Q. Citizen"`, `value="31"`, `value="7010"`, `id="f-address-zip-error"`)
	golden(t, "you-errors.en", p.body, id)
	ana.lang = "es"
	p = ana.post(appURL+"/pages/you", bad)
	golden(t, "you-errors.es", p.body, id)
	ana.lang = "en"
	// A problem with one box highlights that box only, and the summary
	// links to it; what was typed stays.
	shortYear := url.Values{"name": {"Ana Q. Citizen"}, "born-month": {"03"}, "born-day": {"27"}, "born-year": {"88"},
		"address-line1": {"12 Elm Street"}, "address-city": {"Springfield"}, "address-zip": {"70101"}, "action": {"continue"}}
	p = ana.post(appURL+"/pages/you", shortYear)
	expect(t, "short year", p, http.StatusBadRequest, "")
	contains(t, "short year", p, `<a href="#f-born-year">Year must include 4 numbers in “Your date of birth”.</a>`, `value="03"`, `value="88"`)
	golden(t, "you-error-year.en", p.body, id)

	good := url.Values{"name": {"Ana Q. Citizen"}, "born-day": {"12"}, "born-month": {"4"}, "born-year": {"1988"},
		"address-line1": {"12 Elm Street"}, "address-city": {"Springfield"}, "address-zip": {"70101"}}
	expect(t, "good answers", ana.post(appURL+"/pages/you", good), http.StatusSeeOther, appURL+"/pages/partner")
	expect(t, "partner", ana.post(appURL+"/pages/partner", url.Values{"name": {"Bo Partner"}, "born-day": {"1"}, "born-month": {"2"}, "born-year": {"1990"}, "email": {"bo@example.com"}}),
		http.StatusSeeOther, appURL+"/pages/previous")
	expect(t, "previous", ana.post(appURL+"/pages/previous", url.Values{"married_before": {"yes"}}), http.StatusSeeOther, appURL+"/pages/divorce")

	p = ana.upload(appURL+"/pages/divorce", nil, "decree", "decree.pdf", []byte("<html><script>alert(1)</script></html>"))
	expect(t, "html named .pdf", p, http.StatusBadRequest, "")
	contains(t, "refused upload", p, "must be a PDF, JPG, PNG file")
	p = ana.upload(appURL+"/pages/divorce", url.Values{"action": {"later"}}, "decree", "decree.pdf", pdf)
	expect(t, "upload and leave", p, http.StatusSeeOther, "/dashboard?saved="+id)

	// Another device: the dashboard shows the draft, which resumes at
	// check your answers (every page is answered).
	phone := newBrowser(t, base)
	phone.signIn("ana.citizen@example.com")
	p = phone.get("/dashboard")
	contains(t, "dashboard with a draft", p, `href="`+appURL+`"`, "Apply for a marriage license", "December 24, 2026")
	expect(t, "resume", phone.get(appURL), http.StatusSeeOther, appURL+"/check")
	p = phone.get(appURL + "/check")
	expect(t, "check", p, http.StatusOK, "")
	contains(t, "check", p, "Ana Q. Citizen", "April 12, 1988", "decree.pdf", "$60.00", appURL+"/pages/you?return=check#f-name")
	golden(t, "check.en", p.body, id)
	phone.lang = "es"
	p = phone.get(appURL + "/check")
	contains(t, "check in Spanish", p, "12 de abril de 1988", "Sí", "$60.00", appURL+"/pages/you?return=check#f-born-day")
	golden(t, "check.es", p.body, id)
	phone.lang = "en"
	rev := regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(p.body)
	if rev == nil {
		t.Fatal("no revision on the check page")
	}

	// The file comes back only as a download, and only to Ana.
	file := regexp.MustCompile(`href="(` + regexp.QuoteMeta(appURL) + `/files/[^"]+)"`).FindStringSubmatch(p.body)
	if file == nil {
		t.Fatal("no file link")
	}
	d := phone.get(file[1])
	if d.status != 200 || d.body != string(pdf) || d.header.Get("Content-Disposition") != `attachment; filename=decree.pdf` ||
		d.header.Get("X-Content-Type-Options") != "nosniff" || d.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d %v", d.status, d.header)
	}
	beto := newBrowser(t, base)
	beto.signIn("beto.ciudadano@example.com")
	expect(t, "someone else's file", beto.get(file[1]), http.StatusNotFound, "")
	expect(t, "someone else's draft", beto.get(appURL+"/check"), http.StatusNotFound, "")

	// Changing an answer from the check page comes back to it.
	expect(t, "change", phone.post(appURL+"/pages/partner", url.Values{"return": {"check"}, "name": {"Bo Partner"}, "born-day": {"1"}, "born-month": {"2"}, "born-year": {"1990"}, "email": {"bo@example.net"}}),
		http.StatusSeeOther, appURL+"/check")
	// The first device still holds the old revision: its submit is stale.
	expect(t, "stale submit", ana.post(appURL+"/submit", url.Values{"revision": {rev[1]}}), http.StatusSeeOther, appURL+"/check?changed=1")
	rev = regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(ana.get(appURL + "/check").body)

	// A double click: both posts end on the confirmation, one case.
	expect(t, "submit", ana.post(appURL+"/submit", url.Values{"revision": {rev[1]}}), http.StatusSeeOther, appURL+"/done")
	expect(t, "submit again", ana.post(appURL+"/submit", url.Values{"revision": {rev[1]}}), http.StatusSeeOther, appURL+"/done")
	p = ana.get(appURL + "/done")
	contains(t, "confirmation", p, "ADAMS-CLERK-2026-000001", "$60.00", `href="/applications/`+id+`"`)
	golden(t, "done.en", p.body, id)
	var cases int
	if err := a.DB.Read().QueryRow(`SELECT COUNT(*) FROM cases`).Scan(&cases); err != nil || cases != 1 {
		t.Fatalf("cases = %d %v", cases, err)
	}
	expect(t, "page after submit", ana.post(appURL+"/pages/you", good), http.StatusSeeOther, appURL+"/done")
	// "Delete" confirmed in a tab opened before the submission: nothing is
	// deleted and the confirmation says why.
	expect(t, "delete after submit", ana.post(appURL+"/withdraw", nil), http.StatusSeeOther, appURL+"/done?kept=1")
	contains(t, "kept", ana.get(appURL+"/done?kept=1"), "This application had already been sent, so it was not deleted.", "ADAMS-CLERK-2026-000001")

	// A second draft, deleted after a confirmation.
	p = ana.post("/services/springfield-pothole/apply", nil)
	expect(t, "start pothole", p, http.StatusSeeOther, "")
	pothole := strings.TrimSuffix(p.location, "/pages/where")
	contains(t, "confirm delete", ana.get(pothole+"/withdraw"), "Delete this unfinished report?", `action="`+pothole+`/withdraw"`)
	expect(t, "delete", ana.post(pothole+"/withdraw", nil), http.StatusSeeOther, "/dashboard?withdrawn=1")
	expect(t, "deleted draft", ana.get(pothole+"/pages/where"), http.StatusNotFound, "")
	expect(t, "delete again (another tab)", ana.post(pothole+"/withdraw", nil), http.StatusSeeOther, "/dashboard?withdrawn=1")

	// A message in Ana's inbox shows on the dashboard, marked new.
	anaAcct, err := a.Identity.AccountByEmail(context.Background(), "ana.citizen@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DB.InTx(context.Background(), func(tx *sql.Tx) error {
		_, err := a.Notify.SendTextToAccount(context.Background(), tx, notify.AccountText{AccountID: anaAcct.ID, Email: anaAcct.Email,
			Subject: "Your dog licence is due", Text: "Renew it by 1 May.", Lang: "en", Reference: "test"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	p = ana.get("/dashboard")
	contains(t, "dashboard", p, "ADAMS-CLERK-2026-000001", "Submitted", `href="/dashboard" aria-current="page"`,
		"Your dog licence is due", `<span class="usa-tag">New</span>`)
	golden(t, "dashboard.en", p.body, id)
	ana.lang = "es"
	golden(t, "dashboard.es", ana.get("/dashboard").body, id)
	golden(t, "done.es", ana.get(appURL+"/done").body, id)
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// golden compares a page with testdata/NAME.html after replacing the
// application id and other generated ids (go test -update rewrites).
func golden(t *testing.T, name, body, appID string) {
	t.Helper()
	body = strings.ReplaceAll(body, appID, "APPLICATION-ID")
	body = web.UnhashAssets(body)
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
		t.Fatalf("%v (run go test ./internal/application/applyweb -update)", err)
	}
	if body != string(want) {
		g, w := strings.Split(body, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) && i < len(w); i++ {
			if g[i] != w[i] {
				t.Fatalf("%s differs from its golden file at line %s:\n got: %s\nwant: %s", name, strconv.Itoa(i+1), g[i], w[i])
			}
		}
		t.Fatalf("%s differs from its golden file in length", name)
	}
}
