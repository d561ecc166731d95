package portal_test

import (
	"context"
	"database/sql"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/portal"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files")

func newPortal(t *testing.T, db *storage.DB) (http.Handler, *catalog.Service) {
	t.Helper()
	return newPortalWith(t, db, nil)
}

// newPortalWith is newPortal with extra middleware (nil: none) on the
// web server, added before the portal's pages.
func newPortalWith(t *testing.T, db *storage.DB, mw func(http.Handler) http.Handler) (http.Handler, *catalog.Service) {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	messages, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), messages, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedExamples(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	if mw != nil {
		s.Use(mw)
	}
	if err := portal.Register(s, portal.Options{Tenancy: ten, Catalog: cat, Clock: clock, Featured: demo.Featured}); err != nil {
		t.Fatal(err)
	}
	return s, cat
}

// TestPages renders each page in both languages and compares it with its
// golden file (go test ./internal/portal -update rewrites them). Pages are
// rendered on every engine; they must be identical.
func TestPages(t *testing.T) {
	tests := []struct {
		golden string
		path   string
		lang   string
		status int
	}{
		{"home.en", "/", "en", 200},
		{"home.es", "/", "es", 200},
		{"government.en", "/government", "en", 200},
		{"government.es", "/government", "es", 200},
		{"lookup-city.en", "/government/lookup?zip=70101", "en", 200},
		{"lookup-city.es", "/government/lookup?zip=70101", "es", 200},
		{"lookup-rural.en", "/government/lookup?zip=70290", "en", 200},
		{"lookup-unknown.en", "/government/lookup?zip=12345", "en", 200},
		{"lookup-invalid.en", "/government/lookup?zip=70A01", "en", 400},
		{"lookup-invalid.es", "/government/lookup?zip=70A01", "es", 400},
		{"lookup-empty.en", "/government/lookup?zip=", "en", 400},
		{"life-moving.en", "/life-events/moving", "en", 200},
		{"life-moving.es", "/life-events/moving", "es", 200},
		{"life-moving-lakeside.en", "/life-events/moving?zip=70201", "en", 200},
		{"life-moving-springfield.es", "/life-events/moving?zip=70101", "es", 200},
		{"life-baby-unknown-zip.en", "/life-events/having-a-baby?zip=12345", "en", 200},
		{"life-baby-bad-zip.es", "/life-events/having-a-baby?zip=7010x", "es", 400},
		{"life-unknown.en", "/life-events/winning-the-lottery", "en", 404},
		{"agency-dmv.en", "/agencies/dmv", "en", 200},
		{"agency-dmv.es", "/agencies/dmv", "es", 200},
		{"agency-clerk.en", "/agencies/adams-clerk", "en", 200},
		{"agency-unknown.en", "/agencies/no-such-agency", "en", 404},
		{"agency-bad-id.en", "/agencies/Not%20An..Id", "en", 404},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h, _ := newPortal(t, db)
		for _, tt := range tests {
			t.Run(tt.golden, func(t *testing.T) {
				r := httptest.NewRequest("GET", tt.path, nil)
				r.Header.Set("Accept-Language", tt.lang)
				r.Header.Set("X-Request-Id", "golden-request-id")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.status {
					t.Fatalf("status = %d, want %d", w.Code, tt.status)
				}
				golden := filepath.Join("testdata", tt.golden+".html")
				body := web.UnhashAssets(w.Body.String())
				if *update && db.Dialect == storage.SQLite {
					if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/portal -update)", err)
				}
				if got := body; got != string(want) {
					t.Fatalf("%s differs from golden file; run with -update and review the diff\n%s", tt.path, firstDiff(got, string(want)))
				}
			})
		}
	})
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "lengths differ"
}

