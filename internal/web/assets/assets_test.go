package assets

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestExpectedFiles(t *testing.T) {
	for _, name := range []string{
		"uswds/css/uswds.min.css",
		"uswds/js/uswds.min.js",
		"uswds/js/uswds-init.min.js",
		"uswds/img/us_flag_small.png",
		"uswds/img/icon-dot-gov.svg",
		"uswds/img/icon-https.svg",
		"uswds/img/usa-icons/close.svg",
		"uswds/img/favicons/favicon.ico",
		"uswds/LICENSE.md",
		"portico.css",
		"portico.js",
	} {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(b) == 0 && name != "portico.js" {
			t.Errorf("%s is empty", name)
		}
	}
}

// cssURL matches url(...) in CSS, with or without quotes.
var cssURL = regexp.MustCompile(`url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"']*))\s*\)`)

// localRefs returns the files referenced with url(...) in css, resolved
// against dir, ignoring empty url() (USWDS uses them in @supports tests),
// data: URIs, absolute URLs and fragments.
func localRefs(t *testing.T, css, dir string) []string {
	t.Helper()
	var refs []string
	for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
		ref := strings.TrimSpace(m[1] + m[2] + m[3])
		switch {
		case ref == "", strings.HasPrefix(ref, "#"), strings.HasPrefix(ref, "//"):
			continue
		case strings.Contains(ref, ":"):
			// data:, https:, etc. Anything with a scheme is not ours to embed.
			if !strings.HasPrefix(ref, "data:") {
				t.Errorf("stylesheet in %s references external URL %q (CSP allows 'self' only)", dir, ref)
			}
			continue
		}
		if i := strings.IndexAny(ref, "?#"); i >= 0 {
			ref = ref[:i]
		}
		refs = append(refs, path.Join(dir, ref))
	}
	return refs
}

// TestStylesheetReferencesEmbedded makes a broken scripts/update-assets.sh
// run fail CI: every font and image the stylesheets point at must be embedded.
func TestStylesheetReferencesEmbedded(t *testing.T) {
	for _, sheet := range []string{"uswds/css/uswds.min.css", "portico.css"} {
		b, err := fs.ReadFile(FS, sheet)
		if err != nil {
			t.Fatal(err)
		}
		refs := localRefs(t, string(b), path.Dir(sheet))
		if sheet == "uswds/css/uswds.min.css" && len(refs) == 0 {
			t.Fatalf("found no url(...) references in %s; has the file format changed?", sheet)
		}
		seen := map[string]bool{}
		for _, ref := range refs {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			if !fs.ValidPath(ref) {
				t.Errorf("%s: url() resolves outside the embedded tree: %s", sheet, ref)
				continue
			}
			if _, err := fs.Stat(FS, ref); err != nil {
				t.Errorf("%s references %s, which is not embedded (rerun scripts/update-assets.sh): %v", sheet, ref, err)
			}
		}
		t.Logf("%s: %d distinct local references, all embedded", sheet, len(seen))
	}
}

// TestNoStraySourceMapFiles keeps the embedded tree lean: source maps are
// for USWDS development and are deliberately not copied. (The minified files
// keep their sourceMappingURL comments; browsers only fetch maps when
// developer tools are open, and a 404 there is harmless.)
func TestNoStraySourceMapFiles(t *testing.T) {
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".map") {
			t.Errorf("unexpected source map embedded: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
