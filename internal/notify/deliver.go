package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/wneessen/go-mail"
)

// DeliverEmailArgs is the job that hands one stored email to the SMTP
// server. It carries only the notification id: the message itself stays in
// the notifications table.
type DeliverEmailArgs struct {
	NotificationID string `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (DeliverEmailArgs) Kind() string { return "notify.email" }

// ErrNoSMTP is the failure recorded when no SMTP server is configured.
var ErrNoSMTP = errors.New("no SMTP server configured (set --smtp-url or PORTICO_SMTP_URL)")

// maxErrorBytes caps last_error; SMTP replies can be long.
const maxErrorBytes = 1000

type deliveryWorker struct {
	river.WorkerDefaults[DeliverEmailArgs]
	svc *Service
}

// Work delivers one notification. It is idempotent: a notification already
// delivered is left alone, so a re-run (River's rescue of a job orphaned by
// a crash, or an operator's retry) sends nothing twice. The one window it
// cannot close is between the SMTP server accepting the message and
// "delivered" being recorded; a retry then resends with the same Message-ID.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliverEmailArgs]) error {
	s := w.svc
	id := job.Args.NotificationID
	n, found, err := s.startSending(ctx, id)
	if err != nil {
		return err // database trouble: River retries
	}
	if !found {
		if _, err := s.Get(ctx, id); err == nil {
			return nil // already delivered: nothing to do
		}
		// The row is gone (it is inserted in the job's own transaction,
		// so only a manual deletion gets here); retrying cannot help.
		return river.JobCancel(fmt.Errorf("notify: notification %s does not exist", id))
	}
	log := s.logger.With("notification_id", id, "attempt", job.Attempt)

	if s.target == nil {
		s.finish(ctx, id, StatusTechnicalFailure, ErrNoSMTP)
		log.Error("email not sent", "err", ErrNoSMTP)
		return river.JobCancel(ErrNoSMTP)
	}
	err = s.send(ctx, n)
	switch {
	case err == nil:
		if ferr := s.finish(ctx, id, StatusDelivered, nil); ferr != nil {
			// The server has the message but we could not record it; the
			// retry will resend it with the same Message-ID.
			return ferr
		}
		log.Info("email delivered")
		return nil
	case isPermanent(err):
		s.finish(ctx, id, StatusPermanentFailure, err)
		log.Warn("email refused permanently", "err", err)
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		s.finish(ctx, id, StatusTechnicalFailure, err)
		log.Error("email not sent: retries exhausted", "err", err, "max_attempts", job.MaxAttempts)
		return err // River discards the job: our dead letter
	default:
		s.finish(ctx, id, StatusTemporaryFailure, err)
		log.Warn("email not sent: will retry", "err", err)
		return err
	}
}

// startSending marks the notification "sending" and counts the attempt,
// unless it is already delivered. found is false when no undelivered
// notification with id exists.
func (s *Service) startSending(ctx context.Context, id string) (n Notification, found bool, err error) {
	n, err = scanNotification(s.db.Write().QueryRowContext(ctx, `
		UPDATE notifications SET status = $1, attempts = attempts + 1
		WHERE id = $2 AND status <> $3
		RETURNING `+notificationColumns, StatusSending, id, StatusDelivered))
	if errors.Is(err, sql.ErrNoRows) {
		return n, false, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("notify: start sending %s: %w", id, err)
	}
	return n, true, nil
}

// finish records the outcome of an attempt. A failure to record a failure
// is only logged: the job's own error is what matters to River.
func (s *Service) finish(ctx context.Context, id string, st Status, cause error) error {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var sentAt, completedAt any // NULL unless set
	if st == StatusDelivered {
		sentAt = now
	}
	if st.Final() {
		completedAt = now
	}
	msg := ""
	if cause != nil {
		msg = truncate(cause.Error(), maxErrorBytes)
	}
	_, err := s.db.Write().ExecContext(ctx, `
		UPDATE notifications SET status = $1, last_error = $2, sent_at = COALESCE($3, sent_at), completed_at = $4
		WHERE id = $5`, st, msg, sentAt, completedAt, id)
	if err != nil {
		err = fmt.Errorf("notify: record %s for %s: %w", st, id, err)
		s.logger.Error("cannot record delivery outcome", "notification_id", id, "status", st, "err", err)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cutting may split a rune; ToValidUTF8 drops the broken tail.
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// MessageID returns the Message-ID (without angle brackets) every attempt to
// deliver notification id carries.
func (s *Service) MessageID(id string) string { return id + "@" + s.msgDomain }

// message builds the email for n.
func (s *Service) message(n Notification) (*mail.Msg, error) {
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := m.From(s.fromHeader); err != nil {
		return nil, fmt.Errorf("notify: sender %q: %w", s.fromHeader, err)
	}
	if err := m.EnvelopeFrom(s.from.Address); err != nil {
		return nil, fmt.Errorf("notify: sender %q: %w", s.from.Address, err)
	}
	if err := m.To(n.Recipient); err != nil {
		return nil, fmt.Errorf("notify: recipient: %w", err)
	}
	m.Subject(n.Subject)
	m.SetMessageIDWithValue(s.MessageID(n.ID))
	// The time the message was composed (committed to the outbox), so
	// every attempt produces the same headers.
	m.SetDateWithValue(n.CreatedAt)
	m.SetGenHeader(mail.HeaderContentLang, n.Lang)
	// RFC 3834: automated mail; out-of-office replies should not answer it.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetBodyString(mail.TypeTextPlain, n.BodyText)
	if n.BodyHTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, n.BodyHTML)
	}
	return m, nil
}

// send hands n to the SMTP server over a fresh connection.
func (s *Service) send(ctx context.Context, n Notification) error {
	m, err := s.message(n)
	if err != nil {
		return err
	}
	c, err := mail.NewClient(s.target.Host, s.target.Options(s.timeout)...)
	if err != nil {
		return fmt.Errorf("notify: SMTP client for %s: %w", s.target, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("notify: SMTP %s:%d: %w", s.target.Host, s.target.Port, err)
	}
	return nil
}

// isPermanent reports whether err is the SMTP server refusing this
// recipient or this message for good: a 5xx reply to RCPT TO or DATA.
// Everything else, including 5xx replies to the greeting, AUTH or MAIL
// FROM (our configuration, not the message, is wrong there), is worth
// retrying until an operator fixes it or the retries run out.
func isPermanent(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	if code < 500 || code > 599 {
		return false
	}
	switch se.Reason {
	case mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
		return true
	}
	return false
}
