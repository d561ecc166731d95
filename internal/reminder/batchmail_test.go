package reminder_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// batchMailer is a reminder.BatchMailer that records, per Flush, the
// messages of that batch, and can fail a Flush.
type batchMailer struct {
	mailer
	flushed   [][]reminder.Message
	failFlush bool
}

func (m *batchMailer) Batch() reminder.MailBatch { return &mailBatch{m: m} }

type mailBatch struct {
	m       *batchMailer
	pending []reminder.Message
}

func (b *mailBatch) SendEmail(ctx context.Context, tx *sql.Tx, msg reminder.Message) (string, error) {
	b.pending = append(b.pending, msg)
	return b.m.SendEmail(ctx, tx, msg)
}

func (b *mailBatch) Flush(context.Context, *sql.Tx) error {
	if b.m.failFlush {
		return errors.New("flush refused")
	}
	b.m.flushed = append(b.m.flushed, b.pending)
	b.pending = nil
	return nil
}

// TestSendBatchFlushesOnce: with a BatchMailer, a send job's reminders are
// handed over as one batch flushed in the job's transaction; a batch whose
// flush fails commits nothing of its own and is sent reminder by reminder
// (each its own transaction, through the plain Mailer), and a re-run sends
// nothing.
func TestSendBatchFlushesOnce(t *testing.T) {
	tests := []struct {
		name        string
		failFlush   bool
		wantFlushes []int // messages per Flush
	}{
		{name: "one flush for the batch", wantFlushes: []int{3}},
		{name: "flush fails: one reminder at a time", failFlush: true, wantFlushes: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				m := &batchMailer{failFlush: tt.failFlush}
				f := newFixtureMailer(t, db, reminder.Config{}, m)
				var as []reminder.SendArgs
				for i, src := range []string{"document:a", "document:b", "document:c"} {
					o := vehicle(reminder.Date{Year: 2027, Month: 6, Day: 1 + i})
					o.Source = src
					o = f.set(t, o)
					as = append(as, reminder.SendArgs{ObligationID: o.ID, DueOn: o.Due.String(), Offset: -10080})
				}
				out, err := f.svc.SendBatch(ctx, as)
				if err != nil {
					t.Fatal(err)
				}
				for i, o := range out {
					if o != reminder.OutcomeSent {
						t.Errorf("reminder %d: %s", i, o)
					}
				}
				var sizes []int
				for _, b := range m.flushed {
					sizes = append(sizes, len(b))
				}
				if len(sizes) != len(tt.wantFlushes) || len(sizes) > 0 && sizes[0] != tt.wantFlushes[0] {
					t.Errorf("flushes of %v messages, want %v", sizes, tt.wantFlushes)
				}
				resendAllDuplicate(t, f.svc, as)
			})
		})
	}
}

// resendAllDuplicate runs the same send job again, as River would after a
// crash, and requires that every reminder is reported a duplicate.
func resendAllDuplicate(t *testing.T, svc *reminder.Service, as []reminder.SendArgs) {
	t.Helper()
	out, err := svc.SendBatch(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o != reminder.OutcomeDuplicate {
			t.Errorf("re-run, reminder %d: %s", i, o)
		}
	}
}
