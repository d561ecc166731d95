package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portico-gov/portico/internal/web"
)

var titleTag = regexp.MustCompile(`<title>([^<]*)</title>`)

// TestErrorPageTitles: every page that reports an error starts its title
// with "Error:" (both languages), so a screen reader announces it first;
// a page without an error does not.
func TestErrorPageTitles(t *testing.T) {
	s, _ := newServer(t, nil)
	big := strings.Repeat("x", 4096)
	for _, tt := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		en, es                   string
	}{
		{"notfound", "GET", "/no/such/page", "", nil, 404, "Error: Page not found | Portico", "Error: No encontramos la página | Portico"},
		{"methodnotallowed", "DELETE", "/healthz", "", nil, 405, "Error: That action is not possible here | Portico", "Error: Esa acción no es posible aquí | Portico"},
		{"badrequest", "GET", "/nope?q=%ff", "", nil, 400, "Error: We could not read that | Portico", "Error: No pudimos leer eso | Portico"},
		{"forbidden", "POST", "/echo", "a=b", []string{"Sec-Fetch-Site", "cross-site"}, 403, "Error: Request refused | Portico", "Error: Solicitud rechazada | Portico"},
		{"toolarge", "POST", "/echo", big, []string{"Content-Type", "application/x-www-form-urlencoded"}, 413, "Error: That was too large | Portico", "Error: Eso es demasiado grande | Portico"},
		{"error", "GET", "/boom", "", nil, 500, "Error: Sorry, something went wrong | Portico", "Error: Lo sentimos, algo salió mal | Portico"},
	} {
		for _, lang := range []string{"en", "es"} {
			t.Run(tt.name+"."+lang, func(t *testing.T) {
				headers := append([]string{"Accept-Language", lang}, tt.headers...)
				w := do(t, s, tt.method, tt.path, strings.NewReader(tt.body), headers...)
				if w.Code != tt.status {
					t.Fatalf("status %d, want %d", w.Code, tt.status)
				}
				m := titleTag.FindStringSubmatch(w.Body.String())
				if m == nil {
					t.Fatalf("no title in %s", w.Body)
				}
				if !strings.HasPrefix(m[1], "Error: ") {
					t.Errorf("title %q does not start with \"Error: \"", m[1])
				}
				want := tt.en
				if lang == "es" {
					want = tt.es
				}
				if want != "" && m[1] != want {
					t.Errorf("title %q, want %q", m[1], want)
				}
			})
		}
	}
	// A form sent back with field errors says Error: even with status 200;
	// a page that reports nothing wrong has no prefix.
	if err := s.Renderer().AddPages(fstest.MapFS{"page_fine.html": {Data: []byte(`{{define "title"}}Fine{{end}}{{define "main"}}<h1>Fine</h1>{{end}}`)}}, "page_*.html"); err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("GET /fine", func(w http.ResponseWriter, r *http.Request) {
		p := s.Renderer().NewPage(r, nil)
		if r.URL.Query().Get("fail") != "" {
			p.Errors = []web.FieldError{{Field: "x", Message: "Enter x"}}
		}
		s.Page(w, r, http.StatusOK, "fine", p)
	})
	for path, want := range map[string]string{"/fine": "Fine | Portico", "/fine?fail=1": "Error: Fine | Portico"} {
		w := do(t, s, "GET", path, nil)
		if m := titleTag.FindStringSubmatch(w.Body.String()); w.Code != 200 || m == nil || m[1] != want {
			t.Errorf("%s: status %d, title %v, want %q", path, w.Code, m, want)
		}
	}
}
