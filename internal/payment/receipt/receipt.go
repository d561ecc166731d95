// Package receipt is the payment block's receipts (issue 12): what a paid
// checkout's receipt says (Receipt, read only by the person who paid, every
// read audited), its printable layout and PDF, the emailed and inbox
// receipt sent once per checkout when its payments succeed, and the online
// payments a case's history shows.
//
// Contract:
//   - View returns a checkout's receipt to the account that paid it and to
//     no one else (not found, whether the checkout exists or not); each read
//     and each refusal is audited.
//   - A checkout's receipt message is sent at most once however many
//     gov.portico.payment.succeeded events it produced (one per agency) and
//     however often they are delivered: the payment_receipts row is written
//     in the transaction that queues the message.
//   - The PDF of a receipt depends only on the receipt, the language and
//     the time zone: the same inputs give the same bytes.
package receipt

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Text is a text in English and Spanish.
type Text struct{ EN, ES string }

// In returns the text in lang, English when there is no Spanish.
func (t Text) In(lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// Line is one thing paid for.
type Line struct {
	Description Text
	Amount      int64
}

// Part is one agency's payment within a checkout.
type Part struct {
	PaymentID  string
	Agency     string
	AgencyName Text
	Reference  string // what the agency knows the payment by
	Amount     int64
	Lines      []Line
}

// Receipt is what a checkout's receipt shows.
type Receipt struct {
	CheckoutID string
	Account    string
	Status     payment.Status
	PaidAt     time.Time // when the provider's success was recorded; zero unless paid
	Amount     int64
	Currency   string
	CardBrand  string
	LastDigits string
	Live       bool
	Parts      []Part
}

// Paid reports whether the checkout succeeded: only then is it a receipt.
func (r Receipt) Paid() bool { return r.Status == payment.Success }

// Checkouts is what receipts need of the payment block.
type Checkouts interface {
	Checkout(ctx context.Context, id string) (payment.Checkout, error)
	Get(ctx context.Context, agency, id string) (payment.Payment, error)
}

// Agencies names an agency in both languages (the tenancy block, adapted
// by app).
type Agencies interface {
	AgencyName(ctx context.Context, id string) (Text, error)
}

// Contact is where and in which language a person reads their messages.
type Contact struct {
	Email string // "" when the person has none: the inbox only
	Lang  string
}

// Contacts looks a person up (the identity and notification blocks,
// adapted by app).
type Contacts interface {
	Contact(ctx context.Context, accountID string) (Contact, error)
}

// Message is a receipt to send to a person: to their inbox always and by
// the channels they chose, in tx.
type Message struct {
	AccountID string
	Email     string
	Subject   string
	Text      string
	Lang      string
	Reference string
}

// Mailer queues a message in the notification outbox in tx and returns the
// first notification's id.
type Mailer interface {
	MailReceipt(ctx context.Context, tx *sql.Tx, m Message) (string, error)
}

// Config is what the receipts need. Every field is required.
type Config struct {
	DB        *storage.DB
	Audit     *audit.Log
	Bus       *events.Bus
	Payments  Checkouts
	Agencies  Agencies
	Contacts  Contacts
	Mailer    Mailer
	Clock     platform.Clock
	PublicURL func() string                            // the site's address, for the link in the email
	Zone      func(ctx context.Context) *time.Location // the jurisdiction's time zone
}

// Service serves receipts.
type Service struct{ cfg Config }

// ConsumerName is the event consumer that sends receipts.
const ConsumerName = "payment-receipts"

// New returns the receipts and subscribes the consumer that sends them to
// cfg.Bus.
func New(cfg Config) (*Service, error) {
	if err := platform.Required("receipt",
		platform.Dep{Name: "database", Missing: cfg.DB == nil},
		platform.Dep{Name: "audit log", Missing: cfg.Audit == nil},
		platform.Dep{Name: "event bus", Missing: cfg.Bus == nil},
		platform.Dep{Name: "payments", Missing: cfg.Payments == nil},
		platform.Dep{Name: "agencies", Missing: cfg.Agencies == nil},
		platform.Dep{Name: "contacts", Missing: cfg.Contacts == nil},
		platform.Dep{Name: "mailer", Missing: cfg.Mailer == nil},
		platform.Dep{Name: "clock", Missing: cfg.Clock == nil},
		platform.Dep{Name: "public URL", Missing: cfg.PublicURL == nil},
		platform.Dep{Name: "time zone", Missing: cfg.Zone == nil}); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg}
	cfg.Bus.Subscribe(events.Consumer{Name: ConsumerName, Types: []string{payment.EventSucceeded}, Handle: s.Handle})
	return s, nil
}

// Location is the time zone receipts show times in.
func (s *Service) Location(ctx context.Context) *time.Location { return s.cfg.Zone(ctx) }

// ValidID reports whether id has the shape of a checkout id (26
// characters of lowercase base 32): any other is not found without a
// query.
func ValidID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func notFound() error { return platform.Errorf(platform.CodeNotFound, "receipt.notfound") }

