package application

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// DefaultMaxBytes is the largest file a file field takes unless its
// manifest says otherwise.
const DefaultMaxBytes = 10 << 20

// Form is one published service version's form: its page schemas
// compiled (JSON Schema 2020-12) and its fields laid out, over the
// version's runtime, which decides eligibility, which pages are shown and
// the fee, the same way for the catalog and the workflow. It is immutable
// once built and shared by every request for that version.
type Form struct {
	ServiceID string
	Version   int
	AgencyID  string
	Manifest  *manifest.Manifest
	Pages     []*Page
	rt        *manifest.Runtime
}

// Page is one form page.
type Page struct {
	ID     string
	Title  manifest.Text
	Fields []*Field // in the order the manifest wrote them (manifest.Runtime.Fields)
	schema *jsonschema.Schema
}

// Field is one property of a page with how it is asked.
type Field struct {
	Name    string
	Label   manifest.Text
	Hint    *manifest.Text
	Widget  string
	Prefill string
	Type    string   // the JSON Schema type: string, integer, number, boolean, array, object
	Options []string // enum values as text (radios, select, checkboxes)
	// OptionLabels are the manifest's labels of the options, by value.
	OptionLabels map[string]manifest.Text
	Required     bool
	Parts        []string // address parts, in display order
	Accept       []string // file: content types taken
	MaxBytes     int64    // file: largest size taken
	// Dynamic: a plug-in gives the choices (the page's choices_from),
	// not the enum; LabelField is the page property the chosen label is
	// saved in ("" for none).
	Dynamic    bool
	LabelField string
}

// ID is the HTML id of the field's (first) input: property names may hold
// any character, ids may not.
func (f *Field) ID() string { return InputID(f.Name) }

// FirstInputID is the id of the field's first input, where links to the
// field land (error summary, "Change" on check your answers).
func (f *Field) FirstInputID() string {
	switch {
	case f.Widget == "date": // the first box in English; the page adjusts it for its language
		return InputID(f.Name + "-month")
	case f.Widget == "address" && len(f.Parts) > 0:
		return InputID(f.Name + "-" + f.Parts[0])
	case (f.Widget == "radios" || f.Widget == "checkboxes") && (len(f.Options) > 0 || f.Dynamic),
		f.Widget == "checkboxes" && f.Type == "boolean":
		return f.ID() + "-0"
	}
	return f.ID()
}

