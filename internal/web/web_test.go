package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newServer returns the shell with a few routes that exercise it.
func newServer(t *testing.T, ready func(context.Context) error) (*web.Server, *syncBuffer) {
	t.Helper()
	return newServerConfig(t, web.Config{MaxBodyBytes: 1024, Ready: ready})
}

// newServerConfig is newServer with a configuration of the test's own.
func newServerConfig(t *testing.T, cfg web.Config) (*web.Server, *syncBuffer) {
	t.Helper()
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s, err := web.New(cfg, slog.New(slog.NewTextHandler(logs, nil)), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("secret database password in panic") })
	s.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		w.Write(b)
	})
	s.HandleFunc("GET /api/v1/thing/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "invalid":
			web.WriteProblem(w, r, s.Logger(), platform.Invalid("id", "Thing id must be a number"))
		case "internal":
			web.WriteProblem(w, r, s.Logger(), errors.New("pq: connection refused to 10.0.0.5"))
		default:
			web.WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
		}
	})
	return s, logs
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s, _ := newServer(t, nil)
	for _, path := range []string{"/healthz", "/nope", "/static/portico.css", "/api/v1/thing/1", "/boom"} {
		t.Run(path, func(t *testing.T) {
			w := do(t, s, "GET", path, nil)
			h := w.Result().Header
			for name, want := range map[string]string{
				"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'",
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "strict-origin-when-cross-origin",
			} {
				if !strings.Contains(h.Get(name), want) {
					t.Errorf("%s = %q, want %q", name, h.Get(name), want)
				}
			}
			if h.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

// TestRequestID: a request id the client sends is believed only from a
// trusted proxy (it is written into the access and audit logs); any other
// request gets one of Portico's own, which handlers see in their context.
func TestRequestID(t *testing.T) {
	// httptest requests come from 192.0.2.1.
	proxy := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		in      string
		kept    bool
	}{
		{"from a trusted proxy", proxy, "abcdef1234567890", true},
		{"from a trusted proxy, malformed", proxy, "bad id with spaces", false},
		{"from a trusted proxy, markup", proxy, "<script>alert(1)</script>", false},
		{"from a trusted proxy, none", proxy, "", false},
		{"from a client, no proxies configured", nil, "abcdef1234567890", false},
		{"from a client that is not a trusted proxy", elsewhere, "abcdef1234567890", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newServerConfig(t, web.Config{TrustedProxies: tt.proxies})
			var seen string
			s.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) { seen = platform.RequestIDFrom(r.Context()) })
			w := do(t, s, "GET", "/whoami", nil, "X-Request-Id", tt.in)
			got := w.Header().Get("X-Request-Id")
			if seen != got {
				t.Errorf("handler saw request id %q, response says %q", seen, got)
			}
			if tt.kept && got != tt.in {
				t.Errorf("request id %q: got %q, want it kept", tt.in, got)
			}
			if !tt.kept && (got == tt.in || len(got) < 8) {
				t.Errorf("request id %q: got %q, want a fresh one", tt.in, got)
			}
			if !tt.kept && tt.in != "" && strings.Contains(logs.String(), tt.in) {
				t.Errorf("the client's request id reached the log:\n%s", logs)
			}
		})
	}
}

