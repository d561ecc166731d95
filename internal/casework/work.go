package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Runtimes gives the compiled runtime of a published service version
// (the catalog block, which compiles each version once for itself, the
// form engine and casework).
type Runtimes interface {
	Runtime(ctx context.Context, id string, version int) (*manifest.Runtime, error)
}

// Citizens gives what guards know of an applicant
// (the identity block, adapted in internal/app).
type Citizens interface {
	Person(ctx context.Context, accountID string) (manifest.Person, error)
}

// Mailer sends a citizen an email about their case, in tx (the
// notification block's outbox, adapted in internal/app).
type Mailer interface {
	MailCitizen(ctx context.Context, tx *sql.Tx, m Mail) error
}

// Mail is an email to the applicant of a case. The adapter picks the
// language from the account and links to the citizen's case page.
type Mail struct {
	AccountID string
	AgencyID  string
	CaseID    string
	Reference string
	Subject   manifest.Text
	Body      manifest.Text
}

// Deps are the other blocks casework uses, given to New.
type Deps struct {
	Runtimes    Runtimes
	Citizens    Citizens
	Mailer      Mailer
	Obligations Obligations
}

// Obligation is something the applicant must do by a date: renew what the
// case issued (a manifest's set_reminder) or answer the agency's request
// for more information. The reminder block reminds them and puts it in
// their calendar.
type Obligation struct {
	AccountID, AgencyID string
	Kind                string // "renewal" or "action"
	Source              string // unique per account: "case:ID/reminder:R", "case:ID/request"
	Title               manifest.Text
	URL                 string // where to act, a path on this site
	Due                 time.Time
	RemindBefore        []time.Duration // nil: the reminder block's default schedule
}

// Obligations is what casework needs of the reminder block; both run in
// the case change's transaction.
type Obligations interface {
	Set(ctx context.Context, tx *sql.Tx, o Obligation) error
	Complete(ctx context.Context, tx *sql.Tx, accountID, source string) error
}

// RequestDue is how long an applicant is given to answer a request for
// more information before reminders say it is overdue.
const RequestDue = 14 * 24 * time.Hour

// Events casework emits, all in the transaction of the change.
const (
	EventTransitioned    = "gov.portico.case.transitioned"
	EventClosed          = "gov.portico.case.closed"
	EventAssigned        = "gov.portico.case.assigned"
	EventInfoRequested   = "gov.portico.case.info_requested"
	EventInfoReceived    = "gov.portico.case.info_received"
	EventMessaged        = "gov.portico.case.messaged"
	EventOverdue         = "gov.portico.case.overdue"
	EventStaffNotified   = "gov.portico.case.staff_notified"
	EventPaymentRequired = "gov.portico.case.payment_requested"
	EventPaymentRecorded = "gov.portico.case.payment_recorded"
	EventDocumentIssued  = "gov.portico.case.document_issued"
	EventReminderSet     = "gov.portico.case.reminder_set"
	EventPluginCalled    = "gov.portico.case.plugin_called"
)

// Entry is one line of a case's timeline.
type Entry struct {
	ID       int64          `json:"id"`
	Kind     string         `json:"kind"`
	Actor    string         `json:"actor"`
	Internal bool           `json:"internal"`
	Body     string         `json:"body,omitempty"`
	Detail   map[string]any `json:"detail"`
	At       time.Time      `json:"at"`
}

// Action names an automatic timeline entry's origin (Detail["action"]).
func (e Entry) Action() string { s, _ := e.Detail["action"].(string); return s }

// Str returns a string from Detail.
func (e Entry) Str(key string) string { s, _ := e.Detail[key].(string); return s }

// Text returns a bilingual text from Detail (a manifest message).
func (e Entry) Text(key, lang string) string {
	m, _ := e.Detail[key].(map[string]any)
	if s, _ := m[lang].(string); s != "" {
		return s
	}
	s, _ := m["en"].(string)
	return s
}

// Amount returns a money amount (minor units) from Detail.
func (e Entry) Amount(key string) int64 {
	f, _ := e.Detail[key].(float64)
	return int64(f)
}

