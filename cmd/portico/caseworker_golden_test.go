package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files (testdata/golden)")

// volatile are the parts of a page that differ between runs of the same
// program at the same time: generated ids (UUIDs) and request ids.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "UUID"},
	{regexp.MustCompile(`(?i)(request[- ]id[^0-9a-z]{1,40})[0-9a-z-]{8,}`), "${1}REQUEST-ID"},
}

// TestCaseworkerPagesGolden renders the console home and the staff case
// page of the demo's seeded dog licence, as the Adams County Clerk's
// caseworker sees them on a fixed day, in English and Spanish, and
// compares each with its golden file (go test ./cmd/portico -run
// TestCaseworkerPagesGolden -update rewrites them; review the diff).
func TestCaseworkerPagesGolden(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Date(2026, 3, 27, 15, 0, 0, 0, time.UTC))
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Clock: clock, Listen: true})
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
	dog := demoCase(t, a, "ana.citizen@example.com", "adams-dog-licence")
	eli := signInAt(t, a.URL(), "eli.clerk@example.gov", true, clock.Now())

	// The receipt number Dana recorded at the counter for Ana's renewal
	// (paid March 18 at 8:00 AM in Chicago), on the staff case page and
	// on Ana's, in both languages.
	renewed := demoCase(t, a, "ana.citizen@example.com", "vehicle-registration-renewal")
	dana := signInAt(t, a.URL(), "dana.dmv-admin@example.gov", true, clock.Now())
	ana := signInAt(t, a.URL(), "ana.citizen@example.com", false, clock.Now())
	for _, r := range []struct {
		who  string
		c    *http.Client
		path string
	}{{"staff", dana, "/console/cases/" + renewed.ID}, {"citizen", ana, "/applications/" + renewed.ID}} {
		for lang, want := range map[string]string{"en": "Paid $45.00 on March 18, 2026 — receipt 20431", "es": "Pagó $45.00 el 18 de marzo de 2026 — recibo 20431"} {
			if st, body := page(t, r.c, a.URL()+r.path+"?lang="+lang); st != 200 || !strings.Contains(body, want) {
				t.Errorf("%s's case page (%s): %d, no %q", r.who, lang, st, want)
			}
		}
	}
	for _, lang := range []string{"en", "es"} {
		for name, path := range map[string]string{"console_home": "/console", "case_staff": "/console/cases/" + dog.ID} {
			t.Run(name+"."+lang, func(t *testing.T) {
				st, body := page(t, eli, a.URL()+path+"?lang="+lang)
				if st != 200 {
					t.Fatalf("%s: %d", path, st)
				}
				for _, v := range volatile {
					body = v.re.ReplaceAllString(body, v.with)
				}
				body = web.UnhashAssets(strings.ReplaceAll(body, a.URL(), "http://portico.test"))
				golden := filepath.Join("testdata", "golden", name+"."+lang+".html")
				if *updateGolden {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/portico -run TestCaseworkerPagesGolden -update)", err)
				}
				if body != string(want) {
					t.Fatalf("%s differs from %s; run with -update and review the diff\n%s", path, golden, firstLineDiff(body, string(want)))
				}
			})
		}
	}
}

// firstLineDiff shows the first line where got and want differ.
func firstLineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "lengths differ: got " + strconv.Itoa(len(g)) + " lines, want " + strconv.Itoa(len(w))
}
