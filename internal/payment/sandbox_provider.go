package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// SandboxName is the built-in test provider's name.
const SandboxName = "sandbox"

// SandboxPage is the path of the sandbox's clearly labelled test payment
// page for charge ref (internal/payment/payweb serves it).
func SandboxPage(ref string) string { return "/pay/sandbox/" + ref }

// Sandbox is the built-in test provider: a Provider whose "payment page"
// is Portico's own test page, where the payer types one of the test cards
// (SandboxCard). It keeps its own record of each charge (sandbox_charges),
// apart from the checkout, so Status answers what the payer did, not what
// Portico believes. It never takes money and never keeps a card number.
type Sandbox struct {
	db    *storage.DB
	clock platform.Clock
}

// NewSandbox returns the sandbox provider. Every argument is required.
func NewSandbox(db *storage.DB, clock platform.Clock) (*Sandbox, error) {
	if err := platform.Required("payment sandbox",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	return &Sandbox{db: db, clock: clock}, nil
}

// Name implements Provider.
func (s *Sandbox) Name() string { return SandboxName }

// SandboxCharge is a charge as the sandbox records it.
type SandboxCharge struct {
	Ref            string
	Checkout       string
	Amount         int64
	Currency       string
	Description    string
	Language       string
	ReturnURL      string
	DelayedCapture bool
	Status         Status
	Code           string
	Challenge      bool // a test authentication step waits for the payer
	CardBrand      string
	LastDigits     string
	FirstDigits    string
	CardholderName string
	ExpiryDate     string // MM/YY
	CardType       string // debit or credit
	Refunded       int64
	CreatedAt      time.Time
}

// Finished reports whether the payer can do nothing more on the page.
func (c SandboxCharge) Finished() bool {
	return c.Status != Created && c.Status != Started && !c.Challenge
}

const sandboxColumns = `ref, checkout_id, amount, currency, description, language, return_url, delayed_capture, status, code, challenge, card_brand, last_digits, refunded, created_at, first_digits, cardholder_name, card_expiry, card_type`

func scanSandbox(r interface{ Scan(...any) error }) (SandboxCharge, error) {
	var c SandboxCharge
	var st string
	err := r.Scan(&c.Ref, &c.Checkout, &c.Amount, &c.Currency, &c.Description, &c.Language, &c.ReturnURL, &c.DelayedCapture,
		&st, &c.Code, &c.Challenge, &c.CardBrand, &c.LastDigits, &c.Refunded, &c.CreatedAt,
		&c.FirstDigits, &c.CardholderName, &c.ExpiryDate, &c.CardType)
	c.Status, c.CreatedAt = Status(st), c.CreatedAt.UTC()
	return c, err
}

var errNoCharge = platform.Errorf(platform.CodeNotFound, "payment.sandbox.notfound")

// Start implements Provider: it records the charge in state started
// (once per checkout: a second call returns the first charge) and sends
// the payer to the sandbox's test page.
func (s *Sandbox) Start(ctx context.Context, c Charge) (Begun, error) {
	if c.Checkout == "" || c.Amount < 1 || c.Currency == "" {
		return Begun{}, fmt.Errorf("payment: sandbox: a charge needs its checkout, an amount and a currency")
	}
	now := s.clock.Now().UTC()
	var ref string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_charges (ref, checkout_id, amount, currency, description, language, return_url, delayed_capture, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (checkout_id) DO NOTHING`,
			"sbx_"+newID(), c.Checkout, c.Amount, c.Currency, c.Description, c.Language, c.ReturnURL, c.DelayedCapture, string(Started), now); err != nil {
			return fmt.Errorf("payment: sandbox start: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT ref FROM sandbox_charges WHERE checkout_id = $1`, c.Checkout).Scan(&ref)
	})
	if err != nil {
		return Begun{}, err
	}
	return Begun{Ref: ref, NextURL: SandboxPage(ref)}, nil
}

// Find implements Finder: the reference of checkout's charge, or "".
func (s *Sandbox) Find(ctx context.Context, checkout string) (string, error) {
	var ref string
	err := s.db.Read().QueryRowContext(ctx, `SELECT ref FROM sandbox_charges WHERE checkout_id = $1`, checkout).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("payment: sandbox find: %w", err)
	}
	return ref, nil
}

