package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Runtime is one published service version compiled once: its CEL
// programs (eligibility, each page's `when`, the fee, each transition's
// guard), all from the same environments, and the order of its pages and
// of each page's fields as the manifest wrote them. The catalog keeps one
// per (service id, version) and hands the same one to "services for you",
// the form engine and the workflow, so the three cannot disagree. A
// Runtime is immutable and safe for concurrent use.
type Runtime struct {
	ServiceID string
	Version   int
	Manifest  *Manifest

	eligibility cel.Program // nil: anyone may use the service; evaluated partially
	rule        []Condition // the eligibility rule's top-level && parts
	// requirements are what a person must meet, each decided on its own:
	// the manifest's rules with their reasons, or, for a rule given as
	// one expression, its top-level && parts without reasons.
	requirements []Requirement
	uses         map[string]bool
	when         map[string]cel.Program  // page id → its condition; absent: always shown
	fields       map[string][]string     // page id → property names in the manifest's order
	fee          cel.Program             // nil: a fixed amount or no fee
	guards       map[string][]Condition  // transition id → its guard's top-level && parts
	calls        map[string]compiledCall // plug-in use pointer → its compiled bindings
}

// Condition is one top-level part of a rule (a && b && c has three),
// compiled on its own so a rule that does not hold can say which part.
type Condition struct {
	Text string      // the part as CEL text
	Expr celast.Expr // the part's syntax, for plain-language explanations
	prg  cel.Program
}

// Inputs are the values a service's expressions read. Which of them an
// expression may use depends on where it stands (see celContext).
type Inputs struct {
	Person  Person
	Answers map[string]map[string]any // page id → property → value
	Payment Payment
	Now     time.Time
	// Case is the case a workflow's call_plugin is made for: id,
	// reference, service, state (plug-in action bindings only).
	Case map[string]any
	// Recorded are the values earlier call_plugin actions recorded on the
	// case (PluginAction.Record), by name (plug-in action bindings only).
	Recorded map[string]any
}

// Charge is a fee worked out for one application: minor units (cents)
// of Currency.
type Charge struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// CostLimit bounds one evaluation of any expression, so a manifest cannot
// spin on a large answer.
const CostLimit = 100_000

// Compile compiles a published manifest. The manifest was validated when
// published, so an error means stored data is damaged or the CEL library
// changed.
func Compile(id string, version int, m *Manifest) (*Runtime, error) {
	if m == nil {
		return nil, fmt.Errorf("manifest: compile %s@%d: no manifest", id, version)
	}
	r := &Runtime{ServiceID: id, Version: version, Manifest: m, uses: map[string]bool{},
		when: map[string]cel.Program{}, fields: map[string][]string{}, guards: map[string][]Condition{}}
	fail := func(what string, err error) (*Runtime, error) {
		return nil, fmt.Errorf("manifest: compile %s@%d: %s: %w", id, version, what, err)
	}
	if expr := m.Eligibility.Expression(); expr != "" {
		a, err := compileAST(ctxEligibility, expr)
		if err != nil {
			return fail("eligibility", err)
		}
		if r.eligibility, err = celEnvs[ctxEligibility].Program(a, cel.EvalOptions(cel.OptPartialEval), cel.CostLimit(CostLimit)); err != nil {
			return fail("eligibility", err)
		}
		celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
			if path := PersonPath(x); path != "" {
				r.uses[path] = true
			}
		}))
		if r.rule, err = conditions(ctxEligibility, a); err != nil {
			return fail("eligibility", err)
		}
		if r.requirements, err = requirements(m.Eligibility, r.rule); err != nil {
			return fail("eligibility", err)
		}
	}
	for _, p := range m.Pages {
		if p.When != "" {
			prg, err := program(ctxWhen, p.When)
			if err != nil {
				return fail("when of page "+p.ID, err)
			}
			r.when[p.ID] = prg
		}
		r.fields[p.ID] = fieldOrder(p)
	}
	if m.Fee != nil && m.Fee.Expression != "" {
		prg, err := program(ctxFee, m.Fee.Expression)
		if err != nil {
			return fail("fee", err)
		}
		r.fee = prg
	}
	calls, err := compileCalls(m)
	if err != nil {
		return fail("plug-in call", err)
	}
	r.calls = calls
	for _, t := range m.Workflow.Transitions {
		if t.Guard == "" {
			continue
		}
		a, err := compileAST(ctxGuard, t.Guard)
		if err != nil {
			return fail("guard of "+t.ID, err)
		}
		if r.guards[t.ID], err = conditions(ctxGuard, a); err != nil {
			return fail("guard of "+t.ID, err)
		}
	}
	return r, nil
}

func compileAST(c celContext, expr string) (*cel.Ast, error) {
	a, iss := celEnvs[c].Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	return a, nil
}

func program(c celContext, expr string) (cel.Program, error) {
	a, err := compileAST(c, expr)
	if err != nil {
		return nil, err
	}
	return celEnvs[c].Program(a, cel.CostLimit(CostLimit))
}

