package reminder_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// start is a Monday morning before the send hour.
var start = time.Date(2027, 3, 1, 7, 0, 0, 0, time.UTC)

type directory map[string]reminder.Contact

func (d directory) Contact(_ context.Context, id string) (reminder.Contact, error) {
	c, ok := d[id]
	if !ok {
		return c, reminder.ErrNoContact
	}
	return c, nil
}

type mailer struct {
	mu   sync.Mutex
	sent []reminder.Message
}

func (m *mailer) SendEmail(_ context.Context, _ *sql.Tx, msg reminder.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return fmt.Sprintf("n-%d", len(m.sent)), nil
}

func (m *mailer) recorded() *mailer { return m }

type fixture struct {
	db    *storage.DB
	clock *platform.FakeClock
	svc   *reminder.Service
	mail  *mailer
}

func newFixture(t *testing.T, db *storage.DB, cfg reminder.Config) *fixture {
	t.Helper()
	m := &mailer{}
	return newFixtureMailer(t, db, cfg, m)
}

// newFixtureMailer is newFixture sending through m (a *mailer, or one
// embedding it).
func newFixtureMailer(t *testing.T, db *storage.DB, cfg reminder.Config, m interface {
	reminder.Mailer
	recorded() *mailer
}) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: platform.NewFakeClock(start), mail: m.recorded()}
	cfg.PublicURL = func() string { return "https://portico.example.gov" }
	dir := directory{"ana": {Email: "ana@example.com", Lang: "en"}, "beto": {Email: "beto@example.com", Lang: "es"}}
	reg := jobs.NewRegistry()
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if f.svc, err = reminder.New(db, testAudit(t, db, f.clock), f.clock, ins, reg, dir, m, cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) set(t *testing.T, o reminder.Obligation) reminder.Obligation {
	t.Helper()
	var out reminder.Obligation
	err := f.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, err = f.svc.Set(context.Background(), tx, o)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) sweep(t *testing.T) reminder.SweepStats {
	t.Helper()
	st, err := f.svc.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// sendJobs returns the reminders enqueued for sending so far, in order.
func sendJobs(t *testing.T, db *storage.DB) []reminder.SendArgs {
	t.Helper()
	col := "args::text"
	if db.Dialect == storage.SQLite {
		col = "json(args)" // River's SQLite driver stores JSONB
	}
	rows, err := db.Read().QueryContext(context.Background(), `SELECT `+col+` FROM river_job WHERE kind = 'reminder_send' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []reminder.SendArgs
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var a reminder.SendBatchArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a.Reminders...)
	}
	return out
}

func vehicle(due reminder.Date) reminder.Obligation {
	return reminder.Obligation{
		AccountID: "ana", AgencyID: "dmv", Kind: reminder.KindRenewal, Source: "document:reg-1",
		Title: reminder.Text{EN: "Renew your vehicle registration", ES: "Renueve el registro de su vehículo"},
		URL:   "/services/vehicle-registration", Due: due,
	}
}

func TestSetIsIdempotentAndPlansReminders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{})
		due := reminder.Date{Year: 2027, Month: 6, Day: 1}
		o := f.set(t, vehicle(due))
		again := f.set(t, vehicle(due))
		if again.ID != o.ID || !again.UpdatedAt.Equal(o.UpdatedAt) {
			t.Fatalf("second Set changed the obligation: %+v vs %+v", again, o)
		}
		pending, err := f.svc.Pending(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"2027-04-02 09:00", "2027-05-02 09:00", "2027-05-25 09:00", "2027-06-01 09:00", "2027-06-08 09:00"}
		if got := fmtTimes(pending); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("pending = %v, want %v", got, want)
		}
		// A new due date re-plans; the past reminders collapse into one now.
		f.clock.Set(time.Date(2027, 5, 10, 12, 0, 0, 0, time.UTC))
		moved := f.set(t, vehicle(reminder.Date{Year: 2027, Month: 5, Day: 20}))
		if moved.ID != o.ID {
			t.Fatal("Set by the same source made a new obligation")
		}
		pending, _ = f.svc.Pending(ctx, o.ID)
		want = []string{"2027-05-10 12:00", "2027-05-13 09:00", "2027-05-20 09:00", "2027-05-27 09:00"}
		if got := fmtTimes(pending); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("after moving: pending = %v, want %v", got, want)
		}
		list, err := f.svc.List(ctx, citizen("ana"), false)
		if err != nil || len(list) != 1 || list[0].Due.String() != "2027-05-20" {
			t.Fatalf("List = %+v, %v", list, err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return f.svc.Complete(ctx, tx, "ana", "document:reg-1") }); err != nil {
			t.Fatal(err)
		}
		if pending, _ = f.svc.Pending(ctx, o.ID); len(pending) != 0 {
			t.Fatalf("a done obligation still has reminders: %v", pending)
		}
		if list, _ = f.svc.List(ctx, citizen("ana"), false); len(list) != 0 {
			t.Fatalf("open list after Complete = %+v", list)
		}
		if list, _ = f.svc.List(ctx, citizen("ana"), true); len(list) != 1 || list[0].Status != reminder.StatusDone || list[0].ClosedAt == nil {
			t.Fatalf("all list after Complete = %+v", list)
		}
		if _, err := f.svc.Get(ctx, citizen("beto"), o.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("another account's obligation: %v", err)
		}
		err = db.InTx(ctx, func(tx *sql.Tx) error { return f.svc.Cancel(ctx, tx, "ana", "no-such-source") })
		if platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("Cancel unknown = %v", err)
		}
		bad := vehicle(due)
		bad.Title.EN = "two\nlines"
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := f.svc.Set(ctx, tx, bad); return err }); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("bad title: %v", err)
		}
	})
}

func fmtTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format("2006-01-02 15:04")
	}
	return out
}

func TestSweepSendsEachReminderOnceInTheRightLanguage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{})
		o := f.set(t, vehicle(reminder.Date{Year: 2027, Month: 3, Day: 20}))
		tax := f.set(t, reminder.Obligation{
			AccountID: "beto", AgencyID: "treasurer", Kind: reminder.KindPayment, Source: "tax:2027-1",
			Title: reminder.Text{EN: "Pay your property tax instalment", ES: "Pague su cuota del impuesto predial"},
			Due:   reminder.Date{Year: 2027, Month: 3, Day: 7}, Schedule: reminder.Schedule{-7 * reminder.Day, 0},
		})
		// Both have a reminder whose time passed when set (-30d, -7d): one
		// each goes at the first sweep.
		if st := f.sweep(t); st.Enqueued != 2 || st.Collapsed != 0 {
			t.Fatalf("first sweep: %+v", st)
		}
		if st := f.sweep(t); st.Claimed != 0 {
			t.Fatalf("second sweep at the same time claimed %+v", st)
		}
		for _, a := range sendJobs(t, db) {
			out, err := f.svc.Send(ctx, a)
			if err != nil || out != reminder.OutcomeSent {
				t.Fatalf("Send(%+v) = %s, %v", a, out, err)
			}
			// The same job again (at-least-once delivery) sends nothing.
			if out, err := f.svc.Send(ctx, a); err != nil || out != reminder.OutcomeDuplicate {
				t.Fatalf("repeated Send = %s, %v", out, err)
			}
		}
		if len(f.mail.sent) != 2 {
			t.Fatalf("sent %d emails", len(f.mail.sent))
		}
		byTo := map[string]reminder.Message{}
		for _, m := range f.mail.sent {
			byTo[m.To] = m
		}
		if m := byTo["ana@example.com"]; m.Lang != "en" || m.Subject != "Reminder: Renew your vehicle registration by March 20, 2027" ||
			!strings.Contains(m.Text, "https://portico.example.gov/services/vehicle-registration") || m.Reference != "obligation:"+o.ID {
			t.Errorf("Ana's email: %+v", m)
		}
		if m := byTo["beto@example.com"]; m.Lang != "es" || m.Subject != "Recordatorio: Pague su cuota del impuesto predial antes del 7 de marzo de 2027" ||
			!strings.Contains(m.Text, "https://portico.example.gov/coming-up") || m.AgencyID != "treasurer" {
			t.Errorf("Beto's email: %+v", m)
		}
		// On the tax's due day its on-the-day reminder goes, in Spanish.
		f.clock.Set(time.Date(2027, 3, 7, 9, 0, 0, 0, time.UTC))
		if st := f.sweep(t); st.Enqueued != 1 {
			t.Fatalf("due-day sweep: %+v", st)
		}
		jobs := sendJobs(t, db)
		if out, err := f.svc.Send(ctx, jobs[len(jobs)-1]); err != nil || out != reminder.OutcomeSent {
			t.Fatalf("due-day send = %s, %v", out, err)
		}
		if m := f.mail.sent[len(f.mail.sent)-1]; m.Subject != "Vence hoy: Pague su cuota del impuesto predial" {
			t.Errorf("due-day subject %q", m.Subject)
		}
		_ = tax
	})
}

func TestCatchUpAfterDowntimeCollapsesAndCaps(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{BatchSize: 7, MaxPerSweep: 20})
		due := reminder.Date{Year: 2027, Month: 6, Day: 1}
		for i := range 30 {
			o := vehicle(due)
			o.Source = fmt.Sprintf("document:reg-%d", i)
			f.set(t, o)
		}
		// Down from March to the day before the due date: for each
		// obligation the -60d, -30d and -7d reminders are all due; only the
		// -7d one may be sent. The cap stops the sweep at 20 claims.
		f.clock.Set(time.Date(2027, 5, 31, 10, 0, 0, 0, time.UTC))
		total := reminder.SweepStats{}
		for i := 0; ; i++ {
			st := f.sweep(t)
			if st.Claimed > 20 {
				t.Fatalf("a sweep claimed %d, over the cap", st.Claimed)
			}
			total.Claimed += st.Claimed
			total.Enqueued += st.Enqueued
			total.Collapsed += st.Collapsed
			if !st.Capped {
				break
			}
			if i > 10 {
				t.Fatal("sweeps never finished")
			}
		}
		if total.Claimed != 90 || total.Enqueued != 30 || total.Collapsed != 60 {
			t.Fatalf("catch-up: %+v", total)
		}
		for _, a := range sendJobs(t, db) {
			if a.Offset != -7*24*60 {
				t.Fatalf("sent an older reminder: %+v", a)
			}
			if _, err := f.svc.Send(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if len(f.mail.sent) != 30 {
			t.Fatalf("sent %d", len(f.mail.sent))
		}
	})
}

// TestConcurrentSweepsNeverSendTwice runs two schedulers, each with its own
// connection pool as two replicas would have, against one PostgreSQL
// database full of due reminders, and checks every reminder was enqueued
// exactly once.
func TestConcurrentSweepsNeverSendTwice(t *testing.T) {
	url := storagetest.MigratedURL(t, storage.Postgres) // skips without PostgreSQL
	ctx := context.Background()
	open := func() *storage.DB {
		db, err := storage.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db1, db2 := open(), open()
	if _, err := db1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f1 := newFixture(t, db1, reminder.Config{BatchSize: 25, MaxPerSweep: 1 << 20})
	f2 := newFixture(t, db2, reminder.Config{BatchSize: 25, MaxPerSweep: 1 << 20})
	const n = 1500
	if _, err := db1.Write().ExecContext(ctx, `
		INSERT INTO obligations (id, account_id, agency_id, kind, source, title_en, title_es, due_on, schedule, status, created_at, updated_at)
		SELECT 'o' || g, 'ana', '', 'renewal', 's' || g, 'T', 'T', '2027-03-01', '[0]', 'open', $1, $1 FROM generate_series(1, $2) g`, start, n); err != nil {
		t.Fatal(err)
	}
	if _, err := db1.Write().ExecContext(ctx, `
		INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at)
		SELECT 'o' || g, 0, $1::timestamptz + g * interval '1 millisecond' FROM generate_series(1, $2) g`, start.Add(-time.Hour), n); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stats := make([]reminder.SweepStats, 4)
	errs := make([]error, 4)
	for i := range 4 {
		f := f1
		if i%2 == 1 {
			f = f2
		}
		wg.Go(func() { stats[i], errs[i] = f.svc.Sweep(ctx) })
	}
	wg.Wait()
	claimed := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		claimed += stats[i].Claimed
	}
	got := sendJobs(t, db1)
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a.ObligationID] {
			t.Fatalf("reminder of %s enqueued twice", a.ObligationID)
		}
		seen[a.ObligationID] = true
	}
	if claimed != n || len(got) != n {
		t.Fatalf("claimed %d, enqueued %d, want %d (stats %+v)", claimed, len(got), n, stats)
	}
	t.Logf("sweeps claimed %d/%d/%d/%d", stats[0].Claimed, stats[1].Claimed, stats[2].Claimed, stats[3].Claimed)
}

func TestSendSkipsClosedAndUnreachable(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{})
		o := vehicle(reminder.Date{Year: 2027, Month: 3, Day: 2})
		f.set(t, o)
		ghost := o
		ghost.AccountID, ghost.Source = "ghost", "document:ghost"
		f.set(t, ghost)
		f.sweep(t)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return f.svc.Cancel(ctx, tx, "ana", o.Source) }); err != nil {
			t.Fatal(err)
		}
		for _, a := range sendJobs(t, db) {
			if out, err := f.svc.Send(ctx, a); err != nil || out != reminder.OutcomeSkipped {
				t.Fatalf("Send = %s, %v", out, err)
			}
		}
		if len(f.mail.sent) != 0 {
			t.Fatalf("sent %+v", f.mail.sent)
		}
	})
}

func TestFromManifest(t *testing.T) {
	m := &manifest.Manifest{ID: "vehicle-registration", Version: 1, Agency: "dmv",
		Documents: map[string]manifest.Document{"registration": {ValidFor: "52w"}},
		Reminders: map[string]manifest.Reminder{
			"renew":  {Message: manifest.Text{EN: "Renew your registration", ES: "Renueve su registro"}, Before: "30d", Document: "registration"},
			"upload": {Message: manifest.Text{EN: "Upload your proof of insurance", ES: "Suba su comprobante de seguro"}, After: "10d"},
		}}
	issued := time.Date(2027, 1, 15, 14, 0, 0, 0, time.UTC)
	o, err := reminder.FromManifest(m, "renew", issued, issued)
	if err != nil {
		t.Fatal(err)
	}
	if o.Due.String() != "2028-01-14" || len(o.Schedule) != 1 || o.Schedule[0] != -30*reminder.Day || o.Kind != reminder.KindRenewal ||
		o.AgencyID != "dmv" || o.Title.ES != "Renueve su registro" {
		t.Fatalf("renew = %+v", o)
	}
	o, err = reminder.FromManifest(m, "upload", time.Time{}, issued)
	if err != nil {
		t.Fatal(err)
	}
	if o.Due.String() != "2027-01-25" || len(o.Schedule) != 1 || o.Schedule[0] != 0 {
		t.Fatalf("upload = %+v", o)
	}
	if _, err := reminder.FromManifest(m, "renew", time.Time{}, issued); err == nil {
		t.Fatal("a before-reminder without an issue time was accepted")
	}
	if _, err := reminder.FromManifest(m, "nope", issued, issued); err == nil {
		t.Fatal("an unknown reminder was accepted")
	}
}

func TestAuditedFeedTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := platform.NewFakeClock(start)
		signer, err := audit.LoadOrCreateSigner(t.TempDir() + "/audit.key")
		if err != nil {
			t.Fatal(err)
		}
		ins, err := jobs.NewInserter(db, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := reminder.New(db, audit.New(db, clock, signer), clock, ins, jobs.NewRegistry(), directory{}, &mailer{}, reminder.Config{})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := svc.CreateFeed(ctx, citizen("ana"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := reminder.ParseFeedFile(tok + ".ics"); !ok {
			t.Fatalf("made a token ParseFeedFile rejects: %q", tok)
		}
		if id, err := svc.FeedAccount(ctx, tok); err != nil || id != "ana" {
			t.Fatalf("FeedAccount = %q, %v", id, err)
		}
		tok2, err := svc.CreateFeed(ctx, citizen("ana"))
		if err != nil || tok2 == tok {
			t.Fatalf("regenerate: %q, %v", tok2, err)
		}
		if _, err := svc.FeedAccount(ctx, tok); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("the replaced token still works: %v", err)
		}
		if err := svc.RevokeFeed(ctx, citizen("ana")); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.FeedAccount(ctx, tok2); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("the revoked token still works: %v", err)
		}
		if at, err := svc.FeedCreated(ctx, citizen("ana")); err != nil || !at.IsZero() {
			t.Fatalf("FeedCreated after revoke = %v, %v", at, err)
		}
		var n int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action LIKE 'calendar.feed.%'`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("audit entries = %d, %v", n, err)
		}
	})
}

// citizen is the signed-in citizen with account id.
func citizen(id string) platform.Actor {
	return platform.Actor{Kind: platform.ActorCitizen, ID: id}
}

// testAudit is a real audit log with a throwaway signing key.
func testAudit(t testing.TB, db *storage.DB, clock platform.Clock) *audit.Log {
	t.Helper()
	signer, err := audit.LoadOrCreateSigner(t.TempDir() + "/audit.key")
	if err != nil {
		t.Fatal(err)
	}
	return audit.New(db, clock, signer)
}
