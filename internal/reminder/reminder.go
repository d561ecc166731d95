// Package reminder is the block that tells citizens what they must do
// before it is due: a licence or registration that expires, a tax
// instalment, a draft about to expire, an action a caseworker asked for.
//
// Other blocks record an Obligation with Set, inside their own transaction
// (the case transition that issues a licence, the draft that was saved):
//
//	ob, err := reminders.Set(ctx, tx, reminder.Obligation{
//		AccountID: "acc-1", AgencyID: "dmv", Kind: reminder.KindRenewal,
//		Source: "case:0193…/reminder:renew",
//		Title:  reminder.Text{EN: "Renew your vehicle registration", ES: "Renueve el registro de su vehículo"},
//		Due:    reminder.DateOf(expiry),
//		Schedule: reminder.DefaultSchedule,
//	})
//
// Set is idempotent by (AccountID, Source): calling it again with the same
// source updates the obligation (a new due date re-plans its reminders) and
// reopens it if it was done or cancelled. Complete and Cancel close it and
// drop the reminders not yet sent.
//
// Each reminder of an open obligation is stored as a row with its send
// time. A periodic job (Sweep) claims the rows whose time has come, in
// batches, and enqueues the jobs that send them in the same transaction;
// a send job emails the citizen in their language through the Mailer.
// See docs/reminders.md.
package reminder

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Status is where an obligation is.
type Status string

// Statuses.
const (
	StatusOpen      Status = "open"
	StatusDone      Status = "done"
	StatusCancelled Status = "cancelled"
)

// Kinds of obligation. Kind is free text (a slug); these are the ones
// Portico's own blocks use.
const (
	KindRenewal      = "renewal"      // a licence, permit or registration expires
	KindPayment      = "payment"      // a tax instalment, a fee
	KindDraft        = "draft"        // an application draft about to expire
	KindAction       = "action"       // something a caseworker asked for
	KindRegistration = "registration" // register something by a date
)

// Text is a message in English and Spanish.
type Text struct {
	EN string `json:"en"`
	ES string `json:"es"`
}

// In returns the text in lang ("es" or anything else for English).
func (t Text) In(lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// Date is a calendar date with no time of day or zone: the day something
// is due.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return Date{}, fmt.Errorf("reminder: bad date %q", s)
	}
	return DateOf(t), nil
}

// String returns YYYY-MM-DD.
func (d Date) String() string { return d.Time(time.UTC).Format(time.DateOnly) }

// Time returns midnight at the start of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return DateOf(d.Time(time.UTC).AddDate(0, 0, n)) }

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.String() < e.String() }

// Schedule is when to remind, as offsets from the due date's send time
// (Config.SendHour on the due date): negative before, zero on the day,
// positive overdue. Offsets are whole minutes.
type Schedule []time.Duration

// Day is 24 hours, for writing schedules.
const Day = 24 * time.Hour

// DefaultSchedule reminds 60, 30 and 7 days before, on the day, and once
// a week after it is overdue.
var DefaultSchedule = Schedule{-60 * Day, -30 * Day, -7 * Day, 0, 7 * Day}

// MaxOffsets bounds how many reminders one obligation has.
const MaxOffsets = 16

// normalize sorts s, drops duplicates and checks its bounds.
func (s Schedule) normalize() (Schedule, error) {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxOffsets {
		return nil, platform.Invalid("schedule", fmt.Sprintf("At most %d reminders per obligation", MaxOffsets))
	}
	for _, d := range out {
		if d%time.Minute != 0 || d < -400*Day || d > 400*Day {
			return nil, platform.Invalid("schedule", "Reminder offsets are whole minutes within 400 days of the due date")
		}
	}
	return out, nil
}

func (s Schedule) encode() string {
	mins := make([]int64, len(s))
	for i, d := range s {
		mins[i] = int64(d / time.Minute)
	}
	b, _ := json.Marshal(mins)
	return string(b)
}

