package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
)

// This file is what a workflow keeps of plug-in answers (the manifest's
// record and forget, table case_records), how staff see the calls of a
// case (PluginCalls) and how they try a failed one again
// (RetryPluginCall).

// OutcomeSkipped is a call not made because a value its bindings read
// was never recorded on the case (a cancellation when nothing was
// booked): there was nothing to do. Its row is "ok".
const OutcomeSkipped = "skipped"

// errWaitForRecord is a call whose bindings read a value an earlier
// call of the case, still pending, may yet record: River tries again.
var errWaitForRecord = errors.New("casework: waiting for an earlier plug-in call to record what this one reads")

// Records returns the values call_plugin actions recorded on case id, by
// name (the manifest's record). The caller has authorised the case.
func (s *Service) Records(ctx context.Context, id string) (map[string]any, error) {
	return s.records(ctx, s.db.Read(), id)
}

func (s *Service) records(ctx context.Context, q querier, id string) (map[string]any, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, value FROM case_records WHERE case_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("casework: records: %w", err)
	}
	defer rows.Close()
	out := map[string]any{}
	for rows.Next() {
		var name, raw string
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, fmt.Errorf("casework: records: %w", err)
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("casework: record %s: %w", name, err)
		}
		out[name] = v
	}
	return out, rows.Err()
}

// keepRecords applies an action's record and forget to a 2xx answer in
// tx: each recorded property that the answer has, as a string, number or
// boolean, overwrites its name; forgotten names are removed. It returns
// the names recorded (for the timeline), never their values.
func (s *Service) keepRecords(ctx context.Context, tx *sql.Tx, caseID string, call int64, pa *manifest.PluginAction, body []byte, now time.Time) ([]string, error) {
	for _, name := range pa.Forget {
		if _, err := tx.ExecContext(ctx, `DELETE FROM case_records WHERE case_id = $1 AND name = $2`, caseID, name); err != nil {
			return nil, fmt.Errorf("casework: forget %s: %w", name, err)
		}
	}
	if len(pa.Record) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, nil // not an object: nothing to keep, the timeline says which names are missing
	}
	var kept []string
	for name, prop := range pa.Record {
		raw, ok := obj[prop]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		switch v.(type) {
		case string, float64, bool:
		default:
			continue // objects, arrays and null are not kept
		}
		val, _ := json.Marshal(v)
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_records (case_id, name, value, call_id, recorded_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (case_id, name) DO UPDATE SET value = excluded.value, call_id = excluded.call_id, recorded_at = excluded.recorded_at`,
			caseID, name, string(val), call, now); err != nil {
			return nil, fmt.Errorf("casework: record %s: %w", name, err)
		}
		kept = append(kept, name)
	}
	slices.Sort(kept)
	return kept, nil
}

// missingRecords returns the recorded names the call at row reads that
// case c does not have, and whether an earlier call of the case that
// records one of them is still pending (then the call waits for it).
func (s *Service) missingRecords(ctx context.Context, c Case, row pluginCallRow, w *Workflow) (missing []string, wait bool, err error) {
	reads := w.Runtime().RecordedReads(row.pointer)
	if len(reads) == 0 {
		return nil, false, nil
	}
	have, err := s.records(ctx, s.db.Read(), c.ID)
	if err != nil {
		return nil, false, err
	}
	for _, n := range reads {
		if _, ok := have[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil, false, nil
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT state, use_pointer FROM case_plugin_calls WHERE case_id = $1 AND status = 'pending' AND id < $2`, c.ID, row.id)
	if err != nil {
		return nil, false, fmt.Errorf("casework: pending calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state, ptr string
		if err := rows.Scan(&state, &ptr); err != nil {
			return nil, false, err
		}
		pa, err := pluginActionAt(w.Manifest, state, ptr)
		if err != nil {
			continue
		}
		for _, n := range missing {
			if _, ok := pa.Record[n]; ok {
				wait = true
			}
		}
	}
	return missing, wait, rows.Err()
}

// PluginCallStatus is one call_plugin call of a case, for staff: what
// the gateway last said (LastOutcome: timeout, error, invalid_response,
// circuit_open, refused, bad_request, unavailable, ok, skipped) and,
// while it is tried again, when. Never the plug-in's answer.
type PluginCallStatus struct {
	ID                 int64
	Plugin, Operation  string
	State              string // the state whose on_enter made it
	Status             string // pending, ok or failed
	Attempts           int
	LastOutcome        string
	Created            time.Time
	LastTried, NextTry *time.Time
	Finished           *time.Time
}

// Waiting reports whether the call is being tried again after a
// failure that may pass.
func (p PluginCallStatus) Waiting() bool { return p.Status == "pending" && p.Attempts > 0 }

// PluginCalls lists case id's plug-in calls, oldest first. The caller
// has authorised the case (staff pages read it after ViewCase).
func (s *Service) PluginCalls(ctx context.Context, id string) ([]PluginCallStatus, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, plugin_id, operation, state, status, attempts, last_outcome, created_at, last_tried_at, next_try_at, finished_at
		FROM case_plugin_calls WHERE case_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("casework: plug-in calls: %w", err)
	}
	defer rows.Close()
	var out []PluginCallStatus
	for rows.Next() {
		var p PluginCallStatus
		var tried, next, done sql.NullTime
		if err := rows.Scan(&p.ID, &p.Plugin, &p.Operation, &p.State, &p.Status, &p.Attempts, &p.LastOutcome, &p.Created, &tried, &next, &done); err != nil {
			return nil, fmt.Errorf("casework: plug-in calls: %w", err)
		}
		p.Created = p.Created.UTC()
		p.LastTried, p.NextTry, p.Finished = utcPtr(tried), utcPtr(next), utcPtr(done)
		out = append(out, p)
	}
	return out, rows.Err()
}

