package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// This file is the call_plugin action (ADR 38). Entering the state only
// records the call (a case_plugin_calls row) and enqueues a job, in the
// transition's transaction: no HTTP call is ever made inside it. The job
// makes the call through the plug-in gateway after commit and records the
// outcome, and the decision the manifest's decide takes from it, in a
// transaction of its own.

// PluginCaller calls a plug-in operation: the plug-in gateway, adapted in
// internal/app (casework does not import it). A call that gave no usable
// answer returns an error; a *PluginFailure says which and whether trying
// again may help.
type PluginCaller interface {
	CallPlugin(ctx context.Context, actor platform.Actor, call PluginCall) (PluginReply, error)
}

// PluginCall is one call of a workflow's call_plugin action.
type PluginCall struct {
	Agency, Service, Case string
	Person                string // the applicant's account id
	Plugin, Operation     string
	Path                  map[string]string
	Query                 url.Values
	Body                  []byte // JSON, nil for none
	// Data are the personal data the action declares, by their names in
	// the plug-in vocabulary, with the applicant's values.
	Data map[string]any
	// IdempotencyKey is the same on every attempt of one call (sent as
	// the Idempotency-Key header).
	IdempotencyKey string
}

// PluginReply is a plug-in's answer, already validated against its
// OpenAPI document by the gateway.
type PluginReply struct {
	Status int
	Body   []byte
}

// PluginFailure is a call without a usable answer. Outcome is the
// gateway's (timeout, error, invalid_response, circuit_open, refused);
// Retry whether another attempt may succeed.
type PluginFailure struct {
	Outcome string
	Retry   bool
	Err     error
}

func (f *PluginFailure) Error() string { return fmt.Sprintf("plug-in call %s: %v", f.Outcome, f.Err) }
func (f *PluginFailure) Unwrap() error { return f.Err }

// EventPluginCalled is emitted when a call_plugin action's call ends:
// detail.outcome is "ok" or "failed", never the plug-in's body.
const EventPluginCalled = "gov.portico.case.plugin_called"

// PluginCallAttempts is how many times a call is tried before staff are
// told to act; PluginCallBackoff the wait before the second try, doubled
// for each one after.
const (
	PluginCallAttempts = 5
	PluginCallBackoff  = 30 * time.Second
)

// Outcomes of a call other than the gateway's.
const (
	// OutcomeBadRequest: the manifest's bindings could not be evaluated
	// over this case (an answer missing), or the applicant's data could
	// not be read.
	OutcomeBadRequest = "bad_request"
	// OutcomeUnavailable: no plug-in gateway in this process.
	OutcomeUnavailable = "unavailable"
	// OutcomeWaiting: an earlier call of the case that records what this
	// one reads was still pending (after the last attempt: it failed).
	OutcomeWaiting = "waiting"
)

// PluginCallArgs is the job of one call: ids only, never personal data.
type PluginCallArgs struct {
	Call    int64  `json:"call"` // case_plugin_calls.id
	Case    string `json:"case"`
	Use     string `json:"use"` // manifest.PluginUse.Pointer
	Service string `json:"service"`
	Version int    `json:"version"`
}

// Kind implements river.JobArgs.
func (PluginCallArgs) Kind() string { return "casework.plugin_call" }

// PluginCallWorker makes the calls (register it with the block).
type PluginCallWorker struct {
	river.WorkerDefaults[PluginCallArgs]
	Cases *Service
}

