package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// What an agency system does with its own payments (the /v1/payments
// API): search, history, cancel and capture. Each is scoped to one agency
// and one mode (live or test): a test key never sees a live payment.

// Query is a search of an agency's payments, newest first.
type Query struct {
	Agency    string
	Live      bool
	Reference string    // exact
	Email     string    // exact
	Status    Status    // "" for any
	From, To  time.Time // created at or after From, before To (zero: unbounded)
	Offset    int
	Limit     int
}

// Search returns one page of the payments q matches and how many match in
// all.
func (s *Service) Search(ctx context.Context, q Query) ([]Payment, int, error) {
	where := []string{"agency_id = $1", "live = $2"}
	args := []any{q.Agency, q.Live}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Reference != "" {
		add("reference = $%d", q.Reference)
	}
	if q.Email != "" {
		add("email = $%d", q.Email)
	}
	if q.Status != "" {
		add("status = $%d", string(q.Status))
	}
	if !q.From.IsZero() {
		add("created_at >= $%d", q.From.UTC())
	}
	if !q.To.IsZero() {
		add("created_at < $%d", q.To.UTC())
	}
	cond := strings.Join(where, " AND ")
	var out []Payment
	total := 0
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE `+cond, args...).Scan(&total); err != nil {
			return err
		}
		page := append(append([]any(nil), args...), q.Limit, q.Offset)
		var err error
		out, err = queryPayments(ctx, tx, `SELECT `+paymentColumns+` FROM payments WHERE `+cond+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2), page...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("payment: search: %w", err)
	}
	return out, total, nil
}

// HistoryEntry is one state a payment has been in.
type HistoryEntry struct {
	State State
	At    time.Time
}

// History lists the states agency's payment id has been in, oldest first.
func (s *Service) History(ctx context.Context, agency, id string) ([]HistoryEntry, error) {
	if _, err := s.Get(ctx, agency, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT status, code, at FROM payment_events WHERE payment_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("payment: history: %w", err)
	}
	defer rows.Close()
	out := []HistoryEntry{}
	for rows.Next() {
		var st, code string
		var at time.Time
		if err := rows.Scan(&st, &code, &at); err != nil {
			return nil, fmt.Errorf("payment: history: %w", err)
		}
		out = append(out, HistoryEntry{State: StateOf(Status(st), code), At: at.UTC()})
	}
	return out, rows.Err()
}

// Why an agency's cancel or capture is refused.
var (
	// ErrFinished: the payment has finished; nothing can change it.
	ErrFinished = errors.New("payment: the payment has finished")
	// ErrInFlight: the payer has submitted their details and the provider
	// is deciding, or the payment is one part of a person's checkout of
	// several: it cannot be cancelled now.
	ErrInFlight = errors.New("payment: the payment cannot be cancelled in its state")
	// ErrNotCapturable: only a delayed-capture payment that is capturable
	// can be captured.
	ErrNotCapturable = errors.New("payment: the payment is not waiting to be captured")
)

// Cancel cancels agency's payment id for the agency (P0040): the provider
// is told first if the charge was begun, then the payment and its checkout
// move to cancelled in one transaction. A payment created or started may
// be cancelled, and one capturable; one submitted is ErrInFlight, a
// finished one ErrFinished; another agency's is CodeNotFound.
func (s *Service) Cancel(ctx context.Context, actor platform.Actor, agency, id string) error {
	p, c, err := s.agencyCheckout(ctx, agency, id)
	if err != nil {
		return err
	}
	switch {
	case p.State.Status.Finished():
		return ErrFinished
	case !CanMove(p.State.Status, Cancelled), len(c.Payments) > 1:
		return ErrInFlight
	}
	if c.ProviderRef != "" {
		prov, err := s.Provider(c.Provider)
		if err != nil {
			return err
		}
		if err := prov.Cancel(ctx, c.ProviderRef); err != nil {
			return fmt.Errorf("payment: cancel at %s: %w", c.Provider, err)
		}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if s.db.Dialect == storage.Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM checkouts WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
				return err
			}
		}
		if _, err := s.Move(ctx, tx, actor, p.ID, p.State.Status, Cancelled, CodeCancelledBySystem); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE checkouts SET status = $1, code = $2, updated_at = $3 WHERE id = $4`,
			string(Cancelled), CodeCancelledBySystem, s.clock.Now().UTC(), c.ID)
		return err
	})
	if errors.Is(err, ErrStale) {
		// It moved meanwhile (the payer submitted, or it finished): say
		// why it cannot be cancelled now.
		if now, gerr := s.Get(ctx, agency, id); gerr == nil && now.State.Status.Finished() {
			return ErrFinished
		}
		return ErrInFlight
	}
	return err
}

// Capture takes agency's delayed-capture payment id that is capturable:
// the provider captures the charge, then the payment settles as success
// (posted to the ledger). Anything else is ErrNotCapturable; another
// agency's payment is CodeNotFound.
func (s *Service) Capture(ctx context.Context, actor platform.Actor, agency, id string) error {
	p, c, err := s.agencyCheckout(ctx, agency, id)
	if err != nil {
		return err
	}
	if p.State.Status != Capturable || c.ProviderRef == "" || len(c.Payments) > 1 {
		return ErrNotCapturable
	}
	prov, err := s.Provider(c.Provider)
	if err != nil {
		return err
	}
	if err := prov.Capture(ctx, c.ProviderRef); err != nil {
		return fmt.Errorf("payment: capture at %s: %w", c.Provider, err)
	}
	_, err = s.Settle(ctx, actor, c.ID, Outcome{Status: Success})
	return err
}

// agencyCheckout reads agency's payment id and its checkout.
func (s *Service) agencyCheckout(ctx context.Context, agency, id string) (Payment, Checkout, error) {
	p, err := s.Get(ctx, agency, id)
	if err != nil {
		return Payment{}, Checkout{}, err
	}
	if p.Checkout == "" {
		return p, Checkout{Payments: []string{p.ID}}, nil
	}
	c, err := s.Checkout(ctx, p.Checkout)
	if err != nil {
		return Payment{}, Checkout{}, err
	}
	return p, c, nil
}
