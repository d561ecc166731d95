// Package casework is the block in which staff work cases: the case a
// submitted application opens, its place in the service's workflow, who is
// assigned, its SLA and its timeline (transitions, notes, messages,
// requests for more information and the citizen's replies).
//
// A case has the id of the application that opened it and the same human
// reference (DMV-2026-000123). The application block opens a case with Open
// inside its own submission transaction, so a submitted application always
// has its case and a failed submission leaves neither.
package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Who a case is waiting on.
const (
	WaitingOnAgency  = "agency"
	WaitingOnCitizen = "citizen"
	WaitingOnNobody  = "nobody" // closed
)

// Case is a submitted application being worked by an agency.
type Case struct {
	ID             string     `json:"id"`
	Reference      string     `json:"reference"`
	AgencyID       string     `json:"agency_id"`
	ServiceID      string     `json:"service_id"`
	ServiceVersion int        `json:"service_version"`
	AccountID      string     `json:"account_id"`
	State          string     `json:"state"`
	StateEnteredAt time.Time  `json:"state_entered_at"`
	SLADueAt       *time.Time `json:"sla_due_at,omitempty"`
	Overdue        bool       `json:"overdue"`
	WaitingOn      string     `json:"waiting_on"`
	Assignee       string     `json:"assignee,omitempty"`
	OpenedAt       time.Time  `json:"opened_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	// Fee is what the application was charged when it was submitted
	// (nil: the service has no fee). Every request_payment asks for it.
	Fee *manifest.Charge `json:"fee,omitempty"`
	// slaRemaining is the SLA time left when the clock was paused (the
	// case waits on the citizen), in seconds; nil while it runs.
	slaRemaining *int64
}

// Opening is what Open needs to know about a submitted application.
type Opening struct {
	ApplicationID string
	AccountID     string
	AgencyID      string
	ServiceID     string
	Version       int
	// Fee is the fee worked out at submission (nil: none); the case
	// keeps it and charges it.
	Fee *manifest.Charge
}

// Service is the casework block.
type Service struct {
	db    *storage.DB
	audit *audit.Log
	bus   *events.Bus
	clock platform.Clock
	deps  Deps
}

// New returns the casework block with the other blocks it talks to. db,
// log, bus, clock, deps.Runtimes and deps.Citizens are required (a nil one
// is refused with an error naming it); deps.Mailer and deps.Obligations
// may be nil, and then no email is sent and no reminder set (operator
// tools and tests that do not look at either).
func New(db *storage.DB, log *audit.Log, bus *events.Bus, clock platform.Clock, deps Deps) (*Service, error) {
	if err := platform.Required("casework",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "service runtimes", Missing: deps.Runtimes == nil},
		platform.Dep{Name: "citizens", Missing: deps.Citizens == nil}); err != nil {
		return nil, err
	}
	return &Service{db: db, audit: log, bus: bus, clock: clock, deps: deps}, nil
}

// EventOpened is emitted (in the opening transaction) when a case opens.
const EventOpened = "gov.portico.case.opened"

// Open allocates the application's human reference and opens its case in
// the manifest's initial workflow state, in tx (the caller's submission
// transaction, after it has stored the answers). It appends the timeline
// entry and the audit record, emits EventOpened and runs the initial
// state's on_enter actions (a fee to pay, staff to notify). The caller
// stores the returned reference on the application.
func (s *Service) Open(ctx context.Context, tx *sql.Tx, o Opening) (Case, error) {
	w, err := s.workflowOf(ctx, o.ServiceID, o.Version)
	if err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	now := s.clock.Now().UTC()
	ref, err := s.allocateReference(ctx, tx, o.AgencyID, now.Year())
	if err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	c := Case{
		ID: o.ApplicationID, Reference: ref, AgencyID: o.AgencyID, ServiceID: o.ServiceID,
		ServiceVersion: o.Version, AccountID: o.AccountID, State: w.Manifest.Workflow.Initial,
		StateEnteredAt: now, WaitingOn: WaitingOnAgency, OpenedAt: now, UpdatedAt: now, Fee: o.Fee,
	}
	entered, err := w.Enter(c, c.State, now)
	if err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	c = entered.Case
	_, err = tx.ExecContext(ctx, `INSERT INTO cases (id, reference, agency_id, service_id, service_version, account_id, state,
		state_entered_at, sla_due_at, waiting_on, opened_at, updated_at, closed_at, fee_amount, fee_currency)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, c.Reference, c.AgencyID, c.ServiceID, c.ServiceVersion, c.AccountID, c.State,
		c.StateEnteredAt, c.SLADueAt, c.WaitingOn, c.OpenedAt, c.UpdatedAt, c.ClosedAt, feeAmount(c.Fee), feeCurrency(c.Fee))
	if err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	actor := platform.ActorFrom(ctx).String()
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_entries (case_id, agency_id, kind, actor, detail, at) VALUES ($1, $2, 'opened', $3, $4, $5)`,
		c.ID, c.AgencyID, actor, fmt.Sprintf(`{"state":%q}`, c.State), now); err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{
		Action: "case.open", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference, "service": c.ServiceID, "version": c.ServiceVersion, "state": c.State},
	}); err != nil {
		return Case{}, err
	}
	data, _ := json.Marshal(c)
	if err := s.bus.Emit(ctx, tx, events.Event{
		Source: "/portico/casework", Type: EventOpened, Subject: "case:" + c.ID, AgencyID: c.AgencyID, Data: data,
	}); err != nil {
		return Case{}, err
	}
	in, err := s.inputs(ctx, tx, c)
	if err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	if err := s.enter(ctx, tx, w, c, entered.Actions, in); err != nil {
		return Case{}, fmt.Errorf("casework: open: %w", err)
	}
	return c, nil
}

// allocateReference takes the next number of agency's counter for year.
// The upsert holds the counter row until tx ends, so references are
// unique and gapless among committed submissions.
func (s *Service) allocateReference(ctx context.Context, tx *sql.Tx, agency string, year int) (string, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO reference_counters (agency_id, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (agency_id, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last`, agency, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("reference: %w", err)
	}
	return FormatReference(agency, year, n), nil
}

