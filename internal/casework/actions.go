package casework

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// Document is a document a case issued; producing it is a later issue.
type Document struct {
	Document   string     `json:"document"`
	IssuedAt   time.Time  `json:"issued_at"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// Reminder is a reminder a case set, to be sent at DueAt.
type Reminder struct {
	Reminder string    `json:"reminder"`
	DueAt    time.Time `json:"due_at"`
}

// actionRun is what an on_enter action acts on: the case as it entered
// the state, the manifest of its service version and the moment of the
// transition (every action of one transition shares it).
type actionRun struct {
	Case     Case
	Manifest *manifest.Manifest
	Now      time.Time
}

// actionExecutor carries out one on_enter action in tx, the transaction of
// the transition. Its contract: it leaves a durable record of what it did
// (a timeline entry, a row for a later issue to consume, an email in the
// outbox, or an event), all in tx, and returns an error only when the
// transition must not happen.
type actionExecutor func(s *Service, ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error

// actionExecutors is the one table of on_enter actions, by the action's
// name in the manifest (its JSON field in manifest.Action). A new action
// kind is one entry here; TestActionExecutors checks that every kind the
// manifest schema allows has one or is refused by validation.
var actionExecutors = map[string]actionExecutor{
	"notify":          (*Service).execNotify,
	"request_payment": (*Service).execRequestPayment,
	"issue_document":  (*Service).execIssueDocument,
	"set_reminder":    (*Service).execSetReminder,
	"call_plugin":     (*Service).execCallPlugin,
}

// actionKind is the name of the one field set in a (validation allows
// exactly one), or "" when none is.
func actionKind(a manifest.Action) string {
	v := reflect.ValueOf(a)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}

// enter runs a state's on_enter actions for c in tx, in manifest order,
// each by its executor. An action no executor knows fails the transition:
// a published manifest promised it, so skipping it silently would lie.
func (s *Service) enter(ctx context.Context, tx *sql.Tx, w *Workflow, c Case, actions []manifest.Action, in Inputs) error {
	run := actionRun{Case: c, Manifest: w.Manifest, Now: in.Now}
	for i, a := range actions {
		kind := actionKind(a)
		exec, ok := actionExecutors[kind]
		if !ok {
			return fmt.Errorf("casework: %s@%d: state %q action %d: no executor for action %q", c.ServiceID, c.ServiceVersion, c.State, i, kind)
		}
		if err := exec(s, ctx, tx, run, a); err != nil {
			return err
		}
	}
	return nil
}

// execNotify tells the citizen (timeline message and email) or the
// agency's staff (internal note and an event for whoever alerts them).
func (s *Service) execNotify(ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error {
	c := run.Case
	if a.Notify.To == "citizen" {
		detail := map[string]any{"action": "notify", "message": a.Notify.Message}
		if err := s.entry(ctx, tx, c.ID, "message", false, a.Notify.Message.EN, detail); err != nil {
			return err
		}
		return s.mail(ctx, tx, c, run.Manifest.Title, a.Notify.Message)
	}
	detail := map[string]any{"action": "notify_staff", "message": a.Notify.Message}
	if err := s.entry(ctx, tx, c.ID, "note", true, a.Notify.Message.EN, detail); err != nil {
		return err
	}
	return s.emit(ctx, tx, c, EventStaffNotified, detail)
}

// execRequestPayment asks for the fee fixed at submission, never worked
// out again: a later version, or the applicant's birthday, changes nothing.
func (s *Service) execRequestPayment(ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error {
	c := run.Case
	if c.Fee == nil { // validation requires a fee; a case without one is a bug
		return fmt.Errorf("casework: %s@%d: request_payment on case %s, which has no fee", c.ServiceID, c.ServiceVersion, c.ID)
	}
	amount, currency := c.Fee.Amount, c.Fee.Currency
	var due *time.Time
	if a.RequestPayment.Due != "" {
		d, err := manifest.ParseDuration(a.RequestPayment.Due)
		if err != nil {
			return err
		}
		t := run.Now.Add(d)
		due = &t
	}
	var paymentID int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO case_payments (case_id, state, amount, currency, requested_at, due_at) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`, c.ID, c.State, amount, currency, run.Now, due).Scan(&paymentID); err != nil {
		return fmt.Errorf("casework: request payment: %w", err)
	}
	if due != nil {
		money, err := platform.NewMoney(amount, currency)
		if err != nil {
			return fmt.Errorf("casework: request payment: %w", err)
		}
		if err := s.obligePayment(ctx, tx, run, paymentID, money, *due); err != nil {
			return fmt.Errorf("casework: request payment: %w", err)
		}
	}
	detail := map[string]any{"action": "request_payment", "amount": amount, "currency": currency}
	if due != nil {
		detail["due"] = due.Format(time.RFC3339)
	}
	if err := s.entry(ctx, tx, c.ID, "message", false, "", detail); err != nil {
		return err
	}
	return s.emit(ctx, tx, c, EventPaymentRequired, detail)
}

