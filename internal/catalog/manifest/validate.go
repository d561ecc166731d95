package manifest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/portico-gov/portico/internal/yamldoc"
)

//go:embed schema.json
var schemaJSON []byte

// SchemaJSON returns the JSON Schema of the manifest format (a copy).
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }

var (
	formatSchema = yamldoc.MustCompileSchema("mem:///manifest.json", schemaJSON)
	english      = message.NewPrinter(language.English)
)

// noLoader refuses every URL: page schemas may not pull in files or
// network resources.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: schemas may refer only to themselves ($ref to #...)", url)
}

func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	return c
}

// Base returns the resolved manifest (as JSON) of a published service
// version, for extend. It returns an error with platform.CodeNotFound when
// there is no such version.
type Base func(ctx context.Context, id string, version int) ([]byte, error)

// References checks names the manifest uses against the database.
// Each method returns "" when the reference is good, otherwise a plain
// message saying what is wrong.
type References interface {
	CheckAgency(ctx context.Context, agency string) (string, error)
	CheckJurisdiction(ctx context.Context, agency, jurisdiction string) (string, error)
}

// PluginRefs checks a use of a plug-in operation against the plug-in
// registry: "" when agency's service may call it carrying data (the
// operation exists, the agency has enabled the plug-in, approved the
// data, and an access right lets the service call it), otherwise why not.
type PluginRefs interface {
	CheckPluginUse(ctx context.Context, agency, service, plugin, operation string, data []string) (string, error)
}

// Options say what a validation may consult beyond the file itself.
type Options struct {
	Base Base       // resolves extend; nil: extending is a problem
	Refs References // nil: references to the database are not checked
	// Plugins checks the plug-in operations the manifest uses. nil: a
	// manifest that uses one is refused, since nothing can call it yet
	// (the plug-in gateway is the next part of issue 11).
	Plugins PluginRefs
}

// Result is a valid manifest.
type Result struct {
	Manifest *Manifest
	// JSON is the resolved manifest (extend applied) with sorted keys: what
	// the catalog stores and what later code reads.
	JSON []byte
}

// Validate parses and validates the manifest src read from file. It
// returns the manifest when there are no problems, otherwise every problem
// found, sorted by line. err is only for failures of Options' callbacks
// (a database error), never for bad input; Validate never panics on bad
// input.
func Validate(ctx context.Context, file string, src []byte, opts Options) (res *Result, probs []Problem, err error) {
	v := &validator{file: file}
	d, lms := parseYAML(src)
	for _, lm := range lms {
		v.probs = append(v.probs, Problem{file, lm.Line, lm.Msg})
	}
	if len(v.probs) > 0 {
		return nil, v.sorted(), nil
	}
	v.d = d
	value := d.Value
	if raw, ok := value.(map[string]any); ok {
		if ext, ok := raw["extend"].(map[string]any); ok {
			value, err = v.extend(ctx, raw, ext, opts.Base)
			if err != nil {
				return nil, nil, err
			}
			if value == nil {
				return nil, v.sorted(), nil
			}
		}
	}
	js, jerr := json.Marshal(value)
	if jerr != nil {
		v.add("", "manifest: cannot be represented as JSON: %v", jerr)
		return nil, v.sorted(), nil
	}
	inst, jerr := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if jerr != nil {
		v.add("", "manifest: cannot be represented as JSON: %v", jerr)
		return nil, v.sorted(), nil
	}
	if verr := formatSchema.Validate(inst); verr != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(verr, &ve) {
			v.add("", "manifest: %v", verr)
		} else {
			v.schemaProblems(ve)
		}
		return nil, v.sorted(), nil
	}
	if top, ok := value.(map[string]any); ok {
		// A kind from before kinds were fixed is stored as the kind it
		// maps to, so what is published says apply, report, pay, renew
		// or book.
		if s, _ := top["kind"].(string); s != "" {
			if k, legacy, ok := ParseKind(s); ok && legacy {
				top["kind"] = string(k)
				if js, jerr = json.Marshal(value); jerr != nil {
					return nil, nil, fmt.Errorf("manifest: %w", jerr)
				}
			}
		}
	}
	if top, ok := value.(map[string]any); ok {
		_, v.eligibilityIsText = top["eligibility"].(string)
	}
	var m Manifest
	if jerr := json.Unmarshal(js, &m); jerr != nil {
		v.add("", "manifest: %v", jerr)
		return nil, v.sorted(), nil
	}
	v.check(&m)
	if err := v.checkPluginUses(ctx, &m, opts.Plugins); err != nil {
		return nil, nil, err
	}
	if opts.Refs != nil {
		if err := v.checkRefs(ctx, &m, opts.Refs); err != nil {
			return nil, nil, err
		}
	}
	if len(v.probs) > 0 {
		return nil, v.sorted(), nil
	}
	if v.recordOrder(&m, value) {
		if js, jerr = json.Marshal(value); jerr != nil {
			return nil, nil, fmt.Errorf("manifest: %w", jerr)
		}
	}
	return &Result{Manifest: &m, JSON: js}, nil, nil
}

