package notifyweb_test

import (
	"context"
	"database/sql"
	"flag"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/notify/notifyweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files")

type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(50 * time.Millisecond) }

// rig is the demo's mail path in one test: the notification service sends
// through River and go-mail to the development mailbox, whose pages are
// served by the web shell.
type rig struct {
	handler http.Handler
	svc     *notify.Service
	box     *notify.DevMailbox
	db      *storage.DB
}

func newRig(t *testing.T, db *storage.DB) *rig {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	box, err := notify.StartDevMailbox(db, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	reg := jobs.NewRegistry()
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.New(db, ins, reg, clock, notify.Config{SMTPURL: box.SMTPURL(), From: "State of Example <no-reply@portico.test>", Audit: audit.New(db, clock, nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.New(db, reg, jobs.Config{Work: true, FetchPollInterval: 100 * time.Millisecond, RetryPolicy: fastRetry{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := notifyweb.RegisterDevMailbox(s, box, nil); err != nil {
		t.Fatal(err)
	}
	return &rig{handler: s, svc: svc, box: box, db: db}
}

// send sends e and waits until the mailbox holds it; it returns the
// notification id and the mailbox message id.
func (r *rig) send(t *testing.T, e notify.Email) (string, string) {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = r.svc.SendEmail(ctx, tx, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := "<" + r.svc.MessageID(id) + ">"
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := r.box.Messages(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.MessageID == want {
				return id, m.ID
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	n, _ := r.svc.Get(ctx, id)
	t.Fatalf("message never reached the mailbox: %s %s", n.Status, n.LastError)
	return "", ""
}

func (r *rig) get(t *testing.T, path, lang string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept-Language", lang)
	req.Header.Set("X-Request-Id", "golden-request-id")
	w := httptest.NewRecorder()
	r.handler.ServeHTTP(w, req)
	return w
}

// confirmation is the kind of message identity sends: a link to follow.
var confirmation = notify.Email{
	To:      "ana@example.com",
	Subject: "Confirme su correo electrónico",
	Text: "Hola:\n\nPara confirmar su correo, abra este enlace (vence en 10 minutos):\n" +
		"https://portico.example/cuenta/confirmar?codigo=ABC123&id=7.\n\n" +
		"Si no fue usted, ignore este mensaje. <No responda.>\n",
	HTML: `<p>Hola:</p><p><a href="https://portico.example/cuenta/confirmar?codigo=ABC123&amp;id=7">Confirmar</a></p><script>alert(1)</script>`,
	Lang: "es",
}

// TestMessagePage renders the message page in both languages and compares
// it with its golden file (go test ./internal/notify/notifyweb -update
// rewrites them). The page must be identical on every engine.
func TestMessagePage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		id, boxID := r.send(t, confirmation)
		for _, lang := range []string{"en", "es"} {
			t.Run(lang, func(t *testing.T) {
				w := r.get(t, "/dev/mailbox/"+boxID, lang)
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}
				body := strings.NewReplacer(boxID, "MAILBOX-ID", id, "NOTIFICATION-ID").Replace(w.Body.String())
				for _, bad := range []string{"<script>alert", "<iframe", "&lt;p&gt;Hola"} {
					if strings.Contains(body, bad) {
						t.Errorf("page shows %q from the HTML part", bad)
					}
				}
				if want := `<a class="usa-link" href="https://portico.example/cuenta/confirmar?codigo=ABC123&amp;id=7">https://portico.example/cuenta/confirmar?codigo=ABC123&amp;id=7</a>.`; !strings.Contains(body, want) {
					t.Errorf("confirmation link not a link:\n%s", body)
				}
				golden(t, db, "message."+lang, body)
			})
		}
	})
}

func golden(t *testing.T, db *storage.DB, name, got string) {
	t.Helper()
	got = web.UnhashAssets(got)
	path := filepath.Join("testdata", name+".html")
	if *update && db.Dialect == storage.SQLite {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/notify/notifyweb -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from golden file; run with -update and review the diff\n%s", path, firstDiff(got, string(want)))
	}
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

func TestMailboxPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		empty := r.get(t, "/dev/mailbox", "en")
		if empty.Code != 200 || !strings.Contains(empty.Body.String(), "No messages yet") {
			t.Fatalf("empty mailbox: %d\n%s", empty.Code, empty.Body)
		}
		_, first := r.send(t, notify.Email{To: "ada@example.com", Subject: "First <b>bold</b>", Text: "one"})
		_, second := r.send(t, confirmation)
		tests := []struct {
			name, path, lang string
			status           int
			contains         []string
			contentType      string
		}{
			{"list, newest first", "/dev/mailbox", "en", 200, []string{
				"Development mailbox", "must never be turned on in production", "smtp://" + r.box.Addr(),
				`href="/dev/mailbox/` + second + `">Confirme su correo electrónico</a>`,
				`href="/dev/mailbox/` + first + `">First &lt;b&gt;bold&lt;/b&gt;</a>`,
				"Messages received (2)",
			}, "text/html; charset=utf-8"},
			{"list in Spanish", "/dev/mailbox", "es", 200, []string{"Buzón de desarrollo", "Nunca debe activarse en producción", "Mensajes recibidos (2)"}, "text/html; charset=utf-8"},
			{"raw source as text", "/dev/mailbox/" + second + "/raw", "en", 200, []string{"Message-ID: <", "<script>alert(1)</script>"}, "text/plain; charset=utf-8"},
			{"unknown message", "/dev/mailbox/nope", "en", 404, []string{"Page not found"}, "text/html; charset=utf-8"},
			{"unknown message source", "/dev/mailbox/nope/raw", "es", 404, []string{"No encontramos la página"}, "text/html; charset=utf-8"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := r.get(t, tt.path, tt.lang)
				if w.Code != tt.status || w.Header().Get("Content-Type") != tt.contentType {
					t.Fatalf("GET %s = %d %s, want %d %s", tt.path, w.Code, w.Header().Get("Content-Type"), tt.status, tt.contentType)
				}
				body := w.Body.String()
				for _, want := range tt.contains {
					if !strings.Contains(body, want) {
						t.Errorf("GET %s lacks %q:\n%.3000s", tt.path, want, body)
					}
				}
				if w.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("no nosniff")
				}
			})
		}
		list := r.get(t, "/dev/mailbox", "en").Body.String()
		if strings.Index(list, second) > strings.Index(list, first) {
			t.Error("list is not newest first")
		}
	})
}

func TestLinkify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no links", "no links"},
		{"<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"},
		{"see https://a.example/x?y=1&z=2.", `see <a class="usa-link" href="https://a.example/x?y=1&amp;z=2">https://a.example/x?y=1&amp;z=2</a>.`},
		{"(http://a.example/p)", `(<a class="usa-link" href="http://a.example/p">http://a.example/p</a>)`},
		{"http://a.example/wiki/Foo_(bar)", `<a class="usa-link" href="http://a.example/wiki/Foo_(bar)">http://a.example/wiki/Foo_(bar)</a>`},
		{"two: https://a.example, https://b.example!", `two: <a class="usa-link" href="https://a.example">https://a.example</a>, <a class="usa-link" href="https://b.example">https://b.example</a>!`},
		{`"https://a.example/"onmouseover="x"`, `&#34;<a class="usa-link" href="https://a.example/">https://a.example/</a>&#34;onmouseover=&#34;x&#34;`},
		{"<https://a.example/>", `&lt;<a class="usa-link" href="https://a.example/">https://a.example/</a>&gt;`},
		{"javascript:alert(1) ftp://a.example", "javascript:alert(1) ftp://a.example"},
		{"https://", "https://"},
		{"line one\nhttps://a.example/x\nline three", "line one\n" + `<a class="usa-link" href="https://a.example/x">https://a.example/x</a>` + "\nline three"},
	}
	for _, tt := range tests {
		if got := string(notifyweb.Linkify(tt.in)); got != tt.want {
			t.Errorf("Linkify(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

var anchorTag = regexp.MustCompile(`<a class="usa-link" href="[^"<>]*">|</a>`)

// FuzzLinkify: whatever the text, the output is the text itself (escaped)
// plus only our own anchors, and every link is http or https.
func FuzzLinkify(f *testing.F) {
	for _, s := range []string{"https://a.example/x.", "<script>http://x</script>", `http://"><img src=x>`, "https://(", "\x00http://a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := string(notifyweb.Linkify(in))
		for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(out, -1) {
			if u := html.UnescapeString(m[1]); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("Linkify(%q) links to %q", in, u)
			}
		}
		text := anchorTag.ReplaceAllString(out, "")
		if strings.ContainsAny(text, "<>\"") {
			t.Fatalf("Linkify(%q) = %q: unescaped markup", in, out)
		}
		// html/template's escaper turns NUL into U+FFFD; nothing else changes.
		if html.UnescapeString(text) != strings.ReplaceAll(in, "\x00", "\uFFFD") {
			t.Fatalf("Linkify(%q) changed the text: %q", in, out)
		}
	})
}
