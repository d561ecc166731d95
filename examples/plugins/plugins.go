// Package plugins embeds the example plug-in manifests and their OpenAPI
// documents, so `portico demo` can register them.
package plugins

import (
	"embed"
	"io/fs"
	"path"
)

//go:embed */plugin.yaml */openapi.yaml
var files embed.FS

// FS holds each example as DIR/plugin.yaml with DIR/openapi.yaml beside it.
func FS() fs.FS { return files }

// Example is one example plug-in's manifest file.
type Example struct {
	Dir  string // directory in FS
	Name string // DIR/plugin.yaml
	Src  []byte
}

// All returns the examples in directory order.
func All() ([]Example, error) {
	dirs, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []Example
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := path.Join(d.Name(), "plugin.yaml")
		src, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Example{Dir: d.Name(), Name: name, Src: src})
	}
	return out, nil
}
