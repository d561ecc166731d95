package casework

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// This file is the workflow engine: pure functions over a manifest's
// workflow, a case and who is acting. It touches no storage; work.go runs
// its decisions inside transactions.

// Kinds of actor, as a transition's `by` names them (staff act through
// their roles).
const (
	ActorCitizen = "citizen"
	ActorStaff   = "staff"
	ActorSystem  = "system"
	ActorPlugin  = "plugin"
)

// Actor is who wants to take a transition: a kind and, for staff, their
// roles in the case's agency.
type Actor struct {
	Kind  string
	Roles []string
}

// Staff returns a staff actor with roles.
func Staff(roles ...string) Actor { return Actor{Kind: ActorStaff, Roles: roles} }

// may reports whether t names the actor in its by list.
func (a Actor) may(t manifest.Transition) bool {
	if a.Kind != ActorStaff {
		return slices.Contains(t.By, a.Kind)
	}
	for _, r := range a.Roles {
		if slices.Contains(t.By, r) {
			return true
		}
	}
	return false
}

// Inputs are the values workflow guards and fee expressions read.
type Inputs struct {
	Person  manifest.Person
	Answers map[string]map[string]any // page id → property → value
	Payment manifest.Payment
	Now     time.Time
}

// Reason says in plain words why something cannot be done. Key is a
// message key (case.reason.*) in the i18n catalogues; Args fill it.
type Reason struct {
	Key  string
	Args []any
}

// English is the reason in English, for logs, errors and golden files; the
// pages translate Key.
func (r Reason) English() string {
	return fmt.Sprintf(reasonEnglish[r.Key], r.Args...)
}

// reasonEnglish mirrors the English catalogue (internal/i18n/messages/
// casework.en.json), so errors read well where there is no page.
var reasonEnglish = map[string]string{
	"case.reason.closed":    "the case is closed",
	"case.reason.nosuch":    "there is no step %q from the state %q",
	"case.reason.notyours":  "your role may not take this step",
	"case.reason.unpaid":    "the fee has not been paid yet",
	"case.reason.paid":      "the fee has already been paid",
	"case.reason.condition": "this condition does not hold: %s",
	"case.reason.unknown":   "this condition could not be checked (%s): %s",
}

// Refusal is the error for a step that may not be taken. It is wrapped in
// a platform.Error with CodeConflict, so an edge shows it instead of failing.
type Refusal struct{ Reason Reason }

func (r *Refusal) Error() string { return r.Reason.English() }

func refuse(key string, args ...any) error {
	r := &Refusal{Reason{Key: key, Args: args}}
	return &platform.Error{Code: platform.CodeConflict, Message: r.Error(), Err: r}
}

// Option is a transition from a state that an actor may take, now or once
// Blocked (the guard's failing parts) is resolved.
type Option struct {
	Transition manifest.Transition
	Blocked    []Reason // empty: it may be taken now
}

// Workflow is a service version's workflow with its guard and fee
// expressions compiled once. It is safe for concurrent use.
type Workflow struct {
	Service  string
	Version  int
	Manifest *manifest.Manifest
	guards   map[string][]conjunct // transition id → its guard's top-level && parts
	fee      cel.Program           // nil without a fee expression
}

// conjunct is one top-level part of a guard (a && b && c gives three), so
// that a failing guard can name exactly what fails.
type conjunct struct {
	text string
	prg  cel.Program
}

// Engine compiles workflows and keeps them per service version: published
// versions never change, so a compiled one is good for the process.
type Engine struct {
	mu    sync.Mutex
	cache map[string]*Workflow
}

// NewEngine returns an empty engine.
func NewEngine() *Engine { return &Engine{cache: map[string]*Workflow{}} }

// Workflow returns the compiled workflow of service id at version.
func (e *Engine) Workflow(id string, version int, m *manifest.Manifest) (*Workflow, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	e.mu.Lock()
	defer e.mu.Unlock()
	if w, ok := e.cache[key]; ok {
		return w, nil
	}
	w, err := Compile(id, version, m)
	if err != nil {
		return nil, err
	}
	e.cache[key] = w
	return w, nil
}

