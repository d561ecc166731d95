package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/platform"
)

// SettleAfter is how long a checkout may stay unfinished before the
// settle sweep asks its provider for the truth: long enough for a payer
// typing their card, short enough that a closed browser tab does not
// leave a paid checkout unrecorded for long.
const SettleAfter = 5 * time.Minute

// SettleBatch is how many checkouts one SettleDue call reads at most.
const SettleBatch = 200

// SettleDue settles the checkouts left unfinished for SettleAfter (their
// return page was never visited): each asks its provider for the charge's
// state and moves to it. A checkout past its expires_at that the provider
// has not taken is cancelled at the provider first (so the payer can no
// longer pay it) and then fails with P0020, with all its payments, in one
// transaction; if the provider took the money meanwhile, the checkout
// succeeds instead. A provider that does not answer leaves its checkout
// for the next run. It returns how many checkouts it changed and the
// last error it met (nil when every checkout could be read and settled).
func (s *Service) SettleDue(ctx context.Context, actor platform.Actor) (int, error) {
	now := s.clock.Now().UTC()
	// expires_at = created_at + Expiry, so this reads the partial index
	// checkouts_unfinished for checkouts older than SettleAfter.
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id FROM checkouts WHERE status IN ('created', 'started', 'submitted')
		AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now.Add(Expiry-SettleAfter), SettleBatch)
	if err != nil {
		return 0, fmt.Errorf("payment: settle due: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("payment: settle due: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("payment: settle due: %w", err)
	}
	n := 0
	var last error
	for _, id := range ids {
		changed, err := s.settleOne(ctx, actor, id, now)
		if err != nil {
			// One checkout's trouble (a provider down, a provider
			// contradicting itself) does not hold up the others.
			last = fmt.Errorf("payment: settle %s: %w", id, err)
			continue
		}
		if changed {
			n++
		}
	}
	return n, last
}

// settleOne brings checkout id to its provider's state, or expires it.
func (s *Service) settleOne(ctx context.Context, actor platform.Actor, id string, now time.Time) (bool, error) {
	c, err := s.Checkout(ctx, id)
	if err != nil {
		return false, err
	}
	if c.State.Finished {
		return false, nil
	}
	expired := !now.Before(c.ExpiresAt)
	p, err := s.Provider(c.Provider)
	if err != nil {
		return false, err
	}
	if c.ProviderRef == "" { // never begun, or begun by a process that died before recording it
		if !expired {
			return false, nil
		}
		if c.ProviderRef, err = s.found(ctx, p, id); err != nil {
			return false, err
		}
		if c.ProviderRef == "" { // the provider knows nothing of it
			_, err := s.Settle(ctx, actor, id, Outcome{Status: Failed, Code: CodeExpired})
			return err == nil, err
		}
	}
	o, err := p.Status(ctx, c.ProviderRef)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
	}
	// A charge cancelled at the provider of an expired checkout is the
	// sweep's own cancellation (a run that died before recording the
	// expiry): it expires, P0020, as if that run had finished.
	if expired && (o.Status == Cancelled || !o.Status.Finished() && o.Status != Capturable) {
		if o.Status != Cancelled {
			// Stop the payer paying an expired checkout, then read again:
			// a card taken in the meantime wins over the expiry.
			if err := p.Cancel(ctx, c.ProviderRef); err != nil && platform.ErrorCode(err) != platform.CodeConflict {
				return false, fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
			}
			if o, err = p.Status(ctx, c.ProviderRef); err != nil {
				return false, fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
			}
		}
		if o.Status != Success && o.Status != Capturable {
			o = Outcome{Status: Failed, Code: CodeExpired, CardBrand: o.CardBrand, LastDigits: o.LastDigits,
				FirstDigits: o.FirstDigits, CardholderName: o.CardholderName, ExpiryDate: o.ExpiryDate, CardType: o.CardType}
		}
	}
	if o.Status == c.State.Status {
		return false, nil
	}
	_, err = s.Settle(ctx, actor, id, o)
	return err == nil, err
}

// found asks a Finder provider for the charge of checkout id, which
// Portico has no reference of, and records the reference it finds (the
// checkout's state is left to the caller, which reads the charge's).
// A provider that cannot find charges answers "".
func (s *Service) found(ctx context.Context, p Provider, id string) (string, error) {
	f, ok := p.(Finder)
	if !ok {
		return "", nil
	}
	ref, err := f.Find(ctx, id)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, p.Name(), err)
	}
	if ref == "" {
		return "", nil
	}
	if _, err := s.db.Write().ExecContext(ctx, `UPDATE checkouts SET provider_ref = $1, updated_at = $2 WHERE id = $3 AND provider_ref = ''`,
		ref, s.clock.Now().UTC(), id); err != nil {
		return "", fmt.Errorf("payment: settle: %w", err)
	}
	return ref, nil
}

// SettleArgs is the periodic job that settles unfinished checkouts.
type SettleArgs struct{}

// Kind implements river.JobArgs.
func (SettleArgs) Kind() string { return "payment.settle" }

// SettleWorker runs SettleDue.
type SettleWorker struct {
	river.WorkerDefaults[SettleArgs]
	Payments *Service
}

// settler is the actor the settle sweep acts as in the audit log.
var settler = platform.Actor{Kind: platform.ActorSystem, ID: "payment.settle"}

// Work implements river.Worker. A provider that did not answer does not
// fail the job (the next minute's run asks again); any other error does,
// so it is seen in the job's attempts.
//
// The same sweep expires delayed-capture payments not captured within
// CaptureWithin (ExpireCapturable), after settling: a capture that got
// there first wins.
func (w *SettleWorker) Work(ctx context.Context, _ *river.Job[SettleArgs]) error {
	_, err := w.Payments.SettleDue(ctx, settler)
	if err == nil {
		_, err = w.Payments.ExpireCapturable(ctx, settler)
	}
	if errors.Is(err, ErrProviderUnavailable) {
		return nil // the next minute's run asks again
	}
	return err
}