// conditions splits a rule into its top-level && parts, each compiled on
// its own from its text.
func conditions(c celContext, a *cel.Ast) ([]Condition, error) {
	var out []Condition
	for _, e := range splitAnd(a.NativeRep().Expr()) {
		text, err := cel.ExprToString(e, a.NativeRep().SourceInfo())
		if err != nil {
			return nil, err
		}
		prg, err := program(c, text)
		if err != nil {
			return nil, err
		}
		out = append(out, Condition{Text: text, Expr: e, prg: prg})
	}
	return out, nil
}

// splitAnd lists the top-level operands of a chain of &&.
func splitAnd(e celast.Expr) []celast.Expr {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == "_&&_" {
		var out []celast.Expr
		for _, arg := range e.AsCall().Args() {
			out = append(out, splitAnd(arg)...)
		}
		return out
	}
	return []celast.Expr{e}
}

// PersonPath returns "age", "residence.jurisdictions"… for a selection of
// person, or "".
func PersonPath(x celast.Expr) string {
	if x.Kind() != celast.SelectKind {
		return ""
	}
	sel := x.AsSelect()
	op := sel.Operand()
	switch {
	case op.Kind() == celast.IdentKind && op.AsIdent() == "person":
		return sel.FieldName()
	case op.Kind() == celast.SelectKind:
		if p := PersonPath(op); p != "" {
			return p + "." + sel.FieldName()
		}
	}
	return ""
}

func (in Inputs) activation() map[string]any {
	answers := in.Answers
	if answers == nil {
		answers = map[string]map[string]any{}
	}
	kase := in.Case
	if kase == nil {
		kase = map[string]any{}
	}
	recorded := in.Recorded
	if recorded == nil {
		recorded = map[string]any{}
	}
	return map[string]any{"person": in.Person, "now": in.Now, "answers": answers, "payment": in.Payment, "case": kase, "recorded": recorded}
}

