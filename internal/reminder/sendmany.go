package reminder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/portico-gov/portico/internal/platform"
)

// The statements of sendMany (PostgreSQL only): one per kind per batch,
// each from one array per column, so its text is the same whatever the
// batch's size.
const (
	// qRecordPending takes each reminder's record (its key: obligation,
	// due date, offset) and returns the keys it took: a key already there
	// was handled by an earlier run, which a concurrent run waits for
	// (the unique index) before finding it there.
	qRecordPending = `
INSERT INTO reminder_sends (obligation_id, due_on, offset_minutes, outcome, at)
SELECT o, d, m, 'pending', $4 FROM unnest($1::text[], $2::text[], $3::integer[]) AS u(o, d, m)
ON CONFLICT DO NOTHING
RETURNING obligation_id, due_on, offset_minutes`
	// qRecordOutcomes sets the outcome and notification of each record
	// taken by qRecordPending in the same transaction.
	qRecordOutcomes = `
UPDATE reminder_sends r SET outcome = u.outcome, notification_id = u.nid
FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[]) AS u(o, d, m, outcome, nid)
WHERE r.obligation_id = u.o AND r.due_on = u.d AND r.offset_minutes = u.m`
	qObligationsByID = `SELECT ` + obligationColumns + ` FROM obligations WHERE id = ANY($1)`
)

// sendMany is sendIn for every reminder of as, in tx, with out[i] set to
// as[i]'s outcome: the same records, decisions and messages, in a fixed
// number of statements instead of about six per reminder (ADR 76). A
// database error fails the whole transaction (SendBatch then sends each
// reminder alone, as before).
func (s *Service) sendMany(ctx context.Context, tx *sql.Tx, mb ManyMailBatch, contacts map[string]contact, as []SendArgs, out []Outcome) error {
	now := s.clock.Now().UTC()
	obls, dues := make([]string, len(as)), make([]string, len(as))
	offs := make([]int32, len(as))
	for i, a := range as {
		obls[i], dues[i], offs[i] = a.ObligationID, a.DueOn, int32(a.Offset)
	}
	rows, err := tx.QueryContext(ctx, qRecordPending, obls, dues, offs, now)
	if err != nil {
		return fmt.Errorf("reminder: send: %w", err)
	}
	taken := map[SendArgs]bool{}
	for rows.Next() {
		var a SendArgs
		if err := rows.Scan(&a.ObligationID, &a.DueOn, &a.Offset); err != nil {
			rows.Close()
			return fmt.Errorf("reminder: send: %w", err)
		}
		taken[a] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reminder: send: %w", err)
	}
	// fresh: the indexes whose record this run took. A key twice in one
	// batch is taken once, by its first reminder, as one by one.
	var fresh []int
	for i, a := range as {
		if taken[a] {
			fresh = append(fresh, i)
			delete(taken, a)
		} else {
			out[i] = OutcomeDuplicate
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	ids := make([]string, len(fresh))
	for j, i := range fresh {
		ids[j] = as[i].ObligationID
	}
	byID := make(map[string]Obligation, len(fresh))
	rows, err = tx.QueryContext(ctx, qObligationsByID, ids)
	if err != nil {
		return fmt.Errorf("reminder: send: %w", err)
	}
	for rows.Next() {
		o, err := scanObligation(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("reminder: send: %w", err)
		}
		byID[o.ID] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reminder: send: %w", err)
	}
	notification := make([]string, len(as))
	var msgs []Message
	var sending []int // as index of msgs[j]
	for _, i := range fresh {
		a := as[i]
		o, ok := byID[a.ObligationID]
		if !ok { // the record's foreign key makes this unreachable
			return fmt.Errorf("reminder: send: obligation %s: %w", a.ObligationID, sql.ErrNoRows)
		}
		out[i] = OutcomeSkipped
		if o.Status != StatusOpen || o.Due.String() != a.DueOn {
			continue
		}
		cc, ok := contacts[o.AccountID]
		if !ok {
			cc.c, cc.err = s.dir.Contact(ctx, o.AccountID)
		}
		if errors.Is(cc.err, ErrNoContact) || cc.err == nil && cc.c.Email == "" {
			continue
		}
		if cc.err != nil {
			return fmt.Errorf("reminder: send: contact: %w", cc.err)
		}
		msg := s.Compose(o, cc.c)
		msg.AccountID = o.AccountID
		msgs = append(msgs, msg)
		sending = append(sending, i)
	}
	if len(msgs) > 0 {
		nids, errs, err := mb.SendEmails(ctx, tx, msgs)
		if err != nil {
			return fmt.Errorf("reminder: send: %w", err)
		}
		for j, i := range sending {
			switch {
			case errs[j] == nil:
				out[i], notification[i] = OutcomeSent, nids[j]
			case platform.ErrorCode(errs[j]) == platform.CodeInvalid:
				// skipped, as one by one
			default:
				return fmt.Errorf("reminder: send: %w", errs[j])
			}
		}
	}
	var uo, ud, uoutcome, unid []string
	var um []int32
	for _, i := range fresh {
		uo, ud, um = append(uo, obls[i]), append(ud, dues[i]), append(um, offs[i])
		uoutcome, unid = append(uoutcome, string(out[i])), append(unid, notification[i])
	}
	if _, err := tx.ExecContext(ctx, qRecordOutcomes, uo, ud, um, uoutcome, unid); err != nil {
		return fmt.Errorf("reminder: send: %w", err)
	}
	return nil
}