func TestPanicBecomesErrorPageWithoutDetails(t *testing.T) {
	s, logs := newServer(t, nil)
	w := do(t, s, "GET", "/boom", nil)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d", w.Code)
	}
	id := w.Header().Get("X-Request-Id")
	body := w.Body.String()
	if strings.Contains(body, "secret") || strings.Contains(body, "goroutine") {
		t.Fatal("error page leaks panic details")
	}
	if id == "" || !strings.Contains(body, id) || !strings.Contains(body, "Sorry, something went wrong") {
		t.Fatalf("error page lacks reference or message:\n%s", body)
	}
	if l := logs.String(); !strings.Contains(l, id) || !strings.Contains(l, "secret database password") {
		t.Fatalf("panic not logged with request id:\n%s", l)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s, _ := newServer(t, nil)
	tests := []struct {
		name, method, path, lang string
		status                   int
		contentType, contains    string
		allow                    string
	}{
		{"page 404", "GET", "/no/such/page", "en", 404, "text/html", "Page not found", ""},
		{"page 404 spanish", "GET", "/no/such/page", "es", 404, "text/html", "No encontramos la página", ""},
		{"page 405", "DELETE", "/healthz", "en", 405, "text/html", "That action is not possible here", "GET, HEAD"},
		{"api 404", "GET", "/api/v1/nothing", "en", 404, "application/problem+json", `"code":"not_found"`, ""},
		{"api 405", "POST", "/api/v1/thing/1", "en", 405, "application/problem+json", `"status":405`, "GET, HEAD"},
		{"static dir listing", "GET", "/static/uswds/", "en", 404, "text/html", "Page not found", ""},
		{"static missing", "GET", "/static/nope.css", "en", 404, "text/html", "Page not found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, tt.method, tt.path, nil, "Accept-Language", tt.lang)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if !strings.Contains(w.Body.String(), tt.contains) {
				t.Errorf("body lacks %q:\n%s", tt.contains, w.Body.String())
			}
			if tt.allow != "" && w.Header().Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", w.Header().Get("Allow"), tt.allow)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	s, logs := newServer(t, nil)
	w := do(t, s, "GET", "/api/v1/thing/invalid", nil)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"field":"id"`) || !strings.Contains(w.Body.String(), "Thing id must be a number") {
		t.Fatalf("invalid: %d %s", w.Code, w.Body)
	}
	w = do(t, s, "GET", "/api/v1/thing/internal", nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "10.0.0.5") {
		t.Fatalf("internal error leaked or wrong status: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "10.0.0.5") {
		t.Fatal("internal error not logged")
	}
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{platform.Invalid("f", "m"), 400},
		{platform.Errorf(platform.CodeNotFound, "x"), 404},
		{platform.Errorf(platform.CodeConflict, "x"), 409},
		{platform.Errorf(platform.CodeUnauthorized, "x"), 401},
		{platform.Errorf(platform.CodeForbidden, "x"), 403},
		{platform.Errorf(platform.CodeRateLimited, "x"), 429},
		{platform.Errorf(platform.CodeTooLarge, "x"), 413},
		{platform.Errorf(platform.CodeUnavailable, "x"), 503},
		{errors.New("plain"), 500},
		{&http.MaxBytesError{Limit: 1}, 413},
	}
	for _, tt := range tests {
		if got := web.Status(tt.err); got != tt.want {
			t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestCrossOriginProtection(t *testing.T) {
	s, _ := newServer(t, nil)
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"same origin", []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"no browser headers (CLI client)", nil, 200},
		{"cross site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign origin", []string{"Origin", "https://evil.example"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/echo", strings.NewReader("hi"), tt.headers...)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s, _ := newServer(t, nil)
	w := do(t, s, "POST", "/echo", strings.NewReader(strings.Repeat("x", 2000)))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "That was too large") {
		t.Fatalf("status = %d\n%s", w.Code, w.Body)
	}
	// Without a Content-Length the limit bites while reading.
	r := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(strings.Repeat("y", 2000))))
	r.ContentLength = -1
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status = %d", rec.Code)
	}
	w = do(t, s, "POST", "/echo", strings.NewReader("small"))
	if w.Code != 200 || w.Body.String() != "small" {
		t.Fatalf("small body: %d %q", w.Code, w.Body)
	}
}

// TestAllowBody raises the limit only under the prefix given.
func TestAllowBody(t *testing.T) {
	s, _ := newServer(t, nil)
	s.HandleFunc("POST /upload/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		w.Write(b)
	})
	s.AllowBody("/upload/", 4096)
	big := strings.Repeat("x", 3000)
	if w := do(t, s, "POST", "/upload/file", strings.NewReader(big)); w.Code != 200 || w.Body.Len() != 3000 {
		t.Fatalf("raised route: %d", w.Code)
	}
	if w := do(t, s, "POST", "/upload/file", strings.NewReader(big+big)); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the raised limit: %d", w.Code)
	}
	if w := do(t, s, "POST", "/echo", strings.NewReader(big)); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("other routes keep the default: %d", w.Code)
	}
}

func TestLanguageSwitchSetsCookie(t *testing.T) {
	s, _ := newServer(t, nil)
	w := do(t, s, "GET", "/nope?lang=es", nil)
	if w.Header().Get("Content-Language") != "es" {
		t.Fatalf("Content-Language = %q", w.Header().Get("Content-Language"))
	}
	var found bool
	for _, c := range w.Result().Cookies() {
		if c.Name == "lang" && c.Value == "es" && c.HttpOnly && c.SameSite == http.SameSiteLaxMode {
			found = true
		}
	}
	if !found {
		t.Fatal("no lang cookie")
	}
	if !strings.Contains(w.Body.String(), `<html lang="es">`) || !strings.Contains(w.Body.String(), `lang=en`) {
		t.Fatal("page not in Spanish or no switch back to English")
	}
}

func TestHealthReadinessMetrics(t *testing.T) {
	notReady := errors.New("migrations pending")
	var readyErr error
	s, _ := newServer(t, func(context.Context) error { return readyErr })
	if w := do(t, s, "GET", "/healthz", nil); w.Code != 200 {
		t.Fatalf("healthz = %d", w.Code)
	}
	if w := do(t, s, "GET", "/readyz", nil); w.Code != 200 {
		t.Fatalf("readyz = %d", w.Code)
	}
	readyErr = notReady
	w := do(t, s, "GET", "/readyz", nil)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "migrations pending") {
		t.Fatalf("readyz not ready = %d %s", w.Code, w.Body)
	}
	w = do(t, s, "GET", "/metrics", nil)
	if !strings.Contains(w.Body.String(), `portico_http_request_duration_seconds_bucket{code="503",method="GET",route="GET /readyz"`) {
		t.Fatalf("metrics lack the readyz histogram:\n%s", w.Body)
	}
}
