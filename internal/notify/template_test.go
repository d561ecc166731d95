package notify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/notify"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		p       notify.Personalisation
		want    string
		missing string
	}{
		{"plain", "Hello", nil, "Hello", ""},
		{"placeholder", "Hello ((name))", notify.Personalisation{"name": "Ada"}, "Hello Ada", ""},
		{"case and spacing insensitive", "Hello ((First name))", notify.Personalisation{"first_name": "Ada"}, "Hello Ada", ""},
		{"repeated", "((a)) and ((a))", notify.Personalisation{"a": "x"}, "x and x", ""},
		{"number", "You owe $((amount))", notify.Personalisation{"amount": 12.5}, "You owe $12.5", ""},
		{"list", "Bring:((items))", notify.Personalisation{"items": []any{"passport", "photo"}}, "Bring:\n* passport\n* photo\n", ""},
		{"conditional yes", "Hi.((late??You are late.))", notify.Personalisation{"late": "yes"}, "Hi.You are late.", ""},
		{"conditional no", "Hi.((late??You are late.))", notify.Personalisation{"late": "no"}, "Hi.", ""},
		{"conditional bool", "((x??shown))", notify.Personalisation{"x": true}, "shown", ""},
		{"missing", "Hello ((name)), ref ((ref))", notify.Personalisation{}, "", "Missing personalisation: name, ref"},
		{"missing conditional", "((late??late))", nil, "", "Missing personalisation: late"},
		{"value with brackets not re-expanded", "((a))", notify.Personalisation{"a": "((b))"}, "((b))", ""},
		{"single brackets untouched", "(a) (b)", nil, "(a) (b)", ""},
		{"empty name untouched", "(( ))", nil, "(( ))", ""},
		{"nested not a placeholder", "((a(b)))", nil, "((a(b)))", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := notify.Render(tt.p, tt.src)
			if tt.missing != "" {
				var me *notify.MissingError
				if !errors.As(err, &me) || err.Error() != tt.missing {
					t.Fatalf("err = %v, want %q", err, tt.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out[0] != tt.want {
				t.Fatalf("got %q, want %q", out[0], tt.want)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	got := strings.Join(notify.Placeholders("((Name)) ((ref)) ((name))", "((late??x)) ((ref))"), ",")
	if got != "Name,ref,late" {
		t.Fatalf("got %q", got)
	}
}

func TestFormatHTML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello", `<p>Hello</p>`},
		{"a\nb\n\nc", `<p>a<br>b</p><p>c</p>`},
		{"# Title\ntext", `<h2>Title</h2><p>text</p>`},
		{"Bring:\n* a\n* b\nThanks", `<p>Bring:</p><ul><li>a</li><li>b</li></ul><p>Thanks</p>`},
		{"<script>alert(1)</script>", `<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`},
		{"Go to https://example.gov/x?a=1&b=2.", `<p>Go to <a href="https://example.gov/x?a=1&amp;b=2">https://example.gov/x?a=1&amp;b=2</a>.</p>`},
		{`javascript:alert(1) "x" https://a.gov/"onmouseover=`, `<p>javascript:alert(1) &#34;x&#34; <a href="https://a.gov/">https://a.gov/</a>&#34;onmouseover=</p>`},
		{"a\n---\nb", `<p>a</p><hr><p>b</p>`},
	}
	for _, tt := range tests {
		got := notify.FormatHTML(tt.in)
		got = strings.TrimSuffix(got[strings.Index(got, ">")+1:], "</div>")
		if got != tt.want {
			t.Errorf("FormatHTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"Hello ((name))", "((a??b))", "(((x)))", "((", "))((", "# h\n* a\nhttps://x.gov"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, src, val string) {
		p := notify.Personalisation{}
		for _, n := range notify.Placeholders(src) {
			p[n] = val
		}
		out, err := notify.Render(p, src)
		if err != nil {
			t.Fatalf("render with every placeholder given: %v", err)
		}
		html := notify.FormatHTML(out[0])
		if strings.Contains(html, "<script") || strings.Contains(html, "<img") {
			t.Fatalf("unescaped markup in %q", html)
		}
	})
}
