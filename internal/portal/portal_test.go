package portal_test

import (
	"context"
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

func newPortal(t *testing.T, db *storage.DB) http.Handler {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	ten, err := tenancy.New(db, audit.New(db, clock, nil), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := portal.Register(s, ten); err != nil {
		t.Fatal(err)
	}
	return s
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
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newPortal(t, db)
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
	h := newPortal(t, db)
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