// takeBaseOrder removes the recorded field orders from a base's pages
// (the format does not let authors write them) and keeps them for
// recordOrder.
func (v *validator) takeBaseOrder(base map[string]any) {
	v.baseOrder = map[string][]string{}
	pages, _ := base["pages"].([]any)
	for _, p := range pages {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		id, _ := pm["id"].(string)
		list, _ := pm["order"].([]any)
		for _, n := range list {
			if s, ok := n.(string); ok {
				v.baseOrder[id] = append(v.baseOrder[id], s)
			}
		}
		delete(pm, "order")
	}
}

// recordOrder sets each page's Order (in m and in value, the JSON the
// catalog stores): from the YAML for pages this file writes, from the
// base for pages it inherits. It reports whether value changed.
func (v *validator) recordOrder(m *Manifest, value any) bool {
	top, _ := value.(map[string]any)
	pages, _ := top["pages"].([]any)
	changed := false
	for i := range m.Pages {
		p := &m.Pages[i]
		src := v.d.Keys["/pages/"+strconv.Itoa(i)+"/schema/properties"]
		if v.pagesInherited {
			src = v.baseOrder[p.ID]
		}
		props := propsOf(p.Schema)
		var order []string
		for _, n := range src {
			if props[n] {
				order = append(order, n)
			}
		}
		if len(order) == 0 || i >= len(pages) {
			continue
		}
		pm, ok := pages[i].(map[string]any)
		if !ok {
			continue
		}
		p.Order = order
		pm["order"] = order
		changed = true
	}
	return changed
}

type validator struct {
	file  string
	d     doc
	probs []Problem
	// inherited, when extending: the message suffix for problems in parts
	// that come from the base service.
	inherited string
	// pagesInherited: the manifest extends a base and keeps its pages;
	// baseOrder then holds their recorded field orders, by page id.
	pagesInherited bool
	baseOrder      map[string][]string
	// eligibilityIsText: the eligibility is one CEL expression (not a
	// list of rules with reasons).
	eligibilityIsText bool
}

// add records a problem at JSON Pointer ptr.
func (v *validator) add(ptr, format string, args ...any) {
	line, exact := v.d.LineOf(ptr)
	msg := fmt.Sprintf(format, args...)
	if !exact && v.inherited != "" {
		msg += " (" + v.inherited + ")"
	}
	v.probs = append(v.probs, Problem{v.file, line, msg})
}

// sorted orders problems by line and then by message: JSON Schema reports
// the errors of one object in no fixed order, and output must be stable.
func (v *validator) sorted() []Problem {
	slices.SortFunc(v.probs, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.Compact(v.probs)
}

// schemaProblems turns the leaves of a JSON Schema validation error into
// problems at the instance locations.
func (v *validator) schemaProblems(e *jsonschema.ValidationError) {
	yamldoc.SchemaLeaves(e, v.schemaProblem)
}

func (v *validator) schemaProblem(ptr string, e *jsonschema.ValidationError) {
	where := pathOf(ptr)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			v.add(ptr+"/"+escapePtr(p), "%s: unknown key %q", where, p)
		}
		return
	case *kind.Required:
		for _, p := range k.Missing {
			if p == "reason" && strings.HasPrefix(ptr, "/eligibility/") {
				v.add(ptr, "%s: \"reason\" is required: say in both languages why someone who does not meet this rule cannot use the service (or give the whole eligibility as one expression)", where)
				continue
			}
			v.add(ptr, "%s: %q is required", where, p)
		}
		return
	case *kind.Pattern:
		v.add(ptr, "%s: %s", where, patternMessage(e.SchemaURL, k))
		return
	case *kind.Type:
		if ptr == "/declaration" {
			v.add(ptr, "declaration: give true, false, or the words the person confirms as {en: ..., es: ...}")
			return
		}
	case *kind.Enum:
		if ptr == "/kind" {
			names := make([]string, len(Kinds))
			for i, k := range Kinds {
				names[i] = string(k)
			}
			v.add(ptr, "kind: %q is not a kind of service; give one of %s", fmt.Sprint(k.Got), strings.Join(names, ", "))
			return
		}
	}
	v.add(ptr, "%s: %s", where, e.ErrorKind.LocalizedString(english))
}

