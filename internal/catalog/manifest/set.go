package manifest

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ParseDuration reads a duration of the format: a whole number followed by
// m (minutes), h (hours), d (days of 24 hours) or w (weeks).
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("manifest: bad duration %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 1 || n > 99999 {
		return 0, fmt.Errorf("manifest: bad duration %q", s)
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("manifest: bad duration %q", s)
	}
	return time.Duration(n) * unit, nil
}

// File is a manifest file to validate.
type File struct {
	Name string
	Src  []byte
}

// FileResult is the outcome for one File of ValidateFiles.
type FileResult struct {
	File     string
	Result   *Result   // nil when there are problems
	Problems []Problem // empty when valid
}

// ValidateFiles validates several manifests together: a manifest that
// extends a service is resolved against a valid file in the same set with
// that id and version, and otherwise against base (which may be nil).
// Results are in the order of files.
func ValidateFiles(ctx context.Context, files []File, base Base, refs References) ([]FileResult, error) {
	return ValidateFilesWithPlugins(ctx, files, base, refs, nil)
}

// ValidateFilesWithPlugins is ValidateFiles that also checks the plug-in
// operations the manifests use against plugins (Options.Plugins).
func ValidateFilesWithPlugins(ctx context.Context, files []File, base Base, refs References, plugins PluginRefs) ([]FileResult, error) {
	out := make([]FileResult, len(files))
	done := make([]bool, len(files))
	valid := map[string][]byte{} // "id@version" → resolved JSON
	setBase := func(ctx context.Context, id string, version int) ([]byte, error) {
		if js, ok := valid[id+"@"+strconv.Itoa(version)]; ok {
			return js, nil
		}
		if base != nil {
			return base(ctx, id, version)
		}
		return nil, errNotInSet
	}
	// Files that extend others are validated after the files they may
	// extend; each round validates whatever no longer waits on a file of
	// the set. Rounds are bounded by the number of files.
	for range len(files) + 1 {
		progress := false
		for i, f := range files {
			if done[i] {
				continue
			}
			if id, ver, ok := extendsOf(f.Src); ok && waitsOn(files, done, i, id, ver) {
				continue
			}
			res, probs, err := Validate(ctx, f.Name, f.Src, Options{Base: setBase, Refs: refs, Plugins: plugins})
			if err != nil {
				return nil, err
			}
			out[i] = FileResult{File: f.Name, Result: res, Problems: probs}
			done[i] = true
			progress = true
			if res != nil {
				valid[res.Manifest.ID+"@"+strconv.Itoa(res.Manifest.Version)] = res.JSON
			}
		}
		if !progress {
			break
		}
	}
	for i, f := range files { // cycles: validate what is left as it is
		if !done[i] {
			res, probs, err := Validate(ctx, f.Name, f.Src, Options{Base: setBase, Refs: refs, Plugins: plugins})
			if err != nil {
				return nil, err
			}
			out[i] = FileResult{File: f.Name, Result: res, Problems: probs}
		}
	}
	return out, nil
}

// extendsOf reads the extend of a manifest, if it parses and has one.
func extendsOf(src []byte) (string, int64, bool) {
	d, probs := parseYAML(src)
	if len(probs) > 0 {
		return "", 0, false
	}
	m, _ := d.Value.(map[string]any)
	ext, _ := m["extend"].(map[string]any)
	id, _ := ext["service"].(string)
	ver, ok := ext["version"].(int64)
	return id, ver, ok && id != ""
}

// waitsOn reports whether a not yet validated file other than self states
// id and version.
func waitsOn(files []File, done []bool, self int, id string, ver int64) bool {
	for j, f := range files {
		if j == self || done[j] {
			continue
		}
		d, probs := parseYAML(f.Src)
		if len(probs) > 0 {
			continue
		}
		m, _ := d.Value.(map[string]any)
		if fid, _ := m["id"].(string); fid == id {
			if fv, _ := m["version"].(int64); fv == ver {
				return true
			}
		}
	}
	return false
}
