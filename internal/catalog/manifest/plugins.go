package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"google.golang.org/protobuf/types/known/structpb"
)

// PluginUse is one place a manifest names a plug-in operation.
type PluginUse struct {
	// Pointer is the JSON pointer of the use in the manifest
	// ("/pages/1/prefill_from", "/fee/call",
	// "/workflow/states/renewed/on_enter/0/call_plugin"): the key
	// Runtime.PluginRequest takes.
	Pointer string
	// Where names it for people ("pages[1].prefill_from").
	Where string
	// Kind is what the call is for: "prefill", "check", "choices", "fee"
	// or "action".
	Kind              string
	Plugin, Operation string
	Data              []string
	// Page is the page of a prefill or check; State the state whose
	// on_enter makes a call_plugin action.
	Page, State string
	Bindings    Bindings
	// Fields maps a prefill's page properties to response properties.
	Fields map[string]string
}

// Use kinds.
const (
	UsePrefill = "prefill"
	UseCheck   = "check"
	UseChoices = "choices"
	UseFee     = "fee"
	UseAction  = "action"
)

// PluginUses lists every plug-in operation m names, in manifest order:
// pages (prefill, check, then choices), the fee, then workflow states by
// name.
func PluginUses(m *Manifest) []PluginUse {
	var out []PluginUse
	for i, p := range m.Pages {
		ptr := "/pages/" + strconv.Itoa(i)
		for _, c := range []struct {
			key, kind string
			call      *PluginCall
		}{{"prefill_from", UsePrefill, p.PrefillFrom}, {"check", UseCheck, p.Check}, {"choices_from", UseChoices, p.ChoicesFrom}} {
			if c.call != nil {
				pl, op := c.call.Split()
				out = append(out, PluginUse{Pointer: ptr + "/" + c.key, Where: pathOf(ptr + "/" + c.key), Kind: c.kind,
					Plugin: pl, Operation: op, Data: c.call.Data, Page: p.ID, Bindings: c.call.Bindings, Fields: c.call.Fields})
			}
		}
	}
	if m.Fee != nil && m.Fee.Call != nil {
		pl, op := m.Fee.Call.Split()
		out = append(out, PluginUse{Pointer: "/fee/call", Where: "fee.call", Kind: UseFee, Plugin: pl, Operation: op, Data: m.Fee.Call.Data, Bindings: m.Fee.Call.Bindings})
	}
	for _, name := range sortedKeys(m.Workflow.States) {
		for j, a := range m.Workflow.States[name].OnEnter {
			if a.CallPlugin == nil {
				continue
			}
			ptr := "/workflow/states/" + escapePtr(name) + "/on_enter/" + strconv.Itoa(j) + "/call_plugin"
			out = append(out, PluginUse{Pointer: ptr, Where: fmt.Sprintf("workflow.states.%s.on_enter[%d].call_plugin", name, j), Kind: UseAction,
				Plugin: a.CallPlugin.Plugin, Operation: a.CallPlugin.Operation, Data: a.CallPlugin.Data, State: name, Bindings: a.CallPlugin.Bindings})
		}
	}
	return out
}

// checkBindings compiles a use's request bindings: path and query values
// must give a string or an int, body values anything; answers read must
// be of pages the call may see (earlier pages for a prefill or choices,
// earlier pages and its own for a check, every page for the fee and
// actions).
func (v *validator) checkBindings(m *Manifest, u PluginUse) {
	c := ctxPlugin
	if u.Kind == UseAction {
		c = ctxAction
	}
	pages := pageProps{}
	for _, p := range m.Pages {
		if p.ID == u.Page && (u.Kind == UsePrefill || u.Kind == UseChoices) {
			break
		}
		pages[p.ID] = propsOf(p.Schema)
		if p.ID == u.Page {
			break
		}
	}
	recorded := RecordedNames(m)
	for _, part := range []struct {
		key    string
		m      map[string]string
		scalar bool
	}{{"path", u.Bindings.Path, true}, {"query", u.Bindings.Query, true}, {"body", u.Bindings.Body, false}} {
		for _, k := range sortedKeys(part.m) {
			for _, msg := range checkBinding(c, part.m[k], part.scalar, pages, recorded) {
				v.add(u.Pointer+"/"+part.key+"/"+escapePtr(k), "%s.%s.%s: %s", u.Where, part.key, k, msg)
			}
		}
	}
}

