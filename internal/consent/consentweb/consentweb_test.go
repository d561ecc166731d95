package consentweb

import (
	"net/url"
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"/apply/123/pages/vehicle", true},
		{"/apply/123/pages/vehicle?x=1#top", true},
		{"/", true},
		{"", false},
		{"apply/123", false},
		{"//evil.example/x", false},
		{"/\\evil.example", false},
		{"https://evil.example/", false},
		{"javascript:alert(1)", false},
		{"/x\r\nLocation: https://evil.example", false},
		{"/%zz", false},
	} {
		if got := LocalPath(c.in) != ""; got != c.want {
			t.Errorf("LocalPath(%q) accepted=%v, want %v", c.in, got, c.want)
		}
	}
}

func TestDeclined(t *testing.T) {
	for in, want := range map[string]string{
		"/apply/1/pages/v":       "/apply/1/pages/v?consent=declined",
		"/apply/1/pages/v?a=b":   "/apply/1/pages/v?a=b&consent=declined",
		"/apply/1?consent=given": "/apply/1?consent=given&consent=declined",
		"/apply/1#top":           "/apply/1?consent=declined#top",
	} {
		if got := Declined(in); got != want {
			t.Errorf("Declined(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever the return parameter holds, what is accepted
// is a path on this site, and adding consent=declined keeps it one.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/apply/1", "//x", "/\\x", "https://x/", "/a?b=c#d", "/%2F%2Fx", "/..//x", " /x", "/x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := LocalPath(s)
		if p == "" {
			return
		}
		for _, q := range []string{p, Declined(p)} {
			u, err := url.Parse(q)
			if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(q, "/") || strings.HasPrefix(q, "//") || strings.ContainsAny(q, "\\\r\n") {
				t.Fatalf("%q accepted: %q is not a local path (%v)", s, q, err)
			}
		}
	})
}
