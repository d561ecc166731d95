package plugin

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on a plug-in manifest and its OpenAPI document, both outside
// input.
const (
	MaxManifestSize = 256 << 10 // bytes of YAML
	MaxOpenAPISize  = 2 << 20   // bytes of the OpenAPI document
	maxDepth        = 32
)

// doc is a parsed YAML document as plain values (map[string]any, []any,
// string, int64, float64, bool, nil) with the line of every node, keyed by
// JSON Pointer ("" is the root, "/operations/1/path" an operation's path).
type doc struct {
	value any
	lines map[string]int
}

type lineMsg struct {
	line int
	msg  string
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML turns src into a doc. It never panics: a panic inside the YAML
// library is reported as a problem on line 0.
func parseYAML(src []byte) (d doc, probs []lineMsg) {
	if len(src) > MaxManifestSize {
		return d, []lineMsg{{0, fmt.Sprintf("the file is %d bytes; a plug-in manifest may be at most %d", len(src), MaxManifestSize)}}
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
	d.lines = map[string]int{}
	c := &yamlConv{lines: d.lines}
	d.value = c.value(root.Content[0], "", 0)
	return d, c.probs
}

type yamlConv struct {
	lines map[string]int
	probs []lineMsg
}

func (c *yamlConv) fail(n *yaml.Node, format string, args ...any) {
	c.probs = append(c.probs, lineMsg{n.Line, fmt.Sprintf(format, args...)})
}

func (c *yamlConv) value(n *yaml.Node, ptr string, depth int) any {
	c.lines[ptr] = n.Line
	if depth > maxDepth {
		c.fail(n, "%s: nested more than %d levels deep", pathOf(ptr), maxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.fail(n, "%s: YAML aliases (*name) are not allowed in plug-in manifests; write the value out", pathOf(ptr))
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
				c.fail(k, "%s: YAML merge keys (<<) are not allowed in plug-in manifests", pathOf(ptr))
				continue
			}
			kp := ptr + "/" + escapePtr(k.Value)
			if _, dup := m[k.Value]; dup {
				c.fail(k, "%s: key %q appears twice", pathOf(ptr), k.Value)
				continue
			}
			m[k.Value] = c.value(v, kp, depth+1)
			c.lines[kp] = k.Line
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			s = append(s, c.value(e, ptr+"/"+strconv.Itoa(i), depth+1))
		}
		return s
	case yaml.ScalarNode:
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
			c.fail(n, "%s: YAML tag %s is not allowed in plug-in manifests", pathOf(ptr), n.Tag)
			return nil
		}
		return n.Value
	}
	c.fail(n, "%s: unsupported YAML node", pathOf(ptr))
	return nil
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// pathOf renders a JSON Pointer the way people read it:
// "/operations/1/path" becomes "operations[1].path".
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

// lineOf returns the line of ptr in d, or of its nearest ancestor.
func (d doc) lineOf(ptr string) int {
	for p := ptr; ; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return 0
		}
		p = p[:i]
	}
}