// Compile compiles m's guards and fee expression. A published manifest
// has been validated, so an error here is a bug or a changed CEL library.
func Compile(id string, version int, m *manifest.Manifest) (*Workflow, error) {
	env, _ := manifest.Env("guard")
	w := &Workflow{Service: id, Version: version, Manifest: m, guards: map[string][]conjunct{}}
	for _, t := range m.Workflow.Transitions {
		if t.Guard == "" {
			continue
		}
		a, iss := env.Compile(t.Guard)
		if iss != nil && iss.Err() != nil {
			return nil, fmt.Errorf("casework: %s@%d: guard of %s: %w", id, version, t.ID, iss.Err())
		}
		var parts []conjunct
		for _, e := range splitAnd(a.NativeRep().Expr()) {
			text, err := cel.ExprToString(e, a.NativeRep().SourceInfo())
			if err != nil {
				return nil, fmt.Errorf("casework: %s@%d: guard of %s: %w", id, version, t.ID, err)
			}
			pa, iss := env.Compile(text)
			if iss != nil && iss.Err() != nil {
				return nil, fmt.Errorf("casework: %s@%d: guard of %s: %w", id, version, t.ID, iss.Err())
			}
			prg, err := env.Program(pa, cel.CostLimit(celCostLimit))
			if err != nil {
				return nil, fmt.Errorf("casework: %s@%d: guard of %s: %w", id, version, t.ID, err)
			}
			parts = append(parts, conjunct{text: text, prg: prg})
		}
		w.guards[t.ID] = parts
	}
	if m.Fee != nil && m.Fee.Expression != "" {
		fenv, _ := manifest.Env("fee")
		a, iss := fenv.Compile(m.Fee.Expression)
		if iss != nil && iss.Err() != nil {
			return nil, fmt.Errorf("casework: %s@%d: fee: %w", id, version, iss.Err())
		}
		prg, err := fenv.Program(a, cel.CostLimit(celCostLimit))
		if err != nil {
			return nil, fmt.Errorf("casework: %s@%d: fee: %w", id, version, err)
		}
		w.fee = prg
	}
	return w, nil
}

// celCostLimit bounds one evaluation, so a manifest's expression cannot
// spin on a large answer.
const celCostLimit = 100_000

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

func (in Inputs) activation() map[string]any {
	answers := in.Answers
	if answers == nil {
		answers = map[string]map[string]any{}
	}
	return map[string]any{"person": in.Person, "now": in.Now, "answers": answers, "payment": in.Payment}
}

// eval runs a compiled expression; CEL must not take the process down.
func eval(prg cel.Program, act map[string]any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	out, _, err := prg.Eval(act)
	if err != nil {
		return nil, err
	}
	return out.Value(), nil
}

// blocked evaluates t's guard and returns the reasons it fails (none: the
// guard holds or there is none).
func (w *Workflow) blocked(t manifest.Transition, in Inputs) []Reason {
	parts := w.guards[t.ID]
	if len(parts) == 0 {
		return nil
	}
	act := in.activation()
	var out []Reason
	for _, p := range parts {
		v, err := eval(p.prg, act)
		if err != nil {
			out = append(out, Reason{Key: "case.reason.unknown", Args: []any{err.Error(), p.text}})
			continue
		}
		if b, ok := v.(bool); ok && b {
			continue
		}
		switch p.text {
		case "payment.paid":
			out = append(out, Reason{Key: "case.reason.unpaid"})
		case "!payment.paid":
			out = append(out, Reason{Key: "case.reason.paid"})
		default:
			out = append(out, Reason{Key: "case.reason.condition", Args: []any{p.text}})
		}
	}
	return out
}

// Options lists the transitions out of state that a may take, each with
// the reasons (if any) its guard does not hold yet. Transitions for other
// actors are left out: they are not a's to take.
func (w *Workflow) Options(state string, a Actor, in Inputs) []Option {
	if w.Manifest.Workflow.States[state].Terminal {
		return nil
	}
	var out []Option
	for _, t := range w.Manifest.Workflow.Transitions {
		if t.From != state || !a.may(t) {
			continue
		}
		out = append(out, Option{Transition: t, Blocked: w.blocked(t, in)})
	}
	return out
}

