package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateValidate = flag.Bool("update-validate", false, "rewrite cmd/portico/testdata/validate-*.golden")

// TestServiceValidateGolden: what `portico service validate` prints for
// bad manifests (eligibility rules without a reason or with bad CEL, a
// kind that is not one of the five), word for word, and its exit code.
func TestServiceValidateGolden(t *testing.T) {
	bad := func(name string) string {
		return filepath.Join("..", "..", "internal", "catalog", "manifest", "testdata", "bad", name)
	}
	tests := []struct {
		name  string
		files []string
		code  int
	}{
		{"eligibility", []string{bad("eligibility-rules.yaml"), bad("eligibility-cel.yaml")}, exitError},
		{"examples", []string{filepath.Join("..", "..", "examples", "services", "adams-dog-licence.yaml"), filepath.Join("..", "..", "examples", "services", "report-a-pothole.yaml")}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, nil, append([]string{"service", "validate"}, tt.files...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			got := []byte("$ portico service validate " + strings.Join(tt.files, " ") + "\n" + out + "-- stderr --\n" + errOut)
			got = bytes.ReplaceAll(got, []byte(filepath.FromSlash("../../")), []byte(""))
			path := filepath.Join("testdata", "validate-"+tt.name+".golden")
			if *updateValidate {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/portico -run TestServiceValidateGolden -update-validate)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}
