package reminder

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// A batch of good rows costs a few statements, not a few per row (ADR
// 51): one query reads the agency's obligations the batch names (index
// obligations_imported), new obligations go in multi-row INSERTs and
// their reminders too; only a row that changes an obligation already
// loaded is set one at a time (svc.set, which re-plans its reminders).

// insertChunk bounds the rows of one multi-row INSERT of obligations (16
// parameters each: far below SQLite's and PostgreSQL's limits).
const insertChunk = 50

// occurrenceChunk bounds the rows of one multi-row INSERT of reminder
// occurrences (3 parameters each).
const occurrenceChunk = 200

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// flush commits a batch of good rows in one transaction (or, in a dry
// run, only checks them), then reports each row, in order.
func (r *importRun) flush(ctx context.Context, batch []goodRow) error {
	if len(batch) == 0 {
		return nil
	}
	var results []RowResult
	var err error
	if r.opt.DryRun {
		results, err = r.apply(ctx, nil, r.im.svc.db.Read(), batch)
	} else {
		err = r.im.svc.db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			results, err = r.apply(ctx, tx, tx, batch)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("reminder: import: %w", err)
	}
	for i := range results {
		results[i].Record = batch[i].line.Record
		if err := r.emit(results[i]); err != nil {
			return err
		}
	}
	return nil
}

// apply decides each row of batch against what the agency already has
// (read with q) and, unless tx is nil (a dry run), writes it in tx. A row
// whose reference and due date another person already owes is rejected.
func (r *importRun) apply(ctx context.Context, tx *sql.Tx, q querier, batch []goodRow) ([]RowResult, error) {
	have, err := r.loaded(ctx, q, batch)
	if err != nil {
		return nil, err
	}
	svc := r.im.svc
	now := svc.clock.Now().UTC()
	results := make([]RowResult, len(batch))
	var fresh []Obligation
	for i, g := range batch {
		line := g.line.Line
		prev, ok := have[g.ob.Source]
		switch {
		case ok && prev.AccountID != g.account:
			results[i] = RowResult{Line: line, Status: RowRejected, Error: rowErr("reference", "this reference and due date are already owed by another person")}
		case tx == nil:
			results[i] = RowResult{Line: line, Status: RowValid}
		case !ok:
			o := g.ob
			o.ID = uuid.Must(uuid.NewV7()).String()
			o.Status, o.CreatedAt, o.UpdatedAt = StatusOpen, now, now
			fresh = append(fresh, o)
			results[i] = RowResult{Line: line, Status: RowCreated, ObligationID: o.ID}
		case unchanged(prev, g.ob):
			results[i] = RowResult{Line: line, Status: RowUnchanged, ObligationID: prev.ID}
		default:
			o, outcome, err := svc.set(ctx, tx, g.ob, false)
			if err != nil {
				return nil, err // validated already: a database failure
			}
			status := map[setOutcome]string{setCreated: RowCreated, setUpdated: RowUpdated, setUnchanged: RowUnchanged}[outcome]
			results[i] = RowResult{Line: line, Status: status, ObligationID: o.ID}
		}
	}
	if err := svc.insertObligations(ctx, tx, fresh, now); err != nil {
		return nil, err
	}
	return results, nil
}

// loaded reads the agency's imported obligations whose sources the batch
// names, by source, in one query.
func (r *importRun) loaded(ctx context.Context, q querier, batch []goodRow) (map[string]Obligation, error) {
	args := make([]any, 0, len(batch)+1)
	args = append(args, r.agency)
	marks := make([]string, len(batch))
	for i, g := range batch {
		args = append(args, g.ob.Source)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+obligationColumns+` FROM obligations WHERE agency_id = $1 AND source LIKE 'import:%' AND source IN (`+
		strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]Obligation, len(batch))
	for rows.Next() {
		o, err := scanObligation(rows)
		if err != nil {
			return nil, err
		}
		out[o.Source] = o
	}
	return out, rows.Err()
}

// insertObligations inserts new obligations (ids, status and times set)
// and plans their reminders, in multi-row statements. A new obligation
// has never been reminded, so the latest reminder already past is due
// now (what plan does for it).
func (s *Service) insertObligations(ctx context.Context, tx *sql.Tx, obs []Obligation, now time.Time) error {
	var occ []any
	for start := 0; start < len(obs); start += insertChunk {
		chunk := obs[start:min(start+insertChunk, len(obs))]
		args := make([]any, 0, len(chunk)*16)
		values := make([]string, len(chunk))
		for i, o := range chunk {
			n := len(args)
			values[i] = fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, NULL, $%d, $%d, $%d)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+14, n+15, n+16)
			args = append(args, o.ID, o.AccountID, o.AgencyID, o.Kind, o.Source, o.Title.EN, o.Title.ES, o.URL, o.Due.String(), o.Schedule.encode(),
				o.Status, now, now, amountMinor(o.Amount), amountCurrency(o.Amount), o.Reference)
			future, latestPast, hasPast := s.occurrences(o, now)
			for _, oc := range future {
				occ = append(occ, o.ID, int64(oc.offset/time.Minute), oc.at)
			}
			if hasPast {
				occ = append(occ, o.ID, int64(latestPast/time.Minute), now)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO obligations (`+obligationColumns+`) VALUES `+strings.Join(values, ", "), args...); err != nil {
			return fmt.Errorf("reminder: insert obligations: %w", err)
		}
	}
	for start := 0; start < len(occ); start += occurrenceChunk * 3 {
		chunk := occ[start:min(start+occurrenceChunk*3, len(occ))]
		values := make([]string, len(chunk)/3)
		for i := range values {
			values[i] = fmt.Sprintf("($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) VALUES `+strings.Join(values, ", "), chunk...); err != nil {
			return fmt.Errorf("reminder: plan: %w", err)
		}
	}
	return nil
}