// TestInvalidZIPKeepsWhatWasTyped pins the error pattern every form follows:
// an error summary linking to the field, an inline message, and the value
// kept.
func TestInvalidZIPKeepsWhatWasTyped(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	h, _ := newPortal(t, db)
	r := httptest.NewRequest("GET", "/government/lookup?zip=7010x", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body := w.Body.String()
	for _, want := range []string{
		`class="usa-alert usa-alert--error" role="alert"`,
		`<a href="#zip">Enter a ZIP code with five digits, like 70101</a>`,
		`id="zip-error"`,
		`value="7010x"`,
		`aria-invalid="true"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// TestHomeMostUsed: the home page lists the curated services, under a
// heading that claims nothing about use, until there are submissions;
// then the services by submissions in the last 90 days, most first, and
// says so. Submissions older than 90 days do not count.
func TestHomeMostUsed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h, cat := newPortal(t, db)
		get := func() string {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Language", "en")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("home = %d", w.Code)
			}
			return w.Body.String()
		}
		order := func(body string) []string {
			var ids []string
			i := strings.Index(body, `id="services-heading"`)
			j := strings.Index(body, `id="life-heading"`)
			for _, part := range strings.Split(body[i:j], `href="/services/`)[1:] {
				ids = append(ids, part[:strings.IndexByte(part, '"')])
			}
			return ids
		}
		body := get()
		if strings.Contains(body, "Most used") || !strings.Contains(body, "Services to start with") {
			t.Fatal("with no submissions the home page must not claim any service is most used")
		}
		if got := order(body); len(got) != 6 || got[0] != demo.Featured[0] {
			t.Errorf("curated services = %v, want the demo's Featured first", got)
		}
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		count := func(id string, at time.Time, n int) {
			for range n {
				err := db.InTx(ctx, func(tx *sql.Tx) error { return cat.CountSubmission(ctx, tx, id, at, time.UTC) })
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		count("adams-dog-licence", now.AddDate(0, 0, -1), 3)
		count("springfield-pothole", now, 5)
		count("fishing-licence", now.AddDate(0, 0, -100), 9) // outside the window
		count("adams-marriage-licence", now.AddDate(0, 0, -30), 1)
		body = get()
		if !strings.Contains(body, "Most used services") || !strings.Contains(body, "last 90 days") {
			t.Error("with submissions the home page says its list is the most used")
		}
		want := []string{"springfield-pothole", "adams-dog-licence", "adams-marriage-licence"}
		if got := order(body); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("most used = %v, want %v", got, want)
		}
	})
}

// TestHomeRenderedOnce: the home page of someone not signed in is sent
// from the bytes rendered for the first such visitor (ADR 68), which are
// the bytes a fresh render gives; a signed-in viewer, and a request with
// a query string, are rendered for themselves and never get those bytes,
// nor leave theirs for the next visitor.
func TestHomeRenderedOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		// A request with the X-Test-Viewer header is signed in as that name.
		h, _ := newPortalWith(t, db, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if name := r.Header.Get("X-Test-Viewer"); name != "" {
					r = r.WithContext(web.WithViewer(r.Context(), web.Viewer{SignedIn: true, Name: name}))
				}
				next.ServeHTTP(w, r)
			})
		})
		get := func(target, viewer, lang string) *httptest.ResponseRecorder {
			t.Helper()
			r := httptest.NewRequest("GET", target, nil)
			r.Header.Set("Accept-Language", lang)
			if viewer != "" {
				r.Header.Set("X-Test-Viewer", viewer)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s as %q: %d", target, viewer, w.Code)
			}
			return w
		}
		signedIn := get("/", "Ada Lovelace", "en").Body.String() // first: nothing cached may come from it
		if !strings.Contains(signedIn, "Ada Lovelace") && !strings.Contains(signedIn, `href="/account"`) {
			t.Fatal("the signed-in home page shows no signed-in header")
		}
		first, second := get("/", "", "en"), get("/", "", "en")
		if first.Body.String() != second.Body.String() {
			t.Fatal("two anonymous views of the home page differ")
		}
		if strings.Contains(first.Body.String(), `href="/account"`) {
			t.Fatal("the anonymous home page carries a signed-in header")
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Language", "Vary", "Content-Security-Policy", "X-Frame-Options"} {
			if first.Header().Get(h) == "" || first.Header().Get(h) != second.Header().Get(h) {
				t.Errorf("header %s: %q then %q", h, first.Header().Get(h), second.Header().Get(h))
			}
		}
		if again := get("/", "Grace Hopper", "en").Body.String(); !strings.Contains(again, `href="/account"`) || again == first.Body.String() {
			t.Fatal("a signed-in viewer got the anonymous page")
		}
		// Spanish is its own page, and ?lang= is rendered afresh (its
		// switch link differs).
		if es := get("/", "", "es").Body.String(); es == first.Body.String() || !strings.Contains(es, `lang="es"`) {
			t.Fatal("the Spanish home page is the English one")
		}
		if q := get("/?lang=en", "", "en").Body.String(); !strings.Contains(q, "lang=es") {
			t.Fatal("?lang=en home page has no switch to Spanish")
		}
		if get("/", "", "en").Body.String() != first.Body.String() {
			t.Fatal("the anonymous home page changed after other visitors")
		}
	})
}
