package app

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The table "Which block owns which table" in docs/architecture.md is the
// contract this test enforces against the code, so the page cannot drift:
//
//   - every table the migrations create has exactly one owning block;
//   - a block's SQL names only the tables it owns and the ones its row
//     lists under "also uses", each with the reason written there;
//   - the page lists no table the migrations do not create.
//
// "Its SQL" is every string literal in the block's non-test Go files (the
// block's directory and its sub-packages) that reads like SQL naming a
// table after FROM, JOIN, INTO, UPDATE or TABLE. A block that reaches into
// another block's table without saying so fails here; the fix is either an
// interface on the owning block or an honest line on the page.

var sqlTableRef = regexp.MustCompile(`(?i)\b(?:from|join|into|update|table(?:\s+if\s+(?:not\s+)?exists)?)\s+([a-z_][a-z0-9_]*)\b`)

var createTable = regexp.MustCompile(`(?i)create\s+table\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)`)

// sqlNoise are words that follow FROM/INTO/UPDATE in SQL or in prose but
// are not tables of ours.
var sqlNoise = map[string]bool{
	"select": true, "set": true, "values": true, "the": true, "a": true, "an": true,
	"lateral": true, "unnest": true, "generate_series": true, "json_each": true, "jsonb_array_elements": true,
	"jsonb_each": true, "json_array_elements": true, "pragma_table_info": true, "sqlite_master": true,
	"information_schema": true, "pg_catalog": true, "pg_indexes": true, "pg_class": true, "pg_stat_user_tables": true,
	"excluded": true, "only": true, "to": true, "of": true, "each": true, "this": true, "that": true,
}

type ownershipRow struct {
	block string
	owns  []string
	uses  []string
}

func TestTableOwnership(t *testing.T) {
	root := filepath.Join("..", "..")
	rows := readOwnershipTable(t, filepath.Join(root, "docs", "architecture.md"))
	owner := map[string]string{}
	for _, r := range rows {
		for _, tbl := range r.owns {
			if prev, dup := owner[tbl]; dup {
				t.Errorf("docs/architecture.md: table %s is owned by both %s and %s", tbl, prev, r.block)
			}
			owner[tbl] = r.block
		}
	}

	created := migrationTables(t, filepath.Join(root, "internal", "storage", "migrations"))
	for tbl := range created {
		if _, ok := owner[tbl]; !ok {
			t.Errorf("table %s (created by %s) has no owner in docs/architecture.md", tbl, created[tbl])
		}
	}
	for tbl, b := range owner {
		if _, ok := created[tbl]; !ok && !strings.HasPrefix(tbl, "river_") && tbl != "goose_db_version" {
			t.Errorf("docs/architecture.md: %s owns %s, which no migration creates", b, tbl)
		}
	}

	for _, r := range rows {
		allowed := map[string]bool{}
		for _, tbl := range append(slices.Clone(r.owns), r.uses...) {
			allowed[tbl] = true
		}
		dir := filepath.Join(root, filepath.FromSlash(r.block))
		for tbl, where := range sqlTables(t, dir, owner) {
			if !allowed[tbl] {
				t.Errorf("%s names table %s (owned by %s) at %s; use the owning block's interface, or list it under \"also uses\" in docs/architecture.md with the reason",
					r.block, tbl, owner[tbl], where)
			}
		}
	}

	// Code outside every listed block (pages, the API, wiring) must not
	// touch tables at all.
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.block] = true
	}
	for _, dir := range []string{"internal/app", "internal/web", "internal/portal", "internal/console", "internal/api", "cmd/portico"} {
		if listed[dir] {
			continue
		}
		for tbl, where := range sqlTables(t, filepath.Join(root, filepath.FromSlash(dir)), owner) {
			t.Errorf("%s names table %s at %s: only the owning block (%s) may", dir, tbl, where, owner[tbl])
		}
	}
}

// readOwnershipTable parses the markdown table under the heading
// "Which block owns which table".
func readOwnershipTable(t *testing.T, path string) []ownershipRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []ownershipRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			in = strings.Contains(line, "Which block owns which table")
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			t.Fatalf("docs/architecture.md: ownership row %q needs three cells", line)
		}
		block := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if block == "block" || strings.HasPrefix(block, "-") {
			continue
		}
		rows = append(rows, ownershipRow{block: block, owns: tableNames(cells[1]), uses: tableNames(cells[2])})
	}
	if len(rows) == 0 {
		t.Fatal("docs/architecture.md has no \"Which block owns which table\" table")
	}
	return rows
}

// tableNames returns the `backquoted` names in a cell; the prose around
// them (the reasons) is for people.
func tableNames(cell string) []string {
	var out []string
	parts := strings.Split(cell, "`")
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

// upOnly is a migration without its "-- +goose Down" section: what the
// Down section drops (to undo the Up) is still a table.
func upOnly(b []byte) []byte {
	if i := bytes.Index(b, []byte("-- +goose Down")); i >= 0 {
		return b[:i]
	}
	return b
}

func migrationTables(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = upOnly(b)
		for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
			out[strings.ToLower(m[1])] = e.Name()
		}
	}
	// Tables a migration creates and a later one drops or renames away are
	// not tables any more.
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b = upOnly(b)
		for _, m := range regexp.MustCompile(`(?i)drop\s+table\s+(?:if\s+exists\s+)?([a-z_][a-z0-9_]*)`).FindAllStringSubmatch(string(b), -1) {
			delete(out, strings.ToLower(m[1]))
		}
		for _, m := range regexp.MustCompile(`(?i)alter\s+table\s+([a-z_][a-z0-9_]*)\s+rename\s+to\s+([a-z_][a-z0-9_]*)`).FindAllStringSubmatch(string(b), -1) {
			if from, ok := out[strings.ToLower(m[1])]; ok {
				delete(out, strings.ToLower(m[1]))
				out[strings.ToLower(m[2])] = from
			}
		}
	}
	return out
}

// sqlTables returns the known tables named by SQL in the non-test Go files
// under dir, each with one place it appears.
func sqlTables(t *testing.T, dir string, known map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range sqlTableRef.FindAllStringSubmatch(s, -1) {
				name := strings.ToLower(m[1])
				if sqlNoise[name] {
					continue
				}
				if _, ok := known[name]; !ok {
					continue // a word in prose, or a CTE's name
				}
				if _, seen := out[name]; !seen {
					out[name] = fset.Position(lit.Pos()).String()
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
