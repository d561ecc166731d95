package notify

import (
	"fmt"
	"html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Template syntax, as GOV.UK Notify's:
//
//	((name))           replaced by the personalisation value "name"
//	((name??text))     "text" when the value of "name" is yes/true/1, else nothing
//
// Placeholder names match case-insensitively, ignoring spaces, hyphens and
// underscores ("First name" = "first_name"), as Notify's do. A placeholder
// without a value is an error listing every missing name.

// Personalisation is the values for a template's placeholders. Values are
// strings, numbers, booleans or lists (rendered as one "* item" line each).
type Personalisation map[string]any

// MissingError is a render with placeholders that have no value.
type MissingError struct{ Names []string }

func (e *MissingError) Error() string {
	return "Missing personalisation: " + strings.Join(e.Names, ", ")
}

// placeholderPattern is Notify's: two brackets, anything but brackets, two brackets.
var placeholderPattern = regexp.MustCompile(`\(\(([^()]+)\)\)`)

// placeholder is one ((…)) in a template.
type placeholder struct {
	name        string // as written, trimmed
	conditional bool
	text        string // shown when a conditional is true
}

func parsePlaceholder(inner string) placeholder {
	if name, text, ok := strings.Cut(inner, "??"); ok {
		return placeholder{name: strings.TrimSpace(name), conditional: true, text: text}
	}
	return placeholder{name: strings.TrimSpace(inner)}
}

// placeholderKey is how names compare: lower case without spaces, '-' and '_'.
func placeholderKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\t', '\n', '\r':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// Placeholders returns the names of src's placeholders in order of first
// appearance, without duplicates.
func Placeholders(src ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range src {
		for _, m := range placeholderPattern.FindAllStringSubmatch(s, -1) {
			p := parsePlaceholder(m[1])
			k := placeholderKey(p.name)
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, p.name)
		}
	}
	return out
}

// lookup finds name in p ignoring case, spaces, hyphens and underscores.
func (p Personalisation) lookup(name string) (any, bool) {
	if v, ok := p[name]; ok {
		return v, true
	}
	k := placeholderKey(name)
	// Deterministic when two keys normalise alike: the first in sort order.
	keys := make([]string, 0, len(p))
	for key := range p {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if placeholderKey(key) == k {
			return p[key], true
		}
	}
	return nil, false
}

// valueString renders one personalisation value.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any:
		lines := make([]string, 0, len(x))
		for _, item := range x {
			lines = append(lines, "* "+valueString(item))
		}
		return "\n" + strings.Join(lines, "\n") + "\n"
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		return valueString(items)
	default:
		return fmt.Sprint(x)
	}
}

// truthy is Notify's test for conditional placeholders.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x != 0
	case int:
		return x != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "yes", "y", "true", "t", "1", "on":
			return true
		}
	}
	return false
}

// Render replaces the placeholders of each of src with p's values. If any
// placeholder has no value it returns a *MissingError naming all of them
// (in order of appearance) and no text.
func Render(p Personalisation, src ...string) ([]string, error) {
	var missing []string
	seen := map[string]bool{}
	for _, name := range Placeholders(src...) {
		if _, ok := p.lookup(name); !ok && !seen[placeholderKey(name)] {
			seen[placeholderKey(name)] = true
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingError{Names: missing}
	}
	out := make([]string, len(src))
	for i, s := range src {
		out[i] = placeholderPattern.ReplaceAllStringFunc(s, func(m string) string {
			ph := parsePlaceholder(m[2 : len(m)-2])
			if placeholderKey(ph.name) == "" {
				return m
			}
			v, _ := p.lookup(ph.name)
			if ph.conditional {
				if truthy(v) {
					return ph.text
				}
				return ""
			}
			return valueString(v)
		})
	}
	return out, nil
}

// OneLine collapses whitespace runs (including newlines) to single spaces,
// for subjects.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// FormatHTML renders a message body as the HTML part of an email, with the
// modest formatting Notify's templates use: blank lines separate
// paragraphs; single newlines are line breaks; lines starting "* " or "- "
// form bullet lists; a line starting "# " is a heading; "---" is a rule;
// http(s) addresses become links. Everything is escaped: the result is safe
// whatever the body (and its personalisation) contains.
func FormatHTML(body string) string {
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	b.WriteString(`<div style="font-family: Helvetica, Arial, sans-serif; font-size: 19px; line-height: 1.3;">`)
	for _, block := range blankLine.Split(strings.TrimSpace(body), -1) {
		block = strings.Trim(block, "\n")
		if strings.TrimSpace(block) == "" {
			continue
		}
		lines := strings.Split(block, "\n")
		var para []string
		flush := func() {
			if len(para) > 0 {
				b.WriteString("<p>")
				for i, l := range para {
					if i > 0 {
						b.WriteString("<br>")
					}
					b.WriteString(linkHTML(l))
				}
				b.WriteString("</p>")
				para = nil
			}
		}
		inList := false
		for _, l := range lines {
			t := strings.TrimSpace(l)
			isItem := strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "• ")
			if isItem {
				flush()
				if !inList {
					b.WriteString("<ul>")
					inList = true
				}
				b.WriteString("<li>" + linkHTML(strings.TrimSpace(t[strings.Index(t, " ")+1:])) + "</li>")
				continue
			}
			if inList {
				b.WriteString("</ul>")
				inList = false
			}
			switch {
			case strings.HasPrefix(t, "# "):
				flush()
				b.WriteString("<h2>" + linkHTML(strings.TrimSpace(t[2:])) + "</h2>")
			case t == "---" || t == "***":
				flush()
				b.WriteString("<hr>")
			default:
				para = append(para, t)
			}
		}
		if inList {
			b.WriteString("</ul>")
		}
		flush()
	}
	b.WriteString("</div>")
	return b.String()
}

var blankLine = regexp.MustCompile(`\n[ \t]*\n`)

var linkPattern = regexp.MustCompile(`https?://[^\s<>"'\x60]+`)

// linkHTML escapes s, making http and https addresses links.
func linkHTML(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(s, -1) {
		end := loc[1]
		for end > loc[0] && strings.IndexByte(".,;:!?)", s[end-1]) >= 0 {
			end--
		}
		u := s[loc[0]:end]
		if !strings.Contains(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"), ".") &&
			!strings.Contains(u, "localhost") && !strings.Contains(u, "127.0.0.1") {
			continue
		}
		b.WriteString(template.HTMLEscapeString(s[last:loc[0]]))
		b.WriteString(`<a href="` + template.HTMLEscapeString(u) + `">` + template.HTMLEscapeString(u) + `</a>`)
		last = end
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return b.String()
}