func decodeSchedule(raw string) (Schedule, error) {
	var mins []int64
	if err := json.Unmarshal([]byte(raw), &mins); err != nil {
		return nil, fmt.Errorf("reminder: stored schedule %q: %w", raw, err)
	}
	s := make(Schedule, len(mins))
	for i, m := range mins {
		s[i] = time.Duration(m) * time.Minute
	}
	return s, nil
}

// Obligation is something a citizen must do by a date.
type Obligation struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	AgencyID  string `json:"agency_id,omitempty"` // "" for the platform
	Kind      string `json:"kind"`
	// Source is the caller's key for what this obligation is about, for
	// example "case:ID/reminder:renew", "document:ID" or "draft:ID". Set is
	// idempotent per account and source.
	Source string `json:"source"`
	Title  Text   `json:"title"`
	URL    string `json:"url,omitempty"` // where to act: an absolute URL or a path on this site
	// Amount is what the person owes, when the obligation is a payment
	// (a tax instalment, a fee a case asked for); nil when nothing is owed.
	Amount *platform.Money `json:"amount,omitempty"`
	// Reference is what to quote when paying or answering at the counter
	// (a case reference, a parcel number); "" when there is none.
	Reference string     `json:"reference,omitempty"`
	Due       Date       `json:"-"`
	Schedule  Schedule   `json:"-"`
	Status    Status     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
}

// Contact is how to reach an account holder.
type Contact struct {
	Email string
	Lang  string // "en" or "es"
}

// ErrNoContact is returned by a Directory for an account that no longer
// exists or has no email address; its reminders are skipped.
var ErrNoContact = errors.New("reminder: account has no contact")

// Directory looks up an account's email address and preferred language.
// internal/app adapts the identity block to it.
type Directory interface {
	Contact(ctx context.Context, accountID string) (Contact, error)
}

// ManyDirectory is a Directory that answers for many accounts at once: a
// send job asks for its hundred accounts in a few statements, not a few
// each (ADR 76). internal/app implements it.
type ManyDirectory interface {
	Directory
	// Contacts returns the contact of each of accountIDs that has one;
	// an account that Contact would answer ErrNoContact for is absent.
	Contacts(ctx context.Context, accountIDs []string) (map[string]Contact, error)
}

// Message is one reminder email.
type Message struct {
	AccountID string // whose reminder: the notification block sends on their chosen channels
	To        string
	Subject   string
	Text      string
	Lang      string
	AgencyID  string
	Reference string
}

// Mailer sends an email inside tx (the notification block's outbox).
// internal/app adapts notify.Service.SendEmail to it.
type Mailer interface {
	SendEmail(ctx context.Context, tx *sql.Tx, m Message) (notificationID string, err error)
}

// BatchMailer is a Mailer that can hold back the delivery of the messages
// one transaction stores and hand them over together: a send job's
// reminders then become one batch delivery job instead of one job each
// (ADR 71). internal/app adapts notify.Service.Batch to it.
type BatchMailer interface {
	Mailer
	Batch() MailBatch
}

// MailBatch stores messages like a Mailer; Flush, in the same transaction,
// enqueues the delivery of everything stored through it.
type MailBatch interface {
	Mailer
	Flush(ctx context.Context, tx *sql.Tx) error
}

// ManyMailBatch is a MailBatch that stores many messages in one call, in
// a fixed number of statements (ADR 76). Every message has an AccountID.
// ids[i] and errs[i] are what SendEmail would have returned for msgs[i]
// (an error of code invalid refuses that message alone, and nothing of it
// is stored); err is a database error, after which tx is rolled back.
type ManyMailBatch interface {
	MailBatch
	SendEmails(ctx context.Context, tx *sql.Tx, msgs []Message) (ids []string, errs []error, err error)
}

