package identityweb

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/account/security", "/account/security"},
		{"/console/agencies/dmv?x=1", "/console/agencies/dmv?x=1"},
		{"", "/account"},
		{"//evil.example/x", "/account"},
		{"/\\evil.example", "/account"},
		{"/\t/evil.example/phish", "/account"},
		{"/\n/evil.example", "/account"},
		{"https://evil.example/", "/account"},
		{"javascript:alert(1)", "/account"},
		{"account", "/account"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // stays on this site: the path is "//evil.example" only after decoding
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeNext: whatever comes in, what goes out is resolved by a browser
// to this site's own origin.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/a", "//b", "/\t/c", "/\\d", "http://e", "/%09/f"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://portal.example.gov/sign-in")
	f.Fuzz(func(t *testing.T, next string) {
		out := safeNext(next)
		// Browsers strip tab and newline and read "\" as "/" before resolving.
		cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(out)
		u, err := base.Parse(cleaned)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q does not parse: %v", next, out, err)
		}
		if u.Host != "portal.example.gov" || u.Scheme != "https" {
			t.Fatalf("safeNext(%q) = %q leaves the site: %s", next, out, u)
		}
	})
}
