package payment

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// EventRefunded is emitted when a refund is asked for (status submitted),
// in the transaction that records it.
const EventRefunded = "gov.portico.payment.refunded"

// Refund statuses, as GOV.UK Pay names them: submitted (asked of the
// provider), success (the money went back), error (the provider refused;
// nothing was refunded, and the amount is available again).
const (
	RefundSubmitted = "submitted"
	RefundSuccess   = "success"
	RefundError     = "error"
)

// MaxRefundReason is the longest reason a refund may carry, in characters.
const MaxRefundReason = 500

// Refund is (part of) a successful payment given back.
type Refund struct {
	ID        string    `json:"refund_id"`
	PaymentID string    `json:"payment_id"`
	Agency    string    `json:"agency"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_date"`
}

// RefundProblem is a refund GOV.UK Pay would refuse, with Pay's code,
// HTTP status and description:
//
//	P0602 422  the amount is below 1 or above the largest payment
//	P0603 400  the payment cannot be refunded (not successful, already
//	           refunded in full, or the amount is more than is left)
//	P0604 412  refund_amount_available is not what is available now
type RefundProblem struct {
	Code        string
	Status      int
	Field       string // "amount" for P0602
	Description string
}

func (e *RefundProblem) Error() string { return e.Description }

// Unwrap gives the problem a platform code for every other edge (the
// finance console): invalid for a bad amount, conflict otherwise.
func (e *RefundProblem) Unwrap() error {
	if e.Code == "P0602" {
		return platform.Invalid(e.Field, e.Description)
	}
	return platform.Errorf(platform.CodeConflict, "%s", e.Description)
}

func notRefundable(status string) *RefundProblem {
	return &RefundProblem{Code: "P0603", Status: 400, Description: "The payment is not available for refund. Payment refund status: " + status}
}

// RefundSummary is a payment's refund_summary in GOV.UK Pay's terms:
// Status is pending (the payment has not finished), unavailable (it
// finished without success), available or full; Available is what may
// still be refunded; Submitted is what has been refunded or asked for
// (refunds not in error).
type RefundSummary struct {
	Status    string `json:"status"`
	Available int64  `json:"amount_available"`
	Submitted int64  `json:"amount_submitted"`
}

// SummarizeRefunds is the refund summary of p given the sum of its
// refunds that are not in error.
func SummarizeRefunds(p Payment, submitted int64) RefundSummary {
	switch {
	case !p.State.Status.Finished():
		return RefundSummary{Status: "pending", Submitted: submitted}
	case p.State.Status != Success:
		return RefundSummary{Status: "unavailable", Submitted: submitted}
	case submitted >= p.Amount:
		return RefundSummary{Status: "full", Submitted: submitted}
	}
	return RefundSummary{Status: "available", Available: p.Amount - submitted, Submitted: submitted}
}

// Option configures the block at construction.
type Option func(*Service)

// WithJobs gives the block the job queue refunds are asked of the
// provider through: ins inserts a refund's job in the transaction that
// records it, and reg receives the worker that runs it. Without it,
// Refund refuses (the wiring's mistake, not the caller's).
func WithJobs(ins *jobs.Inserter, reg *jobs.Registry) Option {
	return func(s *Service) {
		s.jobs = ins
		if reg != nil {
			jobs.Register(reg, &RefundWorker{Payments: s})
		}
	}
}

// Refund gives back amount (minor units) of agency's successful payment
// paymentID. expectedAvailable is what the caller believes may still be
// refunded (GOV.UK Pay's refund_amount_available): when it is not negative
// and differs from what is available now, the refund is refused with
// P0604, so two people refunding from the same page cannot both refund.
//
// In one transaction it locks the payment, checks it succeeded and that
// amount fits in what is left (the amount less every refund not in
// error), records the refund as submitted, audits it, emits
// EventRefunded and inserts the job that asks the provider. The job then
// marks the refund success (posting it to the ledger in that transaction)
// or error. Of concurrent refunds that together exceed the payment,
// exactly those that fit succeed.
//
// Another agency's payment, or none, is CodeNotFound; a refund Pay would
// refuse is a *RefundProblem.
func (s *Service) Refund(ctx context.Context, actor platform.Actor, agency, paymentID string, amount, expectedAvailable int64, reason string) (Refund, error) {
	if s.jobs == nil {
		return Refund{}, errors.New("payment: refunds need the job queue (payment.WithJobs; a wiring bug)")
	}
	switch {
	case amount < 1:
		return Refund{}, &RefundProblem{Code: "P0602", Status: 422, Field: "amount", Description: "Invalid attribute value: amount. Must be greater than or equal to 1"}
	case amount > MaxAmount:
		return Refund{}, &RefundProblem{Code: "P0602", Status: 422, Field: "amount", Description: fmt.Sprintf("Invalid attribute value: amount. Must be less than or equal to %d", MaxAmount)}
	}
	reason = strings.TrimSpace(reason)
	if !utf8.ValidString(reason) || strings.ContainsRune(reason, 0) {
		return Refund{}, platform.Invalid("reason", "The reason must be text.")
	}
	if utf8.RuneCountInString(reason) > MaxRefundReason {
		return Refund{}, platform.Invalid("reason", fmt.Sprintf("The reason must be %d characters or fewer.", MaxRefundReason))
	}
	var r Refund
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = s.refundTx(ctx, tx, actor, agency, paymentID, amount, expectedAvailable, reason, newID())
		return err
	})
	if err != nil {
		return Refund{}, err
	}
	return r, nil
}

