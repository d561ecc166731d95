package reminder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// SweepArgs is the periodic job that claims due reminders (internal/app
// schedules it every minute; River runs periodic jobs on the elected
// leader, and Sweep is safe to run on several replicas at once anyway).
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "reminder_sweep" }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	svc *Service
}

// Work sweeps, and while a sweep stops at Config.MaxPerSweep it sweeps
// again as soon as the send jobs already queued have mostly been taken
// (fewer than one sweep's worth waiting), for up to sweepFor: a backlog
// (a million renewals due at nine) drains at the speed the workers send,
// while the queue never holds more than about two sweeps of it. What is
// left after sweepFor waits for the next periodic sweep.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	until := time.Now().Add(sweepFor)
	for {
		st, err := w.svc.Sweep(ctx)
		if err != nil || !st.Capped {
			return err
		}
		if err := w.svc.awaitSendBacklog(ctx, until); err != nil {
			return nil // time is up (or shutdown): the next sweep continues
		}
	}
}

// sweepFor bounds one sweep job, below the minute between periodic sweeps.
const sweepFor = 50 * time.Second

var errSweepTimeUp = errors.New("reminder: sweep time is up")

// awaitSendBacklog waits until fewer than one sweep's worth of send jobs
// are waiting, or until the deadline.
func (s *Service) awaitSendBacklog(ctx context.Context, until time.Time) error {
	limit := max(1, s.cfg.MaxPerSweep/s.cfg.SendBatch)
	for {
		n, err := jobs.Waiting(ctx, s.db, SendBatchArgs{}.Kind(), limit)
		if err != nil {
			return err
		}
		if n < limit {
			return nil
		}
		if time.Now().After(until) {
			return errSweepTimeUp
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// SendArgs is one claimed reminder: the obligation, the due date it was
// planned for and its offset in minutes.
type SendArgs struct {
	ObligationID string `json:"obligation_id"`
	DueOn        string `json:"due_on"`
	Offset       int64  `json:"offset_minutes"`
}

// SendBatchArgs is the job that sends up to Config.SendBatch claimed
// reminders. Batching divides the queue's work (one River row per batch, not
// per reminder); each reminder is still sent in its own transaction with its
// own idempotency key, so a retried batch sends only what it had not sent.
type SendBatchArgs struct {
	Reminders []SendArgs `json:"reminders"`
}

// Kind is the River job kind.
func (SendBatchArgs) Kind() string { return "reminder_send" }

type sendWorker struct {
	river.WorkerDefaults[SendBatchArgs]
	svc *Service
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendBatchArgs]) error {
	_, err := w.svc.SendBatch(ctx, job.Args.Reminders)
	return err
}

// sendPriority puts reminders behind sign-in codes (1) and ordinary mail (2).
const sendPriority = 3

// SweepStats says what one Sweep did.
type SweepStats struct {
	Claimed   int  // occurrences taken off the schedule
	Enqueued  int  // reminders enqueued for sending (in batches of Config.SendBatch per job)
	Collapsed int  // older occurrences dropped because a later one of the same obligation was also due
	Capped    bool // MaxPerSweep was reached; the rest waits for the next sweep
}

// Sweep claims the reminders whose send time has come, oldest first, in
// transactions of Config.BatchSize, and in each transaction deletes them
// from the schedule and enqueues jobs that send them (Config.SendBatch
// reminders per job). It stops when none are
// due or after Config.MaxPerSweep.
//
// On PostgreSQL a claim is SELECT … ORDER BY send_at LIMIT n FOR UPDATE
// SKIP LOCKED, so sweeps on several replicas take disjoint rows and a row
// is claimed (and its send enqueued) exactly once. SQLite has one writer,
// so claims are serial. Catching up after downtime: of several due
// reminders of one obligation only the latest is sent.
func (s *Service) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	now := s.clock.Now().UTC()
	// Each batch starts after the last index position the previous one
	// took, so the index scan does not walk again over the entries this
	// sweep just deleted (on PostgreSQL they stay in the index until
	// vacuumed, and rescanning them made each batch slower than the last;
	// many reminders share one send time, so the position includes the
	// obligation and offset). Rows before it that another sweep held locked
	// are that sweep's to take.
	from := start
	for st.Claimed < s.cfg.MaxPerSweep {
		n := min(s.cfg.BatchSize, s.cfg.MaxPerSweep-st.Claimed)
		var got []claimed
		// A bulk step: it yields to people's requests (ADR 74).
		err := s.db.InBulkTx(ctx, func(tx *sql.Tx) error {
			var err error
			if got, err = s.claim(ctx, tx, now, from, n); err != nil {
				return err
			}
			var params []river.InsertManyParams
			var batch []SendArgs
			flush := func() {
				if len(batch) > 0 {
					params = append(params, river.InsertManyParams{Args: SendBatchArgs{Reminders: batch}, InsertOpts: &river.InsertOpts{Priority: sendPriority}})
					batch = nil
				}
			}
			for _, c := range got {
				if c.superseded {
					continue
				}
				batch = append(batch, c.args)
				if len(batch) == s.cfg.SendBatch {
					flush()
				}
			}
			flush()
			if len(params) == 0 {
				return nil
			}
			if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("reminder: enqueue sends: %w", err)
			}
			return nil
		})
		if err != nil {
			return st, err
		}
		st.Claimed += len(got)
		for _, c := range got {
			if at := (cursor{c.sendAt, c.args.ObligationID, c.args.Offset}); from.less(at) {
				from = at
			}
			if c.superseded {
				st.Collapsed++
			} else {
				st.Enqueued++
			}
		}
		if len(got) < n {
			return st, nil
		}
	}
	st.Capped = true
	return st, nil
}