// InputID turns a form input name into a safe HTML id.
func InputID(name string) string {
	b := []byte("f-")
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// Runtime is the published version's runtime the form runs on.
func (f *Form) Runtime() *manifest.Runtime { return f.rt }

// Page returns the page with id, or nil.
func (f *Form) Page(id string) *Page {
	for _, p := range f.Pages {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// formCache keeps compiled forms per service version. Published versions
// never change, so an entry never goes stale; the number of entries is
// bounded by the number of versions ever published.
type formCache struct {
	mu    sync.Mutex
	forms map[string]*Form
}

func newFormCache() *formCache { return &formCache{forms: map[string]*Form{}} }

// lookup returns the compiled form of a version if it is cached, so
// callers skip reading and decoding the stored manifest.
func (c *formCache) lookup(id string, version int) (*Form, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.forms[fmt.Sprintf("%s@%d", id, version)]
	return f, ok
}

func (c *formCache) get(p catalog.Published, runtimes Services) (*Form, error) {
	if f, ok := c.lookup(p.ID, p.Version); ok {
		return f, nil
	}
	key := fmt.Sprintf("%s@%d", p.ID, p.Version)
	rt, err := runtimes.RuntimeOf(p)
	if err != nil {
		return nil, err
	}
	f, err := Compile(rt)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.forms[key] = f
	c.mu.Unlock()
	return f, nil
}

// Compile builds the form of a published service version over its
// runtime. The manifest was validated when published, so an error here
// means stored data is damaged.
func Compile(rt *manifest.Runtime) (*Form, error) {
	m := rt.Manifest
	f := &Form{ServiceID: rt.ServiceID, Version: rt.Version, AgencyID: m.Agency, Manifest: m, rt: rt}
	for _, mp := range m.Pages {
		page, err := compilePage(mp, rt.Fields(mp.ID))
		if err != nil {
			return nil, fmt.Errorf("application: compile %s@%d page %s: %w", rt.ServiceID, rt.Version, mp.ID, err)
		}
		f.Pages = append(f.Pages, page)
	}
	return f, nil
}

// propSchema is the part of a property's schema the form engine reads.
type propSchema struct {
	Type       any                        `json:"type"`
	Format     string                     `json:"format"`
	Enum       []any                      `json:"enum"`
	Items      *propSchema                `json:"items"`
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

func (ps propSchema) typeName() string {
	switch t := ps.Type.(type) {
	case string:
		return t
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && s != "null" {
				return s
			}
		}
	}
	return ""
}

func compilePage(mp manifest.Page, order []string) (*Page, error) {
	p := &Page{ID: mp.ID, Title: mp.Title}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mp.Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat() // a date must be a real date, an email an address
	c.UseLoader(refuseLoader{})
	url := "mem:///" + mp.ID + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	if p.schema, err = c.Compile(url); err != nil {
		return nil, err
	}
	if p.Fields, err = describeFields(mp, order); err != nil {
		return nil, err
	}
	return p, nil
}

// describeFields lays out a page's properties in order with how each is
// asked (its widget, options, address parts), from the page's schema and
// the manifest's hints.
func describeFields(mp manifest.Page, order []string) ([]*Field, error) {
	var top propSchema
	if err := json.Unmarshal(mp.Schema, &top); err != nil {
		return nil, err
	}
	var out []*Field
	for _, name := range order {
		if c := mp.ChoicesFrom; c != nil && c.LabelField == name {
			continue // saved from the choice, never asked (SavePage)
		}
		var ps propSchema
		_ = json.Unmarshal(top.Properties[name], &ps)
		fd := newField(name, ps, mp.Fields[name], slices.Contains(top.Required, name))
		if c := mp.ChoicesFrom; c != nil && c.Field == name {
			fd.Dynamic, fd.LabelField = true, c.LabelField
		}
		out = append(out, fd)
	}
	return out, nil
}

// refuseLoader keeps page schemas from loading anything (the manifest
// validator already refused such schemas at publishing).
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) { return nil, fmt.Errorf("%s: not loaded", url) }

// partOrder orders the parts of an address: the usual ones in their
// usual order, then any others by name.
func partOrder(props map[string]json.RawMessage) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range addressOrder {
		if _, ok := props[n]; ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var rest []string
	for n := range props {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// addressOrder is the order of the usual address parts.
var addressOrder = []string{"line1", "line2", "street", "city", "state", "zip"}

func newField(name string, ps propSchema, hint manifest.Field, required bool) *Field {
	f := &Field{Name: name, Label: hint.Label, Hint: hint.Hint, Widget: hint.Widget, Prefill: hint.Prefill, Type: ps.typeName(), Required: required,
		OptionLabels: hint.Options}
	if f.Label.EN == "" { // a property without presentation hints
		f.Label = manifest.Text{EN: name, ES: name}
	}
	enum := ps.Enum
	if f.Type == "array" && ps.Items != nil {
		enum = ps.Items.Enum
	}
	for _, e := range enum {
		f.Options = append(f.Options, fmt.Sprint(e))
	}
	if f.Widget == "" {
		f.Widget = defaultWidget(ps, f.Type)
	}
	if f.Widget == "address" {
		if len(ps.Properties) == 0 {
			f.Parts = []string{"line1", "line2", "city", "state", "zip"}
		} else {
			f.Parts = partOrder(ps.Properties)
		}
	}
	if f.Widget == "file" {
		f.MaxBytes = hint.MaxBytes
		if f.MaxBytes == 0 {
			f.MaxBytes = DefaultMaxBytes
		}
		kinds := hint.Accept
		if len(kinds) == 0 {
			kinds = []string{"pdf", "jpeg", "png"}
		}
		for _, k := range kinds {
			f.Accept = append(f.Accept, manifest.FileKinds[k])
		}
	}
	return f
}

// defaultWidget picks a widget for a property the manifest gave no hints for.
func defaultWidget(ps propSchema, typ string) string {
	switch {
	case typ == "string" && ps.Format == "date":
		return "date"
	case typ == "string" && ps.Format == "email":
		return "email"
	case (typ == "string" || typ == "integer") && len(ps.Enum) > 0:
		return "radios"
	case typ == "integer" || typ == "number":
		return "number"
	case typ == "boolean" || typ == "array":
		return "checkboxes"
	case typ == "object":
		return "address"
	}
	return "text"
}

// Person builds the CEL `person` of an applicant at now, as every block
// builds it (manifest.PersonOf).
func (a Applicant) Person(now time.Time) manifest.Person {
	p, _ := manifest.PersonOf(manifest.Facts{DateOfBirth: a.DateOfBirth, Language: a.Lang, ZIP: a.Residential.ZIP,
		Jurisdictions: a.Jurisdictions}, now)
	return p
}

// Visible returns the pages shown for answers, in order (see
// manifest.Runtime.Visible).
func (f *Form) Visible(answers map[string]map[string]any, person manifest.Person, now time.Time) []*Page {
	var out []*Page
	for _, id := range f.rt.Visible(answers, person, now) {
		out = append(out, f.Page(id))
	}
	return out
}

// Eligible reports whether person may apply, by the manifest's
// eligibility expression. An expression that cannot be evaluated for the
// person counts as not eligible: the start page then says why not to apply
// rather than letting a case open that will be refused.
func (f *Form) Eligible(person manifest.Person, now time.Time) bool {
	v, err := f.rt.Eligibility(person, now)
	return err == nil && v == manifest.Eligible
}

// Fee works out the fee for answers; ok is false when the service has no
// fee. Submit stores it with the application, and the case charges that.
func (f *Form) Fee(answers map[string]map[string]any, person manifest.Person, now time.Time) (fee manifest.Charge, ok bool, err error) {
	fee, ok, err = f.rt.Fee(answers, person, now)
	if err != nil {
		return fee, false, fmt.Errorf("application: %w", err)
	}
	return fee, ok, nil
}