// Payment is a fee a case asks for and, once recorded, its payment.
type Payment struct {
	ID          int64      `json:"id"`
	State       string     `json:"state"`
	Amount      int64      `json:"amount"`
	Currency    string     `json:"currency"`
	RequestedAt time.Time  `json:"requested_at"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	PaidAmount  int64      `json:"paid_amount,omitempty"`
	PaidBy      string     `json:"paid_by,omitempty"`
	PaidRef     string     `json:"paid_ref,omitempty"`
}

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

// lockCase reads a case for change in tx. On PostgreSQL the row is locked
// until tx ends; SQLite has one writer, so its transaction already is.
func (s *Service) lockCase(ctx context.Context, tx *sql.Tx, id string) (Case, error) {
	q := `SELECT ` + caseColumns + ` FROM cases WHERE id = $1`
	if s.db.Dialect == storage.Postgres {
		q += ` FOR UPDATE`
	}
	c, err := scanCase(tx.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, platform.Errorf(platform.CodeNotFound, "no such case")
	}
	if err != nil {
		return Case{}, fmt.Errorf("casework: load case: %w", err)
	}
	return c, nil
}

// workflow returns the compiled workflow of c's service version.
func (s *Service) workflow(ctx context.Context, c Case) (*Workflow, error) {
	return s.workflowOf(ctx, c.ServiceID, c.ServiceVersion)
}

func (s *Service) workflowOf(ctx context.Context, id string, version int) (*Workflow, error) {
	rt, err := s.deps.Runtimes.Runtime(ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("casework: service %s@%d: %w", id, version, err)
	}
	return NewWorkflow(rt), nil
}

// Workflow returns the compiled workflow of c's service version.
func (s *Service) Workflow(ctx context.Context, c Case) (*Workflow, error) { return s.workflow(ctx, c) }

// Answers returns the frozen answers of the case's application.
func (s *Service) Answers(ctx context.Context, id string) (map[string]map[string]any, error) {
	return answersOf(ctx, s.db.Read(), id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func answersOf(ctx context.Context, q querier, id string) (map[string]map[string]any, error) {
	var raw []byte
	if err := q.QueryRowContext(ctx, `SELECT answers FROM applications WHERE id = $1`, id).Scan(&raw); err != nil {
		return nil, fmt.Errorf("casework: answers: %w", err)
	}
	out := map[string]map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("casework: answers: %w", err)
		}
	}
	return out, nil
}

// Inputs gathers what c's guards read: the applicant, the answers and the
// state of the fee, reading through q (a transaction while changing).
func (s *Service) inputs(ctx context.Context, q querier, c Case) (Inputs, error) {
	in := Inputs{Now: s.clock.Now().UTC()}
	var err error
	if in.Answers, err = answersOf(ctx, q, c.ID); err != nil {
		return in, err
	}
	if in.Person, err = s.deps.Citizens.Person(ctx, c.AccountID); err != nil {
		return in, fmt.Errorf("casework: applicant: %w", err)
	}
	var n, unpaid int
	var amount sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN paid_at IS NULL THEN 1 ELSE 0 END), 0), SUM(amount)
		FROM case_payments WHERE case_id = $1`, c.ID).Scan(&n, &unpaid, &amount); err != nil {
		return in, fmt.Errorf("casework: payments: %w", err)
	}
	in.Payment = manifest.Payment{Paid: n > 0 && unpaid == 0, Amount: amount.Int64}
	return in, nil
}

// Inputs returns the guard inputs of c now (for pages listing options).
func (s *Service) Inputs(ctx context.Context, c Case) (Inputs, error) {
	return s.inputs(ctx, s.db.Read(), c)
}

