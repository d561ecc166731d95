package main

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var updateSatisfaction = flag.Bool("update-satisfaction", false, "rewrite the satisfaction console's golden file")

// answeredEvents returns the data of every satisfaction event in the log.
func answeredEvents(t *testing.T, db *storage.DB) []map[string]any {
	t.Helper()
	ctx := context.Background()
	if _, err := events.Sequence(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for after := int64(0); ; {
		evs, err := events.Read(ctx, db, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, e := range evs {
			after = e.Position
			if e.Type != satisfaction.EventAnswered {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, d)
		}
	}
}

var surveyTokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// TestSatisfactionJourney answers the survey through the real server on
// both engines: signed out and signed in, a double submission counted
// once, bad input kept on the page, unknown end points and services, the
// skip link, and the agency's staff reading the redacted comment.
func TestSatisfactionJourney(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			var base string
			var db *storage.DB
			if d == storage.SQLite {
				b, a := startDemoApp(t, t.TempDir())
				base, db = b, a.DB
			} else {
				b, a, _ := startDemo(t, nil, "--data", t.TempDir(), "--db", storagetest.NewURL(t, d))
				base, db = b, a.DB
			}
			anon := signedOut()
			survey := base + "/satisfaction?after=submitted&service=adams-dog-licence"

			// The page: the service named, the scale, a token, skip.
			st, body := page(t, anon, survey+"&lang=en")
			for _, want := range []string{"Get a dog license", "Very satisfied", "Very dissatisfied", "Neither satisfied nor dissatisfied",
				"I was treated fairly.</legend>", "increased my confidence in Adams County Clerk.", "Skip this survey", `href="/services/adams-dog-licence"`, `href="/feedback"`, "<legend class=\"usa-legend\">Overall"} {
				if st != 200 || !strings.Contains(body, want) {
					t.Fatalf("survey page %d lacks %q\n%s", st, want, body)
				}
			}
			m := surveyTokenRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no token on the form")
			}
			token := m[1]

			// Bad input: no score, a value out of range, an overlong
			// comment; the page says so and keeps what was typed.
			typed := url.Values{"token": {token}, "ease": {"9"}, "trust": {"4"}, "comment": {strings.Repeat("x", satisfaction.MaxComment+1)}}
			st, _, body = postPage(t, anon, survey+"&lang=en", typed)
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error-summary"`) || !strings.Contains(body, `href="#score"`) ||
				!strings.Contains(body, `href="#ease"`) || !strings.Contains(body, `href="#comment"`) || !strings.Contains(body, `value="4" checked`) ||
				!strings.Contains(body, strings.Repeat("x", 50)) || !strings.Contains(body, "<title>Error: ") {
				t.Fatalf("bad answer: %d\n%.3000s", st, body)
			}
			st, _, body = postPage(t, anon, survey+"&lang=es", url.Values{"token": {token}})
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, "Seleccione qué tan satisfecho está") {
				t.Fatalf("bad answer in Spanish: %d", st)
			}
			if n := len(answeredEvents(t, db)); n != 0 {
				t.Fatalf("%d events after bad input", n)
			}

			// Unknown end point or service: a clear page, not a 500.
			for _, tt := range []struct {
				path   string
				status int
			}{
				{"/satisfaction?after=finished&service=adams-dog-licence", 400},
				{"/satisfaction?after=paid&service=no-such-service", 404},
				{"/satisfaction", 404},
				{"/satisfaction?after=paid&service=%ff", 400},
			} {
				st, body := page(t, anon, base+tt.path)
				if st != tt.status || (st != 400 || !strings.Contains(body, "could not read")) && !strings.Contains(body, "We cannot find that survey") {
					t.Errorf("%s: %d, want %d\n%.800s", tt.path, st, tt.status, body)
				}
				if st, _, _ := postPage(t, anon, base+tt.path, url.Values{"score": {"5"}}); st != tt.status {
					t.Errorf("POST %s: %d, want %d", tt.path, st, tt.status)
				}
			}

			// A good answer, sent twice (a double click): one response,
			// one event, the same thank-you page.
			good := url.Values{"token": {token}, "score": {"2"}, "ease": {"4"}, "employees": {"na"}, "from": {"/applications/x"},
				"comment": {"Too slow. Email me at ana@example.com or call 555-867-5309."}}
			for i := range 2 {
				st, loc, _ := postPage(t, anon, survey, good)
				if st != http.StatusSeeOther || loc != "/satisfaction/thanks?from=%2Fapplications%2Fx&service=adams-dog-licence" {
					t.Fatalf("answer %d: %d %q", i+1, st, loc)
				}
			}
			st, body = page(t, anon, base+"/satisfaction/thanks?from=%2Fapplications%2Fx&service=adams-dog-licence&lang=en")
			if st != 200 || !strings.Contains(body, "Thank you for your answers") || !strings.Contains(body, `href="/applications/x"`) {
				t.Fatalf("thanks: %d", st)
			}
			evs := answeredEvents(t, db)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1: %v", len(evs), evs)
			}
			b, _ := json.Marshal(evs[0])
			if string(b) != `{"after":"submitted","agency":"adams-clerk","ease":4,"score":2,"service":"adams-dog-licence"}` {
				t.Errorf("event data %s", b)
			}

			// Signed in works too; the beta banner's survey is stored but
			// not announced.
			beto := signInClient(t, base, "beto.ciudadano@example.com", false)
			_, body = page(t, beto, base+"/satisfaction?service=adams-dog-licence")
			tok := surveyTokenRE.FindStringSubmatch(body)[1]
			if st, _, _ := postPage(t, beto, base+"/satisfaction?service=adams-dog-licence", url.Values{"token": {tok}, "score": {"5"}, "comment": {"Lovely"}}); st != http.StatusSeeOther {
				t.Fatalf("signed in, from the banner: %d", st)
			}
			_, body = page(t, beto, base+"/satisfaction?after=paid&service=vehicle-registration-renewal")
			tok = surveyTokenRE.FindStringSubmatch(body)[1]
			if st, _, _ := postPage(t, beto, base+"/satisfaction?after=paid&service=vehicle-registration-renewal", url.Values{"token": {tok}, "score": {"5"}}); st != http.StatusSeeOther {
				t.Fatalf("signed in: %d", st)
			}
			if evs := answeredEvents(t, db); len(evs) != 2 || evs[1]["after"] != "paid" || evs[1]["agency"] != "dmv" {
				t.Fatalf("events %v", evs)
			}

			// The clerk's staff read the comments, redacted, newest first;
			// the DMV's staff cannot.
			clerk := signInClient(t, base, "eli.clerk@example.gov", true)
			st, body = page(t, clerk, base+"/console/satisfaction/adams-dog-licence?lang=en")
			if st != 200 {
				t.Fatalf("comments: %d\n%.2000s", st, body)
			}
			if strings.Contains(body, "ana@example.com") || strings.Contains(body, "867-5309") ||
				!strings.Contains(body, "Too slow. Email me at [email] or call [phone].") || strings.Index(body, "Lovely") > strings.Index(body, "Too slow") {
				t.Errorf("comments page:\n%s", body)
			}
			if d == storage.SQLite {
				golden := filepath.Join("testdata", "satisfaction-comments.en.html")
				got := regexp.MustCompile(`<time datetime="[^"]*">[^<]*</time>`).ReplaceAllString(body, `<time>…</time>`)
				got = regexp.MustCompile(`/static/[^"]*`).ReplaceAllString(got, `/static/…`)
				got = regexp.MustCompile(`name="csrf[^"]*" value="[^"]*"|content="[0-9a-f]{20,}"`).ReplaceAllString(got, `…`)
				if *updateSatisfaction {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (go test ./cmd/portico -run TestSatisfactionJourney -update-satisfaction)", err)
				}
				if got != string(want) {
					t.Errorf("the comments page differs from %s:\n%s", golden, firstLineDiff(got, string(want)))
				}
			}
			if _, body := page(t, clerk, base+"/console/satisfaction?lang=en"); !strings.Contains(body, `href="/console/satisfaction/adams-dog-licence"`) || strings.Contains(body, "vehicle-registration-renewal") {
				t.Errorf("the clerk's services:\n%s", body)
			}
			casey := signInClient(t, base, "casey.dmv@example.gov", true)
			if st, _ := page(t, casey, base+"/console/satisfaction/adams-dog-licence"); st != http.StatusForbidden {
				t.Errorf("another agency's staff: %d", st)
			}
			if st, _ := page(t, beto, base+"/console/satisfaction/adams-dog-licence"); st != http.StatusNotFound {
				t.Errorf("a citizen: %d", st)
			}
		})
	}
}

// signedOut is a client with no session that does not follow redirects.
func signedOut() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
