package manifest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/demo"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

func readSet(t *testing.T, pattern string) []manifest.File {
	t.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	var files []manifest.File
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, manifest.File{Name: filepath.Base(n), Src: src})
	}
	return files
}

// golden compares got with path's content, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestBadManifests: each file in testdata/bad has problems, exactly those
// in its .golden file (file:line: message, one a line).
func TestBadManifests(t *testing.T) {
	// The bad set is validated together with the good adams-dog-licence,
	// so that extend finds a base but not the version it asks for.
	files := append(readSet(t, "testdata/bad/*.yaml"), readSet(t, "testdata/good/adams-dog-licence.yaml")...)
	results, err := manifest.ValidateFiles(context.Background(), files, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results[:len(results)-1] {
		t.Run(r.File, func(t *testing.T) {
			if len(r.Problems) == 0 {
				t.Fatal("no problems found in a bad manifest")
			}
			var sb strings.Builder
			for _, p := range r.Problems {
				if p.File != r.File {
					t.Errorf("problem names file %q", p.File)
				}
				sb.WriteString(p.String() + "\n")
			}
			golden(t, filepath.Join("testdata/bad", strings.TrimSuffix(r.File, ".yaml")+".golden"), []byte(sb.String()))
		})
	}
}

// TestGoodManifests: each file in testdata/good is valid; its .golden is
// the resolved manifest (extend applied) as indented JSON.
func TestGoodManifests(t *testing.T) {
	results, err := manifest.ValidateFiles(context.Background(), readSet(t, "testdata/good/*.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Run(r.File, func(t *testing.T) {
			for _, p := range r.Problems {
				t.Error(p)
			}
			if r.Result == nil {
				return
			}
			var out bytes.Buffer
			if err := json.Indent(&out, r.Result.JSON, "", "  "); err != nil {
				t.Fatal(err)
			}
			out.WriteByte('\n')
			golden(t, filepath.Join("testdata/good", strings.TrimSuffix(r.File, ".yaml")+".golden"), out.Bytes())
		})
	}
}

// TestExamples validates every manifest in examples/services, together.
func TestExamples(t *testing.T) {
	files := readSet(t, "../../../examples/services/*.yaml")
	if len(files) < 8 {
		t.Errorf("examples/services has %d manifests, want at least 8", len(files))
	}
	results, err := manifest.ValidateFilesWithPlugins(context.Background(), files, nil, nil, demoEnabled{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for _, p := range r.Problems {
			t.Error(p)
		}
	}
}

// demoEnabled allows the plug-in uses the demo enables
// (demo.PluginEnablements) and no other, as the registry would once
// `portico demo` has seeded it.
type demoEnabled struct{}

func (demoEnabled) CheckPluginUse(_ context.Context, agency, service, plugin, operation string, data []string) (string, error) {
	for _, en := range demo.PluginEnablements {
		if en.Plugin == plugin && en.Agency == agency && (en.Service == "" || en.Service == service) &&
			slices.Contains(en.Operations, operation) && !slices.ContainsFunc(data, func(d string) bool { return !slices.Contains(en.Data, d) }) {
			return "", nil
		}
	}
	return "the demo does not enable this use", nil
}

func TestExtendAloneNeedsBase(t *testing.T) {
	src, err := os.ReadFile("testdata/good/baker-dog-licence.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, probs, err := manifest.Validate(context.Background(), "b.yaml", src, manifest.Options{})
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].Message, "cannot be looked up") {
		t.Fatalf("problems = %v, err = %v", probs, err)
	}
}

func TestMerge(t *testing.T) {
	base := map[string]any{"a": 1, "m": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2}, "gone": "x"}
	over := map[string]any{"m": map[string]any{"y": 3, "z": 4}, "l": []any{9}, "gone": nil}
	got, _ := json.Marshal(manifest.Merge(base, over))
	want := `{"a":1,"l":[9],"m":{"x":1,"y":3,"z":4}}`
	if string(got) != want {
		t.Fatalf("Merge = %s, want %s", got, want)
	}
	if _, ok := base["gone"]; !ok {
		t.Fatal("Merge modified base")
	}
}

func TestParseDuration(t *testing.T) {
	for in, ok := range map[string]bool{"10m": true, "3h": true, "5d": true, "2w": true, "0d": false, "5": false, "d": false, "5y": false, "": false} {
		_, err := manifest.ParseDuration(in)
		if (err == nil) != ok {
			t.Errorf("ParseDuration(%q) error = %v", in, err)
		}
	}
}

func TestSchemaJSONIsEmbedded(t *testing.T) {
	if !json.Valid(manifest.SchemaJSON()) {
		t.Fatal("embedded schema is not JSON")
	}
}

// FuzzValidate: no input makes the parser and validator panic, and every
// invalid input yields at least one problem.
func FuzzValidate(f *testing.F) {
	for _, pattern := range []string{"testdata/bad/*.yaml", "testdata/good/*.yaml"} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			if src, err := os.ReadFile(n); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("eligibility: !!binary aGVsbG8="))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, probs, err := manifest.Validate(context.Background(), "f.yaml", src, manifest.Options{})
		if err != nil {
			t.Fatalf("error without callbacks: %v", err)
		}
		if (res == nil) == (len(probs) == 0) {
			t.Fatalf("result %v with %d problems", res != nil, len(probs))
		}
	})
}

// TestLifeEventsMatchSchema: the life events schema.json accepts are
// exactly manifest.LifeEvents, in order.
func TestLifeEventsMatchSchema(t *testing.T) {
	src, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			LifeEvents struct {
				Items struct {
					Enum []string `json:"enum"`
				} `json:"items"`
			} `json:"life_events"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(src, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.LifeEvents.Items.Enum; strings.Join(got, " ") != strings.Join(manifest.LifeEvents, " ") {
		t.Errorf("schema.json life events %v, manifest.LifeEvents %v", got, manifest.LifeEvents)
	}
}
