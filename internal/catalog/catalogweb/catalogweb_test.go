package catalogweb_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/catalogweb"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identitytest"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files")

type site struct {
	URL string
	ids *identity.Service
}

// newSite serves the catalog pages over a real HTTP server, with the
// identity pages for signing in, over the demo jurisdiction, people and
// services.
func newSite(t *testing.T, db *storage.DB) *site {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem, ID: "test"})
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	box, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(identity.Config{PublicURL: "http://portal.test", PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}},
		db, log, clock, box, &identitytest.Outbox{}, ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(ctx, ids); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedExamples(ctx, cat); err != nil {
		t.Fatal(err)
	}
	msgs, _ := i18n.Load()
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), msgs, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identityweb.Register(s, ids, identityweb.Config{}); err != nil {
		t.Fatal(err)
	}
	h, err := catalogweb.Register(s, cat, ten, clock)
	if err != nil {
		t.Fatal(err)
	}
	// The operations go through api.Handle as in the program; the public
	// ones need no token verifier or accounts.
	h.RegisterAPI(api.New(s, nil, nil))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &site{URL: srv.URL, ids: ids}
}

// client returns an HTTP client signed in as email ("" for anonymous).
func (s *site) client(t *testing.T, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if email == "" {
		return c
	}
	resp, err := c.PostForm(s.URL+"/sign-in", url.Values{"email": {email}, "password": {demo.CitizenPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d", email, resp.StatusCode)
	}
	return c
}

func get(t *testing.T, c *http.Client, u, lang string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Language", lang)
	req.Header.Set("X-Request-Id", "golden-request-id")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPages renders each page in both languages and compares it with its
// golden file (go test ./internal/catalog/catalogweb -update rewrites
// them). Pages are rendered on every engine; they must be identical.
func TestPages(t *testing.T) {
	tests := []struct {
		golden, path, lang, who string
		status                  int
	}{
		{"services.en", "/services", "en", "", 200},
		{"services.es", "/services", "es", "", 200},
		{"search-dog.en", "/services?q=dog+licences", "en", "", 200},
		{"search-perro.es", "/services?q=perro", "es", "", 200},
		{"search-none.en", "/services?q=zeppelin", "en", "", 200},
		{"browse-category.en", "/services?category=animals&agency=adams-clerk", "en", "", 200},
		{"search-toolong.en", "/services?q=" + strings.Repeat("a", 501), "en", "", 400},
		{"search-badpage.es", "/services?q=dog&page=x", "es", "", 400},
		{"start-dog.en", "/services/adams-dog-licence", "en", "", 200},
		{"start-dog.es", "/services/adams-dog-licence", "es", "", 200},
		{"start-pothole.en", "/services/springfield-pothole", "en", "", 200},
		{"start-business.es", "/services/springfield-business-licence", "es", "", 200},
		{"start-marriage.en", "/services/adams-marriage-licence", "en", "", 200},
		{"foryou-ana.en", "/services/for-you", "en", "ana.citizen@example.com", 200},
		{"foryou-beto.es", "/services/for-you", "es", "beto.ciudadano@example.com", 200},
		{"foryou-noprofile.en", "/services/for-you", "en", "new", 200},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		if _, err := s.ids.CreateCitizen(context.Background(), identity.NewCitizen{Email: "new@example.com", LegalName: "New Person", Password: demo.CitizenPassword}); err != nil {
			t.Fatal(err)
		}
		clients := map[string]*http.Client{"": s.client(t, "")}
		for _, tt := range tests {
			t.Run(tt.golden, func(t *testing.T) {
				c, ok := clients[tt.who]
				if !ok {
					email := tt.who
					if email == "new" {
						email = "new@example.com"
					}
					c = s.client(t, email)
					clients[tt.who] = c
				}
				resp, body := get(t, c, s.URL+tt.path, tt.lang)
				if resp.StatusCode != tt.status {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
				}
				golden := filepath.Join("testdata", tt.golden+".html")
				body = web.UnhashAssets(body)
				if *update && db.Dialect == storage.SQLite {
					if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/catalog/catalogweb -update)", err)
				}
				if body != string(want) {
					t.Fatalf("%s differs from golden file; run with -update and review the diff\n%s", tt.path, firstDiff(body, string(want)))
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

// TestForYouNeedsSignIn: anonymous visitors are sent to sign in and
// brought back.
func TestForYouNeedsSignIn(t *testing.T) {
	s := newSite(t, storagetest.Open(t, storage.SQLite))
	resp, _ := get(t, s.client(t, ""), s.URL+"/services/for-you", "en")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/sign-in?next=%2Fservices%2Ffor-you" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAPI checks the JSON API's answers and its problems for bad input.
func TestAPI(t *testing.T) {
	tests := []struct {
		name, path string
		status     int
		check      func(t *testing.T, body []byte)
	}{
		{"search", "/api/v1/services?q=dog", 200, func(t *testing.T, b []byte) {
			var l catalogweb.ServiceList
			must(t, json.Unmarshal(b, &l))
			if l.Total != 2 || len(l.Services) != 2 || l.Services[0].ID != "baker-dog-licence" || l.Services[0].Agency.Name.EN != "Baker County Clerk" || l.PageSize != catalog.PageSize {
				t.Errorf("%+v", l)
			}
		}},
		{"spanish search", "/api/v1/services?q=reparaci%C3%B3n&lang=es", 200, func(t *testing.T, b []byte) {
			var l catalogweb.ServiceList
			must(t, json.Unmarshal(b, &l))
			if l.Total != 1 || l.Services[0].ID != "springfield-pothole" || l.Lang != "es" {
				t.Errorf("%+v", l)
			}
		}},
		{"browse with facets", "/api/v1/services?category=animals", 200, func(t *testing.T, b []byte) {
			var l catalogweb.ServiceList
			must(t, json.Unmarshal(b, &l))
			if l.Total != 2 || len(l.Categories) != 9 || len(l.Agencies) != 2 || l.Categories[0].Name.ES != "Animales y mascotas" {
				t.Errorf("%+v", l)
			}
		}},
		{"empty result", "/api/v1/services?q=zeppelin&page=3", 200, func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), `"services":[]`) {
				t.Errorf("%s", b)
			}
		}},
		{"one service", "/api/v1/services/adams-dog-licence", 200, func(t *testing.T, b []byte) {
			var d catalogweb.ServiceDetail
			must(t, json.Unmarshal(b, &d))
			if d.Fee.Kind != "variable" || len(d.Documents) != 1 || d.Documents[0].Label.EN != "Vaccination certificate" || d.Pages != 2 || d.Questions != 6 ||
				len(d.Requirements) != 2 || d.ApplyURL != "/services/adams-dog-licence/apply" || d.Jurisdictions[0].Name.EN != "Adams County" {
				t.Errorf("%+v", d)
			}
		}},
		{"fixed fee", "/api/v1/services/adams-marriage-licence", 200, func(t *testing.T, b []byte) {
			var d catalogweb.ServiceDetail
			must(t, json.Unmarshal(b, &d))
			if d.Fee.Kind != "fixed" || *d.Fee.Amount != 6000 || d.Fee.Currency != "USD" {
				t.Errorf("%+v", d.Fee)
			}
		}},
		{"unknown service", "/api/v1/services/no-such-service", 404, nil},
		{"hostile id", "/api/v1/services/%22%3B%20DROP%20TABLE", 404, nil},
		// The shell refuses NUL anywhere in the text of a request
		// (web.ValidText), before the catalog sees it.
		{"nul in id", "/api/v1/services/dog%00", 400, nil},
		{"nul in filter", "/api/v1/services?category=a%00b", 400, nil},
		{"nul in query", "/api/v1/services?q=dog%00licence", 400, nil},
		{"query too long", "/api/v1/services?lang=en&q=" + strings.Repeat("x", 501), 400, func(t *testing.T, b []byte) {
			if !strings.Contains(string(b), "at most 500 characters") {
				t.Errorf("%s", b)
			}
		}},
		{"bad page", "/api/v1/services?page=-1", 400, nil},
		{"huge page", "/api/v1/services?page=99999999999999999999", 400, nil},
		{"bad utf-8", "/api/v1/services?q=%FF", 400, nil},
		{"long filter", "/api/v1/services?agency=" + strings.Repeat("a", 200), 400, nil},
		{"fts syntax", "/api/v1/services?q=" + url.QueryEscape(`dog" NEAR(*) OR terms_es:perro`), 200, nil},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		c := s.client(t, "")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := get(t, c, s.URL+tt.path, "en")
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
				}
				ct := resp.Header.Get("Content-Type")
				if tt.status >= 400 && ct != "application/problem+json" || tt.status < 400 && ct != "application/json" {
					t.Errorf("content type %q", ct)
				}
				if tt.check != nil {
					tt.check(t, []byte(body))
				}
			})
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