// change runs fn on the locked case id in one transaction, then audits
// action with detail and emits event (when not "") with the case as data.
// Closed cases refuse every change.
func (s *Service) change(ctx context.Context, id, action, event string, fn func(tx *sql.Tx, c *Case) (map[string]any, error)) (Case, error) {
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.ClosedAt != nil {
			return refuse("case.reason.closed")
		}
		detail, err := fn(tx, &c)
		if err != nil {
			return err
		}
		if detail == nil {
			detail = map[string]any{}
		}
		detail["reference"] = c.Reference
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: action, Subject: "case:" + c.ID, AgencyID: c.AgencyID, Detail: detail}); err != nil {
			return err
		}
		if event != "" {
			if err := s.emit(ctx, tx, c, event, detail); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, err
}

func (s *Service) emit(ctx context.Context, tx *sql.Tx, c Case, typ string, extra map[string]any) error {
	data, err := json.Marshal(map[string]any{"case": c, "detail": extra})
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/casework", Type: typ, Subject: "case:" + c.ID, AgencyID: c.AgencyID, Data: data})
}

func (s *Service) entry(ctx context.Context, tx *sql.Tx, caseID, kind string, internal bool, body string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO case_entries (case_id, kind, actor, internal, body, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		caseID, kind, platform.ActorFrom(ctx).String(), internal, body, string(b), s.clock.Now().UTC())
	if err != nil {
		return fmt.Errorf("casework: timeline: %w", err)
	}
	return nil
}

