package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/jobs"
)

// CallbackArgs is the job that posts one notification's delivery receipt
// to its agency's callback URL.
type CallbackArgs struct {
	NotificationID string `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (CallbackArgs) Kind() string { return "notify.callback" }

// CallbackAttempts is how many times a receipt is tried (Notify: 5).
const CallbackAttempts = 5

// NotifyTime formats t as Notify does: 2017-05-14T12:15:30.000000Z.
func NotifyTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// enqueueCallback schedules the receipt of notification id if its agency
// has a callback URL.
func (s *Service) enqueueCallback(ctx context.Context, tx *sql.Tx, id, agencyID string) error {
	if agencyID == "" {
		return nil
	}
	var u string
	err := s.db.QueryRowHot(ctx, tx, `SELECT callback_url FROM notify_services WHERE agency_id = $1`, agencyID).Scan(&u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil { // before u == "": a failed read must not drop the receipt
		return fmt.Errorf("notify: callback url: %w", err)
	}
	if u == "" {
		return nil
	}
	return jobs.Enqueue(ctx, s.jobs, tx, CallbackArgs{NotificationID: id}, &river.InsertOpts{MaxAttempts: CallbackAttempts, Priority: 3})
}

// Callback is the delivery receipt Portico posts, in Notify's shape.
type Callback struct {
	ID               string  `json:"id"`
	Reference        *string `json:"reference"`
	To               string  `json:"to"`
	Status           Status  `json:"status"`
	CreatedAt        string  `json:"created_at"`
	CompletedAt      *string `json:"completed_at"`
	SentAt           *string `json:"sent_at"`
	NotificationType string  `json:"notification_type"`
	TemplateID       string  `json:"template_id"`
	TemplateVersion  int     `json:"template_version"`
}

// CallbackFor builds n's receipt.
func CallbackFor(n Notification) Callback {
	c := Callback{ID: n.ID, To: n.Recipient, Status: n.Status, CreatedAt: NotifyTime(n.CreatedAt), NotificationType: string(n.Channel),
		TemplateID: n.TemplateID, TemplateVersion: n.TemplateVersion}
	if n.Reference != "" {
		c.Reference = &n.Reference
	}
	if !n.CompletedAt.IsZero() {
		v := NotifyTime(n.CompletedAt)
		c.CompletedAt = &v
	}
	if !n.SentAt.IsZero() {
		v := NotifyTime(n.SentAt)
		c.SentAt = &v
	}
	return c
}

// SignCallback returns the X-Portico-Signature header value for body sent
// at unix time ts with token: "t=<ts>,v1=<hex HMAC-SHA256(token, "<ts>.<body>")>".
func SignCallback(token string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

type callbackWorker struct {
	river.WorkerDefaults[CallbackArgs]
	svc *Service
}

// Work posts the receipt. Any reply but 2xx is retried, up to
// CallbackAttempts times.
func (w *callbackWorker) Work(ctx context.Context, job *river.Job[CallbackArgs]) error {
	s := w.svc
	n, err := s.Get(ctx, job.Args.NotificationID)
	if err != nil {
		return river.JobCancel(err)
	}
	var u, sealed string
	if err := s.db.Read().QueryRowContext(ctx, `SELECT callback_url, callback_token FROM notify_services WHERE agency_id = $1`, n.AgencyID).Scan(&u, &sealed); err != nil || u == "" {
		return nil // callbacks turned off since
	}
	if err := s.needBox(); err != nil {
		return err
	}
	token, err := s.box.Open(sealed, "notify-callback:"+n.AgencyID)
	if err != nil {
		return river.JobCancel(err)
	}
	body, _ := json.Marshal(CallbackFor(n))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Portico-Signature", SignCallback(token, s.clock.Now().Unix(), body))
	resp, err := s.callbackClient.Do(req)
	if err != nil {
		return fmt.Errorf("notify: callback for %s: %w", n.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify: callback for %s: %s answered %d", n.ID, u, resp.StatusCode)
	}
	return nil
}
