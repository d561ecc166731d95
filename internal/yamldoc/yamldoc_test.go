package yamldoc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/yamldoc"
)

var opts = yamldoc.Options{What: "manifest", MaxSize: 1 << 10, MaxDepth: 4, MergeHint: "use extend to reuse a service"}

func TestParseRefusals(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string // substring of the one problem; "" means none
	}{
		{name: "plain", src: "id: dog\nversion: 1\npages:\n  - id: a\n"},
		{name: "empty", src: "", line: 1, msg: "the file is empty"},
		{name: "syntax", src: "id: [\n", line: 1, msg: "YAML syntax"},
		{name: "too large", src: "id: " + strings.Repeat("x", 1<<10), line: 0, msg: "a manifest may be at most 1024"},
		{name: "alias", src: "a: &x 1\nb: *x\n", line: 2, msg: "b: YAML aliases (*name) are not allowed in manifests"},
		{name: "merge", src: "a: &x {k: 1}\nb:\n  <<: {k: 2}\n", line: 3, msg: "YAML merge keys (<<) are not allowed in manifests; use extend to reuse a service"},
		{name: "duplicate", src: "id: a\nid: b\n", line: 2, msg: `manifest: key "id" appears twice`},
		{name: "deep", src: "a: {b: {c: {d: {e: {f: 1}}}}}\n", line: 1, msg: "nested more than 4 levels deep"},
		{name: "infinite", src: "n: .inf\n", line: 1, msg: "n: .inf is not a finite number"},
		{name: "custom tag", src: "n: !thing x\n", line: 1, msg: "YAML tag !thing is not allowed in manifests"},
		{name: "complex key", src: "? [a, b]\n: 1\n", line: 1, msg: "keys must be plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := yamldoc.Parse([]byte(tt.src), opts)
			if tt.msg == "" {
				if len(probs) != 0 {
					t.Fatalf("problems %v", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Line != tt.line || !strings.Contains(probs[0].Msg, tt.msg) {
				t.Fatalf("problems %+v; want one on line %d containing %q", probs, tt.line, tt.msg)
			}
		})
	}
}

func TestLinesKeysAndPaths(t *testing.T) {
	src := "id: dog\npages:\n  - id: a\n    fields:\n      zeta: 1\n      alpha: 2\n      a/b: 3\n"
	d, probs := yamldoc.Parse([]byte(src), opts)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	got, _ := json.Marshal(d.Value)
	if string(got) != `{"id":"dog","pages":[{"fields":{"a/b":3,"alpha":2,"zeta":1},"id":"a"}]}` {
		t.Errorf("value = %s", got)
	}
	if k := d.Keys["/pages/0/fields"]; strings.Join(k, ",") != "zeta,alpha,a/b" {
		t.Errorf("keys in YAML order = %q", k)
	}
	for ptr, want := range map[string]struct {
		line  int
		exact bool
		path  string
	}{
		"":                         {1, true, "manifest"},
		"/pages/0/fields/alpha":    {6, true, "pages[0].fields.alpha"},
		"/pages/0/fields/a~1b":     {7, true, "pages[0].fields.a/b"},
		"/pages/0/fields/missing":  {4, false, "pages[0].fields.missing"},
		"/pages/0/schema/required": {3, false, "pages[0].schema.required"},
	} {
		line, exact := d.LineOf(ptr)
		if line != want.line || exact != want.exact || yamldoc.PathOf(ptr) != want.path {
			t.Errorf("%q: line %d exact %v path %q; want %+v", ptr, line, exact, yamldoc.PathOf(ptr), want)
		}
	}
	if yamldoc.UnescapePtr(yamldoc.EscapePtr("a/~b")) != "a/~b" {
		t.Error("EscapePtr does not round-trip")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"id: dog\n", "a: &x 1\nb: *x\n", "- [\n", "a: {b: [1, 2.5, true, null, !!binary aGk=]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		d, probs := yamldoc.Parse(src, opts)
		for _, p := range probs {
			if p.Msg == "" || p.Line < 0 {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if len(probs) == 0 {
			if _, err := json.Marshal(d.Value); err != nil {
				t.Fatalf("a document without problems is not JSON: %v", err)
			}
		}
	})
}
