package app

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The dependency rule of docs/architecture.md ("Imports point downwards
// only"), enforced: a block package (internal/<block>, the lines of the
// layout marked "block:") imports no HTTP shell, page composer, API or
// wiring package, and no block's HTTP side. Its sub-packages (identityweb,
// notifyapi, ...) are where HTTP lives. Only the block's own non-test files
// count: external tests may drive it through its web side.

const module = "github.com/portico-gov/portico/"

// forbiddenImport reports why a block may not import path ("" if it may).
func forbiddenImport(path string) string {
	rel, ok := strings.CutPrefix(path, module)
	if !ok {
		return ""
	}
	for _, p := range []string{"internal/web", "internal/portal", "internal/console", "internal/app", "internal/api", "cmd"} {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return p + " is above the blocks"
		}
	}
	last := rel[strings.LastIndexByte(rel, '/')+1:]
	if strings.HasSuffix(last, "web") || strings.HasSuffix(last, "api") {
		return last + " is a block's HTTP side"
	}
	return ""
}

// blockImportViolations lists "file: import (reason)" for every forbidden
// import in the non-test Go files of dir (not its sub-directories).
func blockImportViolations(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	files := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why := forbiddenImport(path); why != "" {
				out = append(out, name+": "+path+" ("+why+")")
			}
		}
	}
	if files == 0 {
		t.Fatalf("%s has no Go files: is it still a block?", dir)
	}
	return out
}

// blocksOfLayout reads the block packages from the layout in
// docs/architecture.md: lines "internal/X   block: ...".
func blocksOfLayout(t *testing.T, doc string) []string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^(internal/[a-z]+)\s+block:`)
	var blocks []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			blocks = append(blocks, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func TestBlocksImportNoHTTPSide(t *testing.T) {
	root := filepath.Join("..", "..")
	blocks := blocksOfLayout(t, filepath.Join(root, "docs", "architecture.md"))
	for _, want := range []string{"internal/identity", "internal/catalog", "internal/casework", "internal/application",
		"internal/oidc", "internal/notify", "internal/reminder", "internal/tenancy", "internal/audit"} {
		if !slices.Contains(blocks, want) {
			t.Errorf("docs/architecture.md's layout no longer marks %s as a block; update this test or the page", want)
		}
	}
	for _, b := range blocks {
		t.Run(b, func(t *testing.T) {
			for _, v := range blockImportViolations(t, filepath.Join(root, filepath.FromSlash(b))) {
				t.Errorf("%s/%s", b, v)
			}
		})
	}
}

// The check itself must be able to fail: a block that imports the web
// shell or another block's web side is caught, one that imports kernel
// and block packages is not.
func TestBlockImportCheckCatches(t *testing.T) {
	cases := []struct {
		name    string
		imports []string
		bad     int
	}{
		{"kernel and blocks", []string{"context", module + "internal/platform", module + "internal/identity", module + "internal/catalog/manifest"}, 0},
		{"web shell", []string{module + "internal/web"}, 1},
		{"web sub-package", []string{module + "internal/web/assets"}, 1},
		{"another block's web side", []string{module + "internal/identity/identityweb"}, 1},
		{"an API side", []string{module + "internal/notify/notifyapi"}, 1},
		{"portal, console and app", []string{module + "internal/portal", module + "internal/console", module + "internal/app"}, 3},
		{"outside packages named like web", []string{"github.com/example/web"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package block\n\nimport (\n"
			for i, p := range c.imports {
				src += "\t_" + strconv.Itoa(i) + " " + strconv.Quote(p) + "\n"
			}
			src += ")\n"
			if err := os.WriteFile(filepath.Join(dir, "block.go"), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			// A test file may import anything.
			if err := os.WriteFile(filepath.Join(dir, "block_test.go"), []byte("package block\n\nimport _ \""+module+"internal/web\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := blockImportViolations(t, dir); len(got) != c.bad {
				t.Errorf("violations = %q, want %d", got, c.bad)
			}
		})
	}
}