// Config tunes the block.
type Config struct {
	// PublicURL is the site's address, for links in emails and the
	// calendar (a func because it is known only once the server listens).
	PublicURL func() string
	// Zone is the time zone the due dates and send hour are in: the home
	// jurisdiction's (tenancy.Service.Zone), asked each time so that a
	// zone set later takes effect. A due date ends at midnight there.
	Zone func(context.Context) *time.Location
	// Location is a fixed zone, used when Zone is nil. Default UTC.
	Location *time.Location
	// SendHour is the hour of the day reminders are sent. Default 9.
	SendHour int
	// BatchSize is how many due reminders one claim transaction takes.
	// Default 500.
	BatchSize int
	// SendBatch is how many reminders one send job carries. Default 100.
	SendBatch int
	// Counters, when set, tells the calendar where amounts owed are paid
	// in person (the agency's office, phone and hours).
	Counters Counters
	// Appointments, when set, adds the person's booked appointments
	// (internal/app adapts casework's) to their calendar feed.
	Appointments Appointments
	// MaxPerSweep caps the reminders one sweep enqueues, so catching up
	// after downtime does not flood the mail queue; the rest wait for the
	// next sweep. Default 20,000.
	MaxPerSweep int
	// Bus, when set, receives EventObligationSet and EventObligationClosed
	// in the transaction of the change (events.go), which the outcome
	// block counts for on-time compliance.
	Bus *events.Bus
}

// Service is the reminder block.
type Service struct {
	db     *storage.DB
	audit  *audit.Log
	clock  platform.Clock
	jobs   *jobs.Inserter
	dir    Directory
	mailer Mailer
	cfg    Config
}

// New returns the block and registers its sweep and send workers in reg.
// It enqueues sends with ins (insert-only, made before the blocks); the
// working client built from reg runs them. Every argument but cfg is
// required: a nil one is refused with an error naming it.
func New(db *storage.DB, log *audit.Log, clock platform.Clock, ins *jobs.Inserter, reg *jobs.Registry, dir Directory, mailer Mailer, cfg Config) (*Service, error) {
	if err := platform.Required("reminder",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "job inserter", Missing: ins == nil},
		platform.Dep{Name: "job registry", Missing: reg == nil},
		platform.Dep{Name: "directory", Missing: dir == nil},
		platform.Dep{Name: "mailer", Missing: mailer == nil}); err != nil {
		return nil, err
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.SendHour <= 0 || cfg.SendHour > 23 {
		cfg.SendHour = 9
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.SendBatch <= 0 {
		cfg.SendBatch = 100
	}
	if cfg.MaxPerSweep <= 0 {
		cfg.MaxPerSweep = 20000
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	s := &Service{db: db, audit: log, clock: clock, jobs: ins, dir: dir, mailer: mailer, cfg: cfg}
	jobs.Register(reg, &sweepWorker{svc: s})
	jobs.Register(reg, &sendWorker{svc: s})
	return s, nil
}

// Location is the zone due dates are in.
func (s *Service) Location() *time.Location {
	if s.cfg.Zone != nil {
		if loc := s.cfg.Zone(context.Background()); loc != nil {
			return loc
		}
	}
	return s.cfg.Location
}

// Today is the current date in the block's zone.
func (s *Service) Today() Date { return DateOf(s.clock.Now().In(s.Location())) }

// SendTime is when the reminder at offset of an obligation due on d is sent.
func (s *Service) SendTime(d Date, offset time.Duration) time.Time {
	// Whole days move the calendar date, not 24-hour steps, so a reminder
	// is sent at the send hour local time even across a DST change; the
	// rest of the offset (whole minutes) is added as a duration.
	days, rest := offset/Day, offset%Day
	return time.Date(d.Year, d.Month, d.Day+int(days), s.cfg.SendHour, 0, 0, 0, s.Location()).Add(rest).UTC()
}

var errNotFound = platform.Errorf(platform.CodeNotFound, "reminder.notfound")

func checkLine(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return platform.Invalid(field, "Enter the "+field)
	case len(v) > max:
		return platform.Invalid(field, fmt.Sprintf("The %s must be at most %d bytes", field, max))
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return platform.Invalid(field, "The "+field+" must be one line of text")
	}
	return nil
}

func (o *Obligation) validate() error {
	for _, c := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"account_id", o.AccountID, 64, true}, {"agency_id", o.AgencyID, 64, false}, {"kind", o.Kind, 32, true},
		{"source", o.Source, 255, true}, {"title_en", o.Title.EN, 200, true}, {"title_es", o.Title.ES, 200, false},
		{"url", o.URL, 1000, false}, {"reference", o.Reference, 100, false},
	} {
		if err := checkLine(c.field, c.v, c.max, c.required); err != nil {
			return err
		}
	}
	if o.Title.ES == "" {
		o.Title.ES = o.Title.EN
	}
	if o.Amount != nil {
		m, err := platform.NewMoney(o.Amount.Minor, o.Amount.Currency)
		if err != nil {
			return err
		}
		if m.Negative() {
			return platform.Invalid("amount", "An amount owed is not negative")
		}
		o.Amount = &m
	}
	if o.Due.IsZero() || o.Due.Year < 2000 || o.Due.Year > 2200 {
		return platform.Invalid("due", "Enter a due date")
	}
	var err error
	if o.Schedule, err = o.Schedule.normalize(); err != nil {
		return err
	}
	return nil
}

