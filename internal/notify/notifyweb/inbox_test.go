package notifyweb_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// inboxApp runs the whole program on dialect d with a fake clock, seeded
// with the demo, behind a real HTTP server.
func inboxApp(t *testing.T, d storage.Dialect) (*app.App, *platform.FakeClock, string) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Date(2026, 3, 27, 20, 4, 0, 0, time.UTC))
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
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)
	return a, clock, srv.URL
}

func signedIn(t *testing.T, base, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", base+"/sign-in", strings.NewReader(url.Values{"email": {email}, "password": {demo.CitizenPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d", email, resp.StatusCode)
	}
	return c
}

func fetch(t *testing.T, c *http.Client, method, u, lang string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Accept-Language", lang)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-Request-Id", "golden-request-id")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// stableIDs replaces each message id with MESSAGE-n, in order of first
// appearance, so the golden file does not depend on random ids.
func stableIDs(body string) string {
	seen := map[string]string{}
	return uuidPattern.ReplaceAllStringFunc(body, func(id string) string {
		if _, ok := seen[id]; !ok {
			seen[id] = "MESSAGE-" + strconv.Itoa(len(seen)+1)
		}
		return seen[id]
	})
}

// TestInboxPage: the inbox shows each message's sender agency (linked to
// its page, in the reader's language) and its local date and time in the
// jurisdiction's zone, marks unread messages for eyes and screen readers,
// and counts them with CLDR plurals; opening one marks it read. The page
// is compared with testdata/inbox.LANG.html on each engine (-update
// rewrites them).
func TestInboxPage(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a, clock, base := inboxApp(t, d)
			ctx := context.Background()
			for _, c := range []struct {
				lang, email string
				text        [3]notify.AccountText
				sender      string
				one, two    string
			}{
				{"en", "ana.citizen@example.com", [3]notify.AccountText{
					{Subject: "Renew your vehicle registration", Text: "Your registration of ABC123 expires on April 30, 2026.", Lang: "en", AgencyID: "dmv"},
					{Subject: "Your dog is licensed (ADAMS-CLERK-2026-000001)", Text: "Your dog is licensed.\n\nSee your application:\nhttps://services.example.gov/applications/x", Lang: "en", AgencyID: "adams-clerk"},
					{Subject: "Welcome", Text: "Welcome to the State of Example's services.", Lang: "en"},
				}, `<a class="usa-link" href="/agencies/adams-clerk">Adams County Clerk</a>`, "You have 1 unread message.", "You have 2 unread messages."},
				{"es", "beto.ciudadano@example.com", [3]notify.AccountText{
					{Subject: "Renueve el registro de su vehículo", Text: "El registro de XYZ789 vence el 30 de abril de 2026.", Lang: "es", AgencyID: "dmv"},
					{Subject: "Su perro tiene licencia (BAKER-CLERK-2026-000001)", Text: "Su perro tiene licencia.", Lang: "es", AgencyID: "baker-clerk"},
					{Subject: "Bienvenido", Text: "Bienvenido a los servicios del Estado de Example.", Lang: "es"},
				}, `<a class="usa-link" href="/agencies/baker-clerk">Secretaría del Condado de Baker</a>`, "Tiene 1 mensaje sin leer.", "Tiene 2 mensajes sin leer."},
			} {
				t.Run(c.lang, func(t *testing.T) {
					acct, err := a.Identity.AccountByEmail(ctx, c.email)
					if err != nil {
						t.Fatal(err)
					}
					clock.Set(time.Date(2026, 3, 25, 14, 30, 0, 0, time.UTC))
					for i, m := range c.text {
						m.AccountID, m.Email = acct.ID, acct.Email
						if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
							_, err := a.Notify.SendTextToAccount(ctx, tx, m)
							return err
						}); err != nil {
							t.Fatal(err)
						}
						if i == 0 {
							clock.Advance(48 * time.Hour)
						} else {
							clock.Advance(5 * time.Hour)
						}
					}
					me := platform.Actor{Kind: platform.ActorCitizen, ID: acct.ID}
					msgs, err := a.Notify.Inbox(ctx, me, 0)
					if err != nil || len(msgs) != 3 {
						t.Fatalf("inbox %d %v", len(msgs), err)
					}
					if err := a.Notify.MarkRead(ctx, me, msgs[2].ID); err != nil { // the oldest, already read
						t.Fatal(err)
					}
					b := signedIn(t, base, c.email)
					status, body := fetch(t, b, "GET", base+"/inbox", c.lang)
					if status != 200 {
						t.Fatalf("inbox: %d", status)
					}
					header := map[string]string{"en": `<span class="usa-sr-only"> (2 unread messages)</span>`, "es": `<span class="usa-sr-only"> (2 mensajes sin leer)</span>`}[c.lang]
					for _, want := range []string{c.two, c.sender, `<span class="usa-tag bg-primary margin-right-1">`, header} {
						if !strings.Contains(body, want) {
							t.Errorf("inbox lacks %q", want)
						}
					}
					if strings.Contains(body, "UTC") || strings.Contains(body, ">2026-") {
						t.Errorf("inbox shows a machine date:\n%s", body)
					}
					golden(t, a.DB, "inbox."+c.lang, stableIDs(body))
					// Opening a message marks it read: one unread left.
					status, _ = fetch(t, b, "POST", base+"/inbox/"+msgs[0].ID+"/read", c.lang)
					if status != http.StatusSeeOther {
						t.Fatalf("open: %d", status)
					}
					_, body = fetch(t, b, "GET", base+"/inbox?read="+msgs[0].ID, c.lang)
					if !strings.Contains(body, c.one) || !strings.Contains(body, c.text[2].Text[:20]) {
						t.Errorf("after opening one, the page lacks %q or the message text", c.one)
					}
					if n, err := a.Notify.UnreadCount(ctx, me); err != nil || n != 1 {
						t.Errorf("unread %d %v", n, err)
					}
				})
			}
		})
	}
}