// patternMessage explains the patterns of the format in words.
func patternMessage(schemaURL string, k *kind.Pattern) string {
	switch {
	case strings.Contains(k.Want, "{0,62}[a-z0-9]"):
		return fmt.Sprintf("%q must be 1 to 64 lowercase letters, digits or hyphens, starting and ending with a letter or digit", k.Got)
	case strings.Contains(k.Want, "[a-z0-9_]{0,62}"):
		return fmt.Sprintf("%q must be a lowercase letter followed by up to 62 lowercase letters, digits or underscores", k.Got)
	case strings.Contains(k.Want, "[mhdw]"):
		return fmt.Sprintf("%q must be a duration: a whole number followed by m (minutes), h (hours), d (days) or w (weeks), such as 10d", k.Got)
	case strings.Contains(k.Want, "[A-Z]{3}"):
		return fmt.Sprintf("%q must be a three-letter ISO 4217 currency code such as USD", k.Got)
	}
	return k.LocalizedString(english)
}

// extend merges raw over the base it names. It returns nil when the base
// cannot be had (the problem is recorded).
func (v *validator) extend(ctx context.Context, raw, ext map[string]any, base Base) (any, error) {
	id, _ := ext["service"].(string)
	ver, ok := ext["version"].(int64)
	if id == "" || !ok {
		return raw, nil // the format schema reports the malformed extend
	}
	for _, k := range []string{"id", "version", "agency", "jurisdictions"} {
		if _, ok := raw[k]; !ok {
			v.add("/extend", "extend: a manifest that extends another must state its own %s", k)
		}
	}
	if base == nil {
		v.add("/extend", "extend: service %s version %d cannot be looked up here; validate it together with the base service's file, or publish against the database", id, ver)
		return nil, nil
	}
	if ver > 1<<31 {
		v.add("/extend/version", "extend.version: %d is not a published version", ver)
		return nil, nil
	}
	js, err := base(ctx, id, int(ver))
	if errors.Is(err, errNotInSet) {
		v.add("/extend", "extend: service %s version %d is not among the files given; validate them together, or publish against the database", id, ver)
		return nil, nil
	}
	if errors.Is(err, ErrNoBase) {
		v.add("/extend", "extend: service %s version %d is not published", id, ver)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var b map[string]any
	if err := json.Unmarshal(js, &b); err != nil {
		return nil, fmt.Errorf("manifest: base %s v%d: %w", id, ver, err)
	}
	delete(b, "extend")
	v.takeBaseOrder(b)
	_, restated := raw["pages"]
	v.pagesInherited = !restated
	v.inherited = fmt.Sprintf("inherited from %s version %d", id, ver)
	if len(v.probs) > 0 {
		return nil, nil
	}
	return Merge(b, raw), nil
}

// errNotInSet: ValidateFiles without a database found no file for a base.
var errNotInSet = errors.New("manifest: base not among the files")

// ErrNoBase is what a Base returns when the named version does not exist.
var ErrNoBase = errors.New("manifest: no such published service version")

// Merge returns over applied on top of base, the rule of extend:
//
//   - a mapping merges with the base mapping key by key, recursively;
//   - a key whose value is null removes that key from the result;
//   - anything else (a scalar, or a list) replaces the base value whole,
//     so a list (pages, transitions, on_enter, jurisdictions, keywords)
//     is restated completely when it changes.
//
// Neither argument is modified.
func Merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, bv := range base {
		out[k] = bv
	}
	for k, ov := range over {
		if ov == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]any)
		om, ook := ov.(map[string]any)
		if bok && ook {
			out[k] = Merge(bm, om)
			continue
		}
		out[k] = ov
	}
	return out
}

