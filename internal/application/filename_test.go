package application_test

import (
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/application"
)

// TestCleanFilename: the label kept for an uploaded file has no path, no
// control or format characters (bidi overrides and isolates above all,
// which make "invoice\u202Efdp.exe" read as "invoiceexe.pdf"), and is
// never empty.
func TestCleanFilename(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "decree.pdf", "decree.pdf"},
		{"unix path", "../../etc/passwd", "passwd"},
		{"windows path", `C:\Users\ana\decree.pdf`, "decree.pdf"},
		{"right-to-left override", "invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"every bidi embedding and override", "a\u202Ab\u202Bc\u202Cd\u202De\u202Ef.pdf", "abcdef.pdf"},
		{"bidi isolates", "\u2066a\u2067b\u2068c\u2069.png", "abc.png"},
		{"bidi marks", "\u200Ename\u200F\u061C.jpg", "name.jpg"},
		{"zero-width and byte order mark", "\uFEFFde\u200Bcr\u200Dee\u2060.pdf", "decree.pdf"},
		{"soft hyphen and tag characters", "de\u00ADcree\U000E0041.pdf", "decree.pdf"},
		{"C0 and C1 controls", "de\x00c\x1br\u0085ee\u009b.pdf", "decree.pdf"},
		{"line and paragraph separators", "de\u2028cree\u2029.pdf", "decree.pdf"},
		{"tabs and newlines become spaces", "my\tdecree\n.pdf", "my decree .pdf"},
		{"invalid UTF-8 dropped", "de\xffcree.pdf", "decree.pdf"},
		{"Arabic and Hebrew letters kept", "عقد زواج.pdf", "عقد زواج.pdf"},
		{"accents and emoji kept", "acta de matrimonio ñ 📄.pdf", "acta de matrimonio ñ 📄.pdf"},
		{"only format characters", "\u202E\u200F", "file"},
		{"only a path", "dir/", "dir"},
		{"dot dot", "..", "file"},
		{"dot", ".", "file"},
		{"empty", "", "file"},
		{"spaces", "   ", "file"},
		{"long name cut at 200 characters", strings.Repeat("é", 300), strings.Repeat("é", 200)},
		{"cut leaves no trailing space", strings.Repeat("a", 199) + " b.pdf", strings.Repeat("a", 199)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := application.CleanFilename(tc.in)
			if got != tc.want {
				t.Fatalf("CleanFilename(%+q) = %+q, want %+q", tc.in, got, tc.want)
			}
			if again := application.CleanFilename(got); again != got {
				t.Fatalf("not stable: %+q then %+q", got, again)
			}
		})
	}
}