// Charge returns charge ref as recorded.
func (s *Sandbox) Charge(ctx context.Context, ref string) (SandboxCharge, error) {
	if !validRef(ref) {
		return SandboxCharge{}, errNoCharge
	}
	c, err := scanSandbox(s.db.Read().QueryRowContext(ctx, `SELECT `+sandboxColumns+` FROM sandbox_charges WHERE ref = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return SandboxCharge{}, errNoCharge
	}
	if err != nil {
		return SandboxCharge{}, fmt.Errorf("payment: sandbox charge: %w", err)
	}
	return c, nil
}

// validRef reports whether ref has the shape of a sandbox reference, so a
// path of another shape is not found without a query.
func validRef(ref string) bool {
	if len(ref) != 30 || !strings.HasPrefix(ref, "sbx_") {
		return false
	}
	for _, r := range ref[4:] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// Status implements Provider: the charge's recorded state (started until
// the payer finishes; submitted while the test authentication waits).
func (s *Sandbox) Status(ctx context.Context, ref string) (Outcome, error) {
	c, err := s.Charge(ctx, ref)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Status: c.Status, Code: c.Code, CardBrand: c.CardBrand, LastDigits: c.LastDigits,
		FirstDigits: c.FirstDigits, CardholderName: c.CardholderName, ExpiryDate: c.ExpiryDate, CardType: c.CardType}, nil
}

// move changes charge ref from one of the statuses from to to, and
// reports whether it did (false: the charge was not in any of them).
func (s *Sandbox) move(ctx context.Context, ref string, from []Status, to Status, code string, set func(tx *sql.Tx) error) (bool, error) {
	moved := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var st string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM sandbox_charges WHERE ref = $1`, ref).Scan(&st); errors.Is(err, sql.ErrNoRows) {
			return errNoCharge
		} else if err != nil {
			return fmt.Errorf("payment: sandbox: %w", err)
		}
		ok := false
		for _, f := range from {
			ok = ok || Status(st) == f
		}
		if !ok {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET status = $1, code = $2, updated_at = $3 WHERE ref = $4 AND status = $5`,
			string(to), code, s.clock.Now().UTC(), ref, st)
		if err != nil {
			return fmt.Errorf("payment: sandbox: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		moved = true
		if set != nil {
			return set(tx)
		}
		return nil
	})
	return moved, err
}

// Capture implements Provider: a capturable charge succeeds; one already
// captured is left as it is.
func (s *Sandbox) Capture(ctx context.Context, ref string) error {
	moved, err := s.move(ctx, ref, []Status{Capturable}, Success, "", nil)
	if err != nil || moved {
		return err
	}
	if c, err := s.Charge(ctx, ref); err != nil {
		return err
	} else if c.Status != Success {
		return platform.Errorf(platform.CodeConflict, "payment: sandbox: a %s charge cannot be captured", c.Status)
	}
	return nil
}

// Cancel implements Provider: a charge the payer has not finished, or one
// waiting to be captured, is cancelled (P0040), and the test page no
// longer takes a card for it. Cancelling a cancelled charge does nothing;
// any other finished charge is a conflict.
func (s *Sandbox) Cancel(ctx context.Context, ref string) error {
	moved, err := s.move(ctx, ref, []Status{Created, Started, Submitted, Capturable}, Cancelled, CodeCancelledBySystem,
		func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET challenge = FALSE WHERE ref = $1`, ref)
			return err
		})
	if err != nil || moved {
		return err
	}
	if c, err := s.Charge(ctx, ref); err != nil {
		return err
	} else if c.Status != Cancelled {
		return platform.Errorf(platform.CodeConflict, "payment: sandbox: a %s charge cannot be cancelled", c.Status)
	}
	return nil
}

// ErrRefundTooLarge is Refund's answer when the amount exceeds what is
// left of the charge.
var ErrRefundTooLarge = platform.Errorf(platform.CodeConflict, "payment.refund.toolarge")