// RetryPluginCall makes a failed call of case caseID pending again with
// a new job (same row, so the same Idempotency-Key), as staff who may
// work the case: a caseworker or agency administrator of its agency
// (auditors read only). Closed cases too: a cancellation that failed
// after the case ended is exactly what staff must be able to retry. The
// row, its job, the timeline entry and the audit record commit together.
func (s *Service) RetryPluginCall(ctx context.Context, actor platform.Actor, caseID string, call int64) error {
	ctx = platform.WithActor(ctx, actor)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if err := mayWork(actor, c); err != nil {
			return err
		}
		if s.deps.Jobs == nil {
			return platform.Errorf(platform.CodeUnavailable, "plug-in calls are not run in this process")
		}
		row, err := s.pluginCallRow(ctx, tx, call, true)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && row.caseID != c.ID) {
			return platform.Errorf(platform.CodeNotFound, "no such plug-in call")
		}
		if err != nil {
			return err
		}
		if row.status != "failed" {
			return refuse("case.reason.plugin_not_failed")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE case_plugin_calls SET status = 'pending', attempts = 0, last_outcome = '', finished_at = NULL,
			last_tried_at = NULL, next_try_at = NULL WHERE id = $1`, row.id); err != nil {
			return fmt.Errorf("casework: retry plug-in call: %w", err)
		}
		if err := jobs.Enqueue(ctx, s.deps.Jobs, tx, PluginCallArgs{Call: row.id, Case: c.ID, Use: row.pointer, Service: c.ServiceID, Version: c.ServiceVersion},
			&river.InsertOpts{MaxAttempts: PluginCallAttempts}); err != nil {
			return err
		}
		detail := map[string]any{"action": "call_plugin", "plugin": row.plugin, "operation": row.operation, "call": row.id, "outcome": "retried"}
		if err := s.entry(ctx, tx, c.ID, "note", true, "", detail); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "case.plugin_call_retry", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
			Detail: map[string]any{"reference": c.Reference, "plugin": row.plugin, "operation": row.operation, "call": row.id, "last_outcome": row.lastOutcome}})
		return err
	})
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
