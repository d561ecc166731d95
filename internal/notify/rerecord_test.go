package notify_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestOutcomeRecordedAgainChangesNothing: recording a delivery is tried
// again while the database is unavailable, so it may run after a try whose
// commit went through but whose answer was lost (PostgreSQL crashing
// during the commit). The second record changes nothing: the email keeps
// its time of delivery, and the agency's delivery receipt is scheduled
// once.
func TestOutcomeRecordedAgainChangesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		srv := startTestServer(t)
		rc := &receiver{}
		ts := httptest.NewServer(rc)
		defer ts.Close()
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: srv.URL(), AllowHTTPCallbacks: true}, jobs.Config{MaxAttempts: 3})
		if err := h.svc.SetCallback(ctx, "dmv", ts.URL+"/receipts", "s3cret-bearer-token"); err != nil {
			t.Fatal(err)
		}
		tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Hi", Subject: "Hi", Body: "Hello"})
		h.start(t)
		n, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ana@example.com", Reference: "ref-1"})
		if err != nil {
			t.Fatal(err)
		}
		first := h.waitFinal(t, n.ID)
		eventually(t, "the receipt", func() bool { return rc.count() == 1 })
		if err := h.svc.RecordDeliveredAgain(ctx, first); err != nil {
			t.Fatal(err)
		}
		var receipts int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`, notify.CallbackArgs{}.Kind()).Scan(&receipts); err != nil {
			t.Fatal(err)
		}
		if receipts != 1 {
			t.Errorf("%d receipts scheduled, want 1", receipts)
		}
		again := h.get(t, n.ID)
		if again.Status != notify.StatusDelivered || !again.SentAt.Equal(first.SentAt) || !again.CompletedAt.Equal(first.CompletedAt) {
			t.Errorf("recorded again: %s sent %v completed %v; was sent %v completed %v", again.Status, again.SentAt, again.CompletedAt, first.SentAt, first.CompletedAt)
		}
		if got := srv.CountMessageID(h.svc.MessageID(n.ID)); got != 1 {
			t.Errorf("server holds %d copies, want 1", got)
		}
	})
}
