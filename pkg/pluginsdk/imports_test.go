package pluginsdk_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoInternalImports: plug-in authors cannot import Portico's internal
// packages, and Go would let this package do so (it is in the same
// module), so the rule is checked here, tests included.
func TestNoInternalImports(t *testing.T) {
	files := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/portico-gov/portico/") && !strings.HasPrefix(p, "github.com/portico-gov/portico/pkg/") {
				t.Errorf("%s imports %s: the SDK may import only pkg/", path, p)
			}
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}