// Check decides whether a may take transition id out of state now. The
// error is a platform.Error (CodeConflict) wrapping a *Refusal.
func (w *Workflow) Check(state, id string, a Actor, in Inputs) (manifest.Transition, error) {
	if w.Manifest.Workflow.States[state].Terminal {
		return manifest.Transition{}, refuse("case.reason.closed")
	}
	for _, t := range w.Manifest.Workflow.Transitions {
		if t.From != state || t.ID != id {
			continue
		}
		if !a.may(t) {
			return manifest.Transition{}, refuse("case.reason.notyours")
		}
		if b := w.blocked(t, in); len(b) > 0 {
			r := &Refusal{b[0]}
			return manifest.Transition{}, &platform.Error{Code: platform.CodeConflict, Message: r.Error(), Err: r}
		}
		return t, nil
	}
	return manifest.Transition{}, refuse("case.reason.nosuch", id, state)
}

// Automatic returns the first transition out of state that the system may
// take now (manifest order), if any. The platform takes it after a payment
// is recorded and when the state's SLA passes (see work.go).
func (w *Workflow) Automatic(state string, in Inputs) (manifest.Transition, bool) {
	for _, o := range w.Options(state, Actor{Kind: ActorSystem}, in) {
		if len(o.Blocked) == 0 {
			return o.Transition, true
		}
	}
	return manifest.Transition{}, false
}

// Fee is the amount the service charges for these inputs, in minor units
// of the currency. ok is false when the service has no fee.
func (w *Workflow) Fee(in Inputs) (amount int64, currency string, ok bool, err error) {
	f := w.Manifest.Fee
	if f == nil {
		return 0, "", false, nil
	}
	if f.Amount != nil {
		return *f.Amount, f.Currency, true, nil
	}
	v, err := eval(w.fee, in.activation())
	if err != nil {
		return 0, f.Currency, true, fmt.Errorf("casework: fee of %s@%d: %w", w.Service, w.Version, err)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, f.Currency, true, fmt.Errorf("casework: fee of %s@%d gave %T", w.Service, w.Version, v)
	}
	if n < 0 {
		return 0, f.Currency, true, fmt.Errorf("casework: fee of %s@%d is negative (%d)", w.Service, w.Version, n)
	}
	return n, f.Currency, true, nil
}

// Entered is a case after entering a state: its new fields and the
// actions to run (the state's on_enter, in order).
type Entered struct {
	Case    Case
	Actions []manifest.Action
}

// Enter moves c into state at now: the state and its entry time, the SLA
// due time from the state's sla, a fresh overdue flag, and for a terminal
// state the case closed and waiting on nobody. It is the pure half of
// taking a transition; work.go stores it and runs Actions.
func (w *Workflow) Enter(c Case, state string, now time.Time) (Entered, error) {
	st, ok := w.Manifest.Workflow.States[state]
	if !ok {
		return Entered{}, fmt.Errorf("casework: %s@%d has no state %q", w.Service, w.Version, state)
	}
	c.State, c.StateEnteredAt, c.UpdatedAt, c.Overdue = state, now, now, false
	c.SLADueAt, c.slaRemaining = nil, nil
	if st.SLA != "" {
		d, err := manifest.ParseDuration(st.SLA)
		if err != nil {
			return Entered{}, fmt.Errorf("casework: %s@%d: %w", w.Service, w.Version, err)
		}
		due := now.Add(d)
		c.SLADueAt = &due
	}
	c.WaitingOn = WaitingOnAgency
	if st.Terminal {
		c.WaitingOn = WaitingOnNobody
		c.ClosedAt = &now
		c.SLADueAt = nil
	}
	return Entered{Case: c, Actions: st.OnEnter}, nil
}

// SLA statuses of a case, for the queue's filter and badges.
const (
	SLAOnTime  = "on_time"
	SLADueSoon = "due_soon"
	SLAOverdue = "overdue"
	SLAPaused  = "paused" // waiting on the citizen: the clock is stopped
	SLANone    = "none"   // closed, or a state without an SLA
)

// DueSoon is how close to its due time a case counts as due soon.
const DueSoon = 24 * time.Hour

// SLAStatus classifies c at now. A case past due counts as overdue even
// before the sweep has marked it.
func SLAStatus(c Case, now time.Time) string {
	switch {
	case c.ClosedAt != nil:
		return SLANone
	case c.Overdue:
		return SLAOverdue
	case c.WaitingOn == WaitingOnCitizen:
		return SLAPaused
	case c.SLADueAt == nil:
		return SLANone
	case !now.Before(*c.SLADueAt):
		return SLAOverdue
	case c.SLADueAt.Sub(now) <= DueSoon:
		return SLADueSoon
	}
	return SLAOnTime
}
