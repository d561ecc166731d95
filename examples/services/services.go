// Package services embeds the example service manifests, so that
// `portico demo` can publish them and tests can read them wherever the
// binary runs.
package services

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.yaml
var files embed.FS

// File is one example manifest.
type File struct {
	Name string
	Src  []byte
}

// All returns the example manifests in name order (a base service sorts
// before the services that extend it: adams-… before baker-…).
func All() ([]File, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: n, Src: b})
	}
	return out, nil
}