// RecordedNames is the set of names m's call_plugin actions record.
func RecordedNames(m *Manifest) map[string]bool {
	out := map[string]bool{}
	for _, st := range m.Workflow.States {
		for _, a := range st.OnEnter {
			if a.CallPlugin != nil {
				for name := range a.CallPlugin.Record {
					out[name] = true
				}
			}
		}
	}
	return out
}

// checkRecords checks what the workflow records and forgets, and the
// appointment read from it: every name forgotten or read is recorded by
// some call_plugin action, and the appointment's place is a page
// property asked with options.
func (v *validator) checkRecords(m *Manifest) {
	recorded := RecordedNames(m)
	for _, name := range sortedKeys(m.Workflow.States) {
		for j, a := range m.Workflow.States[name].OnEnter {
			if a.CallPlugin == nil {
				continue
			}
			ptr := "/workflow/states/" + escapePtr(name) + "/on_enter/" + strconv.Itoa(j) + "/call_plugin"
			where := fmt.Sprintf("workflow.states.%s.on_enter[%d].call_plugin", name, j)
			for i, f := range a.CallPlugin.Forget {
				if !recorded[f] {
					v.add(ptr+"/forget/"+strconv.Itoa(i), "%s.forget: no call_plugin records %q (record: {%s: PROPERTY})", where, f, f)
				}
			}
		}
	}
	ap := m.Appointment
	if ap == nil {
		return
	}
	for _, f := range []struct{ key, name string }{{"starts_at", ap.StartsAt}, {"ends_at", ap.EndsAt}} {
		if f.name != "" && !recorded[f.name] {
			v.add("/appointment/"+f.key, "appointment.%s: no call_plugin records %q", f.key, f.name)
		}
	}
	if ap.Place == "" {
		return
	}
	page, prop, _ := strings.Cut(ap.Place, ".")
	for _, p := range m.Pages {
		if p.ID != page {
			continue
		}
		if !propsOf(p.Schema)[prop] {
			break
		}
		if len(p.Fields[prop].Options) == 0 {
			v.add("/appointment/place", "appointment.place: %s is not asked with options naming places", ap.Place)
		}
		return
	}
	v.add("/appointment/place", "appointment.place: there is no page property %s", ap.Place)
}

// checkBinding compiles one binding expression.
func checkBinding(c celContext, expr string, scalar bool, pages pageProps, recorded map[string]bool) (msgs []string) {
	defer func() {
		if r := recover(); r != nil {
			msgs = []string{fmt.Sprintf("the expression could not be compiled (%v)", r)}
		}
	}()
	a, iss := celEnvs[c].Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			msgs = append(msgs, "CEL: "+e.Message)
		}
		return msgs
	}
	if got := a.OutputType(); scalar && !got.IsExactType(cel.StringType) && !got.IsExactType(cel.IntType) && !got.IsExactType(cel.DynType) {
		msgs = append(msgs, fmt.Sprintf("the expression gives %s; it must give a string or an int", typeName(got)))
	}
	for _, name := range recordedRefs(a.NativeRep().Expr()) {
		if !recorded[name] {
			msgs = append(msgs, fmt.Sprintf("recorded.%s: no call_plugin records %q (record: {%s: PROPERTY})", name, name, name))
		}
	}
	return append(msgs, checkAnswerRefs(a, pages)...)
}

