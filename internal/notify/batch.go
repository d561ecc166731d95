package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
)

// DeliverEmailBatchArgs is the job that hands several stored emails to the
// SMTP server (ADR 71): one job row, one "sending" write and one outcome
// transaction for up to Config.EmailBatch emails, instead of a job, a
// "sending" write and an outcome transaction each. Every email keeps its
// own notification row, status, attempt count, Message-ID and delivery
// receipt.
type DeliverEmailBatchArgs struct {
	NotificationIDs []string `json:"notification_ids"`
}

// Kind implements river.JobArgs.
func (DeliverEmailBatchArgs) Kind() string { return "notify.email_batch" }

// DefaultEmailBatch is how many emails one batch delivery job carries
// unless Config.EmailBatch says otherwise: a reminder send job's worth.
const DefaultEmailBatch = 100

// Batch stores emails like SendEmail but holds back their delivery jobs
// until Flush, which enqueues them as batch delivery jobs of up to
// Config.EmailBatch emails each, in the same transaction. It is for a
// caller that stores many messages in one transaction (a reminder send
// job); it is used by one goroutine and for one transaction. Critical
// messages are never held back: they keep their own job at the front of
// the queue.
type Batch struct {
	s   *Service
	ids []string
}

// Batch returns an empty batch.
func (s *Service) Batch() *Batch { return &Batch{s: s} }

// SendEmail is Service.SendEmail with the delivery held back until Flush.
func (b *Batch) SendEmail(ctx context.Context, tx *sql.Tx, e Email) (string, error) {
	return b.s.sendEmail(ctx, tx, e, b)
}

// SendTextToAccount is Service.SendTextToAccount with the email's delivery
// held back until Flush.
func (b *Batch) SendTextToAccount(ctx context.Context, tx *sql.Tx, m AccountText) (string, error) {
	return b.s.sendTextToAccount(ctx, tx, m, b)
}

// Flush enqueues, in tx, the delivery of every email stored through b
// since the last Flush. It must run in the transaction that stored them:
// the jobs then exist if and only if the notifications do.
func (b *Batch) Flush(ctx context.Context, tx *sql.Tx) error {
	if len(b.ids) == 0 {
		return nil
	}
	size := b.s.emailBatch
	var params []river.InsertManyParams
	for ids := range slices.Chunk(b.ids, size) {
		params = append(params, river.InsertManyParams{Args: DeliverEmailBatchArgs{NotificationIDs: ids}, InsertOpts: &river.InsertOpts{Priority: 2}})
	}
	if _, err := b.s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("notify: enqueue email batch: %w", err)
	}
	b.ids = nil
	return nil
}

type batchDeliveryWorker struct {
	river.WorkerDefaults[DeliverEmailBatchArgs]
	svc *Service
}

// Work delivers the batch's emails not yet delivered or refused. Like
// the single delivery it is idempotent: a re-run (a retry, River's rescue
// after a crash) sends only the emails whose outcome was not recorded. When
// some emails failed temporarily the job returns an error, so River retries
// it with its backoff, and the retry sends those emails alone; when its
// attempts run out they end as technical-failure and the job is discarded.
func (w *batchDeliveryWorker) Work(ctx context.Context, job *river.Job[DeliverEmailBatchArgs]) error {
	return w.svc.deliverBatch(ctx, job.Args.NotificationIDs, job.Attempt, job.MaxAttempts)
}

// outcome is what one attempt to deliver one email came to.
type outcome struct {
	n   Notification
	err error // nil: the server accepted it
}

func (s *Service) deliverBatch(ctx context.Context, ids []string, attempt, maxAttempts int) error {
	ns, err := s.startSendingMany(ctx, ids)
	if err != nil {
		return err // database trouble: River retries the whole batch
	}
	if len(ns) == 0 {
		return nil // all recorded already
	}
	out := make([]outcome, len(ns))
	for i, n := range ns {
		out[i].n = n
	}
	if s.target == nil {
		for i := range out {
			out[i].err = ErrNoSMTP
		}
	} else {
		s.sendMany(ctx, out)
	}
	// The outcomes are recorded even if the job's context has ended
	// (shutdown, timeout): what the server accepted must not be sent again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	last := attempt >= maxAttempts
	retry, err := s.finishMany(rctx, out, last)
	if err != nil {
		// The server has some of the messages but we could not record
		// it; the retry resends them with the same Message-IDs.
		return err
	}
	if s.target == nil {
		return river.JobCancel(ErrNoSMTP)
	}
	if retry > 0 {
		return fmt.Errorf("notify: %d of %d emails not sent, will retry: %w", retry, len(out), firstErr(out))
	}
	if err := firstErr(out); last && err != nil {
		// River discards the job, our dead letter: an operator's retry
		// sends the emails that ended technical-failure, and only those.
		return fmt.Errorf("notify: emails not sent, retries exhausted: %w", err)
	}
	return nil
}

func firstErr(out []outcome) error {
	for _, o := range out {
		if o.err != nil && !isPermanent(o.err) {
			return o.err
		}
	}
	return nil
}

// startSendingMany marks the batch's emails "sending" and counts the
// attempt, in one statement, and returns them. An email already delivered
// or refused for good is left alone, so a re-run batch never sends it
// again; one given up on (technical-failure) is sent again, as the single
// delivery does, when an operator retries the discarded job.
func (s *Service) startSendingMany(ctx context.Context, ids []string) ([]Notification, error) {
	var out []Notification
	// A bulk step: it yields to people's requests in flight (ADR 74).
	err := s.db.InBulkTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `
			UPDATE notifications SET status = $1, attempts = attempts + 1
			WHERE channel = $2 AND status NOT IN ($3, $4) AND `+s.db.AnyOf("id", 5)+`
			RETURNING `+notificationColumns, StatusSending, ChannelEmail, StatusDelivered, StatusPermanentFailure, s.db.ListArg(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("notify: start sending batch: %w", err)
	}
	return out, nil
}

