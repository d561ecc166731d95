package main

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

var pageTitle = regexp.MustCompile(`<title>([^<]*)</title>`)

// TestBlockErrorPageTitles: the error pages that blocks render themselves
// (an expired sign-up link, a refused OpenID request), like the shell's,
// start their titles with "Error:" in both languages.
func TestBlockErrorPageTitles(t *testing.T) {
	base, _ := startDemoApp(t, t.TempDir())
	for _, tt := range []struct{ name, path string }{
		{"identity link expired", "/sign-up/confirm?token=nope"},
		{"identity recovery link expired", "/recover/confirm?token=nope"},
		{"oidc error", "/oauth/authorize?client_id=nope&response_type=code&scope=openid&redirect_uri=https://x.example/cb"},
		{"shell not found", "/no/such/page"},
	} {
		for _, lang := range []string{"en", "es"} {
			t.Run(tt.name+"/"+lang, func(t *testing.T) {
				status, _, body := get(t, base+tt.path, "Accept-Language", lang)
				if status < 400 {
					t.Fatalf("status %d", status)
				}
				m := pageTitle.FindStringSubmatch(body)
				if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "Error: ") {
					t.Errorf("title %v does not start with \"Error: \"", m)
				}
			})
		}
	}
}