// checkPluginUses checks every plug-in operation the manifest names: that
// a prefill names fields of its page, and, against the plug-in registry,
// that the operation exists, is enabled for the service's agency, and
// that the data the call carries is declared here and approved there.
// Without a registry a use is a problem: nothing could call it.
func (v *validator) checkPluginUses(ctx context.Context, m *Manifest, refs PluginRefs) error {
	for i, p := range m.Pages {
		if c := p.Check; c != nil {
			ptr := "/pages/" + strconv.Itoa(i) + "/check"
			if c.Field != "" && !propsOf(p.Schema)[c.Field] {
				v.add(ptr+"/field", "pages[%d].check.field: the page's schema has no property %q", i, c.Field)
			}
			if len(c.Fields) > 0 {
				v.add(ptr+"/fields", "pages[%d].check: fields maps a prefill's response; a check names the page's property it is about in field", i)
			}
		}
		v.checkChoices(i, p)
		if p.PrefillFrom == nil {
			continue
		}
		props := propsOf(p.Schema)
		if p.PrefillFrom.Field != "" {
			v.add("/pages/"+strconv.Itoa(i)+"/prefill_from/field", "pages[%d].prefill_from: field belongs to a check (a prefill maps its response in fields)", i)
		}
		for _, f := range sortedKeys(p.PrefillFrom.Fields) {
			if !props[f] {
				v.add("/pages/"+strconv.Itoa(i)+"/prefill_from/fields/"+escapePtr(f), "pages[%d].prefill_from.fields.%s: the page's schema has no property %q", i, f, f)
			}
		}
	}
	for _, u := range PluginUses(m) {
		v.checkBindings(m, u)
		if u.Operation == "" {
			v.add(u.Pointer, "%s: name the operation as plugin/operation, such as vehicle-registry/find-vehicle", u.Where)
			continue
		}
		if refs == nil {
			v.add(u.Pointer, "%s: plug-in operation %s/%s can be checked only against the plug-in registry; `portico service validate` with the database (--data or --db) checks it", u.Where, u.Plugin, u.Operation)
			continue
		}
		data := slices.Clone(u.Data)
		msg, err := refs.CheckPluginUse(ctx, m.Agency, m.ID, u.Plugin, u.Operation, data)
		if err != nil {
			return err
		}
		if msg != "" {
			v.add(u.Pointer, "%s: %s/%s: %s", u.Where, u.Plugin, u.Operation, msg)
		}
	}
	return nil
}

// checkChoices checks page i's choices_from: it names the page's string
// property it fills (asked with radios or select, whose enum it replaces),
// where the list is in the response and what in each item gives a
// choice's value and label; label_field, if any, is another string
// property of the page, which the form does not ask.
func (v *validator) checkChoices(i int, p Page) {
	c := p.ChoicesFrom
	if c == nil {
		return
	}
	ptr, where := "/pages/"+strconv.Itoa(i)+"/choices_from", fmt.Sprintf("pages[%d].choices_from", i)
	props := propsOf(p.Schema)
	types := propTypes(p.Schema)
	switch {
	case c.Field == "":
		v.add(ptr, "%s: name the page's property whose choices it gives in field", where)
	case !props[c.Field]:
		v.add(ptr+"/field", "%s.field: the page's schema has no property %q", where, c.Field)
	case types[c.Field] != "string":
		v.add(ptr+"/field", "%s.field: %s must be a string property (the chosen item's value)", where, c.Field)
	case p.Fields[c.Field].Widget != "radios" && p.Fields[c.Field].Widget != "select":
		v.add(ptr+"/field", "%s.field: %s must be asked with radios or select", where, c.Field)
	}
	for _, k := range []struct{ key, val string }{{"items", c.Items}, {"value", c.Value}, {"label", c.Label}} {
		if k.val == "" {
			v.add(ptr, "%s: name the response's %s (see docs/services.md, \"Choices from a plug-in\")", where, k.key)
		}
	}
	if c.LabelField != "" {
		switch {
		case !props[c.LabelField]:
			v.add(ptr+"/label_field", "%s.label_field: the page's schema has no property %q", where, c.LabelField)
		case types[c.LabelField] != "string" || c.LabelField == c.Field:
			v.add(ptr+"/label_field", "%s.label_field: %s must be another string property of the page", where, c.LabelField)
		}
		if _, asked := p.Fields[c.LabelField]; asked {
			v.add(ptr+"/label_field", "%s.label_field: %s is saved from the choice, not asked: give it no fields entry", where, c.LabelField)
		}
	}
	if len(c.Fields) > 0 {
		v.add(ptr+"/fields", "%s: fields maps a prefill's response; choices name one field", where)
	}
	for _, other := range []*PluginCall{p.PrefillFrom, p.Check} {
		if other != nil && (other.Items != "" || other.Value != "" || other.Label != "" || other.LabelField != "") {
			v.add("/pages/"+strconv.Itoa(i), "pages[%d]: items, value, label and label_field belong to choices_from", i)
		}
	}
}