// refundTx is Refund's work in tx, with the refund's id given.
func (s *Service) refundTx(ctx context.Context, tx *sql.Tx, actor platform.Actor, agency, paymentID string, amount, expectedAvailable int64, reason, id string) (Refund, error) {
	p, err := s.lockPayment(ctx, tx, paymentID)
	if err != nil {
		return Refund{}, err
	}
	if p.Agency != agency {
		return Refund{}, platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
	}
	submitted, err := refunded(ctx, tx, paymentID)
	if err != nil {
		return Refund{}, err
	}
	sum := SummarizeRefunds(p, submitted)
	if sum.Status != "available" {
		return Refund{}, notRefundable(sum.Status)
	}
	if expectedAvailable >= 0 && expectedAvailable != sum.Available {
		return Refund{}, &RefundProblem{Code: "P0604", Status: 412, Field: "refund_amount_available", Description: "Refund amount available mismatch."}
	}
	if amount > sum.Available {
		return Refund{}, notRefundable("amount_not_available")
	}
	now := s.clock.Now().UTC()
	r := Refund{ID: id, PaymentID: p.ID, Agency: p.Agency, Amount: amount, Currency: p.Currency, Status: RefundSubmitted,
		Reason: reason, Actor: actor.String(), CreatedAt: now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_refunds (id, payment_id, agency_id, amount, currency, status, reason, actor, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`, r.ID, r.PaymentID, r.Agency, r.Amount, r.Currency, r.Status, r.Reason, r.Actor, now); err != nil {
		return Refund{}, fmt.Errorf("payment: refund: %w", err)
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "payment.refund", Subject: "payment:" + p.ID, AgencyID: p.Agency,
		Detail: map[string]any{"actor": r.Actor, "refund": r.ID, "amount": r.Amount, "currency": r.Currency, "reason": r.Reason, "available_before": sum.Available}}); err != nil {
		return Refund{}, err
	}
	if err := s.emitRefund(ctx, tx, r, p.Live); err != nil {
		return Refund{}, err
	}
	return r, jobs.Enqueue(ctx, s.jobs, tx, RefundArgs{RefundID: r.ID}, nil)
}

// lockPayment reads payment id for update: on PostgreSQL the row is
// locked until tx ends; SQLite's write transactions (BEGIN IMMEDIATE)
// are already one at a time.
func (s *Service) lockPayment(ctx context.Context, tx *sql.Tx, id string) (Payment, error) {
	if s.db.Dialect == storage.Postgres {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM payments WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return Payment{}, platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
		}
		if err != nil {
			return Payment{}, fmt.Errorf("payment: lock: %w", err)
		}
	}
	return get(ctx, tx, id)
}

// refunded is the sum of payment id's refunds that are not in error.
func refunded(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM payment_refunds WHERE payment_id = $1 AND status <> 'error'`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("payment: refunds: %w", err)
	}
	return n, nil
}

type refundEventData struct {
	PaymentID string `json:"payment_id"`
	RefundID  string `json:"refund_id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Status    string `json:"status"`
	Live      bool   `json:"live"`
}

func (s *Service) emitRefund(ctx context.Context, tx *sql.Tx, r Refund, live bool) error {
	data, err := json.Marshal(refundEventData{PaymentID: r.PaymentID, RefundID: r.ID, Amount: r.Amount, Currency: r.Currency, Status: r.Status, Live: live})
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/payment", Type: EventRefunded, Subject: "payment:" + r.PaymentID, AgencyID: r.Agency, Data: data})
}

// Refunds lists agency's refunds of paymentID, oldest first. Another
// agency's payment, or none, is CodeNotFound.
func (s *Service) Refunds(ctx context.Context, agency, paymentID string) ([]Refund, error) {
	if _, err := s.Get(ctx, agency, paymentID); err != nil {
		return nil, err
	}
	return s.refunds(ctx, `payment_id = $1 AND agency_id = $2`, paymentID, agency)
}

// GetRefund returns refund refundID of agency's payment paymentID, or
// CodeNotFound.
func (s *Service) GetRefund(ctx context.Context, agency, paymentID, refundID string) (Refund, error) {
	rs, err := s.refunds(ctx, `id = $1 AND payment_id = $2 AND agency_id = $3`, refundID, paymentID, agency)
	if err != nil {
		return Refund{}, err
	}
	if len(rs) == 0 {
		return Refund{}, platform.Errorf(platform.CodeNotFound, "No refund matched the ID you provided")
	}
	return rs[0], nil
}

func (s *Service) refunds(ctx context.Context, where string, args ...any) ([]Refund, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, payment_id, agency_id, amount, currency, status, reason, actor, created_at
		FROM payment_refunds WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("payment: refunds: %w", err)
	}
	defer rows.Close()
	out := []Refund{}
	for rows.Next() {
		var r Refund
		if err := rows.Scan(&r.ID, &r.PaymentID, &r.Agency, &r.Amount, &r.Currency, &r.Status, &r.Reason, &r.Actor, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("payment: refunds: %w", err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// RefundAvailable is what may still be refunded of agency's payment
// paymentID: its amount less every refund not in error if it succeeded,
// else 0.
func (s *Service) RefundAvailable(ctx context.Context, agency, paymentID string) (int64, error) {
	sum, err := s.RefundSummary(ctx, agency, paymentID)
	return sum.Available, err
}

// RefundSummary is agency's payment paymentID's refund summary.
func (s *Service) RefundSummary(ctx context.Context, agency, paymentID string) (RefundSummary, error) {
	var sum RefundSummary
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		p, err := get(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		if p.Agency != agency {
			return platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
		}
		n, err := refunded(ctx, tx, paymentID)
		sum = SummarizeRefunds(p, n)
		return err
	})
	return sum, err
}

// RefundArgs is the job that asks the provider for a refund.
type RefundArgs struct {
	RefundID string `json:"refund_id"`
}

// Kind implements river.JobArgs.
func (RefundArgs) Kind() string { return "payment.refund" }

// RefundWorker asks the checkout's provider for a refund and records the
// answer (CompleteRefund).
type RefundWorker struct {
	river.WorkerDefaults[RefundArgs]
	Payments *Service
}

// refunder is the actor the refund job acts as in the audit log.
var refunder = platform.Actor{Kind: platform.ActorSystem, ID: "payment.refund"}

// RefundRecheck is how long a refund the provider reports as submitted
// waits before it is asked about again.
const RefundRecheck = time.Minute

// Work implements river.Worker. A provider that is not answering is
// retried with River's backoff; a refund the provider is still working on
// is asked about again after RefundRecheck.
func (w *RefundWorker) Work(ctx context.Context, job *river.Job[RefundArgs]) error {
	status, err := w.Payments.CompleteRefund(ctx, job.Args.RefundID)
	if err != nil {
		return err
	}
	if status == RefundSubmitted {
		return river.JobSnooze(RefundRecheck)
	}
	return nil
}

// CompleteRefund asks the provider of refund id's checkout for it (keyed
// by the refund's id, so asking again after a crash refunds once) and, in
// one transaction, marks it success and posts it to the ledger (debit
// revenue, credit provider_clearing), or marks it error. It returns the
// refund's status afterwards: submitted while the provider has not
// decided. A refund already decided is left as it is.
func (s *Service) CompleteRefund(ctx context.Context, id string) (string, error) {
	var r Refund
	var provider, ref string
	err := s.db.Read().QueryRowContext(ctx, `SELECT r.id, r.payment_id, r.agency_id, r.amount, r.currency, r.status, COALESCE(c.provider, p.provider), COALESCE(c.provider_ref, p.provider_ref)
		FROM payment_refunds r JOIN payments p ON p.id = r.payment_id LEFT JOIN checkouts c ON c.id = p.checkout_id WHERE r.id = $1`, id).
		Scan(&r.ID, &r.PaymentID, &r.Agency, &r.Amount, &r.Currency, &r.Status, &provider, &ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", platform.Errorf(platform.CodeNotFound, "no refund %q", id)
	}
	if err != nil {
		return "", fmt.Errorf("payment: complete refund: %w", err)
	}
	if r.Status != RefundSubmitted {
		return r.Status, nil
	}
	p, err := s.Provider(provider)
	if err != nil {
		return "", err
	}
	out, err := p.Refund(ctx, ref, r.Amount, r.Currency, r.ID)
	switch {
	case errors.Is(err, ErrProviderUnavailable):
		return "", err
	case err != nil:
		// The provider refused outright: nothing was refunded.
		out = RefundOutcome{Status: RefundError}
	}
	switch out.Status {
	case RefundSubmitted:
		return RefundSubmitted, nil
	case RefundSuccess, RefundError:
	default:
		return "", fmt.Errorf("payment: provider %s answered refund %s with status %q", provider, id, out.Status)
	}
	why := ""
	if err != nil {
		why = err.Error()
	}
	return out.Status, s.SettleRefund(ctx, refunder, id, out.Status, out.Ref, why)
}

// SettleRefund records what the provider decided about refund id
// (success or error; a provider webhook may call it too): in one
// transaction the refund's status changes, a success is posted to the
// agency's ledger, and both are audited. A refund already decided is left
// as it is (settling twice posts once).
func (s *Service) SettleRefund(ctx context.Context, actor platform.Actor, id, status, providerRef, why string) error {
	if status != RefundSuccess && status != RefundError {
		return fmt.Errorf("payment: settle refund: status %q is neither success nor error", status)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UTC()
		res, err := tx.ExecContext(ctx, `UPDATE payment_refunds SET status = $1, provider_ref = CASE WHEN CAST($2 AS TEXT) = '' THEN provider_ref ELSE $2 END, updated_at = $3
			WHERE id = $4 AND status = 'submitted'`, status, providerRef, now, id)
		if err != nil {
			return fmt.Errorf("payment: settle refund: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("payment: settle refund: %w", err)
		} else if n == 0 {
			return nil // decided already (or no such refund): nothing to do
		}
		var r Refund
		if err := tx.QueryRowContext(ctx, `SELECT payment_id, agency_id, amount, currency FROM payment_refunds WHERE id = $1`, id).
			Scan(&r.PaymentID, &r.Agency, &r.Amount, &r.Currency); err != nil {
			return fmt.Errorf("payment: settle refund: %w", err)
		}
		if status == RefundSuccess {
			if _, err := post(ctx, tx, Posting{Agency: r.Agency, Kind: KindRefund, PaymentID: r.PaymentID, RefundID: id, Currency: r.Currency,
				Lines: []Line{{AccountRevenue, r.Amount}, {AccountClearing, -r.Amount}}}, now); err != nil {
				return err
			}
		}
		detail := map[string]any{"actor": actor.String(), "refund": id, "amount": r.Amount, "currency": r.Currency}
		if why != "" {
			detail["provider_said"] = why
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "payment.refund." + status, Subject: "payment:" + r.PaymentID, AgencyID: r.Agency, Detail: detail})
		return err
	})
}

// duplicateActor is who refunds a payment that paid for something
// already paid, in the audit log and on the finance console.
var duplicateActor = platform.Actor{Kind: platform.ActorSystem, ID: "payment.duplicate"}

// RefundDuplicate gives back amount of successful payment paymentID
// because what it paid for was paid another way first (a fee recorded
// at the counter while the person paid online), in tx: the caller's,
// which records the duplicate (an events consumer with events.Once), so
// the refund and its job commit with it or not at all. key names what
// was paid twice; the refund's id is made from the payment and key, so
// asking again returns the first refund and refunds nothing more. reason
// is shown on the finance console. A payment with nothing left to refund
// (finance refunded it already) is a *RefundProblem.
func (s *Service) RefundDuplicate(ctx context.Context, tx *sql.Tx, paymentID, key string, amount int64, reason string) (Refund, error) {
	if s.jobs == nil {
		return Refund{}, errors.New("payment: refunds need the job queue (payment.WithJobs; a wiring bug)")
	}
	sum := sha256.Sum256([]byte(paymentID + "\x00" + key))
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:26]
	var prev Refund
	err := tx.QueryRowContext(ctx, `SELECT id, payment_id, agency_id, amount, currency, status, reason, actor, created_at FROM payment_refunds WHERE id = $1`, id).
		Scan(&prev.ID, &prev.PaymentID, &prev.Agency, &prev.Amount, &prev.Currency, &prev.Status, &prev.Reason, &prev.Actor, &prev.CreatedAt)
	if err == nil {
		return prev, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Refund{}, fmt.Errorf("payment: duplicate refund: %w", err)
	}
	p, err := get(ctx, tx, paymentID)
	if err != nil {
		return Refund{}, err
	}
	return s.refundTx(ctx, tx, duplicateActor, p.Agency, paymentID, amount, -1, reason, id)
}
