package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/platform"
)

// CaptureWithin is how long a delayed-capture payment may wait to be
// captured, counted from its creation (GOV.UK Pay's 120 hours): after
// it, the payment expires (failed, P0020) and the payer's card is no
// longer held.
const CaptureWithin = 120 * time.Hour

// CaptureExpiryBatch is how many payments one ExpireCapturable call
// expires at most; the settle sweep runs every minute.
const CaptureExpiryBatch = 200

// ExpireCapturable expires every capturable payment created more than
// CaptureWithin ago, at most CaptureExpiryBatch of them, and returns how many
// it moved. Each is cancelled at its provider first (the authorisation
// is released), then read again: a capture that got there first wins
// and the payment succeeds; otherwise it fails with P0020 with its
// checkout, in one transaction, emitting EventFailed (a payment webhook
// sends card_payment_expired). A provider that does not answer leaves
// its payment for the next run; the last such error is returned.
func (s *Service) ExpireCapturable(ctx context.Context, actor platform.Actor) (int, error) {
	now := s.clock.Now().UTC()
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id FROM payments WHERE status = 'capturable' AND created_at <= $1 ORDER BY created_at LIMIT $2`,
		now.Add(-CaptureWithin), CaptureExpiryBatch)
	if err != nil {
		return 0, fmt.Errorf("payment: expire capturable: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("payment: expire capturable: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("payment: expire capturable: %w", err)
	}
	n := 0
	var last error
	for _, id := range ids {
		err := s.expireCapturable(ctx, actor, id)
		switch {
		case errors.Is(err, ErrStale):
		case err != nil:
			last = fmt.Errorf("payment: expire capturable %s: %w", id, err)
		default:
			n++
		}
	}
	return n, last
}

func (s *Service) expireCapturable(ctx context.Context, actor platform.Actor, id string) error {
	p, err := s.payment(ctx, id)
	if err != nil {
		return err
	}
	if p.State.Status != Capturable {
		return ErrStale
	}
	expired := Outcome{Status: Failed, Code: CodeExpired}
	if p.Checkout == "" {
		_, err := s.settleAlone(ctx, actor, p, expired)
		return err
	}
	c, err := s.Checkout(ctx, p.Checkout)
	if err != nil {
		return err
	}
	if c.ProviderRef != "" {
		prov, err := s.Provider(c.Provider)
		if err != nil {
			return err
		}
		if err := prov.Cancel(ctx, c.ProviderRef); err != nil && platform.ErrorCode(err) != platform.CodeConflict {
			return fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
		}
		o, err := prov.Status(ctx, c.ProviderRef)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
		}
		if o.Status == Success {
			_, err = s.Settle(ctx, actor, c.ID, o)
			return err
		}
	}
	_, err = s.Settle(ctx, actor, c.ID, expired)
	return err
}

// settleAlone moves a capturable payment that belongs to no checkout
// to o.
func (s *Service) settleAlone(ctx context.Context, actor platform.Actor, p Payment, o Outcome) (Payment, error) {
	var out Payment
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.Move(ctx, tx, actor, p.ID, Capturable, o.Status, o.Code)
		return err
	})
	return out, err
}
