package casework

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// Payment is a fee a case asks for and, once recorded, its payment.
type Payment struct {
	ID          int64      `json:"id"`
	State       string     `json:"state"`
	Amount      int64      `json:"amount"`
	Currency    string     `json:"currency"`
	RequestedAt time.Time  `json:"requested_at"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	PaidAmount  int64      `json:"paid_amount,omitempty"`
	PaidBy      string     `json:"paid_by,omitempty"`
	PaidRef     string     `json:"paid_ref,omitempty"`
}

// RecordPayment records that the fee due was paid (at the counter, until
// the payments issue charges it online): every unpaid request of the case
// is marked paid if amount is their total. Then, in the same transaction,
// the system takes an automatic transition if one now may be taken.
//
// Only finance staff and agency administrators of the case's agency record
// payments (other staff of the agency: forbidden; anyone else: not found).
func (s *Service) RecordPayment(ctx context.Context, actor platform.Actor, caseID string, amount int64, ref string) (Case, error) {
	ctx = platform.WithActor(ctx, actor)
	ref = strings.TrimSpace(ref)
	if len(ref) > 200 || !utf8.ValidString(ref) {
		return Case{}, platform.Invalid("ref", "the receipt number is too long")
	}
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if err := mayRecordPayment(actor, c); err != nil {
			return err
		}
		if c.ClosedAt != nil {
			return refuse("case.reason.closed")
		}
		var due sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT SUM(amount) FROM case_payments WHERE case_id = $1 AND paid_at IS NULL`, c.ID).Scan(&due); err != nil {
			return fmt.Errorf("casework: record payment: %w", err)
		}
		if !due.Valid {
			return platform.Errorf(platform.CodeConflict, "no payment is due on this case")
		}
		if amount != due.Int64 {
			return platform.Invalid("amount", fmt.Sprintf("the amount due is %s", i18n.Messages().For(i18n.English, nil).MoneyOf(due.Int64, "")))
		}
		paid, err := unpaidIDs(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if err := s.claimForCounter(ctx, tx, paid, actor); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		actor := platform.ActorFrom(ctx).String()
		if _, err := tx.ExecContext(ctx, `UPDATE case_payments SET paid_at = $2, paid_amount = amount, paid_by = $3, paid_ref = $4
			WHERE case_id = $1 AND paid_at IS NULL`, c.ID, now, actor, ref); err != nil {
			return fmt.Errorf("casework: record payment: %w", err)
		}
		if err := s.paidObligations(ctx, tx, c, paid); err != nil {
			return err
		}
		detail := map[string]any{"action": "payment_recorded", "amount": amount, "ref": ref}
		if err := s.entry(ctx, tx, c.ID, "message", false, "", detail); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.payment.record", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
			Detail: map[string]any{"reference": c.Reference, "amount": amount, "ref": ref}}); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, c, EventPaymentRecorded, detail); err != nil {
			return err
		}
		m := i18n.Messages()
		if err := s.mailTexts(ctx, tx, c, "mail.payment", manifest.Text{EN: m.For(i18n.English, nil).MoneyOf(amount, ""),
			ES: m.For(i18n.Spanish, nil).MoneyOf(amount, "")}); err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := s.save(ctx, tx, c); err != nil {
			return err
		}
		out, err = s.automatic(ctx, tx, c)
		return err
	})
	return out, err
}

// CounterClaims is what the counter needs of the payment block (issue
// 12): in the transaction that records a counter payment, each fee it
// records is taken from online checkouts, so the person cannot pay it
// twice. A checkout not yet begun that holds a fee is cancelled; a fee
// being paid online is refused with ErrFeePayingOnline, one paid online
// with ErrFeePaidOnline.
type CounterClaims interface {
	ClaimFees(ctx context.Context, tx *sql.Tx, fees []int64, by string) error
}

// Refusals of CounterClaims.ClaimFees.
var (
	ErrFeePayingOnline = errors.New("casework: the fee is being paid online")
	ErrFeePaidOnline   = errors.New("casework: the fee was paid online")
)

// claimForCounter takes fees for the counter (Deps.Counter) and says why
// not in the staff's words: the person is paying online right now (the
// counter waits for that checkout to end), or has paid online.
func (s *Service) claimForCounter(ctx context.Context, tx *sql.Tx, fees []int64, actor platform.Actor) error {
	if s.deps.Counter == nil || len(fees) == 0 {
		return nil
	}
	err := s.deps.Counter.ClaimFees(ctx, tx, fees, actor.String())
	switch {
	case errors.Is(err, ErrFeePayingOnline):
		return refuse("case.reason.paying_online")
	case errors.Is(err, ErrFeePaidOnline):
		return refuse("case.reason.paid_online")
	}
	return err
}

// Payments returns the fees the case asked for, oldest first.
func (s *Service) Payments(ctx context.Context, caseID string) ([]Payment, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, state, amount, currency, requested_at, due_at, paid_at, COALESCE(paid_amount, 0),
		COALESCE(paid_by, ''), paid_ref FROM case_payments WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: payments: %w", err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		var p Payment
		var due, paid sql.NullTime
		if err := rows.Scan(&p.ID, &p.State, &p.Amount, &p.Currency, &p.RequestedAt, &due, &paid, &p.PaidAmount, &p.PaidBy, &p.PaidRef); err != nil {
			return nil, fmt.Errorf("casework: payments: %w", err)
		}
		p.RequestedAt = p.RequestedAt.UTC()
		if due.Valid {
			t := due.Time.UTC()
			p.DueAt = &t
		}
		if paid.Valid {
			t := paid.Time.UTC()
			p.PaidAt = &t
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// unpaidIDs lists the case's fee requests not yet paid.
func unpaidIDs(ctx context.Context, tx *sql.Tx, caseID string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM case_payments WHERE case_id = $1 AND paid_at IS NULL ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: unpaid: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