// eval runs a compiled expression; CEL must not take the process down.
func eval(prg cel.Program, vars any) (v ref.Val, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	out, _, err := prg.Eval(vars)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Holds evaluates the condition. An error says why it could not be
// decided (an answer it reads is missing, the cost limit).
func (c Condition) Holds(in Inputs) (bool, error) {
	v, err := eval(c.prg, in.activation())
	if err != nil {
		return false, err
	}
	b, ok := v.Value().(bool)
	return ok && b, nil
}

// Verdict is the outcome of the eligibility rule for a person.
type Verdict int

// Verdicts.
const (
	Ineligible Verdict = iota
	Eligible
	// Undecided: the rule depends on a fact given as unknown.
	Undecided
)

// Eligibility decides the eligibility rule for person at now. unknown
// names facts of person the caller does not have ("age", "residence"): a
// rule that needs one of them is Undecided rather than decided on a zero
// value. A rule that fails at run time (a cost limit) is Ineligible with
// the error, so no one is told a service applies when it was not decided.
func (r *Runtime) Eligibility(person Person, now time.Time, unknown ...string) (Verdict, error) {
	if r.eligibility == nil {
		return Eligible, nil
	}
	var pats []*cel.AttributePatternType
	for _, u := range unknown {
		pats = append(pats, cel.AttributePattern("person").QualString(u))
	}
	vars, err := cel.PartialVars(map[string]any{"person": person, "now": now}, pats...)
	if err != nil {
		return Ineligible, err
	}
	out, err := eval(r.eligibility, vars)
	switch {
	case err != nil:
		return Ineligible, err
	case types.IsUnknown(out):
		return Undecided, nil
	case out == types.True:
		return Eligible, nil
	}
	return Ineligible, nil
}

// Requirement is one thing a person must meet to use a service: a rule of
// the manifest with its Reason, or one top-level part of a rule given as
// one expression (Reason nil).
type Requirement struct {
	Condition
	Reason  *Text
	partial cel.Program // evaluated with unknown facts
}

// requirements lists what a person must meet: the manifest's rules, or
// the parts of its one expression.
func requirements(e Eligibility, parts []Condition) ([]Requirement, error) {
	if len(e) == 1 && e[0].Reason == nil {
		out := make([]Requirement, 0, len(parts))
		for _, c := range parts {
			prg, err := partialProgram(c.Text)
			if err != nil {
				return nil, err
			}
			out = append(out, Requirement{Condition: c, partial: prg})
		}
		return out, nil
	}
	out := make([]Requirement, 0, len(e))
	for _, r := range e {
		a, err := compileAST(ctxEligibility, r.Rule)
		if err != nil {
			return nil, err
		}
		prg, err := celEnvs[ctxEligibility].Program(a, cel.CostLimit(CostLimit))
		if err != nil {
			return nil, err
		}
		partial, err := partialProgram(r.Rule)
		if err != nil {
			return nil, err
		}
		out = append(out, Requirement{Condition: Condition{Text: r.Rule, Expr: a.NativeRep().Expr(), prg: prg}, Reason: r.Reason, partial: partial})
	}
	return out, nil
}

func partialProgram(expr string) (cel.Program, error) {
	a, err := compileAST(ctxEligibility, expr)
	if err != nil {
		return nil, err
	}
	return celEnvs[ctxEligibility].Program(a, cel.EvalOptions(cel.OptPartialEval), cel.CostLimit(CostLimit))
}

// Requirements returns what a person must meet (none: anyone may use the
// service), in the manifest's order.
func (r *Runtime) Requirements() []Requirement { return r.requirements }

// Unmet is a requirement a person does not meet, or (Undecided) one
// that depends on a fact given as unknown.
type Unmet struct {
	Requirement
	Undecided bool
}

// Unmet returns the requirements person does not meet at now, in order.
// unknown names facts the caller does not have (as for Eligibility); a
// requirement that needs one is returned Undecided. A requirement that
// fails at run time counts as not met.
func (r *Runtime) Unmet(person Person, now time.Time, unknown ...string) []Unmet {
	var pats []*cel.AttributePatternType
	for _, u := range unknown {
		pats = append(pats, cel.AttributePattern("person").QualString(u))
	}
	vars, err := cel.PartialVars(map[string]any{"person": person, "now": now}, pats...)
	var out []Unmet
	for _, q := range r.requirements {
		if err != nil {
			out = append(out, Unmet{Requirement: q})
			continue
		}
		v, everr := eval(q.partial, vars)
		switch {
		case everr != nil:
			out = append(out, Unmet{Requirement: q})
		case types.IsUnknown(v):
			out = append(out, Unmet{Requirement: q, Undecided: true})
		case v != types.True:
			out = append(out, Unmet{Requirement: q})
		}
	}
	return out
}

// Rule returns the eligibility rule's top-level && parts (none: anyone).
func (r *Runtime) Rule() []Condition { return r.rule }

// RuleUses reports whether the eligibility rule reads the person fact at
// path ("age", "residence.jurisdictions").
func (r *Runtime) RuleUses(path string) bool { return r.uses[path] }

// Visible returns the ids of the pages shown for answers, in the
// manifest's order. A page's `when` sees the answers of the pages before
// it that are themselves shown, so a hidden page's leftover answers never
// steer the form. A condition that cannot be evaluated (it reads an
// answer not given yet) hides the page.
func (r *Runtime) Visible(answers map[string]map[string]any, person Person, now time.Time) []string {
	seen := map[string]map[string]any{}
	var out []string
	for _, p := range r.Manifest.Pages {
		if prg := r.when[p.ID]; prg != nil {
			ok, err := Condition{prg: prg}.Holds(Inputs{Person: person, Now: now, Answers: seen})
			if err != nil || !ok {
				continue
			}
		}
		out = append(out, p.ID)
		if a, ok := answers[p.ID]; ok {
			seen[p.ID] = a
		} else {
			seen[p.ID] = map[string]any{}
		}
	}
	return out
}

// Fee works out the fee for answers. ok is false when the service has
// none. Every page is present to the expression, answered or not, so an
// expression may test whether a page was answered. The fee is worked out
// once, when an application is submitted; later steps charge what was
// stored then.
func (r *Runtime) Fee(answers map[string]map[string]any, person Person, now time.Time) (c Charge, ok bool, err error) {
	f := r.Manifest.Fee
	if f == nil {
		return Charge{}, false, nil
	}
	if f.Amount != nil {
		return Charge{Amount: *f.Amount, Currency: f.Currency}, true, nil
	}
	if r.fee == nil {
		return Charge{}, false, fmt.Errorf("manifest: fee of %s@%d has neither amount nor expression", r.ServiceID, r.Version)
	}
	full := map[string]map[string]any{}
	for _, p := range r.Manifest.Pages {
		full[p.ID] = map[string]any{}
		if a, ok := answers[p.ID]; ok {
			full[p.ID] = a
		}
	}
	v, err := eval(r.fee, Inputs{Person: person, Now: now, Answers: full}.activation())
	if err != nil {
		return Charge{}, false, fmt.Errorf("manifest: fee of %s@%d: %w", r.ServiceID, r.Version, err)
	}
	n, isInt := v.Value().(int64)
	if !isInt || n < 0 {
		return Charge{}, false, fmt.Errorf("manifest: fee of %s@%d: got %v, want a whole amount of 0 or more", r.ServiceID, r.Version, v.Value())
	}
	return Charge{Amount: n, Currency: f.Currency}, true, nil
}

// Guard returns the top-level parts of transition id's guard (none: no
// guard).
func (r *Runtime) Guard(id string) []Condition { return r.guards[id] }

// Fields returns the properties of page id in the order the form asks
// them: the order the manifest wrote them (recorded at publishing, see
// Page.Order). A version published before the order was recorded asks
// the required properties first, in their order, then the rest by name.
func (r *Runtime) Fields(pageID string) []string { return r.fields[pageID] }

// fieldOrder is the order of a page's properties (see Runtime.Fields).
func fieldOrder(p Page) []string {
	var top struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	_ = json.NewDecoder(bytes.NewReader(p.Schema)).Decode(&top)
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{p.Order, top.Required} {
		for _, n := range list {
			if _, ok := top.Properties[n]; ok && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	var rest []string
	for n := range top.Properties {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