const obligationColumns = `id, account_id, agency_id, kind, source, title_en, title_es, url, due_on, schedule, status, created_at, updated_at, closed_at,
	amount_minor, amount_currency, reference`

type scanner interface{ Scan(dest ...any) error }

func scanObligation(r scanner) (Obligation, error) {
	var o Obligation
	var due, sched string
	var closed sql.NullTime
	var minor sql.NullInt64
	var currency sql.NullString
	if err := r.Scan(&o.ID, &o.AccountID, &o.AgencyID, &o.Kind, &o.Source, &o.Title.EN, &o.Title.ES, &o.URL,
		&due, &sched, &o.Status, &o.CreatedAt, &o.UpdatedAt, &closed, &minor, &currency, &o.Reference); err != nil {
		return o, err
	}
	if minor.Valid {
		o.Amount = &platform.Money{Minor: minor.Int64, Currency: currency.String}
	}
	var err error
	if o.Due, err = ParseDate(due); err != nil {
		return o, err
	}
	if o.Schedule, err = decodeSchedule(sched); err != nil {
		return o, err
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	if closed.Valid {
		t := closed.Time.UTC()
		o.ClosedAt = &t
	}
	return o, nil
}

// Set records o in tx (the caller's transaction) and plans its reminders.
// It is idempotent by (AccountID, Source): an existing obligation is
// updated and reopened; its reminders are re-planned only when the due date
// or schedule changed. A nil Schedule means DefaultSchedule; NoReminders
// means none.
//
// When reminders are planned, those whose time has already passed collapse
// into one (the latest) that is sent at the next sweep, unless it was
// already sent for this due date.
func (s *Service) Set(ctx context.Context, tx *sql.Tx, o Obligation) (Obligation, error) {
	o, _, err := s.set(ctx, tx, o, true)
	return o, err
}

// setOutcome is what set did.
type setOutcome int

const (
	setCreated setOutcome = iota + 1
	setUpdated
	setUnchanged
)

// set is Set; audited says whether each change gets its own audit entry
// (an import audits once for the whole file instead).
func (s *Service) set(ctx context.Context, tx *sql.Tx, o Obligation, audited bool) (Obligation, setOutcome, error) {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if err := o.validate(); err != nil {
		return o, 0, err
	}
	now := s.clock.Now().UTC()
	prev, err := scanObligation(tx.QueryRowContext(ctx, `SELECT `+obligationColumns+` FROM obligations WHERE account_id = $1 AND source = $2`, o.AccountID, o.Source))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		o.ID = uuid.Must(uuid.NewV7()).String()
		o.Status, o.CreatedAt, o.UpdatedAt = StatusOpen, now, now
		if _, err := tx.ExecContext(ctx, `INSERT INTO obligations (`+obligationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15, $16)`,
			o.ID, o.AccountID, o.AgencyID, o.Kind, o.Source, o.Title.EN, o.Title.ES, o.URL, o.Due.String(), o.Schedule.encode(),
			o.Status, now, now, amountMinor(o.Amount), amountCurrency(o.Amount), o.Reference); err != nil {
			return o, 0, fmt.Errorf("reminder: set: %w", err)
		}
		if err := s.plan(ctx, tx, o, now); err != nil {
			return o, 0, err
		}
		if err := s.emitSet(ctx, tx, o); err != nil {
			return o, 0, err
		}
		return o, setCreated, s.maybeRecord(ctx, tx, audited, o)
	case err != nil:
		return o, 0, fmt.Errorf("reminder: set: %w", err)
	}
	o.ID, o.CreatedAt = prev.ID, prev.CreatedAt
	replan := needsReplan(prev, o)
	if unchanged(prev, o) {
		return prev, setUnchanged, nil
	}
	o.Status, o.UpdatedAt = StatusOpen, now
	if _, err := tx.ExecContext(ctx, `UPDATE obligations SET agency_id = $1, kind = $2, title_en = $3, title_es = $4, url = $5,
		due_on = $6, schedule = $7, status = 'open', updated_at = $8, closed_at = NULL, amount_minor = $10, amount_currency = $11,
		reference = $12 WHERE id = $9`,
		o.AgencyID, o.Kind, o.Title.EN, o.Title.ES, o.URL, o.Due.String(), o.Schedule.encode(), now, o.ID,
		amountMinor(o.Amount), amountCurrency(o.Amount), o.Reference); err != nil {
		return o, 0, fmt.Errorf("reminder: set: %w", err)
	}
	if err := s.emitMoved(ctx, tx, prev, o); err != nil {
		return o, 0, err
	}
	if replan {
		if _, err := tx.ExecContext(ctx, `DELETE FROM reminder_occurrences WHERE obligation_id = $1`, o.ID); err != nil {
			return o, 0, fmt.Errorf("reminder: set: %w", err)
		}
		if err := s.plan(ctx, tx, o, now); err != nil {
			return o, 0, err
		}
	}
	return o, setUpdated, s.maybeRecord(ctx, tx, audited, o)
}

// needsReplan reports whether setting o over prev changes when its
// reminders are sent.
func needsReplan(prev, o Obligation) bool {
	return prev.Due != o.Due || !slices.Equal(prev.Schedule, o.Schedule) || prev.Status != StatusOpen
}

// unchanged reports whether setting o over prev would change nothing.
func unchanged(prev, o Obligation) bool {
	return !needsReplan(prev, o) && prev.AgencyID == o.AgencyID && prev.Kind == o.Kind && prev.Title == o.Title && prev.URL == o.URL &&
		sameAmount(prev.Amount, o.Amount) && prev.Reference == o.Reference
}

func (s *Service) maybeRecord(ctx context.Context, tx *sql.Tx, audited bool, o Obligation) error {
	if !audited {
		return nil
	}
	return s.record(ctx, tx, "obligation.set", o)
}

// amountMinor and amountCurrency are the columns of an amount (NULL: none).
func amountMinor(m *platform.Money) any {
	if m == nil {
		return nil
	}
	return m.Minor
}

func amountCurrency(m *platform.Money) any {
	if m == nil {
		return nil
	}
	return m.Currency
}

func sameAmount(a, b *platform.Money) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// NoReminders is a schedule with no reminders (the obligation is listed and
// in the calendar, but no email is sent).
var NoReminders = Schedule{}

// occurrence is one planned reminder of an obligation.
type occurrence struct {
	offset time.Duration
	at     time.Time
}

// occurrences are o's reminders still to come as of now, and the latest
// of its offsets already past (hasPast), which plan sends now unless it
// was sent for this due date.
func (s *Service) occurrences(o Obligation, now time.Time) (future []occurrence, latestPast time.Duration, hasPast bool) {
	for _, off := range o.Schedule {
		at := s.SendTime(o.Due, off)
		if !at.After(now) {
			latestPast, hasPast = off, true
			continue
		}
		future = append(future, occurrence{off, at})
	}
	return future, latestPast, hasPast
}

// plan stores o's reminder occurrences: every future one, and of those
// already past only the latest, unless it was sent for this due date.
func (s *Service) plan(ctx context.Context, tx *sql.Tx, o Obligation, now time.Time) error {
	future, latestPast, hasPast := s.occurrences(o, now)
	for _, oc := range future {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) VALUES ($1, $2, $3)`,
			o.ID, int64(oc.offset/time.Minute), oc.at); err != nil {
			return fmt.Errorf("reminder: plan: %w", err)
		}
	}
	if !hasPast {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM reminder_sends WHERE obligation_id = $1 AND due_on = $2 AND offset_minutes = $3`,
		o.ID, o.Due.String(), int64(latestPast/time.Minute)).Scan(&n); err != nil {
		return fmt.Errorf("reminder: plan: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) VALUES ($1, $2, $3)`,
		o.ID, int64(latestPast/time.Minute), now); err != nil {
		return fmt.Errorf("reminder: plan: %w", err)
	}
	return nil
}

