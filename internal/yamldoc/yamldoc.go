// Package yamldoc reads the YAML documents that agencies and providers
// write (service manifests, plug-in manifests) into plain values that a
// JSON Schema can check, keeping the line of every node so that each
// problem can be reported as "file:line: where: what".
//
// It refuses what makes a document mean something other than what it
// shows: aliases, merge keys, duplicate keys, custom tags, non-finite or
// overlong numbers and deep nesting. It never panics on outside input.
package yamldoc

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Doc is a parsed YAML document: a plain value (map[string]any, []any,
// string, int64, float64, bool, nil) with the line of every node, keyed by
// JSON Pointer ("" is the root, "/pages/0/id" a page's id).
type Doc struct {
	Value any
	Lines map[string]int
	// Keys lists, per JSON Pointer of a mapping, its keys in the order the
	// YAML wrote them (a Go map forgets it).
	Keys map[string][]string
}

// Problem is one thing wrong with a document, at a 1-based line (0 when
// unknown).
type Problem struct {
	Line int
	Msg  string
}

// Options say what a document is, for the limits and the messages.
type Options struct {
	// What names the document in messages: "manifest", "plug-in manifest".
	What     string
	MaxSize  int // bytes of YAML
	MaxDepth int // nesting of mappings and sequences
	// MergeHint is added to the refusal of YAML merge keys (<<), saying
	// what to do instead; may be empty.
	MergeHint string
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse turns src into a Doc. A panic inside the YAML library is reported
// as a problem on line 0.
func Parse(src []byte, o Options) (d Doc, probs []Problem) {
	if len(src) > o.MaxSize {
		return d, []Problem{{0, fmt.Sprintf("the file is %d bytes; a %s may be at most %d", len(src), o.What, o.MaxSize)}}
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
			return d, []Problem{{n, "YAML syntax: " + m[2]}}
		}
		return d, []Problem{{0, "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return d, []Problem{{1, "the file is empty"}}
	}
	d.Lines, d.Keys = map[string]int{}, map[string][]string{}
	c := &conv{opts: o, doc: d}
	d.Value = c.value(root.Content[0], "", 0)
	return d, c.probs
}

type conv struct {
	opts  Options
	doc   Doc
	probs []Problem
}

func (c *conv) fail(n *yaml.Node, format string, args ...any) {
	c.probs = append(c.probs, Problem{n.Line, fmt.Sprintf(format, args...)})
}

func (c *conv) value(n *yaml.Node, ptr string, depth int) any {
	c.doc.Lines[ptr] = n.Line
	if depth > c.opts.MaxDepth {
		c.fail(n, "%s: nested more than %d levels deep", PathOf(ptr), c.opts.MaxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		c.fail(n, "%s: YAML aliases (*name) are not allowed in %ss; write the value out", PathOf(ptr), c.opts.What)
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
				c.fail(k, "%s: keys must be plain text", PathOf(ptr))
				continue
			}
			if k.Value == "<<" && k.Tag == "!!merge" {
				hint := ""
				if c.opts.MergeHint != "" {
					hint = "; " + c.opts.MergeHint
				}
				c.fail(k, "%s: YAML merge keys (<<) are not allowed in %ss%s", PathOf(ptr), c.opts.What, hint)
				continue
			}
			kp := ptr + "/" + EscapePtr(k.Value)
			if _, dup := m[k.Value]; dup {
				c.fail(k, "%s: key %q appears twice", PathOf(ptr), k.Value)
				continue
			}
			m[k.Value] = c.value(v, kp, depth+1)
			c.doc.Lines[kp] = k.Line // point at the key, not the value below it
			c.doc.Keys[ptr] = append(c.doc.Keys[ptr], k.Value)
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
	c.fail(n, "%s: unsupported YAML node", PathOf(ptr))
	return nil
}

func (c *conv) scalar(n *yaml.Node, ptr string) any {
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
		c.fail(n, "%s: number %s is too large", PathOf(ptr), n.Value)
		return nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
		c.fail(n, "%s: %s is not a finite number", PathOf(ptr), n.Value)
		return nil
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	default:
		c.fail(n, "%s: YAML tag %s is not allowed in %ss", PathOf(ptr), n.Tag, c.opts.What)
		return nil
	}
	return n.Value
}

// LineOf returns the line of ptr in d, or of its nearest ancestor that has
// one; exact says whether ptr itself was found.
func (d Doc) LineOf(ptr string) (line int, exact bool) {
	for p := ptr; ; {
		if l, ok := d.Lines[p]; ok {
			return l, p == ptr
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return 0, false
		}
		p = p[:i]
	}
}

// EscapePtr escapes a JSON Pointer reference token (RFC 6901).
func EscapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// UnescapePtr undoes EscapePtr.
func UnescapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// PathOf renders a JSON Pointer the way people read it:
// "/workflow/transitions/2/by" becomes "workflow.transitions[2].by"; the
// root is "manifest".
func PathOf(ptr string) string {
	if ptr == "" {
		return "manifest"
	}
	var sb strings.Builder
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = UnescapePtr(tok)
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

// SchemaLeaves calls fn with each leaf of a JSON Schema validation error
// (the errors that say what is wrong, not the ones that group them) and
// the JSON Pointer of the instance it is about.
func SchemaLeaves(e *jsonschema.ValidationError, fn func(ptr string, leaf *jsonschema.ValidationError)) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			SchemaLeaves(c, fn)
		}
		return
	}
	ptr := ""
	for _, tok := range e.InstanceLocation {
		ptr += "/" + EscapePtr(tok)
	}
	fn(ptr, e)
}

// MustCompileSchema compiles an embedded JSON Schema 2020-12 document of a
// format (a manifest's), at url, with a loader that refuses every other
// URL. It panics on error: the schema ships in the binary, and a broken
// one must stop the program's tests, not one request.
func MustCompileSchema(url string, src []byte) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err == nil {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.UseLoader(refuseLoader{})
		if err = c.AddResource(url, doc); err == nil {
			var s *jsonschema.Schema
			if s, err = c.Compile(url); err == nil {
				return s
			}
		}
	}
	panic(fmt.Sprintf("yamldoc: schema %s: %v", url, err))
}

// refuseLoader refuses every URL: a format's schema is one embedded file.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: schemas may not load other documents", url)
}