// FormatReference renders a human reference: the agency id in capitals,
// the year and a six-digit (or longer) sequence number.
func FormatReference(agency string, year int, n int64) string {
	return fmt.Sprintf("%s-%d-%06d", strings.ToUpper(agency), year, n)
}

// caseColumns is the column list scanCase reads.
const caseColumns = `id, reference, agency_id, service_id, service_version, account_id, state, state_entered_at,
	sla_due_at, overdue, waiting_on, COALESCE(assignee, ''), opened_at, updated_at, closed_at, sla_remaining_seconds,
	fee_amount, COALESCE(fee_currency, '')`

// feeAmount and feeCurrency are the columns of a case's fee (NULL: none).
func feeAmount(f *manifest.Charge) any {
	if f == nil {
		return nil
	}
	return f.Amount
}

func feeCurrency(f *manifest.Charge) any {
	if f == nil {
		return nil
	}
	return f.Currency
}

type scanner interface{ Scan(dest ...any) error }

func scanCase(r scanner) (Case, error) {
	var c Case
	var due, closed sql.NullTime
	var remaining, fee sql.NullInt64
	var currency string
	err := r.Scan(&c.ID, &c.Reference, &c.AgencyID, &c.ServiceID, &c.ServiceVersion, &c.AccountID, &c.State,
		&c.StateEnteredAt, &due, &c.Overdue, &c.WaitingOn, &c.Assignee, &c.OpenedAt, &c.UpdatedAt, &closed, &remaining,
		&fee, &currency)
	if err != nil {
		return Case{}, err
	}
	if fee.Valid {
		c.Fee = &manifest.Charge{Amount: fee.Int64, Currency: currency}
	}
	if remaining.Valid {
		c.slaRemaining = &remaining.Int64
	}
	if due.Valid {
		t := due.Time.UTC()
		c.SLADueAt = &t
	}
	if closed.Valid {
		t := closed.Time.UTC()
		c.ClosedAt = &t
	}
	c.StateEnteredAt, c.OpenedAt, c.UpdatedAt = c.StateEnteredAt.UTC(), c.OpenedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// Case returns one case by id, or a CodeNotFound error. It does not check
// who is asking: callers authorise (see the web side) and audit the view.
func (s *Service) Case(ctx context.Context, id string) (Case, error) {
	c, err := scanCase(s.db.Read().QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, platform.Errorf(platform.CodeNotFound, "no such case")
	}
	if err != nil {
		return Case{}, fmt.Errorf("casework: case: %w", err)
	}
	return c, nil
}

// ForAccount returns the cases of one citizen, newest first. Callers
// authorise (the account is the signed-in person's) and audit.
func (s *Service) ForAccount(ctx context.Context, account string) ([]Case, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE account_id = $1 ORDER BY opened_at DESC, id DESC`, account)
	if err != nil {
		return nil, fmt.Errorf("casework: for account: %w", err)
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("casework: for account: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