func (s *Service) record(ctx context.Context, tx *sql.Tx, action string, o Obligation) error {
	_, err := s.audit.Append(ctx, tx, audit.Record{
		Action: action, Subject: "obligation:" + o.ID, AgencyID: o.AgencyID,
		Detail: recordDetail(o),
	})
	return err
}

func recordDetail(o Obligation) map[string]any {
	d := map[string]any{"account": o.AccountID, "source": o.Source, "kind": o.Kind, "due": o.Due.String(), "status": o.Status}
	if o.Amount != nil {
		d["amount"], d["currency"] = o.Amount.Minor, o.Amount.Currency
	}
	return d
}

// Complete marks the obligation of (account, source) done in tx and drops
// its unsent reminders. Completing one that is not open does nothing.
func (s *Service) Complete(ctx context.Context, tx *sql.Tx, accountID, source string) error {
	return s.close(ctx, tx, accountID, source, StatusDone)
}

// Cancel marks the obligation of (account, source) cancelled in tx (it no
// longer applies) and drops its unsent reminders.
func (s *Service) Cancel(ctx context.Context, tx *sql.Tx, accountID, source string) error {
	return s.close(ctx, tx, accountID, source, StatusCancelled)
}

func (s *Service) close(ctx context.Context, tx *sql.Tx, accountID, source string, st Status) error {
	o, err := scanObligation(tx.QueryRowContext(ctx, `SELECT `+obligationColumns+` FROM obligations WHERE account_id = $1 AND source = $2`, accountID, source))
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("reminder: %s: %w", st, err)
	}
	if o.Status != StatusOpen {
		return nil
	}
	now := s.clock.Now().UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE obligations SET status = $1, updated_at = $2, closed_at = $2 WHERE id = $3`, st, now, o.ID); err != nil {
		return fmt.Errorf("reminder: %s: %w", st, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM reminder_occurrences WHERE obligation_id = $1`, o.ID); err != nil {
		return fmt.Errorf("reminder: %s: %w", st, err)
	}
	o.Status = st
	if err := s.emitClosed(ctx, tx, o); err != nil {
		return err
	}
	return s.record(ctx, tx, "obligation."+string(st), o)
}