// propTypes maps a page schema's properties to their JSON Schema type
// ("" when it names none or several).
func propTypes(schema []byte) map[string]string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	out := map[string]string{}
	if json.Unmarshal(schema, &s) != nil {
		return out
	}
	for k, p := range s.Properties {
		t, _ := p.Type.(string)
		out[k] = t
	}
	return out
}

// UsesPlugins reports whether m names any plug-in operation.
func UsesPlugins(m *Manifest) bool { return len(PluginUses(m)) > 0 }

// compiledCall is a plug-in use's bindings, compiled.
type compiledCall struct {
	use               PluginUse
	path, query, body map[string]cel.Program
	recorded          []string // recorded names the bindings read
}

func compileCalls(m *Manifest) (map[string]compiledCall, error) {
	out := map[string]compiledCall{}
	for _, u := range PluginUses(m) {
		c := ctxPlugin
		if u.Kind == UseAction {
			c = ctxAction
		}
		cc := compiledCall{use: u, path: map[string]cel.Program{}, query: map[string]cel.Program{}, body: map[string]cel.Program{}}
		for _, part := range []struct {
			exprs map[string]string
			into  map[string]cel.Program
		}{{u.Bindings.Path, cc.path}, {u.Bindings.Query, cc.query}, {u.Bindings.Body, cc.body}} {
			for k, expr := range part.exprs {
				a, err := compileAST(c, expr)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", u.Where, k, err)
				}
				prg, err := celEnvs[c].Program(a, cel.CostLimit(CostLimit))
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", u.Where, k, err)
				}
				part.into[k] = prg
				for _, name := range recordedRefs(a.NativeRep().Expr()) {
					if !slices.Contains(cc.recorded, name) {
						cc.recorded = append(cc.recorded, name)
					}
				}
			}
		}
		out[u.Pointer] = cc
	}
	return out, nil
}

// PluginRequest is what a plug-in use's bindings give for one set of
// inputs: the operation path's parameters, query parameters, and the
// JSON body (nil when the use binds no body property).
type PluginRequest struct {
	Use   PluginUse
	Path  map[string]string
	Query url.Values
	Body  map[string]any
}

// PluginUses lists the version's plug-in uses (see PluginUses).
func (r *Runtime) PluginUses() []PluginUse { return PluginUses(r.Manifest) }

// RecordedReads lists the recorded names the bindings of the use at
// pointer read: a call that reads one not (yet) recorded on the case
// cannot be made.
func (r *Runtime) RecordedReads(pointer string) []string {
	return slices.Clone(r.calls[pointer].recorded)
}