type claimed struct {
	sendAt     time.Time
	args       SendArgs
	superseded bool
}

// claimPostgres takes and deletes up to $2 due rows that no other
// transaction holds, and says for each whether a later reminder of the same
// obligation is also due (RETURNING sees the rows as they were when the
// statement began). The rows are deleted by their ctid (stable while this
// transaction holds their locks): a join on the key let the planner
// seq-scan the whole table for each batch once it was large.
const claimPostgres = `
DELETE FROM reminder_occurrences r
WHERE r.ctid = ANY (ARRAY (
	SELECT ctid FROM reminder_occurrences
	WHERE (send_at, obligation_id, offset_minutes) > ($3, $4, $5) AND send_at <= $1
	ORDER BY send_at, obligation_id, offset_minutes LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING r.send_at, r.obligation_id,
	(SELECT o.due_on FROM obligations o WHERE o.id = r.obligation_id), r.offset_minutes,
	EXISTS (SELECT 1 FROM reminder_occurrences n WHERE n.obligation_id = r.obligation_id AND n.offset_minutes > r.offset_minutes AND n.send_at <= $1)`

// SQLite: the transaction holds the only write lock, so select then delete
// the same rows.
const (
	claimSQLiteSelect = `
SELECT r.send_at, r.obligation_id, o.due_on, r.offset_minutes,
	EXISTS (SELECT 1 FROM reminder_occurrences n WHERE n.obligation_id = r.obligation_id AND n.offset_minutes > r.offset_minutes AND n.send_at <= $1)
FROM reminder_occurrences r JOIN obligations o ON o.id = r.obligation_id
WHERE (r.send_at, r.obligation_id, r.offset_minutes) > ($3, $4, $5) AND r.send_at <= $1
ORDER BY r.send_at, r.obligation_id, r.offset_minutes LIMIT $2`
	claimSQLiteDelete = `
DELETE FROM reminder_occurrences WHERE rowid IN (
	SELECT rowid FROM reminder_occurrences WHERE (send_at, obligation_id, offset_minutes) > ($3, $4, $5) AND send_at <= $1
	ORDER BY send_at, obligation_id, offset_minutes LIMIT $2)`
)

// cursor is a position in the due index: (send time, obligation, offset).
type cursor struct {
	sendAt     time.Time
	obligation string
	offset     int64
}

func (c cursor) less(d cursor) bool {
	if !c.sendAt.Equal(d.sendAt) {
		return c.sendAt.Before(d.sendAt)
	}
	if c.obligation != d.obligation {
		return c.obligation < d.obligation
	}
	return c.offset < d.offset
}

// start is before every position.
var start = cursor{obligation: "", offset: -1 << 31} // offsets are INTEGER columns

// claim takes up to n reminders due by now, after position from.
func (s *Service) claim(ctx context.Context, tx *sql.Tx, now time.Time, from cursor, n int) ([]claimed, error) {
	q := claimPostgres
	if s.db.Dialect == storage.SQLite {
		q = claimSQLiteSelect
	}
	rows, err := tx.QueryContext(ctx, q, now, n, from.sendAt, from.obligation, from.offset)
	if err != nil {
		return nil, fmt.Errorf("reminder: claim: %w", err)
	}
	out := make([]claimed, 0, n)
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.sendAt, &c.args.ObligationID, &c.args.DueOn, &c.args.Offset, &c.superseded); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reminder: claim: %w", err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reminder: claim: %w", err)
	}
	if s.db.Dialect == storage.SQLite && len(out) > 0 {
		res, err := tx.ExecContext(ctx, claimSQLiteDelete, now, n, from.sendAt, from.obligation, from.offset)
		if err != nil {
			return nil, fmt.Errorf("reminder: claim: %w", err)
		}
		if d, _ := res.RowsAffected(); int(d) != len(out) {
			return nil, fmt.Errorf("reminder: claim: selected %d rows but deleted %d", len(out), d)
		}
	}
	return out, nil
}