// Refund implements Provider: a successful charge refunds amount at once,
// unless it exceeds what is left of the charge (ErrRefundTooLarge). The
// same key again returns the first refund and refunds nothing more.
func (s *Sandbox) Refund(ctx context.Context, ref string, amount int64, currency, key string) (RefundOutcome, error) {
	if key == "" || amount < 1 {
		return RefundOutcome{}, fmt.Errorf("payment: sandbox refund needs a key and an amount")
	}
	out := RefundOutcome{Ref: "sbr_" + key, Status: "success"}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UTC()
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM sandbox_charges WHERE ref = $1`, ref).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return errNoCharge
		} else if err != nil {
			return fmt.Errorf("payment: sandbox refund: %w", err)
		}
		// The refund's record first: a second call with the same key,
		// even at the same moment (its insert waits for the first's),
		// finds it and refunds nothing more.
		res, err := tx.ExecContext(ctx, `INSERT INTO sandbox_refunds (refund_key, ref, amount, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (refund_key) DO NOTHING`, key, ref, amount, now)
		if err != nil {
			return fmt.Errorf("payment: sandbox refund: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var prevRef string
			if err := tx.QueryRowContext(ctx, `SELECT ref FROM sandbox_refunds WHERE refund_key = $1`, key).Scan(&prevRef); err != nil {
				return fmt.Errorf("payment: sandbox refund: %w", err)
			}
			if prevRef != ref {
				return fmt.Errorf("payment: sandbox refund: key %q was used for another charge", key)
			}
			return nil // the same refund, asked again
		}
		// The conditional update is the check: it refunds only what is
		// left, even with two refunds racing.
		res, err = tx.ExecContext(ctx, `UPDATE sandbox_charges SET refunded = refunded + $1, updated_at = $2
			WHERE ref = $3 AND status = 'success' AND currency = $4 AND refunded + $1 <= amount`, amount, now, ref, currency)
		if err != nil {
			return fmt.Errorf("payment: sandbox refund: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			c, err := scanSandbox(tx.QueryRowContext(ctx, `SELECT `+sandboxColumns+` FROM sandbox_charges WHERE ref = $1`, ref))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return errNoCharge
			case err != nil:
				return fmt.Errorf("payment: sandbox refund: %w", err)
			case c.Status != Success:
				return platform.Errorf(platform.CodeConflict, "payment: sandbox: a %s charge cannot be refunded", c.Status)
			case c.Currency != currency:
				return platform.Invalid("currency", "the refund's currency is not the charge's")
			}
			return ErrRefundTooLarge
		}
		return nil
	})
	if err != nil {
		return RefundOutcome{}, err
	}
	return out, nil
}

// Card is what the payer typed on the test page. Number is used to
// decide the outcome and then dropped: only its brand, first six and
// last four digits are kept (GOV.UK Pay's card_details), with the
// expiry date and the name; never the security code.
type Card struct {
	Number, ExpiryMonth, ExpiryYear, CVC, Name string
}

// Card field names, the ids of the test page's inputs.
const (
	FieldNumber      = "card-number"
	FieldExpiryMonth = "expiry-month"
	FieldExpiryYear  = "expiry-year"
	FieldCVC         = "cvc"
	FieldName        = "cardholder-name"
)

// CardFields are the card fields in page order (the error summary's).
var CardFields = []string{FieldNumber, FieldExpiryMonth, FieldExpiryYear, FieldCVC, FieldName}

// CheckCard returns the card's mistakes, field → catalogue key, in the
// payer's terms; none when the card can be submitted. now decides which
// expiry dates have passed.
func CheckCard(c Card, now time.Time) map[string]string {
	errs := map[string]string{}
	if strings.TrimSpace(c.Number) == "" {
		errs[FieldNumber] = "payment.sandbox.error.number.missing"
	} else if _, ok := SandboxCard(c.Number); !ok {
		errs[FieldNumber] = "payment.sandbox.error.number.invalid"
	}
	month, merr := strconv.Atoi(strings.TrimSpace(c.ExpiryMonth))
	year, yerr := strconv.Atoi(strings.TrimSpace(c.ExpiryYear))
	switch {
	case strings.TrimSpace(c.ExpiryMonth) == "":
		errs[FieldExpiryMonth] = "payment.sandbox.error.expiry.missing"
	case merr != nil || month < 1 || month > 12:
		errs[FieldExpiryMonth] = "payment.sandbox.error.expiry.month"
	}
	yy := strings.TrimSpace(c.ExpiryYear)
	switch {
	case yy == "":
		errs[FieldExpiryYear] = "payment.sandbox.error.expiry.missing"
	case yerr != nil || (len(yy) != 2 && len(yy) != 4) || year < 0:
		errs[FieldExpiryYear] = "payment.sandbox.error.expiry.year"
	}
	if errs[FieldExpiryMonth] == "" && errs[FieldExpiryYear] == "" {
		if len(yy) == 2 {
			year += 2000
		}
		now = now.UTC()
		if year < now.Year() || year == now.Year() && month < int(now.Month()) {
			errs[FieldExpiryMonth] = "payment.sandbox.error.expiry.past"
		} else if year > now.Year()+20 {
			errs[FieldExpiryYear] = "payment.sandbox.error.expiry.year"
		}
	}
	cvc := strings.TrimSpace(c.CVC)
	switch {
	case cvc == "":
		errs[FieldCVC] = "payment.sandbox.error.cvc.missing"
	case len(cvc) < 3 || len(cvc) > 4 || strings.Trim(cvc, "0123456789") != "":
		errs[FieldCVC] = "payment.sandbox.error.cvc.invalid"
	}
	name := strings.TrimSpace(c.Name)
	switch {
	case name == "":
		errs[FieldName] = "payment.sandbox.error.name.missing"
	case utf8.RuneCountInString(name) > 100:
		errs[FieldName] = "payment.sandbox.error.name.long"
	}
	return errs
}

// sandboxCardType is the type the sandbox reports for every test card
// (its cards are credit cards, as Stripe's test cards of the same numbers).
const sandboxCardType = "credit"

// expiryOf is a checked card's expiry date as GOV.UK Pay writes it,
// "MM/YY".
func expiryOf(c Card) string {
	m, _ := strconv.Atoi(strings.TrimSpace(c.ExpiryMonth))
	y, _ := strconv.Atoi(strings.TrimSpace(c.ExpiryYear))
	return fmt.Sprintf("%02d/%02d", m, y%100)
}

// cardBrand names a test card's network by its first digits.
func cardBrand(n string) string {
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case strings.HasPrefix(n, "5"), strings.HasPrefix(n, "2"):
		return "mastercard"
	case strings.HasPrefix(n, "34"), strings.HasPrefix(n, "37"):
		return "american-express"
	}
	return "card"
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// Pay submits card for charge ref, if it is still waiting for one: the
// test card decides (SandboxCard). A card that needs extra authentication
// leaves the charge submitted with its challenge waiting (Authenticate);
// otherwise the charge ends as the card says (success, or capturable for
// delayed capture; failed P0010; error P0050). The card's mistakes come
// back as field errors and nothing changes. A charge already decided is
// returned as it is (a second submit, a back button).
func (s *Sandbox) Pay(ctx context.Context, ref string, card Card) (SandboxCharge, map[string]string, error) {
	c, err := s.Charge(ctx, ref)
	if err != nil {
		return c, nil, err
	}
	if c.Status != Started {
		return c, nil, nil
	}
	if errs := CheckCard(card, s.clock.Now()); len(errs) > 0 {
		return c, errs, nil
	}
	out, _ := SandboxCard(card.Number)
	number := digitsOf(card.Number)
	brand, last := cardBrand(number), number[len(number)-4:]
	to, code := out.Status, out.Code
	if out.Challenge {
		to, code = Submitted, ""
	} else if to == Success && c.DelayedCapture {
		to = Capturable
	}
	if _, err := s.move(ctx, ref, []Status{Started}, to, code, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET challenge = $1, card_brand = $2, last_digits = $3,
			first_digits = $5, cardholder_name = $6, card_expiry = $7, card_type = $8 WHERE ref = $4`,
			out.Challenge, brand, last, ref, number[:6], strings.TrimSpace(card.Name), expiryOf(card), sandboxCardType)
		return err
	}); err != nil {
		return c, nil, err
	}
	c, err = s.Charge(ctx, ref)
	return c, nil, err
}

