package browsertest

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/web/assets"
)

// csp is the Content-Security-Policy Portico serves; the test pages run
// under it so that the harness is known to work with it.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// page renders a minimal USWDS page around body.
func page(title, body string) string {
	return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + html.EscapeString(title) + ` | Portico</title>
<script src="/assets/uswds/js/uswds-init.min.js"></script>
<link rel="stylesheet" href="/assets/uswds/css/uswds.min.css">
<link rel="stylesheet" href="/assets/portico.css">
</head>
<body>
<a class="usa-skipnav" href="#main-content">Skip to main content</a>
<section class="usa-banner" aria-label="Official website of the United States government">
  <div class="usa-accordion">
    <header class="usa-banner__header">
      <div class="usa-banner__inner">
        <div class="grid-col-auto">
          <img aria-hidden="true" class="usa-banner__header-flag" src="/assets/uswds/img/us_flag_small.png" alt="">
        </div>
        <div class="grid-col-fill tablet:grid-col-auto" aria-hidden="true">
          <p class="usa-banner__header-text">An official website of the United States government</p>
        </div>
      </div>
    </header>
  </div>
</section>
<main id="main-content" class="grid-container">
<h1>` + html.EscapeString(title) + `</h1>
` + body + `
</main>
<script src="/assets/uswds/js/uswds.min.js"></script>
<script src="/assets/portico.js"></script>
</body>
</html>`
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets.FS)))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets.FS, "uswds/img/favicons/favicon.ico")
	})
	write := func(w http.ResponseWriter, status int, s string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, s)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, page("Apply for a permit", `
<p class="usa-intro">Tell us about your project.</p>
<form class="usa-form" method="post" action="/apply">
  <label class="usa-label" for="name">Full name</label>
  <input class="usa-input" id="name" name="name" type="text" autocomplete="name" required>
  <button class="usa-button" type="submit">Continue</button>
</form>`))
	})
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/done?name="+r.FormValue("name"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, page("Application received",
			`<p id="greeting">Thank you, `+html.EscapeString(r.FormValue("name"))+`.</p>`))
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, page("Broken page", `
<img src="/assets/uswds/img/us_flag_small.png">
<form class="usa-form" method="get" action="/">
  <input class="usa-input" id="unlabelled" name="q" type="text">
</form>`))
	})
	mux.HandleFunc("GET /inline-script", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, page("Inline script", `<script>document.title = "x";</script>`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusNotFound, page("Page not found", `<p>We could not find that page.</p>`))
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHarness(t *testing.T) {
	b := New(t)
	srv := newServer(t)

	t.Run("accessible page passes", func(t *testing.T) {
		t.Parallel()
		p := b.Page(t)
		p.Visit(t, srv.URL+"/")
		if got := p.Status(); got != http.StatusOK {
			t.Errorf("Status() = %d, want 200", got)
		}
		if got := p.Text(t, "h1"); got != "Apply for a permit" {
			t.Errorf("Text(h1) = %q", got)
		}
		// The USWDS assets load from the embedded FS under the CSP without
		// a single console error (no 404 fonts, no blocked script).
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
		// uswds-init.min.js and uswds.min.js both ran.
		ctx := p.Context()
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.classList.contains('usa-js-loading') === false && document.fonts.check('16px "Source Sans Pro Web"')`))
		if err != nil || !loaded {
			t.Errorf("USWDS JS/fonts not ready: %v, %v", loaded, err)
		}
	})

	t.Run("violations are reported", func(t *testing.T) {
		t.Parallel()
		p := b.Page(t)
		p.Navigate(t, srv.URL+"/bad")
		vs := p.Violations(t)
		ids := map[string]bool{}
		for _, v := range vs {
			ids[v.ID] = true
			if len(v.Nodes) == 0 || len(v.Nodes[0].Target) == 0 || v.HelpURL == "" || v.Impact == "" {
				t.Errorf("violation %s lacks details: %+v", v.ID, v)
			}
		}
		for _, want := range []string{"image-alt", "label"} {
			if !ids[want] {
				t.Errorf("axe did not report %q; got %v", want, ids)
			}
		}

		// CheckA11y (and so Visit) turns them into a test error naming the
		// rule, its impact, help text and URL, and the offending element.
		rec := &errRecorder{TB: t}
		p.CheckA11y(rec)
		msg := strings.Join(rec.errors, "\n")
		for _, want := range []string{"image-alt", "critical", "Images must have alternative text", "dequeuniversity.com", "#unlabelled", "/bad"} {
			if !strings.Contains(msg, want) {
				t.Errorf("CheckA11y message lacks %q:\n%s", want, msg)
			}
		}
		rec = &errRecorder{TB: t}
		p.Visit(rec, srv.URL+"/bad")
		if len(rec.errors) != 1 {
			t.Errorf("Visit of a bad page reported %d errors, want 1", len(rec.errors))
		}

		// CheckEverywhere runs axe-core once per layout band: at 1280 and
		// 390 px, not again at 320 (the same band as 390).
		rec = &errRecorder{TB: t}
		p.CheckEverywhere(rec, "bad", srv.URL+"/bad")
		axe := 0
		for _, e := range rec.errors {
			if strings.Contains(e, "image-alt") {
				axe++
			}
		}
		if axe != 2 {
			t.Errorf("CheckEverywhere at %v reported axe-core's findings %d times, want 2 (1280 and 390 px):\n%s", Widths, axe, strings.Join(rec.errors, "\n"))
		}
	})

	t.Run("form submission, status and screenshot", func(t *testing.T) {
		t.Parallel()
		p := b.Page(t)
		p.Visit(t, srv.URL+"/")
		p.Run(t,
			chromedp.SendKeys(chromedp.CSS("#name"), "Ada Lovelace"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#greeting")),
		)
		p.CheckA11y(t)
		if got, want := p.Text(t, "#greeting"), "Thank you, Ada Lovelace."; got != want {
			t.Errorf("greeting = %q, want %q", got, want)
		}
		if loc := p.Location(t); !strings.HasPrefix(loc, srv.URL+"/done?") {
			t.Errorf("Location() = %q, want %s/done?...", loc, srv.URL)
		}
		if got := p.Status(); got != http.StatusOK {
			t.Errorf("Status() after redirect = %d, want 200", got)
		}

		// A 404 page is accessible but really is a 404.
		p.Visit(t, srv.URL+"/no/such/page")
		if got := p.Status(); got != http.StatusNotFound {
			t.Errorf("Status() = %d, want 404", got)
		}
		// Status also follows navigations caused by Run.
		p.Run(t, chromedp.Navigate(srv.URL+"/done?name=x"))
		if got := p.Status(); got != http.StatusOK {
			t.Errorf("Status() after Run(Navigate) = %d, want 200", got)
		}

		shot := filepath.Join(t.TempDir(), "shots", "done.png")
		p.Screenshot(t, shot)
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot is not a PNG (%d bytes)", len(b))
		}
	})

	t.Run("CSP violations show as console errors", func(t *testing.T) {
		t.Parallel()
		p := b.Page(t)
		p.Visit(t, srv.URL+"/inline-script")
		errs := strings.Join(p.ConsoleErrors(), "\n")
		if !strings.Contains(errs, "Content Security Policy") {
			t.Errorf("ConsoleErrors() = %q, want a CSP violation", errs)
		}
	})
}

// TestMissingBrowser checks the skip/fail policy without needing a browser.
func TestMissingBrowser(t *testing.T) {
	t.Setenv(EnvChromium, filepath.Join(t.TempDir(), "no-such-chromium"))
	t.Setenv(EnvAxeJS, filepath.Join(t.TempDir(), "no-such-axe.min.js"))

	t.Run("skips by default", func(t *testing.T) {
		t.Setenv(EnvRequire, "")
		rec := runNew(t)
		if !rec.skipped || rec.failed {
			t.Fatalf("skipped=%v failed=%v, want a skip", rec.skipped, rec.failed)
		}
		for _, want := range []string{"no-such-chromium", "no-such-axe.min.js", "apt-get install -y chromium", "npm ci", EnvRequire + "=1"} {
			if !strings.Contains(rec.msg, want) {
				t.Errorf("skip message lacks %q:\n%s", want, rec.msg)
			}
		}
	})
	t.Run("fails when required", func(t *testing.T) {
		t.Setenv(EnvRequire, "1")
		rec := runNew(t)
		if !rec.failed || rec.skipped {
			t.Fatalf("skipped=%v failed=%v, want a failure", rec.skipped, rec.failed)
		}
		if !strings.Contains(rec.msg, "must run") {
			t.Errorf("failure message does not explain the policy:\n%s", rec.msg)
		}
	})
	t.Run("searches PATH", func(t *testing.T) {
		t.Setenv(EnvChromium, "")
		t.Setenv("PATH", t.TempDir())
		if _, err := findChromium(); err == nil || !strings.Contains(err.Error(), "chromium-browser") {
			t.Errorf("findChromium() with empty PATH: %v", err)
		}
	})
}

// runNew calls New with a recorder on its own goroutine, because Skipf and
// Fatalf end the goroutine that calls them.
func runNew(t *testing.T) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(rec)
		t.Error("New returned without skipping or failing")
	}()
	<-done
	return rec
}

// errRecorder is a testing.TB that records Errorf calls instead of failing,
// so tests can assert what the harness reports. Fatalf still fails the test.
type errRecorder struct {
	testing.TB
	errors []string
}

func (r *errRecorder) Helper() {}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// recorder is a testing.TB that records a skip or a fatal failure and ends
// its goroutine, as the real ones do, without touching the real test.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	msg     string
	skipped bool
	failed  bool
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