// View returns checkout id's receipt to actor, the person who paid it.
// Anyone else (another person, staff, an agency's system), and a checkout
// that is not a person's, get not found, so receipt ids do not leak. The
// read is audited (payment.receipt.read); so is a refusal of a checkout
// that exists (payment.receipt.refuse). A checkout that did not succeed
// is returned too (Paid false): the page says it is not paid.
func (s *Service) View(ctx context.Context, actor platform.Actor, id string) (Receipt, error) {
	if !ValidID(id) {
		return Receipt{}, notFound()
	}
	c, err := s.cfg.Payments.Checkout(ctx, id)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return Receipt{}, notFound()
	}
	if err != nil {
		return Receipt{}, err
	}
	ctx = platform.WithActor(ctx, actor)
	if c.Account == "" || actor.Kind != platform.ActorCitizen || actor.ID != c.Account {
		if _, err := s.cfg.Audit.Write(ctx, audit.Record{Action: "payment.receipt.refuse", Subject: "checkout:" + c.ID,
			Detail: map[string]any{"actor": actor.String()}}); err != nil {
			return Receipt{}, err
		}
		return Receipt{}, notFound()
	}
	r, err := s.build(ctx, c)
	if err != nil {
		return Receipt{}, err
	}
	if _, err := s.cfg.Audit.Write(ctx, audit.Record{Action: "payment.receipt.read", Subject: "checkout:" + c.ID,
		Detail: map[string]any{"actor": actor.String(), "status": string(c.State.Status)}}); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// build lays checkout c out as a receipt: one part per agency's payment,
// in the checkout's order of payments, each with its items.
func (s *Service) build(ctx context.Context, c payment.Checkout) (Receipt, error) {
	r := Receipt{CheckoutID: c.ID, Account: c.Account, Status: c.State.Status, Amount: c.Amount, Currency: c.Currency,
		CardBrand: c.CardBrand, LastDigits: c.LastDigits, Live: c.Live}
	index := map[string]int{}
	for _, id := range c.Payments {
		index[id] = len(r.Parts)
		r.Parts = append(r.Parts, Part{PaymentID: id})
	}
	for _, it := range c.Items {
		i, ok := index[it.PaymentID]
		if !ok {
			continue
		}
		p := &r.Parts[i]
		if p.Agency == "" {
			p.Agency, p.Reference = it.Agency, it.Reference
		}
		p.Amount += it.Amount
		p.Lines = append(p.Lines, Line{Description: Text{EN: it.DescriptionEN, ES: it.DescriptionES}, Amount: it.Amount})
	}
	for i := range r.Parts {
		name, err := s.cfg.Agencies.AgencyName(ctx, r.Parts[i].Agency)
		if err != nil {
			// A name is a courtesy: the id still says whose payment it is.
			name = Text{EN: r.Parts[i].Agency}
		}
		r.Parts[i].AgencyName = name
	}
	if r.Paid() && len(c.Payments) > 0 {
		at, err := s.paidAt(ctx, c.Payments[0])
		if err != nil {
			return Receipt{}, err
		}
		r.PaidAt = at
	}
	return r, nil
}

// paidAt is when payment id's success was recorded (every payment of a
// checkout moves to success in the one settling transaction, at one time).
func (s *Service) paidAt(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT at FROM payment_events WHERE payment_id = $1 AND status = 'success' ORDER BY id LIMIT 1`, id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("receipt: paid at: %w", err)
	}
	return at.UTC(), nil
}

// URL is the receipt page of checkout id on this site.
func (s *Service) URL(id string) string {
	return strings.TrimRight(s.cfg.PublicURL(), "/") + "/pay/receipts/" + id
}

// Handle is the consumer of gov.portico.payment.succeeded: it sends the
// receipt of the event's checkout to the person who paid, once per
// checkout (payment_receipts). Payments that are not a person's checkout
// (an agency's own API payment) get no receipt from Portico: the agency's
// service tells its user.
func (s *Service) Handle(ctx context.Context, e events.Event) error {
	var d struct {
		PaymentID string `json:"payment_id"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || d.PaymentID == "" {
		return nil // not a payment event this block wrote; nothing to send
	}
	p, err := s.cfg.Payments.Get(ctx, e.AgencyID, d.PaymentID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Checkout == "" {
		return nil
	}
	c, err := s.cfg.Payments.Checkout(ctx, p.Checkout)
	if err != nil {
		return err
	}
	if c.Account == "" || c.State.Status != payment.Success {
		return nil
	}
	var sent int
	if err := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_receipts WHERE checkout_id = $1`, c.ID).Scan(&sent); err != nil {
		return fmt.Errorf("receipt: sent: %w", err)
	}
	if sent > 0 {
		return nil // the checkout's other payments' events come here too
	}
	to, err := s.cfg.Contacts.Contact(ctx, c.Account)
	if err != nil {
		return fmt.Errorf("receipt: contact: %w", err)
	}
	if to.Lang != "es" {
		to.Lang = "en"
	}
	r, err := s.build(ctx, c)
	if err != nil {
		return err
	}
	msg := Email(r, to, s.Location(ctx), s.URL(c.ID))
	return s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO payment_receipts (checkout_id, account_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (checkout_id) DO NOTHING`,
			c.ID, c.Account, s.cfg.Clock.Now().UTC())
		if err != nil {
			return fmt.Errorf("receipt: record: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("receipt: record: %w", err)
		} else if n == 0 {
			return nil // another process sent it meanwhile
		}
		id, err := s.cfg.Mailer.MailReceipt(ctx, tx, msg)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payment_receipts SET notification_id = $1 WHERE checkout_id = $2`, id, c.ID); err != nil {
			return fmt.Errorf("receipt: record: %w", err)
		}
		return nil
	})
}

// Reference is the notification reference of checkout id's receipt.
func Reference(id string) string { return "checkout:" + id + "/receipt" }