// PluginRequest evaluates the bindings of the use at pointer (a
// PluginUse's Pointer) over in. An answer a binding reads that is
// missing, or a path or query value that is not a string or an int, is
// an error: the call cannot be made.
func (r *Runtime) PluginRequest(pointer string, in Inputs) (PluginRequest, error) {
	cc, ok := r.calls[pointer]
	if !ok {
		return PluginRequest{}, fmt.Errorf("manifest: %s@%d has no plug-in use at %s", r.ServiceID, r.Version, pointer)
	}
	act := in.activation()
	req := PluginRequest{Use: cc.use, Path: map[string]string{}, Query: url.Values{}}
	scalar := func(where, k string, prg cel.Program) (string, error) {
		v, err := eval(prg, act)
		if err != nil {
			return "", fmt.Errorf("manifest: %s.%s.%s: %w", cc.use.Where, where, k, err)
		}
		switch x := v.Value().(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case uint64:
			return strconv.FormatUint(x, 10), nil
		}
		return "", fmt.Errorf("manifest: %s.%s.%s: got %v, want a string or an int", cc.use.Where, where, k, v.Value())
	}
	for k, prg := range cc.path {
		s, err := scalar("path", k, prg)
		if err != nil {
			return PluginRequest{}, err
		}
		req.Path[k] = s
	}
	for k, prg := range cc.query {
		s, err := scalar("query", k, prg)
		if err != nil {
			return PluginRequest{}, err
		}
		req.Query.Set(k, s)
	}
	if len(cc.body) > 0 {
		req.Body = map[string]any{}
		for k, prg := range cc.body {
			v, err := eval(prg, act)
			if err != nil {
				return PluginRequest{}, fmt.Errorf("manifest: %s.body.%s: %w", cc.use.Where, k, err)
			}
			pv, err := v.ConvertToNative(reflect.TypeFor[*structpb.Value]())
			if err != nil {
				return PluginRequest{}, fmt.Errorf("manifest: %s.body.%s: %w", cc.use.Where, k, err)
			}
			req.Body[k] = pv.(*structpb.Value).AsInterface()
		}
	}
	return req, nil
}

// PluginData returns, for each plug-in that m's pages, fee and workflow
// use, the union of the personal data those uses carry (sorted, in the
// plug-in data vocabulary). A plug-in used without data maps to an empty
// list. The consent screen asks a person to share exactly this.
func PluginData(m *Manifest) map[string][]string {
	out := map[string][]string{}
	for _, u := range PluginUses(m) {
		pl := u.Plugin
		if pl == "" {
			continue
		}
		d := out[pl]
		if d == nil {
			d = []string{}
		}
		for _, x := range u.Data {
			if !slices.Contains(d, x) {
				d = append(d, x)
			}
		}
		slices.Sort(d)
		out[pl] = d
	}
	return out
}

// Contact is what a person's profile gives a plug-in call: the facts of
// the plug-in data vocabulary (name, date_of_birth, email, phone,
// address). The applying and casework blocks each fill it from the
// applicant they know.
type Contact struct {
	Name        string
	DateOfBirth string // YYYY-MM-DD or ""
	Email       string
	Phone       string
	Address     PostalAddress // where they live
}

// PostalAddress is a postal address, with the fields both blocks keep.
type PostalAddress struct {
	Line1, Line2, City, State, ZIP string
}

// NeedsContact reports whether any of names is a profile fact (anything
// but answers:SERVICE), so a caller reads the profile only when a call
// carries one.
func NeedsContact(names []string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, "answers:") {
			return true
		}
	}
	return false
}

// CallData gives the values of the data names a call to a plug-in
// carries for service, with claims shaped as OpenID Connect's (address as
// its address claim). answers:SERVICE is answers, and only for the
// service making the call: a name outside the vocabulary, or the answers
// of another service, is an error.
func CallData(c Contact, service string, answers map[string]map[string]any, names []string) (map[string]any, error) {
	out := map[string]any{}
	for _, n := range names {
		switch n {
		case "name":
			out[n] = c.Name
		case "date_of_birth":
			out[n] = c.DateOfBirth
		case "email":
			out[n] = c.Email
		case "phone":
			out[n] = c.Phone
		case "address":
			a := c.Address
			var street []string
			for _, l := range []string{a.Line1, a.Line2} {
				if l = strings.TrimSpace(l); l != "" {
					street = append(street, l)
				}
			}
			out[n] = map[string]any{"street_address": strings.Join(street, "\n"), "locality": a.City, "region": a.State,
				"postal_code": a.ZIP, "country": "US"}
		default:
			svc, ok := strings.CutPrefix(n, "answers:")
			if !ok || svc != service {
				return nil, fmt.Errorf("manifest: a call for %s cannot carry %q", service, n)
			}
			out[n] = maps.Clone(answers)
		}
	}
	return out, nil
}