// Outcome is what Send did.
type Outcome string

// Outcomes of Send.
const (
	OutcomeSent      Outcome = "sent"
	OutcomeSkipped   Outcome = "skipped"   // the obligation closed or moved, or the account has no address
	OutcomeDuplicate Outcome = "duplicate" // already handled by an earlier run of the same job
)

// Send emails one claimed reminder, in the citizen's language, through the
// Mailer in one transaction with its record in reminder_sends, whose key
// (obligation, due date, offset) makes a repeated job send nothing.
func (s *Service) Send(ctx context.Context, a SendArgs) (Outcome, error) {
	var out Outcome
	contacts := s.contacts(ctx, []SendArgs{a})
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.sendIn(ctx, tx, s.mailer, contacts, a)
		return err
	})
	return out, err
}

// SendBatch sends several claimed reminders as Send does, all in one
// transaction: a commit per reminder was most of the cost of a bulk send
// (ADR 61), and with a BatchMailer their emails are delivered by batch
// jobs rather than one job each (ADR 71). Each reminder keeps its own record in reminder_sends, so a
// batch run again (a retry, or a rescue after a crash) sends only what the
// first run did not commit. If the shared transaction fails, each reminder
// is sent in its own, so one that cannot be sent does not hold back the
// others; the errors of those that failed are returned, joined, and the
// job is retried for them alone.
func (s *Service) SendBatch(ctx context.Context, as []SendArgs) ([]Outcome, error) {
	out := make([]Outcome, len(as))
	contacts := s.contacts(ctx, as)
	err := s.db.InBulkTx(ctx, func(tx *sql.Tx) error {
		m := s.mailer
		var b MailBatch
		if bm, ok := s.mailer.(BatchMailer); ok {
			b = bm.Batch() // a fresh one per attempt of the transaction
			m = b
		}
		if mb, ok := b.(ManyMailBatch); ok && s.db.Dialect == storage.Postgres {
			if err := s.sendMany(ctx, tx, mb, contacts, as, out); err != nil {
				return err
			}
			return b.Flush(ctx, tx)
		}
		for i, a := range as {
			o, err := s.sendIn(ctx, tx, m, contacts, a)
			if err != nil {
				return err
			}
			out[i] = o
		}
		if b != nil {
			return b.Flush(ctx, tx)
		}
		return nil
	})
	if err == nil || ctx.Err() != nil {
		return out, err
	}
	var errs []error
	for i, a := range as {
		o, err := s.Send(ctx, a)
		out[i] = o
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// contact is an account's contact as the Directory gave it.
type contact struct {
	c   Contact
	err error
}

// contacts asks the Directory, before a send transaction begins, for the
// contact of each reminder's account. The Directory reads on other
// connections than the transaction's: asked inside it, every worker held
// a connection while waiting for a second one, and on PostgreSQL (a pool
// of four on two cores) a bulk send deadlocked. The obligation itself is
// read again in the transaction, which decides whether to send; an
// account not found here (the obligation moved to another account since)
// is asked for inside, as before.
func (s *Service) contacts(ctx context.Context, as []SendArgs) map[string]contact {
	out := map[string]contact{}
	if len(as) == 0 {
		return out
	}
	// The home zone (Compose asks for it) is read from the database and
	// kept a minute; read it now, outside the transaction, for the same
	// reason.
	_ = s.Location()
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ObligationID
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT DISTINCT account_id FROM obligations WHERE `+s.db.AnyOf("id", 1), s.db.ListArg(ids))
	if err != nil {
		return out // asked inside the transaction instead
	}
	var accounts []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			accounts = append(accounts, id)
		}
	}
	rows.Close()
	if md, ok := s.dir.(ManyDirectory); ok {
		if cs, err := md.Contacts(ctx, accounts); err == nil {
			for _, id := range accounts {
				if c, ok := cs[id]; ok {
					out[id] = contact{c: c}
				} else {
					out[id] = contact{err: ErrNoContact}
				}
			}
			return out
		}
		// Asked one by one below.
	}
	for _, id := range accounts {
		c, err := s.dir.Contact(ctx, id)
		if err != nil && !errors.Is(err, ErrNoContact) {
			continue // asked again inside the transaction
		}
		out[id] = contact{c, err}
	}
	return out
}

func (s *Service) sendIn(ctx context.Context, tx *sql.Tx, mailer Mailer, contacts map[string]contact, a SendArgs) (Outcome, error) {
	out := OutcomeSent
	now := s.clock.Now().UTC()
	// Hot statements (storage.ExecHot): a bulk send runs each once per
	// reminder, and the SQLite driver would parse them every time.
	res, err := s.db.ExecHot(ctx, tx, `INSERT INTO reminder_sends (obligation_id, due_on, offset_minutes, outcome, at)
		VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING`, a.ObligationID, a.DueOn, a.Offset, now)
	if err != nil {
		return out, fmt.Errorf("reminder: send: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return OutcomeDuplicate, nil
	}
	mark := func(o Outcome, id string) (Outcome, error) {
		_, err := s.db.ExecHot(ctx, tx, `UPDATE reminder_sends SET outcome = $1, notification_id = $2
			WHERE obligation_id = $3 AND due_on = $4 AND offset_minutes = $5`, o, id, a.ObligationID, a.DueOn, a.Offset)
		return o, err
	}
	o, err := scanObligation(s.db.QueryRowHot(ctx, tx, `SELECT `+obligationColumns+` FROM obligations WHERE id = $1`, a.ObligationID))
	if err != nil {
		return out, fmt.Errorf("reminder: send: %w", err)
	}
	if o.Status != StatusOpen || o.Due.String() != a.DueOn {
		return mark(OutcomeSkipped, "")
	}
	cc, ok := contacts[o.AccountID]
	if !ok {
		cc.c, cc.err = s.dir.Contact(ctx, o.AccountID)
	}
	c, err := cc.c, cc.err
	if errors.Is(err, ErrNoContact) || err == nil && c.Email == "" {
		return mark(OutcomeSkipped, "")
	}
	if err != nil {
		return out, fmt.Errorf("reminder: send: contact: %w", err)
	}
	msg := s.Compose(o, c)
	msg.AccountID = o.AccountID
	id, err := mailer.SendEmail(ctx, tx, msg)
	if platform.ErrorCode(err) == platform.CodeInvalid {
		return mark(OutcomeSkipped, "")
	}
	if err != nil {
		return out, fmt.Errorf("reminder: send: %w", err)
	}
	return mark(OutcomeSent, id)
}

// Compose writes a reminder of o to c, in c's language. It says what is true
// when it is sent (due on a date, due today, or overdue), whichever reminder
// of the schedule it is: after downtime a late one says the right thing.
func (s *Service) Compose(o Obligation, c Contact) Message {
	lang := c.Lang
	if lang != "es" {
		lang = "en"
	}
	m := i18n.Messages().For(i18n.Lang(lang), s.Location())
	title := o.Title.In(lang)
	due := FormatDate(lang, o.Due)
	var subject, lead string
	today := s.Today()
	switch {
	case today.Before(o.Due):
		subject, lead = m.T("reminder.mail.before.subject", title, due), m.T("reminder.mail.before.lead", due)
	case today == o.Due:
		subject, lead = m.T("reminder.mail.today.subject", title), m.T("reminder.mail.today.lead")
	default:
		subject, lead = m.T("reminder.mail.overdue.subject", title), m.T("reminder.mail.overdue.lead", due)
	}
	base := strings.TrimSuffix(s.cfg.PublicURL(), "/")
	var b strings.Builder
	b.WriteString(m.T("reminder.mail.hello") + "\n\n")
	b.WriteString(title + "\n" + lead + "\n\n")
	if u := s.absURL(o.URL); u != "" {
		b.WriteString(m.T("reminder.mail.act") + "\n" + u + "\n\n")
	}
	b.WriteString(m.T("reminder.mail.all") + "\n" + base + "/coming-up\n\n")
	b.WriteString(m.T("reminder.mail.footer") + "\n")
	return Message{
		To: c.Email, Subject: subject, Text: b.String(), Lang: lang, AgencyID: o.AgencyID,
		Reference: "obligation:" + o.ID,
	}
}

// absURL makes a path on this site absolute; other values pass unchanged.
func (s *Service) absURL(u string) string {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return strings.TrimSuffix(s.cfg.PublicURL(), "/") + u
	}
	return u
}

// FormatDate writes d for people: "January 2, 2027" or "2 de enero de
// 2027" (the kernel formatter; a due date is a calendar day, so no zone).
func FormatDate(lang string, d Date) string {
	return i18n.Messages().For(i18n.Lang(lang), nil).Day(d.Year, d.Month, d.Day)
}
