package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/portico-gov/portico/internal/platform"
)

// Item kinds: what a checkout item pays for.
const (
	ItemCasePayment = "case_payment" // a fee a case asks for (case_payments.id)
	ItemObligation  = "obligation"   // an amount owed (obligations.id)
	ItemAPI         = "api"          // an agency's own payment (/v1/payments)
)

// Item is one thing a checkout pays for.
type Item struct {
	Kind          string
	Source        string // the case_payments or obligations id; "" for api
	Agency        string
	Amount        int64
	Currency      string
	Reference     string // what the agency's payment is known by (a case reference)
	DescriptionEN string
	DescriptionES string
	PaymentID     string // set once the checkout is open
}

// Checkout is one charge at the provider, paying one payment per agency.
type Checkout struct {
	ID          string
	Account     string
	Live        bool
	Amount      int64
	Currency    string
	Language    string
	Provider    string
	ProviderRef string
	NextURL     string
	State       State
	CardBrand   string
	LastDigits  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time
	Items       []Item
	Payments    []string // payment ids, one per agency
}

// OpenCheckout is what a checkout is opened with.
type OpenCheckout struct {
	Account   string // the person paying ("" for an agency's API payment)
	Live      bool
	Language  string
	Provider  string // "" = sandbox
	Email     string
	ReturnURL string // where the agency's payments say the payer returns
	Items     []Item
	// Payment is the agency's own request (kind api): its fields are used
	// as they are, and Items must then be empty.
	Payment *New
}

// OpenCheckout records a checkout and its payments (one per agency, each
// the sum of that agency's items) in tx, in state created. All items
// share one currency. The provider is asked nothing yet: Begin does that
// after the transaction commits. Each case_payment or obligation item is
// claimed in tx (claims.go): an item already in an unfinished or
// successful checkout is refused with ErrAlreadyPaying.
func (s *Service) OpenCheckout(ctx context.Context, tx *sql.Tx, actor platform.Actor, o OpenCheckout) (Checkout, error) {
	if o.Provider == "" {
		o.Provider = "sandbox"
	}
	if o.Language == "" {
		o.Language = "en"
	}
	now := s.clock.Now().UTC()
	c := Checkout{ID: newID(), Account: o.Account, Live: o.Live, Language: o.Language, Provider: o.Provider,
		State: StateOf(Created, ""), CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(Expiry)}
	type share struct {
		amount int64
		items  []int
	}
	shares := map[string]*share{}
	var agencies []string
	items := o.Items
	if o.Payment != nil {
		if len(items) > 0 {
			return Checkout{}, fmt.Errorf("payment: a checkout is either an agency's payment or a person's items")
		}
		n, err := Validate(*o.Payment)
		if err != nil {
			return Checkout{}, err
		}
		o.Payment = &n
		c.Provider, c.Live, c.Language = n.Provider, n.Live, n.Language
		items = []Item{{Kind: ItemAPI, Agency: n.Agency, Amount: n.Amount, Currency: n.Currency, Reference: n.Reference,
			DescriptionEN: n.Description, DescriptionES: n.Description}}
	}
	if len(items) == 0 {
		return Checkout{}, platform.Invalid("items", "Choose at least one thing to pay.")
	}
	for i, it := range items {
		if it.Amount < 1 || it.Agency == "" || it.Currency == "" {
			return Checkout{}, fmt.Errorf("payment: checkout item %d needs an agency, an amount and a currency", i)
		}
		if c.Currency == "" {
			c.Currency = it.Currency
		} else if it.Currency != c.Currency {
			return Checkout{}, platform.Invalid("items", "Everything paid in one checkout must be in one currency.")
		}
		sh := shares[it.Agency]
		if sh == nil {
			sh = &share{}
			shares[it.Agency] = sh
			agencies = append(agencies, it.Agency)
		}
		sh.amount += it.Amount
		sh.items = append(sh.items, i)
		c.Amount += it.Amount
	}
	if c.Amount > MaxAmount {
		return Checkout{}, invalid("amount", fmt.Sprintf("Must be less than or equal to %d", MaxAmount))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkouts (id, account_id, live, amount, currency, language, provider, status, created_at, updated_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)`,
		c.ID, c.Account, c.Live, c.Amount, c.Currency, c.Language, c.Provider, string(Created), now, c.ExpiresAt); err != nil {
		return Checkout{}, fmt.Errorf("payment: open checkout: %w", err)
	}
	if err := claim(ctx, tx, c.ID, items); err != nil {
		return Checkout{}, err
	}
	sort.Strings(agencies)
	for _, agency := range agencies {
		sh := shares[agency]
		var n New
		if o.Payment != nil {
			n = *o.Payment
		} else {
			first := items[sh.items[0]]
			ref, desc := first.Reference, first.DescriptionEN
			if len(sh.items) > 1 {
				ref, desc = c.ID, fmt.Sprintf("%d items paid together", len(sh.items))
			}
			if ref == "" {
				ref = c.ID
			}
			n = New{Agency: agency, Live: c.Live, Amount: sh.amount, Currency: c.Currency, Reference: ref, Description: desc,
				ReturnURL: o.ReturnURL, Language: c.Language, Email: o.Email, Provider: c.Provider}
		}
		n.Checkout = c.ID
		p, err := s.Create(ctx, tx, actor, n)
		if err != nil {
			return Checkout{}, err
		}
		c.Payments = append(c.Payments, p.ID)
		for _, i := range sh.items {
			it := items[i]
			it.PaymentID = p.ID
			if _, err := tx.ExecContext(ctx, `INSERT INTO checkout_items (checkout_id, payment_id, kind, source, agency_id, amount, currency, description_en, description_es)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				c.ID, p.ID, it.Kind, it.Source, it.Agency, it.Amount, it.Currency, it.DescriptionEN, it.DescriptionES); err != nil {
				return Checkout{}, fmt.Errorf("payment: checkout item: %w", err)
			}
			c.Items = append(c.Items, it)
		}
	}
	return c, nil
}

