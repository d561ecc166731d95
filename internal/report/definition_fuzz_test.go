package report

import (
	"testing"

	"github.com/portico-gov/portico/internal/platform"
)

// FuzzParseDefinition: any bytes give a definition or an invalid-input
// error, never a panic; a definition that parses also checks without
// panicking.
func FuzzParseDefinition(f *testing.F) {
	for _, s := range []string{
		"code: pothole\nslug: pothole\nname: Pothole\nname_es: Bache\n",
		"code: x\nattributes:\n  - code: A\n    datatype: singlevaluelist\n    values: [{key: a, name: A, name_es: A}]\n",
		"area: {south: 1, west: 2, north: 3, east: 4}\n",
		"{}", "---\n---\n", "unknown: 1\n", "keywords: [a, 'b,c']\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := ParseDefinition(src)
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("%q: %v is not invalid input", src, err)
			}
			return
		}
		_ = checkDefinition(d)
	})
}