func (s *Service) save(ctx context.Context, tx *sql.Tx, c Case) error {
	_, err := tx.ExecContext(ctx, `UPDATE cases SET state = $2, state_entered_at = $3, sla_due_at = $4, overdue = $5, waiting_on = $6,
		assignee = $7, updated_at = $8, closed_at = $9, sla_remaining_seconds = $10 WHERE id = $1`,
		c.ID, c.State, c.StateEnteredAt, c.SLADueAt, c.Overdue, c.WaitingOn, nullString(c.Assignee), c.UpdatedAt, c.ClosedAt, c.slaRemaining)
	if err != nil {
		return fmt.Errorf("casework: save case: %w", err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Take has actor take transition id on case caseID: the guard is checked
// against the case's answers, applicant and payments, the case enters the
// new state and the state's on_enter actions run, all in one transaction.
func (s *Service) Take(ctx context.Context, caseID, id string, a Actor) (Case, error) {
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if c.ClosedAt != nil {
			return refuse("case.reason.closed")
		}
		w, err := s.workflow(ctx, c)
		if err != nil {
			return err
		}
		in, err := s.inputs(ctx, tx, c)
		if err != nil {
			return err
		}
		t, err := w.Check(c.State, id, a, in)
		if err != nil {
			return err
		}
		out, err = s.transition(ctx, tx, w, c, t, in)
		return err
	})
	return out, err
}

// transition moves c along t in tx: the pure Enter, then storage, the
// timeline, the state's actions, audit and events. A system transition
// that becomes possible on the way (a fee already paid) is not chained:
// system transitions run only on the moments documented at Automatic.
func (s *Service) transition(ctx context.Context, tx *sql.Tx, w *Workflow, c Case, t manifest.Transition, in Inputs) (Case, error) {
	from := c.State
	e, err := w.Enter(c, t.To, in.Now)
	if err != nil {
		return Case{}, err
	}
	c = e.Case
	if err := s.save(ctx, tx, c); err != nil {
		return Case{}, err
	}
	detail := map[string]any{"transition": t.ID, "from": from, "to": t.To, "label": t.Label}
	if err := s.entry(ctx, tx, c.ID, "transition", false, "", detail); err != nil {
		return Case{}, err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.transition", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference, "transition": t.ID, "from": from, "to": t.To}}); err != nil {
		return Case{}, err
	}
	// The transition's event goes out before those of the new state's
	// actions, so consumers see cause before effects.
	if err := s.emit(ctx, tx, c, EventTransitioned, detail); err != nil {
		return Case{}, err
	}
	if err := s.enter(ctx, tx, w, c, e.Actions, in); err != nil {
		return Case{}, err
	}
	if c.ClosedAt != nil {
		if err := s.emit(ctx, tx, c, EventClosed, map[string]any{"state": c.State}); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

// enter runs a state's on_enter actions for c in tx, in manifest order.
// Each leaves a durable record: a timeline entry, a row for a later issue
// to consume, an email in the outbox, or an event.
func (s *Service) enter(ctx context.Context, tx *sql.Tx, w *Workflow, c Case, actions []manifest.Action, in Inputs) error {
	m := w.Manifest
	for _, a := range actions {
		switch {
		case a.Notify != nil && a.Notify.To == "citizen":
			detail := map[string]any{"action": "notify", "message": a.Notify.Message}
			if err := s.entry(ctx, tx, c.ID, "message", false, a.Notify.Message.EN, detail); err != nil {
				return err
			}
			if err := s.mail(ctx, tx, c, m.Title, a.Notify.Message); err != nil {
				return err
			}
		case a.Notify != nil: // staff
			detail := map[string]any{"action": "notify_staff", "message": a.Notify.Message}
			if err := s.entry(ctx, tx, c.ID, "note", true, a.Notify.Message.EN, detail); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, c, EventStaffNotified, detail); err != nil {
				return err
			}
		case a.RequestPayment != nil:
			// The fee fixed at submission, never worked out again: a
			// later version, or the applicant's birthday, changes nothing.
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
				t := in.Now.Add(d)
				due = &t
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_payments (case_id, state, amount, currency, requested_at, due_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				c.ID, c.State, amount, currency, in.Now, due); err != nil {
				return fmt.Errorf("casework: request payment: %w", err)
			}
			detail := map[string]any{"action": "request_payment", "amount": amount, "currency": currency}
			if due != nil {
				detail["due"] = due.Format(time.RFC3339)
			}
			if err := s.entry(ctx, tx, c.ID, "message", false, "", detail); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, c, EventPaymentRequired, detail); err != nil {
				return err
			}
		case a.IssueDocument != nil:
			doc := m.Documents[a.IssueDocument.Document]
			var until *time.Time
			if doc.ValidFor != "" {
				d, err := manifest.ParseDuration(doc.ValidFor)
				if err != nil {
					return err
				}
				t := in.Now.Add(d)
				until = &t
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_documents (case_id, document, issued_at, valid_until) VALUES ($1, $2, $3, $4)`,
				c.ID, a.IssueDocument.Document, in.Now, until); err != nil {
				return fmt.Errorf("casework: issue document: %w", err)
			}
			detail := map[string]any{"action": "issue_document", "document": a.IssueDocument.Document, "title": doc.Title}
			if until != nil {
				detail["valid_until"] = until.Format(time.RFC3339)
			}
			if err := s.entry(ctx, tx, c.ID, "message", false, doc.Title.EN, detail); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, c, EventDocumentIssued, detail); err != nil {
				return err
			}
		case a.SetReminder != nil:
			due, expiry, err := s.reminderDue(ctx, tx, m, c, a.SetReminder.Reminder, in.Now)
			if err != nil {
				return err
			}
			if err := s.obligeReminder(ctx, tx, m, c, a.SetReminder.Reminder, due, expiry); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_reminders (case_id, reminder, set_at, due_at) VALUES ($1, $2, $3, $4)`,
				c.ID, a.SetReminder.Reminder, in.Now, due); err != nil {
				return fmt.Errorf("casework: set reminder: %w", err)
			}
			detail := map[string]any{"action": "set_reminder", "reminder": a.SetReminder.Reminder, "due": due.Format(time.RFC3339)}
			if err := s.entry(ctx, tx, c.ID, "note", true, "", detail); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, c, EventReminderSet, detail); err != nil {
				return err
			}
		case a.CallPlugin != nil:
			detail := map[string]any{"action": "call_plugin", "plugin": a.CallPlugin.Plugin, "operation": a.CallPlugin.Operation}
			if err := s.entry(ctx, tx, c.ID, "note", true, "", detail); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, c, EventPluginCalled, detail); err != nil {
				return err
			}
		}
	}
	return nil
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