// check runs the semantic checks on a manifest that passed the format
// schema.
func (v *validator) check(m *Manifest) {
	v.checkPages(m)
	v.checkEligibility(m)
	all := v.allPageProps(m)
	if m.Fee != nil {
		switch {
		case m.Fee.Call != nil && (m.Fee.Amount != nil || m.Fee.Expression != ""):
			v.add("/fee", "fee: give one of amount, expression or call, not more")
		case m.Fee.Call != nil:
		case m.Fee.Amount == nil && m.Fee.Expression == "":
			v.add("/fee", "fee: give either amount (minor units, such as cents) or expression")
		case m.Fee.Amount != nil && m.Fee.Expression != "":
			v.add("/fee", "fee: give amount or expression, not both")
		case m.Fee.Expression != "":
			for _, msg := range checkCEL(ctxFee, m.Fee.Expression, cel.IntType, all) {
				v.add("/fee/expression", "fee.expression: %s", msg)
			}
		}
	}
	v.checkWorkflow(m, all)
	v.checkDocuments(m)
	v.checkRecords(m)
}

// checkEligibility compiles the eligibility rule, or each rule of the
// list, as a bool over person and now.
func (v *validator) checkEligibility(m *Manifest) {
	if v.eligibilityIsText {
		if len(m.Eligibility) == 1 {
			for _, msg := range checkCEL(ctxEligibility, m.Eligibility[0].Rule, cel.BoolType, nil) {
				v.add("/eligibility", "eligibility: %s", msg)
			}
		}
		return
	}
	for i, r := range m.Eligibility {
		ptr := "/eligibility/" + strconv.Itoa(i)
		for _, msg := range checkCEL(ctxEligibility, r.Rule, cel.BoolType, nil) {
			v.add(ptr+"/rule", "%s.rule: %s", pathOf(ptr), msg)
		}
	}
}

func (v *validator) allPageProps(m *Manifest) pageProps {
	all := pageProps{}
	for _, p := range m.Pages {
		all[p.ID] = propsOf(p.Schema)
	}
	return all
}

func propsOf(schema json.RawMessage) map[string]bool {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	out := map[string]bool{}
	for k := range s.Properties {
		out[k] = true
	}
	return out
}

// widgetTypes says which JSON Schema types each widget can collect.
var widgetTypes = map[string][]string{
	"text":       {"string"},
	"textarea":   {"string"},
	"email":      {"string"},
	"tel":        {"string"},
	"date":       {"string"},
	"file":       {"string"},
	"number":     {"integer", "number"},
	"address":    {"object"},
	"radios":     {"string", "integer"},
	"select":     {"string", "integer"},
	"checkboxes": {"array", "boolean"},
}

// propSchema is the part of a property schema the widget checks read.
type propSchema struct {
	Type   any    `json:"type"`
	Format string `json:"format"`
	Enum   []any  `json:"enum"`
	Items  *struct {
		Enum []any `json:"enum"`
	} `json:"items"`
}

func (v *validator) checkPages(m *Manifest) {
	earlier := pageProps{}
	for i, p := range m.Pages {
		ptr := "/pages/" + strconv.Itoa(i)
		where := pathOf(ptr)
		if _, dup := earlier[p.ID]; dup {
			v.add(ptr+"/id", "%s.id: page id %q is used twice", where, p.ID)
		}
		props := v.checkPageSchema(ptr, p)
		if p.When != "" {
			for _, msg := range checkCEL(ctxWhen, p.When, cel.BoolType, earlier) {
				v.add(ptr+"/when", "%s.when: %s", where, msg)
			}
		}
		for _, name := range sortedKeys(p.Fields) {
			f := p.Fields[name]
			fptr := ptr + "/fields/" + escapePtr(name)
			ps, ok := props[name]
			if !ok {
				v.add(fptr, "%s.fields.%s: the page's schema has no property %q", where, name, name)
				continue
			}
			if p.ChoicesFrom != nil && p.ChoicesFrom.Field == name && len(ps.Enum) == 0 {
				ps.Enum = []any{"choices_from"} // the plug-in gives the choices (checkChoices)
			}
			v.checkWidget(fptr, where+".fields."+name, f.Widget, ps)
			v.checkFieldExtras(fptr, where+".fields."+name, f)
			v.checkOptions(fptr, where+".fields."+name, f, ps)
		}
		earlier[p.ID] = map[string]bool{}
		for k := range props {
			earlier[p.ID][k] = true
		}
	}
}

