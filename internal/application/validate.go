package application

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// Problem is one invalid answer, said plainly. Key is a message key in
// the apply area (apply.error.*) taking the field's label and Arg; the web
// side translates it into the person's language.
type Problem struct {
	Field string        // the input id the error summary links to
	Name  string        // the property
	Part  string        // the address part, if the problem is in one
	Key   string        // message key
	Label manifest.Text // the field's label
	Arg   string        // a number the message needs (a length, a limit)
	// Message, when set, is the manifest's own words (a plug-in check's
	// message) and is shown instead of Key.
	Message *manifest.Text
}

// Validate checks a page's answers against its JSON Schema and returns one
// problem per field, in the page's field order.
func (p *Page) Validate(answers map[string]any) []Problem {
	raw, err := json.Marshal(answers)
	if err != nil {
		return []Problem{{Field: "main-content", Key: "apply.error.invalid"}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []Problem{{Field: "main-content", Key: "apply.error.invalid"}}
	}
	err = p.schema.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var probs []Problem
	for _, leaf := range leaves(ve) {
		probs = append(probs, p.problemsFor(leaf)...)
	}
	return p.tidy(probs)
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func (p *Page) field(name string) *Field {
	for _, f := range p.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// problemsFor turns one schema failure into problems about fields.
func (p *Page) problemsFor(e *jsonschema.ValidationError) []Problem {
	loc := e.InstanceLocation
	if r, ok := e.ErrorKind.(*kind.Required); ok {
		var out []Problem
		for _, missing := range r.Missing {
			if len(loc) == 0 {
				out = append(out, p.problem(missing, "", requiredKey(p.field(missing)), ""))
			} else {
				out = append(out, p.problem(loc[0], missing, "apply.error.required", ""))
			}
		}
		return out
	}
	if len(loc) == 0 {
		return []Problem{{Field: "main-content", Key: "apply.error.invalid"}}
	}
	name, part := loc[0], ""
	if f := p.field(name); f != nil && f.Widget == "address" && len(loc) > 1 {
		part = loc[1]
	}
	key, arg := "apply.error.invalid", ""
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		key = "apply.error.type"
		if slices.Contains(k.Want, "integer") {
			key = "apply.error.integer"
		} else if slices.Contains(k.Want, "number") {
			key = "apply.error.number"
		}
	case *kind.MinLength:
		key, arg = "apply.error.minlength", itoa(k.Want)
	case *kind.MaxLength:
		key, arg = "apply.error.maxlength", itoa(k.Want)
	case *kind.Pattern:
		key = "apply.error.pattern"
	case *kind.Enum, *kind.Const:
		key = "apply.error.enum"
	case *kind.Minimum:
		key, arg = "apply.error.minimum", ratString(k.Want)
	case *kind.ExclusiveMinimum:
		key, arg = "apply.error.above", ratString(k.Want)
	case *kind.Maximum:
		key, arg = "apply.error.maximum", ratString(k.Want)
	case *kind.ExclusiveMaximum:
		key, arg = "apply.error.below", ratString(k.Want)
	case *kind.MultipleOf:
		key, arg = "apply.error.multiple", ratString(k.Want)
	case *kind.MinItems:
		key, arg = "apply.error.minitems", itoa(k.Want)
	case *kind.MaxItems:
		key, arg = "apply.error.maxitems", itoa(k.Want)
	case *kind.Format:
		switch k.Want {
		case "date":
			key = "date.error.real"
		case "email":
			key = "apply.error.email"
		default:
			key = "apply.error.format"
		}
	}
	return []Problem{p.problem(name, part, key, arg)}
}

func requiredKey(f *Field) string {
	if f == nil {
		return "apply.error.required"
	}
	switch f.Widget {
	case "radios", "select", "checkboxes":
		return "apply.error.choose"
	case "file":
		return "apply.error.file"
	case "date":
		return "date.error.required"
	}
	return "apply.error.required"
}

func (p *Page) problem(name, part, key, arg string) Problem {
	pr := Problem{Name: name, Part: part, Key: key, Arg: arg, Label: manifest.Text{EN: name, ES: name}, Field: InputID(name)}
	if f := p.field(name); f != nil {
		pr.Label = f.Label
		pr.Field = f.FirstInputID()
		if part != "" {
			pr.Field = InputID(name + "-" + part)
		}
	}
	return pr
}

// tidy keeps the first problem of each input (of each date: its three
// boxes share one message) and orders them as the
// fields appear on the page, so the error summary reads top to bottom.
func (p *Page) tidy(probs []Problem) []Problem {
	rank := func(pr Problem) int {
		for i, f := range p.Fields {
			if f.Name == pr.Name {
				j := slices.Index(f.Parts, pr.Part)
				return i*100 + j + 1
			}
		}
		return 1 << 30
	}
	slices.SortStableFunc(probs, func(a, b Problem) int { return rank(a) - rank(b) })
	var out []Problem
	seen := map[string]bool{}
	for _, pr := range probs {
		key := pr.Field
		if f := p.field(pr.Name); f != nil && f.Widget == "date" {
			key = "date " + pr.Name // one message for the date's group of boxes
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, pr)
		}
	}
	return out
}

func ratString(r *big.Rat) string {
	if r == nil {
		return ""
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(2)
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