// Begin asks the checkout's provider for the charge (keyed by the
// checkout's id, so calling Begin again after a crash or a timeout makes
// no second charge) and records its reference and next page, moving the
// checkout and its payments to started. A checkout already begun returns
// as it is. returnURL is Portico's absolute return page for it.
func (s *Service) Begin(ctx context.Context, actor platform.Actor, id, returnURL, description string) (Checkout, error) {
	c, err := s.Checkout(ctx, id)
	if err != nil {
		return Checkout{}, err
	}
	if c.ProviderRef != "" || c.State.Status != Created {
		return c, nil
	}
	p, err := s.Provider(c.Provider)
	if err != nil {
		return Checkout{}, err
	}
	email, delayed := "", false
	if len(c.Payments) > 0 {
		if pay, err := s.payment(ctx, c.Payments[0]); err == nil {
			// Only an agency's own payment (one per checkout) may ask
			// for delayed capture.
			email, delayed = pay.Email, pay.DelayedCapture && len(c.Payments) == 1
		}
	}
	b, err := p.Start(ctx, Charge{Checkout: c.ID, Amount: c.Amount, Currency: c.Currency, Description: description, Email: email,
		Language: c.Language, ReturnURL: returnURL, Live: c.Live, Expires: c.ExpiresAt, DelayedCapture: delayed})
	if err != nil {
		return Checkout{}, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE checkouts SET provider_ref = $1, next_url = $2, updated_at = $3 WHERE id = $4 AND provider_ref = '' AND status = 'created'`,
			b.Ref, b.NextURL, s.clock.Now().UTC(), c.ID)
		if err != nil {
			return fmt.Errorf("payment: begin: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrStale
		}
		return s.moveCheckout(ctx, tx, actor, c.ID, Outcome{Status: Started})
	})
	if errors.Is(err, ErrStale) {
		now, err := s.Checkout(ctx, id)
		if err != nil {
			return Checkout{}, err
		}
		if now.ProviderRef == "" && now.State.Finished {
			// The checkout ended while the provider was asked (a counter
			// payment took its items, or it expired): its payer never saw
			// the charge's page, and must never pay it.
			if err := p.Cancel(ctx, b.Ref); err != nil && platform.ErrorCode(err) != platform.CodeConflict {
				return Checkout{}, fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, c.Provider, err)
			}
		}
		return now, nil
	}
	if err != nil {
		return Checkout{}, err
	}
	return s.Checkout(ctx, id)
}

// Settle records what the provider says about checkout id (read with
// Status: the return page, the provider's webhook and the settle sweep all
// call it), moving the checkout and each of its payments to o.Status
// through the states between. A payment that is already there, or past
// it, is left alone: settling twice changes nothing. It returns the
// checkout as it now is.
func (s *Service) Settle(ctx context.Context, actor platform.Actor, id string, o Outcome) (Checkout, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.moveCheckout(ctx, tx, actor, id, o) })
	if err != nil {
		return Checkout{}, err
	}
	return s.Checkout(ctx, id)
}

// SettleRef is Settle for the checkout the provider knows as ref.
func (s *Service) SettleRef(ctx context.Context, actor platform.Actor, provider, ref string, o Outcome) (Checkout, error) {
	var id string
	err := s.db.Read().QueryRowContext(ctx, `SELECT id FROM checkouts WHERE provider = $1 AND provider_ref = $2`, provider, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkout{}, platform.Errorf(platform.CodeNotFound, "no checkout has the %s reference %q", provider, ref)
	}
	if err != nil {
		return Checkout{}, fmt.Errorf("payment: settle: %w", err)
	}
	return s.Settle(ctx, actor, id, o)
}

// SettleRefTx is SettleRef inside the caller's transaction, for a caller
// that records something with the settling (a provider webhook records
// the event's id, so a replayed event is never acted on twice). It
// returns the checkout's id; a ref no checkout has is CodeNotFound.
func (s *Service) SettleRefTx(ctx context.Context, tx *sql.Tx, actor platform.Actor, provider, ref string, o Outcome) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM checkouts WHERE provider = $1 AND provider_ref = $2`, provider, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", platform.Errorf(platform.CodeNotFound, "no checkout has the %s reference %q", provider, ref)
	}
	if err != nil {
		return "", fmt.Errorf("payment: settle: %w", err)
	}
	return id, s.moveCheckout(ctx, tx, actor, id, o)
}