// checkPageSchema checks that a page's schema is a valid JSON Schema
// 2020-12 for an object and returns its properties.
func (v *validator) checkPageSchema(ptr string, p Page) map[string]propSchema {
	sptr := ptr + "/schema"
	where := pathOf(sptr)
	var top struct {
		Schema     *string                    `json:"$schema"`
		Type       any                        `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(p.Schema, &top); err != nil {
		v.add(sptr, "%s: %v", where, err)
		return nil
	}
	if top.Schema != nil && *top.Schema != "https://json-schema.org/draft/2020-12/schema" {
		v.add(sptr+"/$schema", "%s: $schema must be https://json-schema.org/draft/2020-12/schema (or left out)", where)
		return nil
	}
	if top.Type != "object" {
		v.add(sptr, "%s: the answers of a page are an object: say type: object", where)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(p.Schema))
	if err == nil {
		c := newCompiler()
		url := "mem:///pages/" + p.ID + ".json"
		if err = c.AddResource(url, doc); err == nil {
			_, err = c.Compile(url)
		}
	}
	if err != nil {
		v.add(sptr, "%s: not a valid JSON Schema 2020-12: %s", where, schemaErr(err))
		return nil
	}
	props := map[string]propSchema{}
	for name, raw := range top.Properties {
		var ps propSchema
		_ = json.Unmarshal(raw, &ps)
		props[name] = ps
	}
	return props
}

// schemaErr keeps the useful part of a schema compilation error.
func schemaErr(err error) string {
	var se *jsonschema.SchemaValidationError
	if errors.As(err, &se) && se.Err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(se.Err, &ve) {
			return leafMessages(ve)
		}
	}
	s := err.Error()
	s = strings.ReplaceAll(s, "mem:///pages/", "")
	return strings.Join(strings.Fields(s), " ")
}

func leafMessages(e *jsonschema.ValidationError) string {
	if len(e.Causes) == 0 {
		loc := strings.Join(e.InstanceLocation, "/")
		if loc != "" {
			loc = "at /" + loc + ": "
		}
		return loc + e.ErrorKind.LocalizedString(english)
	}
	var parts []string
	for _, c := range e.Causes {
		parts = append(parts, leafMessages(c))
	}
	return strings.Join(parts, "; ")
}

func (v *validator) checkWidget(ptr, where, widget string, ps propSchema) {
	var types []string
	switch t := ps.Type.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && s != "null" {
				types = append(types, s)
			}
		}
	}
	if len(types) == 0 {
		v.add(ptr, "%s: the property needs a type for the %s widget (%s)", where, widget, strings.Join(widgetTypes[widget], " or "))
		return
	}
	for _, t := range types {
		if !slices.Contains(widgetTypes[widget], t) {
			v.add(ptr+"/widget", "%s.widget: %s cannot collect a value of type %s (it collects %s)", where, widget, t, strings.Join(widgetTypes[widget], " or "))
			return
		}
	}
	switch widget {
	case "radios", "select":
		if len(ps.Enum) == 0 {
			v.add(ptr+"/widget", "%s.widget: %s needs the property to list its choices in enum", where, widget)
		}
	case "checkboxes":
		if types[0] == "array" && (ps.Items == nil || len(ps.Items.Enum) == 0) {
			v.add(ptr+"/widget", "%s.widget: checkboxes for a list need items with an enum of choices", where)
		}
	case "date":
		if ps.Format != "date" {
			v.add(ptr+"/widget", "%s.widget: date needs the property to have format: date", where)
		}
	case "email":
		if ps.Format != "" && ps.Format != "email" {
			v.add(ptr+"/widget", "%s.widget: email does not fit format %s", where, ps.Format)
		}
	}
}

// checkFieldExtras checks that prefill fits the widget and that file limits
// are only given to file widgets.
func (v *validator) checkFieldExtras(ptr, where string, f Field) {
	if f.Prefill != "" && !slices.Contains(Prefills[f.Prefill], f.Widget) {
		v.add(ptr+"/prefill", "%s.prefill: %s cannot fill a %s widget (it fills %s)", where, f.Prefill, f.Widget, strings.Join(Prefills[f.Prefill], " or "))
	}
	if (len(f.Accept) > 0 || f.MaxBytes > 0) && f.Widget != "file" {
		v.add(ptr+"/widget", "%s: accept and max_bytes are for the file widget only", where)
	}
}

// checkOptions checks that option labels are given for a choice widget
// and only for values its enum lists.
func (v *validator) checkOptions(ptr, where string, f Field, ps propSchema) {
	if len(f.Options) == 0 {
		return
	}
	if f.Widget != "radios" && f.Widget != "select" && f.Widget != "checkboxes" {
		v.add(ptr+"/options", "%s.options: labels are for radios, select or checkboxes, not %s", where, f.Widget)
		return
	}
	enum := ps.Enum
	if ps.Items != nil && len(ps.Items.Enum) > 0 {
		enum = ps.Items.Enum
	}
	values := map[string]bool{}
	for _, e := range enum {
		values[fmt.Sprint(e)] = true
	}
	for _, k := range sortedKeys(f.Options) {
		if !values[k] {
			v.add(ptr+"/options/"+escapePtr(k), "%s.options: %q is not one of the property's enum values", where, k)
		}
	}
}

func (v *validator) checkWorkflow(m *Manifest, all pageProps) {
	w := m.Workflow
	if _, ok := w.States[w.Initial]; !ok {
		v.add("/workflow/initial", "workflow.initial: there is no state %q", w.Initial)
	}
	out := map[string][]string{}
	ids := map[string]bool{}
	for i, t := range w.Transitions {
		ptr := "/workflow/transitions/" + strconv.Itoa(i)
		where := pathOf(ptr)
		if ids[t.ID] {
			v.add(ptr+"/id", "%s.id: transition id %q is used twice", where, t.ID)
		}
		ids[t.ID] = true
		from, fok := w.States[t.From]
		if !fok {
			v.add(ptr+"/from", "%s.from: there is no state %q", where, t.From)
		}
		if _, ok := w.States[t.To]; !ok {
			v.add(ptr+"/to", "%s.to: there is no state %q", where, t.To)
		}
		if fok && from.Terminal {
			v.add(ptr+"/from", "%s.from: %q is a terminal state; nothing leaves it", where, t.From)
		}
		if t.Guard != "" {
			for _, msg := range checkCEL(ctxGuard, t.Guard, cel.BoolType, all) {
				v.add(ptr+"/guard", "%s.guard: %s", where, msg)
			}
		}
		out[t.From] = append(out[t.From], t.To)
	}
	// Reachability from the initial state.
	reached := map[string]bool{}
	queue := []string{w.Initial}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if reached[s] {
			continue
		}
		reached[s] = true
		queue = append(queue, out[s]...)
	}
	terminals := 0
	for _, name := range sortedKeys(w.States) {
		s := w.States[name]
		ptr := "/workflow/states/" + escapePtr(name)
		where := "workflow.states." + name
		if s.Terminal {
			terminals++
			if s.SLA != "" {
				v.add(ptr+"/sla", "%s.sla: a terminal state has no SLA", where)
			}
		} else if len(out[name]) == 0 {
			v.add(ptr, "%s: no transition leaves this state; mark it terminal: true or add one", where)
		}
		if _, ok := w.States[w.Initial]; ok && !reached[name] {
			v.add(ptr, "%s: cannot be reached from the initial state %q", where, w.Initial)
		}
		for j, a := range s.OnEnter {
			aptr := ptr + "/on_enter/" + strconv.Itoa(j)
			awhere := fmt.Sprintf("%s.on_enter[%d]", where, j)
			switch {
			case a.RequestPayment != nil && m.Fee == nil:
				v.add(aptr, "%s: request_payment needs the service to have a fee", awhere)
			case a.IssueDocument != nil:
				if _, ok := m.Documents[a.IssueDocument.Document]; !ok {
					v.add(aptr+"/issue_document/document", "%s.issue_document: there is no document %q under documents", awhere, a.IssueDocument.Document)
				}
			case a.SetReminder != nil:
				if _, ok := m.Reminders[a.SetReminder.Reminder]; !ok {
					v.add(aptr+"/set_reminder/reminder", "%s.set_reminder: there is no reminder %q under reminders", awhere, a.SetReminder.Reminder)
				}
			case a.CallPlugin != nil && a.CallPlugin.Decide != nil:
				v.checkDecision(w, name, a.CallPlugin.Decide, aptr+"/call_plugin/decide", awhere+".call_plugin.decide")
			}
		}
	}
	if terminals == 0 {
		v.add("/workflow/states", "workflow.states: at least one state must be terminal: true (where a case ends)")
	}
}

// checkDecision checks a call_plugin's decide: every transition it names
// exists, leaves the state whose on_enter makes the call, and may be
// taken by the plugin actor.
func (v *validator) checkDecision(w Workflow, state string, d *Decision, ptr, where string) {
	for _, value := range sortedKeys(d.Transitions) {
		id := d.Transitions[value]
		vptr, vwhere := ptr+"/transitions/"+escapePtr(value), where+".transitions."+value
		var t *Transition
		for i := range w.Transitions {
			if w.Transitions[i].ID == id {
				t = &w.Transitions[i]
				break
			}
		}
		switch {
		case t == nil:
			v.add(vptr, "%s: there is no transition %q", vwhere, id)
		case t.From != state:
			v.add(vptr, "%s: transition %q leaves %q, not %q where the call is made", vwhere, id, t.From, state)
		case !slices.Contains(t.By, "plugin"):
			v.add(vptr, "%s: transition %q does not allow by: plugin", vwhere, id)
		}
	}
}

func (v *validator) checkDocuments(m *Manifest) {
	issued, set := map[string]bool{}, map[string]bool{}
	for _, s := range m.Workflow.States {
		for _, a := range s.OnEnter {
			if a.IssueDocument != nil {
				issued[a.IssueDocument.Document] = true
			}
			if a.SetReminder != nil {
				set[a.SetReminder.Reminder] = true
			}
		}
	}
	for _, id := range sortedKeys(m.Documents) {
		if !issued[id] {
			v.add("/documents/"+id, "documents.%s: no issue_document action issues this document", id)
		}
	}
	for _, id := range sortedKeys(m.Reminders) {
		r := m.Reminders[id]
		ptr := "/reminders/" + id
		if !set[id] {
			v.add(ptr, "reminders.%s: no set_reminder action sets this reminder", id)
		}
		switch {
		case (r.After == "") == (r.Before == ""):
			v.add(ptr, "reminders.%s: give either after (from when it is set) or before (with document: before it expires)", id)
		case r.Before != "":
			d, ok := m.Documents[r.Document]
			switch {
			case r.Document == "":
				v.add(ptr, "reminders.%s: before needs document: the document whose expiry it precedes", id)
			case !ok:
				v.add(ptr+"/document", "reminders.%s.document: there is no document %q under documents", id, r.Document)
			case d.ValidFor == "":
				v.add(ptr+"/document", "reminders.%s.document: document %q does not expire (it has no valid_for)", id, r.Document)
			}
		case r.Document != "":
			v.add(ptr+"/document", "reminders.%s.document: document is only used with before", id)
		}
	}
}

func (v *validator) checkRefs(ctx context.Context, m *Manifest, refs References) error {
	msg, err := refs.CheckAgency(ctx, m.Agency)
	if err != nil {
		return err
	}
	if msg != "" {
		v.add("/agency", "agency: %s", msg)
		return nil
	}
	for i, j := range m.Jurisdictions {
		msg, err := refs.CheckJurisdiction(ctx, m.Agency, j)
		if err != nil {
			return err
		}
		if msg != "" {
			v.add("/jurisdictions/"+strconv.Itoa(i), "jurisdictions[%d]: %s", i, msg)
		}
	}
	return nil
}
