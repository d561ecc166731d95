package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// A group commit's batch larger than one multi-row INSERT (32 rows on
// PostgreSQL, ADR 73) stores every notification once, as Send would: its
// row with the values prepared for it, and a delivery job for each one
// that delivers (a test key's is delivered at once and has none).
func TestStoreBatchAcrossInsertChunks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		h := newHarness(t, db, platform.NewFakeClock(now), "", 1)
		tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal",
			Subject: "Renew, ((name))", Body: "Dear ((name)), renew at https://example.gov/renew."})
		const n, testKeys = 70, 10 // chunks of 32, 32 and 6
		var ms []notify.Message
		for i := range n {
			kt := notify.KeyLive
			if i%7 == 3 {
				kt = notify.KeyTest
			}
			ms = append(ms, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: fmt.Sprintf("p%d@example.com", i),
				Reference: fmt.Sprintf("r%d", i), Personalisation: notify.Personalisation{"name": fmt.Sprint("N", i)}, AgencyID: "dmv", KeyType: kt})
		}
		batch, err := h.svc.SubmitBatch(ctx, ms)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for i, b := range batch {
			if b.ID == "" || ids[b.ID] {
				t.Fatalf("notification %d: id %q empty or repeated", i, b.ID)
			}
			ids[b.ID] = true
			got, err := h.svc.Get(ctx, b.ID)
			if err != nil {
				t.Fatalf("notification %d: %v", i, err)
			}
			wantStatus := notify.StatusCreated
			if ms[i].KeyType == notify.KeyTest {
				wantStatus = notify.StatusDelivered
			}
			if got.Recipient != ms[i].To || got.Reference != ms[i].Reference || got.Subject != "Renew, N"+fmt.Sprint(i) ||
				got.Status != wantStatus || got.TemplateVersion != 1 || got.KeyType != ms[i].KeyType || !got.CreatedAt.Equal(now) {
				t.Errorf("notification %d stored as %+v", i, got)
			}
			if wantStatus == notify.StatusDelivered && (!got.SentAt.Equal(now) || !got.CompletedAt.Equal(now)) {
				t.Errorf("test-key notification %d: sent %v, completed %v", i, got.SentAt, got.CompletedAt)
			}
		}
		var jobs int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`, notify.DeliverEmailArgs{}.Kind()).Scan(&jobs); err != nil {
			t.Fatal(err)
		}
		if jobs != n-testKeys {
			t.Errorf("%d delivery jobs for %d live sends", jobs, n-testKeys)
		}
	})
}
