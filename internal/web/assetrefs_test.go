package web_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/web"
)

// TestTemplatesNameEmbeddedAssets: every file a template loads with
// {{asset "…"}}, in any block's templates, is embedded and served under
// its hashed name. Asset returns an unknown name as it is (a 404 in the
// browser, not a broken page), so without this a script left out of the
// embed pattern — the report form's map, once — fails silently.
func TestTemplatesNameEmbeddedAssets(t *testing.T) {
	ref := regexp.MustCompile(`\{\{\s*asset\s+"([^"]+)"\s*\}\}`)
	seen := 0
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") || filepath.Base(filepath.Dir(p)) != "templates" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			seen++
			name := m[1]
			plain := "/static/" + strings.TrimPrefix(strings.TrimPrefix(name, "/static/"), "/")
			if got := web.Asset(name); got == plain {
				t.Errorf("%s loads %s, which is not an embedded asset (internal/web/assets: embed pattern?)", p, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 3 {
		t.Fatalf("found %d asset references in the templates: is the walk looking in the right place?", seen)
	}
}