// mail emails the applicant through the Mailer, if there is one.
func (s *Service) mail(ctx context.Context, tx *sql.Tx, c Case, subject, body manifest.Text) error {
	if s.deps.Mailer == nil {
		return nil
	}
	return s.deps.Mailer.MailCitizen(ctx, tx, Mail{AccountID: c.AccountID, AgencyID: c.AgencyID, CaseID: c.ID, Reference: c.Reference, Subject: subject, Body: body})
}

// MaxText is the longest note, message, request or answer, in characters.
const MaxText = 5000

// cleanText checks a person's free text.
func cleanText(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", platform.Invalid("body", "write something first")
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", platform.Invalid("body", "the text is not valid")
	case utf8.RuneCountInString(s) > MaxText:
		return "", platform.Invalid("body", fmt.Sprintf("the text is longer than %d characters", MaxText))
	}
	return s, nil
}

// Assign gives the case to a staff member (assignee, an account id; ""
// unassigns). The caller checks the assignee belongs to the agency.
func (s *Service) Assign(ctx context.Context, caseID, assignee string) (Case, error) {
	return s.change(ctx, caseID, "case.assign", EventAssigned, func(tx *sql.Tx, c *Case) (map[string]any, error) {
		from := c.Assignee
		c.Assignee, c.UpdatedAt = assignee, s.clock.Now().UTC()
		if err := s.save(ctx, tx, *c); err != nil {
			return nil, err
		}
		d := map[string]any{"from": from, "to": assignee}
		return d, s.entry(ctx, tx, c.ID, "assign", true, "", d)
	})
}

// Note adds an internal note, which the citizen never sees.
func (s *Service) Note(ctx context.Context, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, caseID, "case.note", "", func(tx *sql.Tx, c *Case) (map[string]any, error) {
		return map[string]any{"length": len(body)}, s.entry(ctx, tx, c.ID, "note", true, body, nil)
	})
}

// Message sends the citizen a message: on their case page and by email.
func (s *Service) Message(ctx context.Context, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, caseID, "case.message", EventMessaged, func(tx *sql.Tx, c *Case) (map[string]any, error) {
		if err := s.entry(ctx, tx, c.ID, "message", false, body, nil); err != nil {
			return nil, err
		}
		return map[string]any{"length": len(body)}, s.mailText(ctx, tx, *c, "mail.message", body)
	})
}

// mailText emails the applicant a platform message (subject and intro in
// both languages from mailTexts) followed by body as written.
// mailText emails the citizen: kind names catalogue messages
// (casework.KIND.subject with the reference, casework.KIND.intro) and
// body follows the intro in both languages.
func (s *Service) mailText(ctx context.Context, tx *sql.Tx, c Case, kind, body string) error {
	return s.mailTexts(ctx, tx, c, kind, manifest.Text{EN: body, ES: body})
}

// mailTexts is mailText with a body per language (an amount of money).
func (s *Service) mailTexts(ctx context.Context, tx *sql.Tx, c Case, kind string, body manifest.Text) error {
	m := i18n.Messages()
	return s.mail(ctx, tx, c,
		manifest.Text{EN: m.T(i18n.English, "casework."+kind+".subject", c.Reference), ES: m.T(i18n.Spanish, "casework."+kind+".subject", c.Reference)},
		manifest.Text{EN: m.T(i18n.English, "casework."+kind+".intro") + "\n\n" + body.EN, ES: m.T(i18n.Spanish, "casework."+kind+".intro") + "\n\n" + body.ES})
}

