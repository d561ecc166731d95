package manifest

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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

// doc is a parsed YAML document: a plain value (map[string]any, []any,
// string, int64, float64, bool, nil) and the line of every node in it,
// keyed by JSON Pointer ("" is the root, "/pages/0/id" a page's id).
type doc struct {
	value any
	lines map[string]int
	// keys lists, per JSON Pointer of a mapping, its keys in the order
	// the YAML wrote them (a Go map forgets it).
	keys map[string][]string
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML turns src into a doc. It never panics: a panic inside the
// YAML library is reported as a problem on line 0.
func parseYAML(src []byte) (d doc, probs []lineMsg) {
	if len(src) > MaxSize {
		return d, []lineMsg{{0, fmt.Sprintf("the file is %d bytes; a manifest may be at most %d", len(src), MaxSize)}}
	}
	var root yaml.Node
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("yaml: unreadable YAML (%v)", r)
			}
		}()
		return yaml.Unmarshal(src, &root)
	}()
	if err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return d, []lineMsg{{n, "YAML syntax: " + m[2]}}
		}
		return d, []lineMsg{{0, "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return d, []lineMsg{{1, "the file is empty"}}
	}
	d.lines, d.keys = map[string]int{}, map[string][]string{}
	p := &yamlConv{lines: d.lines, keys: d.keys}
	d.value = p.value(root.Content[0], "", 0)
	return d, p.probs
}

type lineMsg struct {
	line int
	msg  string
}

type yamlConv struct {
	lines map[string]int
	keys  map[string][]string
	probs []lineMsg
}

func (c *yamlConv) fail(n *yaml.Node, format string, args ...any) {
	c.probs = append(c.probs, lineMsg{n.Line, fmt.Sprintf(format, args...)})
}

func (c *yamlConv) value(n *yaml.Node, ptr string, depth int) any {
	c.lines[ptr] = n.Line
	if depth > MaxDepth {
		c.fail(n, "%s: nested more than %d levels deep", pathOf(ptr), MaxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.fail(n, "%s: YAML aliases (*name) are not allowed in manifests; write the value out", pathOf(ptr))
		return nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], ptr, depth)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, "%s: keys must be plain text", pathOf(ptr))
				continue
			}
			if k.Value == "<<" && k.Tag == "!!merge" {
				c.fail(k, "%s: YAML merge keys (<<) are not allowed in manifests; use extend to reuse a service", pathOf(ptr))
				continue
			}
			kp := ptr + "/" + escapePtr(k.Value)
			if _, dup := m[k.Value]; dup {
				c.fail(k, "%s: key %q appears twice", pathOf(ptr), k.Value)
				continue
			}
			m[k.Value] = c.value(v, kp, depth+1)
			c.lines[kp] = k.Line // point at the key, not the value below it
			c.keys[ptr] = append(c.keys[ptr], k.Value)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			s = append(s, c.value(e, ptr+"/"+strconv.Itoa(i), depth+1))
		}
		return s
	case yaml.ScalarNode:
		return c.scalar(n, ptr)
	}
	c.fail(n, "%s: unsupported YAML node", pathOf(ptr))
	return nil
}

func (c *yamlConv) scalar(n *yaml.Node, ptr string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		c.fail(n, "%s: number %s is too large", pathOf(ptr), n.Value)
		return nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
		c.fail(n, "%s: %s is not a finite number", pathOf(ptr), n.Value)
		return nil
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	default:
		c.fail(n, "%s: YAML tag %s is not allowed in manifests", pathOf(ptr), n.Tag)
		return nil
	}
	return n.Value
}

// escapePtr escapes a JSON Pointer reference token (RFC 6901).
func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// pathOf renders a JSON Pointer the way people read it:
// "/workflow/transitions/2/by" becomes "workflow.transitions[2].by".
func pathOf(ptr string) string {
	if ptr == "" {
		return "manifest"
	}
	var sb strings.Builder
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = unescapePtr(tok)
		if _, err := strconv.Atoi(tok); err == nil {
			sb.WriteString("[" + tok + "]")
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(tok)
	}
	return sb.String()
}

// lineOf returns the line of ptr in d, or of its nearest ancestor that has
// one (an inherited value has no line in the extending file).
func (d doc) lineOf(ptr string) (int, bool) {
	for p := ptr; ; {
		if l, ok := d.lines[p]; ok {
			return l, p == ptr
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return 0, false
		}
		p = p[:i]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