// execIssueDocument records one of the service's documents as issued,
// valid for the manifest's period; producing it is a later issue.
func (s *Service) execIssueDocument(ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error {
	c := run.Case
	doc := run.Manifest.Documents[a.IssueDocument.Document]
	var until *time.Time
	if doc.ValidFor != "" {
		d, err := manifest.ParseDuration(doc.ValidFor)
		if err != nil {
			return err
		}
		t := run.Now.Add(d)
		until = &t
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_documents (case_id, document, issued_at, valid_until) VALUES ($1, $2, $3, $4)`,
		c.ID, a.IssueDocument.Document, run.Now, until); err != nil {
		return fmt.Errorf("casework: issue document: %w", err)
	}
	detail := map[string]any{"action": "issue_document", "document": a.IssueDocument.Document, "title": doc.Title}
	if until != nil {
		detail["valid_until"] = until.Format(time.RFC3339)
	}
	if err := s.entry(ctx, tx, c.ID, "message", false, doc.Title.EN, detail); err != nil {
		return err
	}
	return s.emit(ctx, tx, c, EventDocumentIssued, detail)
}

// execSetReminder sets one of the service's reminders and hands it to
// the reminder block as an obligation of the applicant.
func (s *Service) execSetReminder(ctx context.Context, tx *sql.Tx, run actionRun, a manifest.Action) error {
	c, m := run.Case, run.Manifest
	due, expiry, err := s.reminderDue(ctx, tx, m, c, a.SetReminder.Reminder, run.Now)
	if err != nil {
		return err
	}
	if err := s.obligeReminder(ctx, tx, m, c, a.SetReminder.Reminder, due, expiry); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_reminders (case_id, reminder, set_at, due_at) VALUES ($1, $2, $3, $4)`,
		c.ID, a.SetReminder.Reminder, run.Now, due); err != nil {
		return fmt.Errorf("casework: set reminder: %w", err)
	}
	detail := map[string]any{"action": "set_reminder", "reminder": a.SetReminder.Reminder, "due": due.Format(time.RFC3339)}
	if err := s.entry(ctx, tx, c.ID, "note", true, "", detail); err != nil {
		return err
	}
	return s.emit(ctx, tx, c, EventReminderSet, detail)
}

// reminderDue is when a reminder is to be sent: after its delay, or before
// the expiry of the document it names (as issued to this case; if it has
// not been, as if issued now).
// The second time returned is the expiry itself (for an "after"
// reminder, the same as the first).
func (s *Service) reminderDue(ctx context.Context, tx *sql.Tx, m *manifest.Manifest, c Case, id string, now time.Time) (time.Time, time.Time, error) {
	r := m.Reminders[id]
	if r.After != "" {
		d, err := manifest.ParseDuration(r.After)
		return now.Add(d), now.Add(d), err
	}
	before, err := manifest.ParseDuration(r.Before)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	var until sql.NullTime
	err = tx.QueryRowContext(ctx, `SELECT valid_until FROM case_documents WHERE case_id = $1 AND document = $2 ORDER BY id DESC LIMIT 1`,
		c.ID, r.Document).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, time.Time{}, fmt.Errorf("casework: reminder: %w", err)
	}
	if !until.Valid {
		d, err := manifest.ParseDuration(m.Documents[r.Document].ValidFor)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		until = sql.NullTime{Time: now.Add(d), Valid: true}
	}
	due := until.Time.UTC().Add(-before)
	if due.Before(now) {
		due = now
	}
	return due, until.Time.UTC(), nil
}

// obligeReminder hands a manifest reminder to the reminder block: a
// renewal due when the document expires, reminded the manifest's "before"
// ahead; or an action due after its delay, reminded on the day.
func (s *Service) obligeReminder(ctx context.Context, tx *sql.Tx, m *manifest.Manifest, c Case, id string, due, expiry time.Time) error {
	if s.deps.Obligations == nil {
		return nil
	}
	r := m.Reminders[id]
	o := Obligation{AccountID: c.AccountID, AgencyID: c.AgencyID, Kind: "action", Source: "case:" + c.ID + "/reminder:" + id,
		Title: r.Message, URL: "/applications/" + c.ID, Due: due, RemindBefore: []time.Duration{0}}
	if r.Before != "" {
		o.Kind, o.Due, o.URL = "renewal", expiry, "/services/"+c.ServiceID
		o.RemindBefore = []time.Duration{expiry.Sub(due)}
	}
	if err := s.deps.Obligations.Set(ctx, tx, o); err != nil {
		return fmt.Errorf("casework: reminder %s: %w", id, err)
	}
	return nil
}

// Documents returns the documents the case issued.
func (s *Service) Documents(ctx context.Context, caseID string) ([]Document, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT document, issued_at, valid_until FROM case_documents WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: documents: %w", err)
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		var d Document
		var until sql.NullTime
		if err := rows.Scan(&d.Document, &d.IssuedAt, &until); err != nil {
			return nil, fmt.Errorf("casework: documents: %w", err)
		}
		d.IssuedAt = d.IssuedAt.UTC()
		if until.Valid {
			t := until.Time.UTC()
			d.ValidUntil = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Reminders returns the reminders the case set.
func (s *Service) Reminders(ctx context.Context, caseID string) ([]Reminder, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT reminder, due_at FROM case_reminders WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: reminders: %w", err)
	}
	defer rows.Close()
	var out []Reminder
	for rows.Next() {
		var r Reminder
		if err := rows.Scan(&r.Reminder, &r.DueAt); err != nil {
			return nil, fmt.Errorf("casework: reminders: %w", err)
		}
		r.DueAt = r.DueAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
