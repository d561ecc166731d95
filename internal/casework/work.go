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
	"github.com/portico-gov/portico/internal/jobs"
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
	// ServiceID and Decided: the case's service, and whether the case is
	// closed (the message tells a decision), so the mailer can ask how it
	// went (the satisfaction survey).
	ServiceID string
	Decided   bool
}

// Deps are the other blocks casework uses, given to New.
type Deps struct {
	Runtimes    Runtimes
	Citizens    Citizens
	Mailer      Mailer
	Obligations Obligations
	// People names the applicant and the staff on case pages (nil: no
	// names are given, and ViewApplicant is unavailable): operator
	// tools and tests that show no one.
	People People
	// Plugins calls plug-ins for call_plugin actions, from jobs that Jobs
	// stores in the transition's transaction and PluginCallWorker runs
	// (register it). With either nil the action only notes that the
	// plug-in was not called (operator tools, tests without plug-ins).
	Plugins PluginCaller
	Jobs    *jobs.Inserter
	// PluginBackoff is the wait before a failed call's second attempt,
	// doubled for each next one (default PluginCallBackoff).
	PluginBackoff time.Duration
	// Counter takes the fees a counter payment records from online
	// checkouts (the payment block's claims). Nil: no online payments
	// are wired (operator tools, tests), and the counter records alone.
	Counter CounterClaims
	// Duplicates refunds an online payment of a fee that was already
	// paid (PaymentConsumer). Nil: the duplicate is only recorded (audit,
	// staff timeline) for finance to refund by hand.
	Duplicates DuplicateRefunds
}

// Obligation is something the applicant must do by a date: renew what the
// case issued (a manifest's set_reminder) or answer the agency's request
// for more information. The reminder block reminds them and puts it in
// their calendar.
type Obligation struct {
	AccountID, AgencyID string
	Kind                string // "renewal", "action" or "payment"
	Source              string // unique per account: "case:ID/reminder:R", "case:ID/request", "case:ID/payment:N"
	Title               manifest.Text
	URL                 string // where to act, a path on this site
	Due                 time.Time
	RemindBefore        []time.Duration // nil: the reminder block's default schedule
	Amount              *platform.Money // a fee to pay; nil otherwise
	Reference           string          // what to quote (the case's reference)
}

// Obligations is what casework needs of the reminder block; both run in
// the case change's transaction.
type Obligations interface {
	Set(ctx context.Context, tx *sql.Tx, o Obligation) error
	Complete(ctx context.Context, tx *sql.Tx, accountID, source string) error
	// Cancel ends an obligation that no longer applies (the case closed).
	Cancel(ctx context.Context, tx *sql.Tx, accountID, source string) error
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
)

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

// change runs fn on the locked case id in one transaction, as actor when
// may allows it, then audits action with detail and emits event (when
// not "") with the case as data. Closed cases refuse every change.
func (s *Service) change(ctx context.Context, actor platform.Actor, may func(platform.Actor, Case) error, id, action, event string, fn func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error)) (Case, error) {
	ctx = platform.WithActor(ctx, actor)
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := may(actor, c); err != nil {
			return err
		}
		if c.ClosedAt != nil {
			return refuse("case.reason.closed")
		}
		detail, err := fn(ctx, tx, &c)
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

// Take has actor take transition id on case caseID: the block works out
// who actor is to the workflow (workflowActor: the applicant, or staff with
// their roles in the case's agency), the guard is checked against the
// case's answers, applicant and payments, the case enters the new state
// and the state's on_enter actions run, all in one transaction.
func (s *Service) Take(ctx context.Context, actor platform.Actor, caseID, id string) (Case, error) {
	ctx = platform.WithActor(ctx, actor)
	var out Case
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		a, err := workflowActor(actor, c)
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
		if err := s.endObligations(ctx, tx, c); err != nil {
			return Case{}, err
		}
		if err := s.emit(ctx, tx, c, EventClosed, map[string]any{"state": c.State}); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

// mail emails the applicant through the Mailer, if there is one.
func (s *Service) mail(ctx context.Context, tx *sql.Tx, c Case, subject, body manifest.Text) error {
	if s.deps.Mailer == nil {
		return nil
	}
	return s.deps.Mailer.MailCitizen(ctx, tx, Mail{AccountID: c.AccountID, AgencyID: c.AgencyID, CaseID: c.ID, Reference: c.Reference, Subject: subject, Body: body,
		ServiceID: c.ServiceID, Decided: c.ClosedAt != nil})
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
func (s *Service) Assign(ctx context.Context, actor platform.Actor, caseID, assignee string) (Case, error) {
	return s.change(ctx, actor, mayWork, caseID, "case.assign", EventAssigned, func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error) {
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
func (s *Service) Note(ctx context.Context, actor platform.Actor, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, actor, mayWork, caseID, "case.note", "", func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error) {
		return map[string]any{"length": len(body)}, s.entry(ctx, tx, c.ID, "note", true, body, nil)
	})
}

// Message sends the citizen a message: on their case page and by email.
func (s *Service) Message(ctx context.Context, actor platform.Actor, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, actor, mayWork, caseID, "case.message", EventMessaged, func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error) {
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

// queueViewed audits that the current actor listed the cases of agencies
// with filter f (shown: how many were on the page).
func (s *Service) queueViewed(ctx context.Context, agencies []string, f QueueFilter, shown int) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "case.queue.read", Subject: "agencies:" + strings.Join(agencies, ","),
		Detail: map[string]any{"service": f.Service, "state": f.State, "sla": f.SLA, "assignee": f.Assignee, "closed": f.Closed, "page": f.Page, "shown": shown}})
	return err
}

// fileViewed audits that the current actor downloaded a file of the case.
func (s *Service) fileViewed(ctx context.Context, c Case, fileID, name string) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "case.file.read", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Person: othersRead(platform.ActorFrom(ctx), c.AccountID),
		Detail: map[string]any{"reference": c.Reference, "file": fileID, "name": name}})
	return err
}
