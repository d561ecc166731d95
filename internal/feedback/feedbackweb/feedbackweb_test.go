package feedbackweb_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// startApp runs the whole program on a fresh database of dialect d.
func startApp(t *testing.T, d storage.Dialect) (*app.App, string) {
	t.Helper()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)
	return a, srv.URL
}

type response struct {
	status   int
	location string
	body     string
}

func send(t *testing.T, method, u, lang string, form url.Values, headers ...string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Accept-Language", lang)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header.Get("Location"), string(b)}
}

var (
	titleRE  = regexp.MustCompile(`<title>([^<]*)</title>`)
	fromRE   = regexp.MustCompile(`name="from" value="([^"]*)"`)
	summary  = `id="error-summary"`
	textarea = func(id string) *regexp.Regexp {
		return regexp.MustCompile(`(?s)<textarea[^>]*id="` + id + `"[^>]*>(.*?)</textarea>`)
	}
)

func title(r response) string {
	if m := titleRE.FindStringSubmatch(r.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func TestFeedbackForm(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a, base := startApp(t, d)
			host := strings.TrimPrefix(base, "http://")

			t.Run("the page you came from, same site and path only", func(t *testing.T) {
				for ref, want := range map[string]string{
					"":                                       "",
					base + "/services/dog-license?token=abc": "/services/dog-license",
					"http://evil.example/services":           "",
					"http://user@" + host + "/account":       "",
					base + "/feedback":                       "",
				} {
					r := send(t, "GET", base+"/feedback", "en", nil, "Referer", ref)
					m := fromRE.FindStringSubmatch(r.body)
					if r.status != 200 || m == nil || m[1] != want {
						t.Errorf("Referer %q: status %d, from %v, want %q", ref, r.status, m, want)
					}
				}
			})

			for _, tt := range []struct {
				name, lang     string
				form           url.Values
				status         int
				wantError      string // text in the summary
				keep           map[string]string
				wantTitlePrefx string
			}{
				{"empty", "en", url.Values{"doing": {"Paying a fee"}, "comment": {""}}, 422,
					"Tell us what went wrong or what we could improve", map[string]string{"doing": "Paying a fee"}, "Error: Give feedback"},
				{"empty in Spanish", "es", url.Values{"doing": {"Pagando"}, "comment": {" "}}, 422,
					"Díganos qué salió mal o qué podríamos mejorar", map[string]string{"doing": "Pagando"}, "Error: Envíenos sus comentarios"},
				{"too long", "en", url.Values{"comment": {strings.Repeat("ñ", feedback.MaxComment+1)}}, 422,
					"3,000 characters or fewer", map[string]string{"comment": strings.Repeat("ñ", feedback.MaxComment+1)}, "Error: "},
				{"bad email keeps everything", "en", url.Values{"doing": {"Searching"}, "comment": {"No results for <dog>"}, "email": {"ana at example"}}, 422,
					"Enter an email address in the correct format", map[string]string{"doing": "Searching", "comment": "No results for &lt;dog&gt;"}, "Error: "},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := send(t, "POST", base+"/feedback", tt.lang, tt.form)
					if r.status != tt.status {
						t.Fatalf("status %d, want %d", r.status, tt.status)
					}
					if !strings.Contains(r.body, summary) || !strings.Contains(r.body, tt.wantError) {
						t.Errorf("no error summary saying %q", tt.wantError)
					}
					if !strings.HasPrefix(title(r), tt.wantTitlePrefx) || !strings.HasPrefix(title(r), "Error: ") {
						t.Errorf("title %q", title(r))
					}
					for id, want := range tt.keep {
						m := textarea(id).FindStringSubmatch(r.body)
						if m == nil || m[1] != want {
							t.Errorf("%s lost what was typed: %v", id, m)
						}
					}
					if email := tt.form.Get("email"); email != "" && !strings.Contains(r.body, `value="`+email+`"`) {
						t.Error("the email typed is lost")
					}
				})
			}

			t.Run("text that is not UTF-8 is refused by the shell", func(t *testing.T) {
				r := send(t, "POST", base+"/feedback", "en", url.Values{"comment": {"caf\xe9"}})
				if r.status != 400 || !strings.HasPrefix(title(r), "Error: ") {
					t.Errorf("status %d, title %q", r.status, title(r))
				}
			})

			t.Run("sent, thanked, stored", func(t *testing.T) {
				r := send(t, "POST", base+"/feedback", "es", url.Values{"doing": {"Renovando"}, "comment": {"El pago no funcionó"}, "email": {"beto@example.com"}, "from": {"/services/dog-license?x=1"}})
				if r.status != http.StatusSeeOther || r.location != "/feedback/thanks?from=%2Fservices%2Fdog-license" {
					t.Fatalf("status %d → %q", r.status, r.location)
				}
				th := send(t, "GET", base+r.location, "es", nil)
				if th.status != 200 || !strings.Contains(th.body, "Gracias por sus comentarios") || !strings.Contains(th.body, `href="/services/dog-license"`) || strings.HasPrefix(title(th), "Error") {
					t.Errorf("thank-you page: %d %q", th.status, title(th))
				}
				// A page elsewhere is not linked back to.
				r = send(t, "POST", base+"/feedback", "en", url.Values{"comment": {"Hi"}, "from": {"//evil.example/"}})
				if r.location != "/feedback/thanks" {
					t.Errorf("foreign from: → %q", r.location)
				}
				if th := send(t, "GET", base+"/feedback/thanks?from=https://evil.example/", "en", nil); strings.Contains(th.body, `href="https://evil.example/"`) || !strings.Contains(th.body, `<a class="usa-link" href="/">`) {
					t.Error("thank-you page links elsewhere")
				}
				p, err := a.Feedback.List(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"}, feedback.Cursor{})
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) != 2 {
					t.Fatalf("stored %d pieces of feedback, want 2 (errors store nothing)", len(p.Items))
				}
				got := p.Items[1]
				if got.Comment != "El pago no funcionó" || got.Doing != "Renovando" || got.Email != "beto@example.com" || got.Page != "/services/dog-license" || got.Lang != "es" {
					t.Errorf("stored %+v", got)
				}
			})

			t.Run("rate-limited, keeping what was typed", func(t *testing.T) {
				var r response
				for range feedback.Burst {
					r = send(t, "POST", base+"/feedback", "en", url.Values{"comment": {"once more"}})
					if r.status == http.StatusTooManyRequests {
						break
					}
				}
				if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, summary) || !strings.Contains(r.body, "try again in an hour") {
					t.Fatalf("status %d", r.status)
				}
				if m := textarea("comment").FindStringSubmatch(r.body); m == nil || m[1] != "once more" {
					t.Errorf("lost the text: %v", m)
				}
				if !strings.HasPrefix(title(r), "Error: ") {
					t.Errorf("title %q", title(r))
				}
			})

			t.Run("the list is for platform administrators", func(t *testing.T) {
				r := send(t, "GET", base+"/admin/feedback", "en", nil)
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/sign-in") {
					t.Errorf("anonymous: %d → %q", r.status, r.location)
				}
			})
		})
	}
}
