package reminder_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// manyDirectory is a reminder.ManyDirectory over a directory.
type manyDirectory struct {
	directory
	asked *int // Contacts calls
}

func (d manyDirectory) Contacts(_ context.Context, ids []string) (map[string]reminder.Contact, error) {
	*d.asked++
	out := map[string]reminder.Contact{}
	for _, id := range ids {
		if c, ok := d.directory[id]; ok && c.Email != "" {
			out[id] = c
		}
	}
	return out, nil
}

// refusing is a BatchMailer whose batches refuse, as invalid, mail to
// refuse@example.com (as the notification block refuses a bad address);
// with many set its batches are ManyMailBatches.
type refusing struct {
	mailer
	many    bool
	calls   int // SendEmails calls
	flushed int // messages flushed
}

func (m *refusing) send(ctx context.Context, tx *sql.Tx, msg reminder.Message) (string, error) {
	if msg.To == "refuse@example.com" {
		return "", platform.Invalid("email", "refused")
	}
	return m.SendEmail(ctx, tx, msg)
}

func (m *refusing) Batch() reminder.MailBatch {
	if m.many {
		return &manyBatch{oneBatch{m: m}}
	}
	return &oneBatch{m: m}
}

type oneBatch struct {
	m *refusing
	n int
}

func (b *oneBatch) SendEmail(ctx context.Context, tx *sql.Tx, msg reminder.Message) (string, error) {
	id, err := b.m.send(ctx, tx, msg)
	if err == nil {
		b.n++
	}
	return id, err
}

func (b *oneBatch) Flush(context.Context, *sql.Tx) error { b.m.flushed += b.n; b.n = 0; return nil }

type manyBatch struct{ oneBatch }

func (b *manyBatch) SendEmails(ctx context.Context, tx *sql.Tx, msgs []reminder.Message) ([]string, []error, error) {
	b.m.calls++
	ids, errs := make([]string, len(msgs)), make([]error, len(msgs))
	for i, msg := range msgs {
		ids[i], errs[i] = b.SendEmail(ctx, tx, msg)
	}
	return ids, errs, nil
}

// TestSendBatchManyDecidesAsOneByOne: a send job's reminders sent with a
// ManyMailBatch and a ManyDirectory (one statement per kind per batch on
// PostgreSQL, ADR 76) have the outcomes, records and messages of the
// same batch sent one reminder at a time: sent in the citizen's
// language, skipped when the obligation moved, the account has no
// address or the message is refused, a key twice in the batch sent once,
// and a re-run sends nothing.
func TestSendBatchManyDecidesAsOneByOne(t *testing.T) {
	tests := []struct {
		name            string
		many, manyDir   bool
		wantManyPostgre bool // SendEmails used on PostgreSQL
	}{
		{name: "one by one"},
		{name: "many directory", manyDir: true},
		{name: "many mail batch", many: true, wantManyPostgre: true},
		{name: "both", many: true, manyDir: true, wantManyPostgre: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				m := &refusing{many: tt.many}
				dir := directory{"ana": {Email: "ana@example.com", Lang: "en"}, "beto": {Email: "beto@example.com", Lang: "es"},
					"nomail": {Lang: "en"}, "refuse": {Email: "refuse@example.com", Lang: "en"}}
				asked := 0
				var d reminder.Directory = dir
				if tt.manyDir {
					d = manyDirectory{dir, &asked}
				}
				f := &fixture{db: db, clock: platform.NewFakeClock(start), mail: &m.mailer}
				reg := jobs.NewRegistry()
				ins, err := jobs.NewInserter(db, jobs.Config{})
				if err != nil {
					t.Fatal(err)
				}
				cfg := reminder.Config{PublicURL: func() string { return "https://portico.example.gov" }}
				if f.svc, err = reminder.New(db, testAudit(t, db, f.clock), f.clock, ins, reg, d, m, cfg); err != nil {
					t.Fatal(err)
				}
				var as []reminder.SendArgs
				for i, acct := range []string{"ana", "beto", "nomail", "nobody", "refuse", "moved", "ana"} {
					o := vehicle(reminder.Date{Year: 2027, Month: 6, Day: 1 + i})
					o.Source = "document:" + string(rune('a'+i))
					o.AccountID = acct
					if acct == "moved" {
						o.AccountID = "ana"
					}
					o = f.set(t, o)
					a := reminder.SendArgs{ObligationID: o.ID, DueOn: o.Due.String(), Offset: -10080}
					if acct == "moved" {
						a.DueOn = "2027-05-01" // planned for a due date that changed since
					}
					as = append(as, a)
				}
				as = append(as, as[0]) // the same reminder twice in one job
				want := []reminder.Outcome{reminder.OutcomeSent, reminder.OutcomeSent, reminder.OutcomeSkipped, reminder.OutcomeSkipped,
					reminder.OutcomeSkipped, reminder.OutcomeSkipped, reminder.OutcomeSent, reminder.OutcomeDuplicate}
				out, err := f.svc.SendBatch(ctx, as)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(out, want) {
					t.Errorf("outcomes %v, want %v", out, want)
				}
				var langs []string
				for _, msg := range m.sent {
					langs = append(langs, msg.To+" "+msg.Lang)
				}
				if wantLangs := []string{"ana@example.com en", "beto@example.com es", "ana@example.com en"}; !slices.Equal(langs, wantLangs) {
					t.Errorf("messages %v, want %v", langs, wantLangs)
				}
				if m.flushed != 3 {
					t.Errorf("%d messages flushed, want 3", m.flushed)
				}
				if got := m.calls > 0; got != (tt.wantManyPostgre && db.Dialect == storage.Postgres) {
					t.Errorf("SendEmails called %d times", m.calls)
				}
				if tt.manyDir && asked != 1 {
					t.Errorf("Contacts asked %d times, want once", asked)
				}
				rows, err := db.Read().QueryContext(ctx, `SELECT outcome, notification_id <> '' FROM reminder_sends ORDER BY due_on`) // the moved one first
				if err != nil {
					t.Fatal(err)
				}
				var records []string
				for rows.Next() {
					var o string
					var hasID bool
					if err := rows.Scan(&o, &hasID); err != nil {
						t.Fatal(err)
					}
					if hasID != (o == "sent") {
						t.Errorf("record %s with a notification: %v", o, hasID)
					}
					records = append(records, o)
				}
				rows.Close()
				if wantRecords := []string{"skipped", "sent", "sent", "skipped", "skipped", "skipped", "sent"}; !slices.Equal(records, wantRecords) {
					t.Errorf("records %v, want %v", records, wantRecords)
				}
				resendAllDuplicate(t, f.svc, as)
				if len(m.sent) != 3 {
					t.Errorf("%d messages after the re-run, want 3", len(m.sent))
				}
			})
		})
	}
}
