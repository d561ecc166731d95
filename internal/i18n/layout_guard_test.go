package i18n_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// layoutLiteral matches a Go time layout in a string literal: the
// reference date's year, clock or month written out.
var layoutLiteral = regexp.MustCompile(`"[^"\n]*(2006|15:04|3:04|Jan 2|January 2|Mon Jan)[^"\n]*"`)

// machineLayouts are the files allowed a layout literal, each for a
// machine format no person reads on a page or in an email.
var machineLayouts = map[string]string{
	"identity/account.go":             "parses a date of birth typed as YYYY-MM-DD",
	"app/casework.go":                 "parses a stored date of birth",
	"notify/callback.go":              "GOV.UK Notify's callback timestamp format",
	"notify/notifyapi/api.go":         "the Notify API's daily limit day key",
	"payment/payresource/resource.go": "GOV.UK Pay's created_date (UTC, milliseconds) and capture dates",
	"webhook/payhooks.go":             "GOV.UK Pay's webhook created_date (UTC, milliseconds)",
	"backup/restore.go":               "the name a replaced data directory is kept under (DIR.replaced-20261206T021500Z)",
}

// TestNoStrayDateLayouts keeps every date a person reads going through
// the one formatter (i18n.Formatter, web.Page.Date/DateTime/ISO): no
// template calls .Format on a time, and no Go file outside i18n writes a
// layout of its own, except the machine formats listed above.
func TestNoStrayDateLayouts(t *testing.T) {
	root := ".."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "i18n" || d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == "assets" {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(path, ".html"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			if strings.Contains(string(b), ".Format") {
				t.Errorf("%s formats a time itself; use .Date, .DateTime or .ISO of the page", rel)
			}
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			if _, ok := machineLayouts[rel]; ok {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			for i, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue
				}
				if m := layoutLiteral.FindString(line); m != "" {
					t.Errorf("%s:%d: date layout %s; format dates for people with i18n.Formatter", rel, i+1, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files; is the walk rooted at internal/?", checked)
	}
}
