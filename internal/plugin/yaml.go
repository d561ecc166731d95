package plugin

import "github.com/portico-gov/portico/internal/yamldoc"

// Limits on a plug-in manifest and its OpenAPI document, both outside
// input.
const (
	MaxManifestSize = 256 << 10 // bytes of YAML
	MaxOpenAPISize  = 2 << 20   // bytes of the OpenAPI document
	maxDepth        = 32
)

// doc is a plug-in manifest as parsed YAML with the line of every node
// (see package yamldoc).
type doc = yamldoc.Doc

var parseOptions = yamldoc.Options{What: "plug-in manifest", MaxSize: MaxManifestSize, MaxDepth: maxDepth}

// parseYAML reads src with the plug-in manifest's limits. It never panics.
func parseYAML(src []byte) (doc, []yamldoc.Problem) { return yamldoc.Parse(src, parseOptions) }

var (
	escapePtr = yamldoc.EscapePtr
	pathOf    = yamldoc.PathOf
)

// lineOf returns the line of ptr in d, or of its nearest ancestor.
func lineOf(d doc, ptr string) int {
	l, _ := d.LineOf(ptr)
	return l
}