// RequestInfo asks the citizen for more information. The case then waits
// on the citizen and its SLA clock stops until they answer (Respond).
func (s *Service) RequestInfo(ctx context.Context, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, caseID, "case.request_info", EventInfoRequested, func(tx *sql.Tx, c *Case) (map[string]any, error) {
		if c.WaitingOn == WaitingOnCitizen {
			return nil, platform.Errorf(platform.CodeConflict, "the case is already waiting for the citizen's answer")
		}
		now := s.clock.Now().UTC()
		c.WaitingOn, c.UpdatedAt = WaitingOnCitizen, now
		if c.SLADueAt != nil {
			left := int64(c.SLADueAt.Sub(now) / time.Second)
			c.slaRemaining, c.SLADueAt = &left, nil
		}
		if err := s.save(ctx, tx, *c); err != nil {
			return nil, err
		}
		if err := s.entry(ctx, tx, c.ID, "request", false, body, nil); err != nil {
			return nil, err
		}
		if s.deps.Obligations != nil {
			w, err := s.workflow(ctx, *c)
			if err != nil {
				return nil, err
			}
			m := w.Manifest
			if err := s.deps.Obligations.Set(ctx, tx, Obligation{
				AccountID: c.AccountID, AgencyID: c.AgencyID, Kind: "action", Source: "case:" + c.ID + "/request",
				Title: manifest.Text{EN: "Answer the agency's question about " + c.Reference + ": " + m.Title.EN,
					ES: "Responda a la pregunta de la agencia sobre " + c.Reference + ": " + m.Title.ES},
				URL: "/applications/" + c.ID, Due: now.Add(RequestDue), RemindBefore: []time.Duration{7 * 24 * time.Hour, 0},
			}); err != nil {
				return nil, err
			}
		}
		return map[string]any{"length": len(body)}, s.mailText(ctx, tx, *c, "mail.request", body)
	})
}

// Respond records the citizen's answer to a request for more information;
// the case returns to the agency with the SLA time it had left.
func (s *Service) Respond(ctx context.Context, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, caseID, "case.respond", EventInfoReceived, func(tx *sql.Tx, c *Case) (map[string]any, error) {
		if c.WaitingOn != WaitingOnCitizen {
			return nil, platform.Errorf(platform.CodeConflict, "nothing has been asked of you on this application")
		}
		now := s.clock.Now().UTC()
		c.WaitingOn, c.UpdatedAt = WaitingOnAgency, now
		if c.slaRemaining != nil {
			due := now.Add(time.Duration(*c.slaRemaining) * time.Second)
			c.SLADueAt, c.slaRemaining = &due, nil
		}
		if err := s.save(ctx, tx, *c); err != nil {
			return nil, err
		}
		if s.deps.Obligations != nil {
			if err := s.deps.Obligations.Complete(ctx, tx, c.AccountID, "case:"+c.ID+"/request"); err != nil {
				return nil, err
			}
		}
		return map[string]any{"length": len(body)}, s.entry(ctx, tx, c.ID, "response", false, body, nil)
	})
}

