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

	"github.com/portico-gov/portico/internal/storage"
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

// DeliverSMSArgs is the job that hands one stored text message to the SMS
// provider.
type DeliverSMSArgs struct {
	NotificationID string `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (DeliverSMSArgs) Kind() string { return "notify.sms" }

type smsWorker struct {
	river.WorkerDefaults[DeliverSMSArgs]
	svc *Service
}

func (w *smsWorker) Work(ctx context.Context, job *river.Job[DeliverSMSArgs]) error {
	return w.svc.deliver(ctx, job.Args.NotificationID, job.Attempt, job.MaxAttempts)
}

// Work delivers one notification. It is idempotent: a notification already
// delivered is left alone, so a re-run (River's rescue of a job orphaned by
// a crash, or an operator's retry) sends nothing twice. The one window it
// cannot close is between the SMTP server accepting the message and
// "delivered" being recorded; a retry then resends with the same Message-ID.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliverEmailArgs]) error {
	return w.svc.deliver(ctx, job.Args.NotificationID, job.Attempt, job.MaxAttempts)
}

func (s *Service) deliver(ctx context.Context, id string, attempt, maxAttempts int) error {
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
	log := s.logger.With("notification_id", id, "attempt", attempt, "channel", n.Channel)

	ref := ""
	if n.Channel == ChannelSMS {
		if s.sms == nil {
			s.finish(ctx, n, StatusTechnicalFailure, ErrNoSMS, "")
			log.Error("text message not sent", "err", ErrNoSMS)
			return river.JobCancel(ErrNoSMS)
		}
		ref, err = s.sms.SendSMS(ctx, SMS{ID: n.ID, To: n.Recipient, Body: n.BodyText})
	} else {
		if s.target == nil {
			s.finish(ctx, n, StatusTechnicalFailure, ErrNoSMTP, "")
			log.Error("email not sent", "err", ErrNoSMTP)
			return river.JobCancel(ErrNoSMTP)
		}
		err = s.send(ctx, n)
	}
	switch {
	case err == nil:
		if ferr := s.finish(ctx, n, StatusDelivered, nil, ref); ferr != nil {
			// The server has the message but we could not record it; the
			// retry will resend it with the same Message-ID.
			return ferr
		}
		log.Info("message delivered")
		return nil
	case isPermanent(err):
		s.finish(ctx, n, StatusPermanentFailure, err, "")
		log.Warn("message refused permanently", "err", err)
		return river.JobCancel(err)
	case attempt >= maxAttempts:
		s.finish(ctx, n, StatusTechnicalFailure, err, "")
		log.Error("message not sent: retries exhausted", "err", err, "max_attempts", maxAttempts)
		return err // River discards the job: our dead letter
	default:
		s.finish(ctx, n, StatusTemporaryFailure, err, "")
		log.Warn("message not sent: will retry", "err", err)
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

// finish records the outcome of an attempt and, when the status is final,
// schedules the agency's delivery receipt in the same transaction. While
// the database is unavailable it tries again (recordRetrying). A failure
// to record a failure is only logged: the job's own error is what matters
// to River.
func (s *Service) finish(ctx context.Context, n Notification, st Status, cause error, providerRef string) error {
	id := n.ID
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
	err := recordRetrying(ctx, func(ctx context.Context) error {
		return s.db.InTx(ctx, func(tx *sql.Tx) error {
			// The row is "sending" (startSending); one already at st was
			// recorded by an earlier try whose commit's answer was lost,
			// and its receipt is scheduled.
			res, err := tx.ExecContext(ctx, `
				UPDATE notifications SET status = $1, last_error = $2, sent_at = COALESCE($3, sent_at), completed_at = $4, provider_ref = $5
				WHERE id = $6 AND status <> $1`, st, msg, sentAt, completedAt, providerRef, id)
			if err != nil {
				return err
			}
			if changed, _ := res.RowsAffected(); changed > 0 && st.Final() {
				return s.enqueueCallback(ctx, tx, id, n.AgencyID)
			}
			return nil
		})
	})
	if err != nil {
		err = fmt.Errorf("notify: record %s for %s: %w", st, id, err)
		s.logger.Error("cannot record delivery outcome", "notification_id", id, "status", st, "err", err)
	}
	return err
}

// recordFor bounds how long recordRetrying waits for the database.
const recordFor = time.Minute

// recordRetrying runs record, a transaction that records delivery
// outcomes, again while the database is unavailable (storage.Unavailable:
// a PostgreSQL restart or failover, which takes seconds), with a growing
// pause, for as long as ctx allows and at most recordFor. Giving up at
// once would leave an email the SMTP server has accepted marked
// "sending", and the job's retry would send it again. record must be safe
// to run again after a try whose commit went through but whose answer was
// lost (a crash during the commit).
func recordRetrying(ctx context.Context, record func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, recordFor)
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		err := record(ctx)
		if _, ok := storage.Unavailable(err); !ok {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
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
	if n.UnsubscribeURL != "" {
		m.SetGenHeader(mail.HeaderListUnsubscribe, "<"+n.UnsubscribeURL+">")
		if n.APIKeyID != "" { // the agency's own one-click endpoint (RFC 8058)
			m.SetGenHeader(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
		}
	}
	m.SetBodyString(mail.TypeTextPlain, n.BodyText)
	if n.BodyHTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, n.BodyHTML)
	}
	return m, nil
}

// send hands n to the SMTP server over a pooled connection.
func (s *Service) send(ctx context.Context, n Notification) error {
	m, err := s.message(n)
	if err != nil {
		return err
	}
	if err := s.smtp.send(ctx, m); err != nil {
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
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true
	}
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
