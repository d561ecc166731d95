package casework

import (
	"fmt"
	"slices"
	"time"

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

// Inputs are the values workflow guards read (the service runtime's).
type Inputs = manifest.Inputs

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

// Workflow is a service version's workflow over its compiled runtime
// (manifest.Runtime: the guards compiled once, shared with the catalog and
// the form engine). It is safe for concurrent use.
type Workflow struct {
	Service  string
	Version  int
	Manifest *manifest.Manifest
	rt       *manifest.Runtime
}

// NewWorkflow returns the workflow of a compiled service version.
func NewWorkflow(rt *manifest.Runtime) *Workflow {
	return &Workflow{Service: rt.ServiceID, Version: rt.Version, Manifest: rt.Manifest, rt: rt}
}

// Runtime is the compiled service version the workflow runs on.
func (w *Workflow) Runtime() *manifest.Runtime { return w.rt }

// Compile compiles m and returns its workflow, for tools and tests that
// have a manifest but no catalog.
func Compile(id string, version int, m *manifest.Manifest) (*Workflow, error) {
	rt, err := manifest.Compile(id, version, m)
	if err != nil {
		return nil, fmt.Errorf("casework: %w", err)
	}
	return NewWorkflow(rt), nil
}

// blocked evaluates t's guard and returns the reasons it fails (none: the
// guard holds or there is none).
func (w *Workflow) blocked(t manifest.Transition, in Inputs) []Reason {
	var out []Reason
	for _, c := range w.rt.Guard(t.ID) {
		ok, err := c.Holds(in)
		if err != nil {
			out = append(out, Reason{Key: "case.reason.unknown", Args: []any{err.Error(), c.Text}})
			continue
		}
		if ok {
			continue
		}
		switch c.Text {
		case "payment.paid":
			out = append(out, Reason{Key: "case.reason.unpaid"})
		case "!payment.paid":
			out = append(out, Reason{Key: "case.reason.paid"})
		default:
			out = append(out, Reason{Key: "case.reason.condition", Args: []any{c.Text}})
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
