package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// loopbackPort matches the addresses of the example plug-ins, on ports
// of the demo's choosing.
var loopbackPort = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

// TestPluginCataloguePagesGolden renders the console's plug-in catalogue,
// the vehicle records' page and the DMV's use of it (approval and access
// rights, with the form to change them) as the platform administrator sees them
// on the demo on a fixed day, in English and Spanish, and compares each
// with its golden file (go test ./cmd/portico -run
// TestPluginCataloguePagesGolden -update rewrites them; review the diff).
func TestPluginCataloguePagesGolden(t *testing.T) {
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
	pat := signInAt(t, a.URL(), "pat.admin@example.gov", true, clock.Now())
	for _, lang := range []string{"en", "es"} {
		for name, path := range map[string]string{"console_plugins": "/console/plugins", "console_plugin": "/console/plugins/vehicle-registry",
			"console_plugin_use": "/console/plugins/vehicle-registry/agencies/dmv"} {
			t.Run(name+"."+lang, func(t *testing.T) {
				st, body := page(t, pat, a.URL()+path+"?lang="+lang)
				if st != 200 {
					t.Fatalf("%s: %d", path, st)
				}
				for _, v := range volatile {
					body = v.re.ReplaceAllString(body, v.with)
				}
				body = web.UnhashAssets(strings.ReplaceAll(body, a.URL(), "http://portico.test"))
				// The example plug-ins listen on ports of the demo's choosing.
				body = loopbackPort.ReplaceAllString(body, "http://127.0.0.1:PORT")
				golden := filepath.Join("testdata", "golden", name+"."+lang+".html")
				if *updateGolden {
					if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/portico -run TestPluginCataloguePagesGolden -update)", err)
				}
				if body != string(want) {
					t.Fatalf("%s differs from %s; run with -update and review the diff\n%s", path, golden, firstLineDiff(body, string(want)))
				}
			})
		}
	}
}
