package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

// DeliverArgs is the job that sends one delivery.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "webhook.deliver" }

type worker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// Timeout leaves the attempt's own timeout room to record its outcome.
func (w *worker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.s.cfg.Timeout + 30*time.Second
}

// NextRetry is River's backoff unless Config.Backoff replaces it.
func (w *worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	if w.s.cfg.Backoff == nil {
		return time.Time{}
	}
	return time.Now().Add(w.s.cfg.Backoff(job.Attempt))
}

func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
}

// Outcomes counted in portico_webhook_deliveries_total.
const (
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"    // will be retried
	outcomeDead      = "dead"      // the last attempt failed
	outcomeGone      = "gone"      // 410: stopped
	outcomeThrottled = "throttled" // 429 with Retry-After: snoozed
	outcomeStopped   = "stopped"   // not sent: stopped or no longer enabled
)

type pending struct {
	id, eventID, eventType, pluginID, agency, url, body string
}

// deliver makes one attempt at a delivery. last says River will not try
// again if it fails.
func (s *Service) deliver(ctx context.Context, id string, last bool) error {
	var d pending
	var status string
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, event_id, event_type, plugin_id, agency_id, url, body, status FROM webhook_deliveries WHERE id = $1`, id).
		Scan(&d.id, &d.eventID, &d.eventType, &d.pluginID, &d.agency, &d.url, &d.body, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the delivery is gone (its plug-in removed): nothing to do
	}
	if err != nil {
		return fmt.Errorf("webhook: read delivery %s: %w", id, err)
	}
	if status != StatusPending {
		return nil // a job left over from before a replay, or done already
	}
	// Still enabled, still asking for the type, not stopped? An agency
	// that disabled a plug-in expects nothing more to reach it.
	subs, err := s.reg.Subscribers(ctx, d.agency, d.eventType, d.pluginID)
	if err != nil {
		return err
	}
	why := "the agency no longer has the plug-in enabled, or it no longer asks for this event"
	if len(subs) == 1 {
		stopped, err := s.stopped(ctx, s.db.Read(), subs[0])
		if err != nil {
			return err
		}
		if !stopped {
			return s.send(ctx, d, subs[0], last)
		}
		why = "the plug-in answered 410 Gone for this agency; enabling it again resumes deliveries"
	}
	s.metrics.count(d.pluginID, outcomeStopped)
	return s.finish(ctx, d.id, StatusStopped, 0, why, false)
}

func (s *Service) send(ctx context.Context, d pending, sub plugin.Subscriber, last bool) error {
	secret, err := s.reg.WebhookSecret(ctx, system, d.pluginID)
	if err != nil {
		return err
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook: secret of %s: %w", d.pluginID, err)
	}
	now := s.clock.Now()
	sig, err := wh.Sign(d.eventID, now, []byte(d.body))
	if err != nil {
		return fmt.Errorf("webhook: sign: %w", err)
	}
	resp, err := post(ctx, s.cfg, d.url, []byte(d.body), http.Header{
		"Content-Type":                          {"application/cloudevents+json"},
		standardwebhooks.HeaderWebhookID:        {d.eventID},
		standardwebhooks.HeaderWebhookTimestamp: {strconv.FormatInt(now.Unix(), 10)},
		standardwebhooks.HeaderWebhookSignature: {sig},
	})
	if err != nil {
		return s.failed(ctx, d, 0, err, last)
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		s.metrics.count(d.pluginID, outcomeDelivered)
		return s.finish(ctx, d.id, StatusDelivered, code, "", true)
	case code == http.StatusGone:
		s.metrics.count(d.pluginID, outcomeGone)
		return s.stop(ctx, d, sub)
	case code == http.StatusTooManyRequests:
		if wait, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = min(wait, s.cfg.MaxSnooze)
			s.metrics.count(d.pluginID, outcomeThrottled)
			if _, err := s.db.Write().ExecContext(ctx, `UPDATE webhook_deliveries SET last_status = $2, last_error = $3, updated_at = $4 WHERE id = $1`,
				d.id, code, "throttled: retrying after "+wait.String(), s.clock.Now().UTC()); err != nil {
				return fmt.Errorf("webhook: record throttle: %w", err)
			}
			return river.JobSnooze(wait)
		}
		return s.failed(ctx, d, code, errors.New("429 Too Many Requests without a usable Retry-After"), last)
	}
	return s.failed(ctx, d, code, fmt.Errorf("answered %d %s", code, http.StatusText(code)), last)
}

// post makes one delivery attempt: body POSTed to url with headers, within
// cfg.Timeout, redirects not followed (cfg.Client), the answer's body
// read (at most 64 KiB) and dropped. It returns the response (body
// closed) or why there was none. Plug-in webhooks and payment webhooks
// to agency systems (payhooks.go) both send through it.
func post(ctx context.Context, cfg Config, url string, body []byte, headers http.Header) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the webhook URL is not usable: %w", err)
	}
	req.Header = headers.Clone()
	req.Header.Set("User-Agent", "Portico-Webhooks/1")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", cfg.Timeout)
		}
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp, nil
}

// failed records a failed attempt; River retries unless it was the last,
// which makes the delivery a dead letter.
func (s *Service) failed(ctx context.Context, d pending, code int, cause error, last bool) error {
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if !last {
		s.metrics.count(d.pluginID, outcomeFailed)
		if _, err := s.db.Write().ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3, updated_at = $4 WHERE id = $1`,
			d.id, code, msg, s.clock.Now().UTC()); err != nil {
			return fmt.Errorf("webhook: record attempt: %w", err)
		}
		return fmt.Errorf("webhook: delivery %s to %s: %s", d.id, d.pluginID, msg)
	}
	s.metrics.count(d.pluginID, outcomeDead)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_status = $3, last_error = $4, updated_at = $5 WHERE id = $1`,
			d.id, StatusDead, code, msg, s.clock.Now().UTC()); err != nil {
			return fmt.Errorf("webhook: record dead letter: %w", err)
		}
		_, err := s.log.Append(platform.WithActor(ctx, system), tx, audit.Record{Action: "plugin.webhook.dead", Subject: "plugin:" + d.pluginID, AgencyID: d.agency,
			Detail: map[string]any{"delivery": d.id, "event": d.eventID, "type": d.eventType, "error": msg}})
		return err
	})
	if err != nil {
		return err
	}
	s.cfg.Logger.Warn("webhook delivery is a dead letter", "plugin", d.pluginID, "agency", d.agency, "delivery", d.id, "error", msg)
	return river.JobCancel(fmt.Errorf("webhook: delivery %s to %s: dead letter: %s", d.id, d.pluginID, msg))
}

// finish records a delivery's final status.
func (s *Service) finish(ctx context.Context, id, status string, code int, msg string, attempted bool) error {
	now := s.clock.Now().UTC()
	inc := 0
	var delivered *time.Time
	if attempted {
		inc = 1
	}
	if status == StatusDelivered {
		delivered = &now
	}
	if _, err := s.db.Write().ExecContext(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + $3, last_status = $4, last_error = $5, updated_at = $6, delivered_at = $7 WHERE id = $1`,
		id, status, inc, code, msg, now, delivered); err != nil {
		return fmt.Errorf("webhook: record delivery %s: %w", id, err)
	}
	return nil
}

