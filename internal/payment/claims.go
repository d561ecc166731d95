package payment

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// ErrAlreadyPaying is returned by OpenCheckout when one of its items is
// already in another checkout that is unfinished or succeeded: a fee or an
// obligation is paid once.
var ErrAlreadyPaying = platform.Errorf(platform.CodeConflict, "payment.error.already")

// claim records, in the opening transaction, that checkout id pays each
// of its person's items (kinds case_payment and obligation; an agency's
// api payment is its own item). checkout_claims has one row per (kind,
// source): of two checkouts racing for one item, the second insert finds
// the first's row (on PostgreSQL it waits for the first transaction and
// sees its outcome) and the second checkout is refused with
// ErrAlreadyPaying, rolling back with it.
func claim(ctx context.Context, tx *sql.Tx, id string, items []Item) error {
	for _, it := range items {
		if it.Kind == ItemAPI {
			continue
		}
		if it.Source == "" {
			return fmt.Errorf("payment: a %s item needs its source", it.Kind)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO checkout_claims (kind, source, checkout_id) VALUES ($1, $2, $3) ON CONFLICT (kind, source) DO NOTHING`,
			it.Kind, it.Source, id)
		if err != nil {
			return fmt.Errorf("payment: claim: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("payment: claim: %w", err)
		} else if n == 0 {
			return ErrAlreadyPaying
		}
	}
	return nil
}

// release gives back the items of checkout id, which ended without
// success, in the transaction that settles it: they may be paid again.
func release(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM checkout_claims WHERE checkout_id = $1`, id); err != nil {
		return fmt.Errorf("payment: release: %w", err)
	}
	return nil
}

// Refusals of ClaimForCounter: the item is being paid online (a checkout
// the payer has begun holds it), was paid online (a successful checkout
// holds it), or was recorded at the counter already.
var (
	ErrPayingOnline  = platform.Errorf(platform.CodeConflict, "payment.error.paying_online")
	ErrPaidOnline    = platform.Errorf(platform.CodeConflict, "payment.error.paid_online")
	ErrPaidAtCounter = platform.Errorf(platform.CodeConflict, "payment.error.paid_counter")
)

// counterActor cancels a checkout whose items a counter payment took.
var counterActor = platform.Actor{Kind: platform.ActorSystem, ID: "payment.counter"}

// ClaimForCounter takes items of one kind for a payment recorded at the
// counter, in tx (the transaction that records it), so that no checkout
// can pay them afterwards and the counter cannot record what is paid or
// being paid online. For each source:
//   - unclaimed: claimed for the counter (by names who recorded it);
//   - held by a checkout not begun (created, no charge at the provider
//     recorded): that checkout is cancelled with P0040, all its payments
//     with it, its claims released, and the item claimed for the
//     counter. Its payer never reached the provider's page; a Begin
//     racing with this finds the checkout cancelled and cancels the
//     charge it just asked for (Begin);
//   - held by a begun, unfinished checkout: ErrPayingOnline (the payer
//     may be typing their card: the counter waits for the checkout to
//     end, or the payer cancels it);
//   - held by a successful checkout: ErrPaidOnline;
//   - held by the counter: ErrPaidAtCounter.
//
// On any refusal nothing is claimed (the caller's tx rolls back).
func (s *Service) ClaimForCounter(ctx context.Context, tx *sql.Tx, kind string, sources []string, by string) error {
	if kind != ItemCasePayment && kind != ItemObligation {
		return fmt.Errorf("payment: counter claim of kind %q", kind)
	}
	for _, src := range sources {
		for attempt := 0; ; attempt++ {
			res, err := tx.ExecContext(ctx, `INSERT INTO checkout_claims (kind, source, checkout_id, counter) VALUES ($1, $2, '', $3) ON CONFLICT (kind, source) DO NOTHING`,
				kind, src, by)
			if err != nil {
				return fmt.Errorf("payment: counter claim: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("payment: counter claim: %w", err)
			} else if n == 1 {
				break
			}
			var holder, status, ref string
			err = tx.QueryRowContext(ctx, `SELECT c.checkout_id, COALESCE(k.status, ''), COALESCE(k.provider_ref, '')
				FROM checkout_claims c LEFT JOIN checkouts k ON k.id = c.checkout_id WHERE c.kind = $1 AND c.source = $2`, kind, src).Scan(&holder, &status, &ref)
			if err != nil {
				return fmt.Errorf("payment: counter claim: %w", err)
			}
			switch {
			case holder == "":
				return ErrPaidAtCounter
			case Status(status) == Success:
				return ErrPaidOnline
			case Status(status) != Created || ref != "" || attempt > 0:
				return ErrPayingOnline
			}
			// Not begun: the counter wins; the checkout ends whole.
			if err := s.moveCheckout(ctx, tx, counterActor, holder, Outcome{Status: Cancelled, Code: CodeCancelledBySystem}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Claim is an item a person's checkout is paying or has paid.
type Claim struct {
	Kind, Source string
	Checkout     string
	Status       Status // the checkout's
}

// ClaimsOf lists the items account's checkouts hold: unfinished ones
// (being paid) and successful ones (paid; the block that owns the item
// may not have recorded it yet). The Pay page marks them so they are not
// chosen twice; OpenCheckout refuses them whatever the page showed.
func (s *Service) ClaimsOf(ctx context.Context, account string) ([]Claim, error) {
	if account == "" {
		return nil, nil
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT c.kind, c.source, c.checkout_id, k.status
		FROM checkouts k JOIN checkout_claims c ON c.checkout_id = k.id
		WHERE k.account_id = $1 AND k.status IN ('created', 'started', 'submitted', 'capturable', 'success')
		ORDER BY c.kind, c.source`, account)
	if err != nil {
		return nil, fmt.Errorf("payment: claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var st string
		if err := rows.Scan(&c.Kind, &c.Source, &c.Checkout, &st); err != nil {
			return nil, fmt.Errorf("payment: claims: %w", err)
		}
		c.Status = Status(st)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Open is OpenCheckout in a transaction of its own, for a person's
// checkout (the Pay page): nothing else changes with it.
func (s *Service) Open(ctx context.Context, actor platform.Actor, o OpenCheckout) (Checkout, error) {
	var c Checkout
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = s.OpenCheckout(ctx, tx, actor, o)
		return err
	})
	return c, err
}

// PaidItem is one item a successful payment paid for, as the blocks
// that own the items (casework, reminder) need it to mark it paid.
type PaidItem struct {
	Kind      string
	Source    string
	Agency    string
	Amount    int64
	Currency  string
	PaymentID string
	Checkout  string
	Account   string
}

// PaidItems lists what payment id paid for, only once it has succeeded
// (nothing otherwise): the succeeded event's consumers read it.
func (s *Service) PaidItems(ctx context.Context, id string) ([]PaidItem, error) {
	return paidItems(ctx, s.db, id)
}

// ItemsOf lists what payment id was for, whatever its status (the
// outcome block counts failed payments per service too). It reads no
// personal data beyond the items themselves and checks no actor: it is
// for the platform's consumers.
func (s *Service) ItemsOf(ctx context.Context, id string) ([]PaidItem, error) {
	return items(ctx, s.db, id, false)
}

func paidItems(ctx context.Context, db *storage.DB, id string) ([]PaidItem, error) {
	return items(ctx, db, id, true)
}

func items(ctx context.Context, db *storage.DB, id string, paid bool) ([]PaidItem, error) {
	cond := ""
	if paid {
		cond = ` AND p.status = 'success'`
	}
	rows, err := db.Read().QueryContext(ctx, `SELECT i.kind, i.source, i.agency_id, i.amount, i.currency, i.payment_id, i.checkout_id, k.account_id
		FROM checkout_items i JOIN payments p ON p.id = i.payment_id JOIN checkouts k ON k.id = i.checkout_id
		WHERE i.payment_id = $1`+cond+` ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("payment: paid items: %w", err)
	}
	defer rows.Close()
	var out []PaidItem
	for rows.Next() {
		var it PaidItem
		if err := rows.Scan(&it.Kind, &it.Source, &it.Agency, &it.Amount, &it.Currency, &it.PaymentID, &it.Checkout, &it.Account); err != nil {
			return nil, fmt.Errorf("payment: paid items: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