// sendMany hands the emails to the server over as many pooled connections
// as the pool allows, each connection carrying one message at a time. An
// email not attempted because ctx ended gets ctx's error (a temporary
// failure: it is retried).
func (s *Service) sendMany(ctx context.Context, out []outcome) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(out), s.smtp.size) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(out) {
					return
				}
				if err := ctx.Err(); err != nil {
					out[i].err = err
					continue
				}
				out[i].err = s.send(ctx, out[i].n)
			}
		})
	}
	wg.Wait()
}

// finishMany records every outcome of a batch in one transaction, with the
// delivery receipts of the final ones, and returns how many emails are to
// be retried. lastAttempt turns temporary failures into technical ones.
// While the database is unavailable it tries again (recordRetrying); an
// email found already at its outcome was recorded by an earlier try whose
// commit's answer was lost, and its receipt is not scheduled twice.
func (s *Service) finishMany(ctx context.Context, out []outcome, lastAttempt bool) (retry int, err error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var delivered []string
	err = recordRetrying(ctx, func(ctx context.Context) error {
		return s.db.InBulkTx(ctx, func(tx *sql.Tx) error {
			var err error
			delivered, retry, err = s.recordMany(ctx, tx, out, lastAttempt, now)
			return err
		})
	})
	if err != nil {
		err = fmt.Errorf("notify: record a batch of %d emails: %w", len(out), err)
		s.logger.Error("cannot record delivery outcomes", "emails", len(out), "err", err)
		return 0, err
	}
	for _, o := range out {
		log := s.logger.With("notification_id", o.n.ID, "attempt", o.n.Attempts, "channel", o.n.Channel)
		switch {
		case o.err == nil:
			log.Debug("message delivered")
		case isPermanent(o.err):
			log.Warn("message refused permanently", "err", o.err)
		case lastAttempt || errors.Is(o.err, ErrNoSMTP):
			log.Error("message not sent: retries exhausted", "err", o.err)
		default:
			log.Warn("message not sent: will retry", "err", o.err)
		}
	}
	if len(delivered) > 0 {
		s.logger.Info("messages delivered", "emails", len(delivered))
	}
	return retry, nil
}

// recordMany is one try of finishMany's transaction: it returns the ids
// of the delivered emails and how many are to be retried. A row already at
// the outcome being recorded (the rows are "sending" otherwise:
// startSendingMany) was recorded by an earlier try, with its receipt.
func (s *Service) recordMany(ctx context.Context, tx *sql.Tx, out []outcome, lastAttempt bool, now time.Time) (delivered []string, retry int, err error) {
	var final []Notification
	for _, o := range out {
		n := o.n
		if o.err == nil {
			delivered = append(delivered, n.ID)
			continue
		}
		st := StatusTemporaryFailure
		switch {
		case errors.Is(o.err, ErrNoSMTP):
			st = StatusTechnicalFailure
		case isPermanent(o.err):
			st = StatusPermanentFailure
		case lastAttempt:
			st = StatusTechnicalFailure
		default:
			retry++
		}
		var completedAt any
		if st.Final() {
			completedAt = now
		}
		res, err := s.db.ExecHot(ctx, tx, `UPDATE notifications SET status = $1, last_error = $2, completed_at = $3 WHERE id = $4 AND status <> $1`,
			st, truncate(o.err.Error(), maxErrorBytes), completedAt, n.ID)
		if err != nil {
			return nil, 0, err
		}
		if changed, _ := res.RowsAffected(); changed > 0 && st.Final() {
			final = append(final, n)
		}
	}
	if len(delivered) > 0 {
		byID := make(map[string]Notification, len(delivered))
		for _, o := range out {
			if o.err == nil {
				byID[o.n.ID] = o.n
			}
		}
		rows, err := tx.QueryContext(ctx, `UPDATE notifications SET status = $1, last_error = '', sent_at = $2, completed_at = $2, provider_ref = ''
			WHERE status <> $1 AND `+s.db.AnyOf("id", 3)+` RETURNING id`, StatusDelivered, now, s.db.ListArg(delivered))
		if err != nil {
			return nil, 0, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, 0, err
			}
			final = append(final, byID[id])
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
	}
	return delivered, retry, s.enqueueCallbacks(ctx, tx, final)
}

// enqueueCallbacks schedules the delivery receipts of ns (all final) in tx,
// for the agencies that have a callback URL, reading each agency's URL
// once.
func (s *Service) enqueueCallbacks(ctx context.Context, tx *sql.Tx, ns []Notification) error {
	hasURL := map[string]bool{}
	var params []river.InsertManyParams
	for _, n := range ns {
		if n.AgencyID == "" {
			continue
		}
		ok, seen := hasURL[n.AgencyID]
		if !seen {
			var u string
			err := s.db.QueryRowHot(ctx, tx, `SELECT callback_url FROM notify_services WHERE agency_id = $1`, n.AgencyID).Scan(&u)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("notify: callback url: %w", err)
			}
			ok = u != ""
			hasURL[n.AgencyID] = ok
		}
		if ok {
			params = append(params, river.InsertManyParams{Args: CallbackArgs{NotificationID: n.ID},
				InsertOpts: &river.InsertOpts{MaxAttempts: CallbackAttempts, Priority: 3}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("notify: enqueue receipts: %w", err)
	}
	return nil
}