// stop records a 410: this delivery and every later one to the plug-in
// for the agency stop until the agency enables the plug-in again.
func (s *Service) stop(ctx context.Context, d pending, sub plugin.Subscriber) error {
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_status = 410, last_error = $3, updated_at = $4 WHERE id = $1`,
			d.id, StatusStopped, "the plug-in answered 410 Gone: deliveries for this agency stopped until it is enabled again", now); err != nil {
			return fmt.Errorf("webhook: record stop: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_stops (plugin_id, agency_id, stopped_at, delivery_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (plugin_id, agency_id) DO UPDATE SET stopped_at = excluded.stopped_at, delivery_id = excluded.delivery_id`,
			d.pluginID, d.agency, now, d.id); err != nil {
			return fmt.Errorf("webhook: record stop: %w", err)
		}
		_, err := s.log.Append(platform.WithActor(ctx, system), tx, audit.Record{Action: "plugin.webhook.stop", Subject: "plugin:" + d.pluginID, AgencyID: d.agency,
			Detail: map[string]any{"delivery": d.id, "event": d.eventID, "url": d.url, "enabled_since": sub.ApprovedAt.UTC().Format(time.RFC3339)}})
		return err
	})
}

// RetryAfter parses a Retry-After header (RFC 9110 §10.2.3): a number of
// seconds or an HTTP date, relative to now. A date in the past is a wait
// of zero; a wait is at most a year. It reports false for anything else
// (empty, negative, garbage).
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}

// maxRetryAfter caps what RetryAfter returns (a year), so no header
// overflows a duration; Config.MaxSnooze caps the wait itself.
const maxRetryAfter = 365 * 24 * time.Hour