// RecordPayment records that the fee due was paid (at the counter, until
// the payments issue charges it online): every unpaid request of the case
// is marked paid if amount is their total. Then, in the same transaction,
// the system takes an automatic transition if one now may be taken.
func (s *Service) RecordPayment(ctx context.Context, caseID string, amount int64, ref string) (Case, error) {
	ref = strings.TrimSpace(ref)
	if len(ref) > 200 || !utf8.ValidString(ref) {
		return Case{}, platform.Invalid("ref", "the receipt number is too long")
	}
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if c.ClosedAt != nil {
			return refuse("case.reason.closed")
		}
		var due sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT SUM(amount) FROM case_payments WHERE case_id = $1 AND paid_at IS NULL`, c.ID).Scan(&due); err != nil {
			return fmt.Errorf("casework: record payment: %w", err)
		}
		if !due.Valid {
			return platform.Errorf(platform.CodeConflict, "no payment is due on this case")
		}
		if amount != due.Int64 {
			return platform.Invalid("amount", fmt.Sprintf("the amount due is %s", i18n.Messages().For(i18n.English, nil).MoneyOf(due.Int64, "")))
		}
		now := s.clock.Now().UTC()
		actor := platform.ActorFrom(ctx).String()
		if _, err := tx.ExecContext(ctx, `UPDATE case_payments SET paid_at = $2, paid_amount = amount, paid_by = $3, paid_ref = $4
			WHERE case_id = $1 AND paid_at IS NULL`, c.ID, now, actor, ref); err != nil {
			return fmt.Errorf("casework: record payment: %w", err)
		}
		detail := map[string]any{"action": "payment_recorded", "amount": amount, "ref": ref}
		if err := s.entry(ctx, tx, c.ID, "message", false, "", detail); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.payment.record", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
			Detail: map[string]any{"reference": c.Reference, "amount": amount, "ref": ref}}); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, c, EventPaymentRecorded, detail); err != nil {
			return err
		}
		m := i18n.Messages()
		if err := s.mailTexts(ctx, tx, c, "mail.payment", manifest.Text{EN: m.For(i18n.English, nil).MoneyOf(amount, ""),
			ES: m.For(i18n.Spanish, nil).MoneyOf(amount, "")}); err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := s.save(ctx, tx, c); err != nil {
			return err
		}
		out, err = s.automatic(ctx, tx, c)
		return err
	})
	return out, err
}

// automatic takes the system transition out of c's state whose guard now
// holds, if there is one, acting as the system.
func (s *Service) automatic(ctx context.Context, tx *sql.Tx, c Case) (Case, error) {
	w, err := s.workflow(ctx, c)
	if err != nil {
		return Case{}, err
	}
	in, err := s.inputs(ctx, tx, c)
	if err != nil {
		return Case{}, err
	}
	t, ok := w.Automatic(c.State, in)
	if !ok {
		return c, nil
	}
	return s.transition(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "workflow"}), tx, w, c, t, in)
}

// Now is the block's clock, for pages that classify SLAs.
func (s *Service) Now() time.Time { return s.clock.Now().UTC() }

// QueueViewed audits that the current actor listed the cases of agencies
// with filter f (shown: how many were on the page).
func (s *Service) QueueViewed(ctx context.Context, agencies []string, f QueueFilter, shown int) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "case.queue.read", Subject: "agencies:" + strings.Join(agencies, ","),
		Detail: map[string]any{"service": f.Service, "state": f.State, "sla": f.SLA, "assignee": f.Assignee, "closed": f.Closed, "page": f.Page, "shown": shown}})
	return err
}

// FileViewed audits that the current actor downloaded a file of the case.
func (s *Service) FileViewed(ctx context.Context, c Case, fileID, name string) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "case.file.read", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference, "file": fileID, "name": name}})
	return err
}

// Viewed audits that the current actor looked at the case (staff and the
// applicant alike: every view of a case is on the record).
func (s *Service) Viewed(ctx context.Context, c Case) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "case.read", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference}})
	return err
}

// Timeline returns the case's entries, oldest first; internal ones only
// when internal is true (staff).
func (s *Service) Timeline(ctx context.Context, caseID string, internal bool) ([]Entry, error) {
	q := `SELECT id, kind, actor, internal, body, detail, at FROM case_entries WHERE case_id = $1`
	if !internal {
		q += ` AND internal = FALSE`
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: timeline: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var raw []byte
		if err := rows.Scan(&e.ID, &e.Kind, &e.Actor, &e.Internal, &e.Body, &raw, &e.At); err != nil {
			return nil, fmt.Errorf("casework: timeline: %w", err)
		}
		if err := json.Unmarshal(raw, &e.Detail); err != nil {
			return nil, fmt.Errorf("casework: timeline: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Payments returns the fees the case asked for, oldest first.
func (s *Service) Payments(ctx context.Context, caseID string) ([]Payment, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, state, amount, currency, requested_at, due_at, paid_at, COALESCE(paid_amount, 0),
		COALESCE(paid_by, ''), paid_ref FROM case_payments WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: payments: %w", err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		var p Payment
		var due, paid sql.NullTime
		if err := rows.Scan(&p.ID, &p.State, &p.Amount, &p.Currency, &p.RequestedAt, &due, &paid, &p.PaidAmount, &p.PaidBy, &p.PaidRef); err != nil {
			return nil, fmt.Errorf("casework: payments: %w", err)
		}
		p.RequestedAt = p.RequestedAt.UTC()
		if due.Valid {
			t := due.Time.UTC()
			p.DueAt = &t
		}
		if paid.Valid {
			t := paid.Time.UTC()
			p.PaidAt = &t
		}
		out = append(out, p)
	}
	return out, rows.Err()
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
