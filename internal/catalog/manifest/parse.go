package manifest

import (
	"fmt"
	"sort"

	"github.com/portico-gov/portico/internal/yamldoc"
)

// Limits on outside input.
const (
	MaxSize  = 512 << 10 // bytes of YAML
	MaxDepth = 32        // nesting of mappings and sequences
)

// Problem is one thing wrong with a manifest: File and Line (1-based; 0
// when unknown) say where, Message says what in a plain sentence.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// String renders p as "file:line: message", the form compilers use.
func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message) }

// doc is a manifest as parsed YAML with the line of every node
// (see package yamldoc).
type doc = yamldoc.Doc

var parseOptions = yamldoc.Options{What: "manifest", MaxSize: MaxSize, MaxDepth: MaxDepth, MergeHint: "use extend to reuse a service"}

// parseYAML reads src with the manifest's limits. It never panics.
func parseYAML(src []byte) (doc, []yamldoc.Problem) { return yamldoc.Parse(src, parseOptions) }

var (
	escapePtr = yamldoc.EscapePtr
	pathOf    = yamldoc.PathOf
)

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