// Authenticate answers the test authentication step of charge ref:
// approved, the charge succeeds (or becomes capturable); failed, it is
// declined (P0010). A charge with no step waiting is returned as it is.
func (s *Sandbox) Authenticate(ctx context.Context, ref string, approve bool) (SandboxCharge, error) {
	c, err := s.Charge(ctx, ref)
	if err != nil || !c.Challenge || c.Status != Submitted {
		return c, err
	}
	to, code := Failed, CodeRejected
	if approve {
		to, code = Success, ""
		if c.DelayedCapture {
			to = Capturable
		}
	}
	if _, err := s.move(ctx, ref, []Status{Submitted}, to, code, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET challenge = FALSE WHERE ref = $1`, ref)
		return err
	}); err != nil {
		return c, err
	}
	return s.Charge(ctx, ref)
}

// Abandon is the payer's "cancel" link: a charge they have not finished
// fails with P0030. A finished charge is returned as it is.
func (s *Sandbox) Abandon(ctx context.Context, ref string) (SandboxCharge, error) {
	if _, err := s.move(ctx, ref, []Status{Created, Started, Submitted}, Failed, CodeCancelledByUser, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET challenge = FALSE WHERE ref = $1`, ref)
		return err
	}); err != nil {
		return SandboxCharge{}, err
	}
	return s.Charge(ctx, ref)
}