// List returns by's obligations, open ones first by due date, then closed
// ones, newest first; without all, only open ones. It audits the read
// ("obligation.list", in by's name). A person's list is theirs alone: there
// is no way to name another's, so the only refusal is to someone not
// signed in (CodeUnauthorized).
func (s *Service) List(ctx context.Context, by platform.Actor, all bool) ([]Obligation, error) {
	if !by.SignedIn() {
		return nil, errSignedOut
	}
	out, err := s.list(ctx, by.ID, all)
	if err != nil {
		return nil, err
	}
	if err := s.auditRead(ctx, by, audit.Record{Action: "obligation.list", Subject: "account:" + by.ID, Detail: map[string]int{"obligations": len(out)}}); err != nil {
		return nil, err
	}
	return out, nil
}

// list is List for an account, unaudited: the caller has authorised and
// audits (the calendar feed).
func (s *Service) list(ctx context.Context, accountID string, all bool) ([]Obligation, error) {
	q := `SELECT ` + obligationColumns + ` FROM obligations WHERE account_id = $1`
	if !all {
		q += ` AND status = 'open'`
	}
	q += ` ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, due_on, id LIMIT 1000`
	rows, err := s.db.Read().QueryContext(ctx, q, accountID)
	if err != nil {
		return nil, fmt.Errorf("reminder: list: %w", err)
	}
	defer rows.Close()
	var out []Obligation
	for rows.Next() {
		o, err := scanObligation(rows)
		if err != nil {
			return nil, fmt.Errorf("reminder: list: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Get returns obligation id to by, its owner, and audits the read
// ("obligation.read"). Anyone else's obligation, or none, is CodeNotFound,
// whoever asks (staff and platform administrators included): obligations
// are the person's own, not an agency's record.
func (s *Service) Get(ctx context.Context, by platform.Actor, id string) (Obligation, error) {
	if !by.SignedIn() {
		return Obligation{}, errSignedOut
	}
	if !platform.IsUUID(id) { // names no obligation: no query
		return Obligation{}, errNotFound
	}
	o, err := scanObligation(s.db.Read().QueryRowContext(ctx, `SELECT `+obligationColumns+` FROM obligations WHERE id = $1 AND account_id = $2`, id, by.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return o, errNotFound
	}
	if err != nil {
		return o, fmt.Errorf("reminder: get: %w", err)
	}
	if err := s.auditRead(ctx, by, audit.Record{Action: "obligation.read", Subject: "obligation:" + o.ID, AgencyID: o.AgencyID}); err != nil {
		return Obligation{}, err
	}
	return o, nil
}

// SourceOf returns the kind and source of obligation id ("case:ID/…" when
// a case set it), or not found. It is for the platform's consumers (the
// outcome block attributes a paid obligation to a service): it reveals
// nothing about the person, checks no actor and is not audited.
func (s *Service) SourceOf(ctx context.Context, id string) (kind, source string, err error) {
	if !platform.IsUUID(id) {
		return "", "", errNotFound
	}
	err = s.db.Read().QueryRowContext(ctx, `SELECT kind, source FROM obligations WHERE id = $1`, id).Scan(&kind, &source)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", errNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("reminder: source: %w", err)
	}
	return kind, source, nil
}

// HasObligations reports whether the account has any obligation, open or
// closed. It is for the platform's own jobs (demo seeding), not for
// people: it reveals only that some exist, nothing about them, so it is
// not audited.
func (s *Service) HasObligations(ctx context.Context, accountID string) (bool, error) {
	var one int
	err := s.db.Read().QueryRowContext(ctx, `SELECT 1 FROM obligations WHERE account_id = $1 LIMIT 1`, accountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reminder: has obligations: %w", err)
	}
	return true, nil
}

var errSignedOut = platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")

// auditRead records a read of a person's obligations in by's name, in a
// transaction of its own. Without an audit log it fails: obligations are
// not read unaudited.
func (s *Service) auditRead(ctx context.Context, by platform.Actor, r audit.Record) error {
	if s.audit == nil {
		return fmt.Errorf("reminder: %s: no audit log configured", r.Action)
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, by), r); err != nil {
		return fmt.Errorf("reminder: audit %s: %w", r.Action, err)
	}
	return nil
}

// Pending returns the planned send times of an obligation's reminders not
// yet claimed, earliest first (for pages and tests).
func (s *Service) Pending(ctx context.Context, obligationID string) ([]time.Time, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT send_at FROM reminder_occurrences WHERE obligation_id = $1 ORDER BY send_at`, obligationID)
	if err != nil {
		return nil, fmt.Errorf("reminder: pending: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t.UTC())
	}
	return out, rows.Err()
}
