package casework

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// What a citizen owes and what they are asked, across their open cases:
// the fees a case asked for and they have not paid (Owing), and the
// requests for more information waiting for their reply (AwaitingReply).
// Both are the person's own rows only, found through cases_account.

// Owed is a fee one of a citizen's open cases asked for and they have not
// paid yet.
type Owed struct {
	PaymentID      int64
	CaseID         string
	Reference      string // what to quote at the counter
	AgencyID       string
	ServiceID      string
	ServiceVersion int
	Service        manifest.Text // the service's title
	Amount         platform.Money
	RequestedAt    time.Time
	DueAt          *time.Time // nil: the workflow set no due date
}

// Awaiting is a request for more information a caseworker sent and the
// citizen has not answered yet.
type Awaiting struct {
	CaseID, Reference, AgencyID, ServiceID string
	ServiceVersion                         int
	Service                                manifest.Text
	AskedAt                                time.Time
	DueAt                                  time.Time // AskedAt + RequestDue
}

// OwedLimit bounds the fees and requests listed for one person.
const OwedLimit = 200

// PaymentSource is the reminder block's source key of the obligation a
// fee request sets (so that paying it, or the case closing, ends it).
func PaymentSource(caseID string, paymentID int64) string {
	return "case:" + caseID + "/payment:" + strconv.FormatInt(paymentID, 10)
}

// RequestSource is the source key of a request's obligation.
func RequestSource(caseID string) string { return "case:" + caseID + "/request" }

// Owing lists the fees actor's open cases asked for and are unpaid, and
// audits the read ("case.payment.list"). Only a signed-in person owes.
func (s *Service) Owing(ctx context.Context, actor platform.Actor) ([]Owed, error) {
	if !actor.SignedIn() {
		return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT p.id, c.id, c.reference, c.agency_id, c.service_id, c.service_version,
		p.amount, p.currency, p.requested_at, p.due_at
		FROM cases c JOIN case_payments p ON p.case_id = c.id
		WHERE c.account_id = $1 AND c.closed_at IS NULL AND p.paid_at IS NULL
		ORDER BY p.id LIMIT $2`, actor.ID, OwedLimit)
	if err != nil {
		return nil, fmt.Errorf("casework: owing: %w", err)
	}
	var out []Owed
	for rows.Next() {
		var o Owed
		var due sql.NullTime
		if err := rows.Scan(&o.PaymentID, &o.CaseID, &o.Reference, &o.AgencyID, &o.ServiceID, &o.ServiceVersion,
			&o.Amount.Minor, &o.Amount.Currency, &o.RequestedAt, &due); err != nil {
			rows.Close()
			return nil, fmt.Errorf("casework: owing: %w", err)
		}
		o.RequestedAt = o.RequestedAt.UTC()
		if due.Valid {
			t := due.Time.UTC()
			o.DueAt = &t
		}
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("casework: owing: %w", err)
	}
	for i := range out {
		if out[i].Service, err = s.serviceTitle(ctx, out[i].ServiceID, out[i].ServiceVersion); err != nil {
			return nil, err
		}
	}
	var total int64
	for _, o := range out {
		total += o.Amount.Minor
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.payment.list", Subject: "account:" + actor.ID,
		Detail: map[string]any{"count": len(out), "total": total}}); err != nil {
		return nil, err
	}
	return out, nil
}

// AwaitingReply lists the requests for more information actor's open
// cases wait on them to answer, and audits the read ("case.request.list").
func (s *Service) AwaitingReply(ctx context.Context, actor platform.Actor) ([]Awaiting, error) {
	if !actor.SignedIn() {
		return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE account_id = $1 AND waiting_on = $2 AND closed_at IS NULL ORDER BY opened_at, id LIMIT $3`, actor.ID, WaitingOnCitizen, OwedLimit)
	if err != nil {
		return nil, fmt.Errorf("casework: awaiting reply: %w", err)
	}
	var cases []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("casework: awaiting reply: %w", err)
		}
		cases = append(cases, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("casework: awaiting reply: %w", err)
	}
	out := make([]Awaiting, 0, len(cases))
	for _, c := range cases {
		a := Awaiting{CaseID: c.ID, Reference: c.Reference, AgencyID: c.AgencyID, ServiceID: c.ServiceID, ServiceVersion: c.ServiceVersion, AskedAt: c.UpdatedAt}
		// The latest request: the case's own entries, newest first.
		var at time.Time
		err := s.db.Read().QueryRowContext(ctx, `SELECT at FROM case_entries WHERE case_id = $1 AND kind = 'request' ORDER BY id DESC LIMIT 1`, c.ID).Scan(&at)
		switch {
		case err == nil:
			a.AskedAt = at.UTC()
		case err != sql.ErrNoRows:
			return nil, fmt.Errorf("casework: awaiting reply: %w", err)
		}
		a.DueAt = a.AskedAt.Add(RequestDue)
		if a.Service, err = s.serviceTitle(ctx, c.ServiceID, c.ServiceVersion); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.request.list", Subject: "account:" + actor.ID,
		Detail: map[string]any{"count": len(out)}}); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) serviceTitle(ctx context.Context, id string, version int) (manifest.Text, error) {
	w, err := s.workflowOf(ctx, id, version)
	if err != nil {
		return manifest.Text{}, err
	}
	return w.Manifest.Title, nil
}

// obligePayment hands a fee request with a due date to the reminder
// block: a payment obligation with the amount and the reference to quote,
// reminded a week before and on the day. (A request without a due date
// is listed by Owing only: a calendar needs a date.)
func (s *Service) obligePayment(ctx context.Context, tx *sql.Tx, run actionRun, paymentID int64, amount platform.Money, due time.Time) error {
	if s.deps.Obligations == nil {
		return nil
	}
	c, m := run.Case, i18n.Messages()
	title := run.Manifest.Title
	if title.ES == "" {
		title.ES = title.EN
	}
	return s.deps.Obligations.Set(ctx, tx, Obligation{
		AccountID: c.AccountID, AgencyID: c.AgencyID, Kind: "payment", Source: PaymentSource(c.ID, paymentID),
		Title: manifest.Text{EN: m.T(i18n.English, "casework.obligation.pay", title.EN, c.Reference),
			ES: m.T(i18n.Spanish, "casework.obligation.pay", title.ES, c.Reference)},
		URL: "/applications/" + c.ID, Due: due, RemindBefore: []time.Duration{7 * 24 * time.Hour, 0},
		Amount: &amount, Reference: c.Reference,
	})
}

// endObligations closes in tx what a case's obligations ask of the
// citizen once the case is closed: unpaid fees and an unanswered request
// no longer apply.
func (s *Service) endObligations(ctx context.Context, tx *sql.Tx, c Case) error {
	if s.deps.Obligations == nil {
		return nil
	}
	ids, err := unpaidIDs(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.deps.Obligations.Cancel(ctx, tx, c.AccountID, PaymentSource(c.ID, id)); err != nil {
			return err
		}
	}
	return s.deps.Obligations.Cancel(ctx, tx, c.AccountID, RequestSource(c.ID))
}

// paidObligations completes the obligations of the fees ids, just paid.
func (s *Service) paidObligations(ctx context.Context, tx *sql.Tx, c Case, ids []int64) error {
	if s.deps.Obligations == nil {
		return nil
	}
	for _, id := range ids {
		if err := s.deps.Obligations.Complete(ctx, tx, c.AccountID, PaymentSource(c.ID, id)); err != nil {
			return err
		}
	}
	return nil
}