func (s *Service) moveCheckout(ctx context.Context, tx *sql.Tx, actor platform.Actor, id string, o Outcome) error {
	if !o.Status.Valid() {
		return fmt.Errorf("payment: settle: unknown status %q", o.Status)
	}
	var cur, code string
	if err := tx.QueryRowContext(ctx, `SELECT status, code FROM checkouts WHERE id = $1`, id).Scan(&cur, &code); errors.Is(err, sql.ErrNoRows) {
		return platform.Errorf(platform.CodeNotFound, "no checkout %q", id)
	} else if err != nil {
		return fmt.Errorf("payment: settle: %w", err)
	}
	path := pathTo(Status(cur), o.Status)
	if path == nil {
		// Already there or past it (a late webhook after the return page):
		// nothing to do. Anything else is a provider contradicting itself,
		// which the caller must hear about.
		if Status(cur) == o.Status || Status(cur).Finished() {
			return nil
		}
		return platform.Errorf(platform.CodeConflict, "payment: checkout %s cannot move from %s to %s", id, cur, o.Status)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, status FROM payments WHERE checkout_id = $1 ORDER BY id`, id)
	if err != nil {
		return fmt.Errorf("payment: settle: %w", err)
	}
	type pay struct {
		id     string
		status Status
	}
	var pays []pay
	for rows.Next() {
		var p pay
		var st string
		if err := rows.Scan(&p.id, &st); err != nil {
			rows.Close()
			return fmt.Errorf("payment: settle: %w", err)
		}
		p.status = Status(st)
		pays = append(pays, p)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("payment: settle: %w", err)
	}
	for _, p := range pays {
		from := p.status
		for _, to := range pathTo(from, o.Status) {
			c := ""
			if to == o.Status {
				c = o.Code
			}
			if _, err := s.Move(ctx, tx, actor, p.id, from, to, c); err != nil {
				return err
			}
			from = to
		}
	}
	now := s.clock.Now().UTC()
	_, err = tx.ExecContext(ctx, `UPDATE checkouts SET status = $1, code = $2,
		card_brand = CASE WHEN CAST($3 AS TEXT) = '' THEN card_brand ELSE $3 END, last_digits = CASE WHEN CAST($4 AS TEXT) = '' THEN last_digits ELSE $4 END,
		first_digits = CASE WHEN CAST($7 AS TEXT) = '' THEN first_digits ELSE $7 END, cardholder_name = CASE WHEN CAST($8 AS TEXT) = '' THEN cardholder_name ELSE $8 END,
		card_expiry = CASE WHEN CAST($9 AS TEXT) = '' THEN card_expiry ELSE $9 END, card_type = CASE WHEN CAST($10 AS TEXT) = '' THEN card_type ELSE $10 END,
		updated_at = $5 WHERE id = $6`, string(o.Status), o.Code, o.CardBrand, o.LastDigits, now, id, o.FirstDigits, o.CardholderName, o.ExpiryDate, o.CardType)
	if err != nil {
		return fmt.Errorf("payment: settle: %w", err)
	}
	if o.Status.Finished() && o.Status != Success {
		// Nothing was paid: the items may be chosen again.
		return release(ctx, tx, id)
	}
	return nil
}

// Checkout returns checkout id with its items and payments.
func (s *Service) Checkout(ctx context.Context, id string) (Checkout, error) {
	var c Checkout
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		var status, code string
		err := tx.QueryRowContext(ctx, `SELECT id, account_id, live, amount, currency, language, provider, provider_ref, next_url, status, code, card_brand, last_digits, created_at, updated_at, expires_at
			FROM checkouts WHERE id = $1`, id).Scan(&c.ID, &c.Account, &c.Live, &c.Amount, &c.Currency, &c.Language, &c.Provider, &c.ProviderRef, &c.NextURL,
			&status, &code, &c.CardBrand, &c.LastDigits, &c.CreatedAt, &c.UpdatedAt, &c.ExpiresAt)
		if errors.Is(err, sql.ErrNoRows) {
			return platform.Errorf(platform.CodeNotFound, "no checkout %q", id)
		}
		if err != nil {
			return fmt.Errorf("payment: checkout: %w", err)
		}
		c.State = StateOf(Status(status), code)
		c.CreatedAt, c.UpdatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.ExpiresAt.UTC()
		rows, err := tx.QueryContext(ctx, `SELECT i.kind, i.source, i.agency_id, i.amount, i.currency, p.reference, i.description_en, i.description_es, i.payment_id
			FROM checkout_items i JOIN payments p ON p.id = i.payment_id WHERE i.checkout_id = $1 ORDER BY i.id`, id)
		if err != nil {
			return fmt.Errorf("payment: checkout items: %w", err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var it Item
			if err := rows.Scan(&it.Kind, &it.Source, &it.Agency, &it.Amount, &it.Currency, &it.Reference, &it.DescriptionEN, &it.DescriptionES, &it.PaymentID); err != nil {
				return fmt.Errorf("payment: checkout items: %w", err)
			}
			c.Items = append(c.Items, it)
			if !seen[it.PaymentID] {
				seen[it.PaymentID] = true
				c.Payments = append(c.Payments, it.PaymentID)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return Checkout{}, err
	}
	return c, nil
}

// payment reads one payment by id, whatever its agency (the block's own
// reads; agencies use Get).
func (s *Service) payment(ctx context.Context, id string) (Payment, error) {
	var p Payment
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		p, err = get(ctx, tx, id)
		return err
	})
	return p, err
}