// Work implements river.Worker.
func (w *PluginCallWorker) Work(ctx context.Context, job *river.Job[PluginCallArgs]) error {
	return w.Cases.RunPluginCall(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// NextRetry doubles the wait from Deps.PluginBackoff (PluginCallBackoff).
func (w *PluginCallWorker) NextRetry(job *river.Job[PluginCallArgs]) time.Time {
	return time.Now().Add(w.Cases.backoff() << min(max(job.Attempt-1, 0), 10))
}

// IdempotencyKey is the key of call id of case caseID: stable for the
// call, so every attempt carries the same one.
func IdempotencyKey(caseID string, id int64) string {
	return "portico-case-" + caseID + "-call-" + strconv.FormatInt(id, 10)
}

// execCallPlugin records the call and enqueues its job in tx. Without a
// gateway or a job queue (operator tools, tests that do not call
// plug-ins) it records for staff that the plug-in was not called.
func (s *Service) execCallPlugin(ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error {
	c, pa := run.Case, a.CallPlugin
	if s.deps.Plugins == nil || s.deps.Jobs == nil {
		detail := map[string]any{"action": "call_plugin", "plugin": pa.Plugin, "operation": pa.Operation, "outcome": "failed", "reason": OutcomeUnavailable}
		return s.entry(ctx, tx, c.ID, "note", true, "", detail)
	}
	ptr := ""
	for i, x := range run.Manifest.Workflow.States[c.State].OnEnter {
		if x.CallPlugin == pa {
			ptr = "/workflow/states/" + strings.ReplaceAll(strings.ReplaceAll(c.State, "~", "~0"), "/", "~1") + "/on_enter/" + strconv.Itoa(i) + "/call_plugin"
		}
	}
	if ptr == "" {
		return fmt.Errorf("casework: %s@%d: call_plugin not found in state %q", c.ServiceID, c.ServiceVersion, c.State)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO case_plugin_calls (case_id, state, use_pointer, plugin_id, operation, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, c.ID, c.State, ptr, pa.Plugin, pa.Operation, run.Now).Scan(&id); err != nil {
		return fmt.Errorf("casework: call plug-in: %w", err)
	}
	if err := jobs.Enqueue(ctx, s.deps.Jobs, tx, PluginCallArgs{Call: id, Case: c.ID, Use: ptr, Service: c.ServiceID, Version: c.ServiceVersion},
		&river.InsertOpts{MaxAttempts: PluginCallAttempts}); err != nil {
		return err
	}
	detail := map[string]any{"action": "call_plugin", "plugin": pa.Plugin, "operation": pa.Operation, "call": id, "outcome": "queued"}
	return s.entry(ctx, tx, c.ID, "note", true, "", detail)
}

// pluginCallRow is a case_plugin_calls row.
type pluginCallRow struct {
	id                     int64
	caseID, state, pointer string
	plugin, operation      string
	status                 string
	attempts               int
	lastOutcome            string
}

func (s *Service) pluginCallRow(ctx context.Context, q querier, id int64, lock bool) (pluginCallRow, error) {
	var r pluginCallRow
	query := `SELECT id, case_id, state, use_pointer, plugin_id, operation, status, attempts, last_outcome FROM case_plugin_calls WHERE id = $1`
	if lock && s.db.Dialect == storage.Postgres {
		query += ` FOR UPDATE`
	}
	err := q.QueryRowContext(ctx, query, id).Scan(&r.id, &r.caseID, &r.state, &r.pointer, &r.plugin, &r.operation, &r.status, &r.attempts, &r.lastOutcome)
	if err != nil {
		return r, fmt.Errorf("casework: plug-in call %d: %w", id, err)
	}
	return r, nil
}

// RunPluginCall makes call args.Call (attempt of max, as River counts)
// and records its outcome. A call no longer pending (a job run twice) is
// left alone. A failure that may pass is returned, for River to retry
// with backoff, until the last attempt; then, or at once for one that
// cannot pass, the failure is recorded and staff are told to act.
func (s *Service) RunPluginCall(ctx context.Context, args PluginCallArgs, attempt, max int) error {
	actor := platform.Actor{Kind: platform.ActorSystem, ID: "workflow"}
	ctx = platform.WithActor(ctx, actor)
	row, err := s.pluginCallRow(ctx, s.db.Read(), args.Call, false)
	if err != nil {
		return err
	}
	if row.status != "pending" {
		return nil
	}
	// The case and its workflow are read again on each attempt; if that
	// keeps failing, the last attempt still records the failure for
	// staff rather than leave the call pending for ever.
	c, err := s.Case(ctx, row.caseID)
	var w *Workflow
	if err == nil {
		w, err = s.workflow(ctx, c)
	}
	if err != nil {
		if attempt >= max {
			return errors.Join(err, s.finishCall(ctx, row, nil, nil, "error", PluginReply{}, attempt))
		}
		return err
	}
	pa, err := pluginActionAt(w.Manifest, row.state, row.pointer)
	if err != nil {
		return s.finishCall(ctx, row, w, pa, OutcomeBadRequest, PluginReply{}, attempt)
	}
	if s.deps.Plugins == nil {
		return s.finishCall(ctx, row, w, pa, OutcomeUnavailable, PluginReply{}, attempt)
	}
	missing, wait, err := s.missingRecords(ctx, c, row, w)
	switch {
	case err != nil && attempt < max:
		return err
	case err != nil:
		return errors.Join(err, s.finishCall(ctx, row, w, pa, "error", PluginReply{}, attempt))
	case wait && attempt < max:
		return s.retryLater(ctx, row, attempt, OutcomeWaiting, errWaitForRecord)
	case wait:
		return s.finishCall(ctx, row, w, pa, OutcomeWaiting, PluginReply{}, attempt)
	case len(missing) > 0:
		// Nothing was recorded for this call to act on (a booking that was
		// never made has nothing to cancel).
		return s.finishCall(ctx, row, w, pa, OutcomeSkipped, PluginReply{}, attempt)
	}
	call, err := s.buildCall(ctx, c, row, w)
	if err != nil {
		slog.Warn("casework: plug-in call cannot be built", "case", c.ID, "call", row.id, "err", err)
		return s.finishCall(ctx, row, w, pa, OutcomeBadRequest, PluginReply{}, attempt)
	}
	reply, err := s.deps.Plugins.CallPlugin(ctx, actor, call)
	if err == nil {
		return s.finishCall(ctx, row, w, pa, "ok", reply, attempt)
	}
	outcome, retry := "error", true
	var f *PluginFailure
	if errors.As(err, &f) {
		outcome, retry = f.Outcome, f.Retry
	}
	if !retry || attempt >= max {
		return s.finishCall(ctx, row, w, pa, outcome, PluginReply{}, attempt)
	}
	return s.retryLater(ctx, row, attempt, outcome, err)
}

// retryLater notes on a pending call that attempt ended with outcome and
// when the job tries again (PluginCallWorker.NextRetry's schedule), for
// the staff case page, and returns err for River to retry.
func (s *Service) retryLater(ctx context.Context, row pluginCallRow, attempt int, outcome string, err error) error {
	now := s.clock.Now().UTC()
	next := now.Add(s.backoff() << min(max(attempt-1, 0), 10))
	if _, uerr := s.db.Write().ExecContext(ctx, `UPDATE case_plugin_calls SET attempts = $2, last_outcome = $3, last_tried_at = $4, next_try_at = $5
		WHERE id = $1 AND status = 'pending'`, row.id, attempt, outcome, now, next); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// backoff is the wait before a call's second try (Deps.PluginBackoff).
func (s *Service) backoff() time.Duration {
	if s.deps.PluginBackoff > 0 {
		return s.deps.PluginBackoff
	}
	return PluginCallBackoff
}

// pluginActionAt is the call_plugin action at pointer in state.
func pluginActionAt(m *manifest.Manifest, state, pointer string) (*manifest.PluginAction, error) {
	parts := strings.Split(pointer, "/")
	if len(parts) < 3 {
		return nil, fmt.Errorf("casework: bad action pointer %q", pointer)
	}
	i, err := strconv.Atoi(parts[len(parts)-2])
	actions := m.Workflow.States[state].OnEnter
	if err != nil || i < 0 || i >= len(actions) || actions[i].CallPlugin == nil {
		return nil, fmt.Errorf("casework: no call_plugin at %q", pointer)
	}
	return actions[i].CallPlugin, nil
}

// buildCall evaluates the action's bindings over the case (its answers,
// the applicant, and case: id, reference, service and the state that
// made the call) and gathers the personal data the action declares.
func (s *Service) buildCall(ctx context.Context, c Case, row pluginCallRow, w *Workflow) (PluginCall, error) {
	in, err := s.inputs(ctx, s.db.Read(), c)
	if err != nil {
		return PluginCall{}, err
	}
	in.Case = map[string]any{"id": c.ID, "reference": c.Reference, "service": c.ServiceID, "state": row.state}
	if in.Recorded, err = s.records(ctx, s.db.Read(), c.ID); err != nil {
		return PluginCall{}, err
	}
	req, err := w.Runtime().PluginRequest(row.pointer, in)
	if err != nil {
		return PluginCall{}, err
	}
	call := PluginCall{Agency: c.AgencyID, Service: c.ServiceID, Case: c.ID, Person: c.AccountID, Plugin: row.plugin, Operation: row.operation,
		Path: req.Path, Query: req.Query, IdempotencyKey: IdempotencyKey(c.ID, row.id)}
	if req.Body != nil {
		if call.Body, err = json.Marshal(req.Body); err != nil {
			return PluginCall{}, err
		}
	}
	if len(req.Use.Data) > 0 {
		if call.Data, err = s.pluginData(ctx, c, req.Use.Data, in.Answers); err != nil {
			return PluginCall{}, err
		}
	}
	return call, nil
}

// pluginData is the applicant's values of the data a call declares
// (manifest.CallData); the profile is read only when a call carries a
// fact of it.
func (s *Service) pluginData(ctx context.Context, c Case, names []string, answers map[string]map[string]any) (map[string]any, error) {
	var a Applicant
	if manifest.NeedsContact(names) {
		if s.deps.People == nil {
			return nil, errors.New("casework: the applicant's profile is not available")
		}
		var err error
		if a, err = s.deps.People.Applicant(ctx, c.AccountID); err != nil {
			return nil, fmt.Errorf("casework: applicant: %w", err)
		}
	}
	return manifest.CallData(manifest.Contact{Name: a.Name, DateOfBirth: a.DateOfBirth, Email: a.Email, Phone: a.Phone,
		Address: manifest.PostalAddress(a.Residential)}, c.ServiceID, answers, names)
}

// finishCall records a call's end in one transaction, once: the row, the
// timeline (for staff), the audit log, EventPluginCalled, and on an
// answer the decision the action's decide takes from it.
func (s *Service) finishCall(ctx context.Context, row pluginCallRow, w *Workflow, pa *manifest.PluginAction, outcome string, reply PluginReply, attempts int) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.pluginCallRow(ctx, tx, row.id, true)
		if err != nil {
			return err
		}
		if cur.status != "pending" {
			return nil // another run recorded it
		}
		c, err := s.lockCase(ctx, tx, row.caseID)
		if err != nil {
			return err
		}
		status := "ok"
		if outcome != "ok" && outcome != OutcomeSkipped {
			status = "failed"
		}
		now := s.clock.Now().UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE case_plugin_calls SET status = $2, attempts = $3, last_outcome = $4, finished_at = $5 WHERE id = $1`,
			row.id, status, attempts, outcome, now); err != nil {
			return fmt.Errorf("casework: plug-in call: %w", err)
		}
		detail := map[string]any{"action": "call_plugin", "plugin": row.plugin, "operation": row.operation, "call": row.id,
			"outcome": status, "attempts": attempts}
		switch {
		case outcome == OutcomeSkipped:
			detail["outcome"] = OutcomeSkipped
		case status == "ok":
			detail["status"] = reply.Status
			if pa != nil && reply.Status >= 200 && reply.Status < 300 {
				kept, err := s.keepRecords(ctx, tx, c.ID, row.id, pa, reply.Body, now)
				if err != nil {
					return err
				}
				if len(kept) > 0 {
					detail["recorded"] = kept
				}
			}
		default:
			detail["reason"] = outcome
		}
		if err := s.entry(ctx, tx, c.ID, "note", true, "", detail); err != nil {
			return err
		}
		// A declared answer is an exchange that worked ("ok"), but a 4xx
		// one is the plug-in saying no (a time already taken): the audit
		// entry and the event carry its status so neither reads as done.
		auditDetail := map[string]any{"reference": c.Reference, "plugin": row.plugin, "operation": row.operation, "call": row.id, "outcome": outcome, "attempts": attempts}
		eventData := map[string]any{"plugin": row.plugin, "operation": row.operation, "call": row.id, "outcome": status, "reason": outcome}
		if status == "ok" {
			auditDetail["status"] = reply.Status
			eventData["status"] = reply.Status
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.plugin_call", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
			Detail: auditDetail}); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, c, EventPluginCalled, eventData); err != nil {
			return err
		}
		if status != "ok" || outcome == OutcomeSkipped || pa == nil || pa.Decide == nil {
			return nil
		}
		return s.decide(ctx, tx, w, c, row, pa.Decide, reply)
	})
}

// decide takes the transition the plug-in's answer picks, as the plugin
// actor, when the case is still where the call was made. Anything else
// (the case moved on, a value the map does not name, a guard that does
// not hold) is noted on the timeline and left for staff.
func (s *Service) decide(ctx context.Context, tx *sql.Tx, w *Workflow, c Case, row pluginCallRow, d *manifest.Decision, reply PluginReply) error {
	note := func(reason string, extra ...any) error {
		detail := map[string]any{"action": "plugin_decision", "plugin": row.plugin, "operation": row.operation, "call": row.id, "outcome": "staff", "reason": reason}
		for i := 0; i+1 < len(extra); i += 2 {
			detail[extra[i].(string)] = extra[i+1]
		}
		return s.entry(ctx, tx, c.ID, "note", true, "", detail)
	}
	if c.ClosedAt != nil || c.State != row.state {
		return note("moved_on")
	}
	value, ok := responseValue(reply.Body, d.From)
	if !ok {
		return note("no_value")
	}
	id, ok := d.Transitions[value]
	if !ok {
		return note("unmapped", "value", value)
	}
	pctx := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorClient, ID: "plugin:" + row.plugin})
	in, err := s.inputs(pctx, tx, c)
	if err != nil {
		return err
	}
	t, err := w.Check(c.State, id, Actor{Kind: ActorPlugin}, in)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		return note("refused", "transition", id, "why", refusal.Reason.English())
	}
	if err != nil {
		return err
	}
	if err := s.entry(ctx, tx, c.ID, "note", true, "", map[string]any{"action": "plugin_decision", "plugin": row.plugin, "operation": row.operation,
		"call": row.id, "outcome": "decided", "value": value, "transition": id}); err != nil {
		return err
	}
	_, err = s.transition(pctx, tx, w, c, t, in)
	return err
}

// responseValue reads the top-level property from of a JSON object body
// as text: a string as it is, a number or boolean as JSON writes it.
func responseValue(body []byte, from string) (string, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return "", false
	}
	raw, ok := obj[from]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	switch v.(type) {
	case float64, bool:
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}
