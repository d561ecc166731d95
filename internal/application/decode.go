package application

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/i18n"
)

// MaxAnswerLength caps one typed value. Schemas usually set a smaller
// maxLength; this bound keeps a hostile post from filling a draft.
const MaxAnswerLength = 10000

// Decode reads a page's answers from a form post. It is a parser of
// outside input: it never panics, and whatever it returns can be stored on
// either engine and validated. Answers are typed: numbers as int64 or
// float64, dates as "YYYY-MM-DD", checkbox lists as []any, addresses as
// objects. An empty input is left out, so `required` catches it. Inputs
// that cannot be typed (a number with letters, a date that does not
// exist) come back as problems; the caller shows the form again with what
// was typed (Page.Typed).
func (p *Page) Decode(form url.Values) (map[string]any, []Problem) {
	answers := map[string]any{}
	var probs []Problem
	for _, f := range p.Fields {
		switch f.Widget {
		case "date":
			in := i18n.DateInput{Month: clean(form.Get(f.Name+"-month"), false), Day: clean(form.Get(f.Name+"-day"), false), Year: clean(form.Get(f.Name+"-year"), false)}
			if in.Empty() {
				continue
			}
			if v, prob := i18n.ParseDate(in); prob == nil {
				answers[f.Name] = v
			} else {
				probs = append(probs, p.problem(f.Name, prob.Part, prob.Key, ""))
			}
		case "number":
			v := strings.NewReplacer(",", "", " ", "").Replace(clean(form.Get(f.Name), false))
			if v == "" {
				continue
			}
			if n, ok := parseNumber(v, f.Type == "integer"); ok {
				answers[f.Name] = n
			} else if f.Type == "integer" {
				probs = append(probs, p.problem(f.Name, "", "apply.error.integer", ""))
			} else {
				probs = append(probs, p.problem(f.Name, "", "apply.error.number", ""))
			}
		case "checkboxes":
			if f.Type == "boolean" {
				answers[f.Name] = form.Get(f.Name) == "true"
				continue
			}
			var list []any
			for _, opt := range f.Options { // option order, each once, only real options
				if slices.Contains(form[f.Name], opt) {
					list = append(list, typed(opt, f.Type == "array" && f.itemsAreIntegers()))
				}
			}
			if len(list) > 0 {
				answers[f.Name] = list
			}
		case "radios", "select":
			v := clean(form.Get(f.Name), false)
			if v == "" {
				continue
			}
			answers[f.Name] = typed(v, f.Type == "integer")
		case "address":
			addr := map[string]any{}
			for _, part := range f.Parts {
				if v := clean(form.Get(f.Name+"-"+part), false); v != "" {
					addr[part] = v
				}
			}
			if len(addr) > 0 {
				answers[f.Name] = addr
			}
		default: // text, textarea, email, tel, file (the attachment id)
			if v := clean(form.Get(f.Name), f.Widget == "textarea"); v != "" {
				answers[f.Name] = v
			}
		}
	}
	return answers, probs
}

// Check decodes and validates a post of the page: the typed answers and
// every problem, one per input, in the page's order.
func (p *Page) Check(form url.Values) (map[string]any, []Problem) {
	answers, probs := p.Decode(form)
	return answers, p.tidy(append(probs, p.Validate(answers)...))
}

// itemsAreIntegers reports whether a checkbox list's choices are numbers
// (every option parses as one; enums of integers render that way).
func (f *Field) itemsAreIntegers() bool {
	for _, o := range f.Options {
		if _, err := strconv.ParseInt(o, 10, 64); err != nil {
			return false
		}
	}
	return len(f.Options) > 0
}

// typed returns v as an int64 when the property holds integers and v is
// one, else as the string typed (which the schema's enum then refuses).
func typed(v string, integer bool) any {
	if integer {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// clean makes typed text safe to keep: valid UTF-8, no control characters
// (PostgreSQL's JSONB refuses NUL; none belongs in an answer), trimmed and
// capped. Line breaks survive only in multi-line answers.
func clean(s string, multiline bool) string {
	if len(s) > MaxAnswerLength*4 {
		s = s[:MaxAnswerLength*4]
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && multiline:
			return r
		case r == '\r' && multiline:
			return -1 // keep "\n" only
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r), r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxAnswerLength {
		s = strings.TrimSpace(string([]rune(s)[:MaxAnswerLength]))
	}
	return s
}

func parseNumber(v string, integer bool) (any, bool) {
	if integer {
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return nil, false
	}
	return x, true
}

// Typed renders answers back into form values, the inverse of Decode: the
// page shows stored (or prefilled) answers through it. For every answer
// Decode produced, Decode(Typed(a)) gives a again.
func (p *Page) Typed(answers map[string]any) url.Values {
	form := url.Values{}
	for _, f := range p.Fields {
		v, ok := answers[f.Name]
		if !ok {
			continue
		}
		switch f.Widget {
		case "date":
			s, _ := v.(string)
			if in := i18n.DateInputOf(s); !in.Empty() {
				form.Set(f.Name+"-month", in.Month)
				form.Set(f.Name+"-day", in.Day)
				form.Set(f.Name+"-year", in.Year)
			}
		case "checkboxes":
			switch x := v.(type) {
			case bool:
				if x {
					form.Set(f.Name, "true")
				}
			case []any:
				for _, e := range x {
					form.Add(f.Name, scalarText(e))
				}
			}
		case "address":
			if m, ok := v.(map[string]any); ok {
				for _, part := range f.Parts {
					if s, ok := m[part]; ok {
						form.Set(f.Name+"-"+part, scalarText(s))
					}
				}
			}
		default:
			form.Set(f.Name, scalarText(v))
		}
	}
	return form
}

// scalarText prints an answer the way a person would type it.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
