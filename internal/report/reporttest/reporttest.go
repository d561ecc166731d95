// Package reporttest builds the report block over a test database with the
// demo's report-a-problem services, a fake clock, an in-memory photo
// bucket and a mailer that keeps what it is given.
package reporttest

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/memblob" // mem:// buckets

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/storage"
)

// PublicURL is the site's address in tests.
const PublicURL = "https://portico.example.gov"

// Start is the fake clock's first instant.
var Start = time.Date(2026, 12, 4, 15, 4, 5, 0, time.UTC)

// Mailer keeps the messages of committed transactions (and of rolled back
// ones: tests check what a successful call sent).
type Mailer struct {
	mu   sync.Mutex
	Sent []report.Message
}

// SendEmail implements report.Mailer.
func (m *Mailer) SendEmail(_ context.Context, _ *sql.Tx, msg report.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Sent = append(m.Sent, msg)
	return nil
}

// Messages returns a copy of what was sent.
func (m *Mailer) Messages() []report.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]report.Message(nil), m.Sent...)
}

type agencies struct{}

func (agencies) AgencyPlace(_ context.Context, id string) (string, string, string, error) {
	for _, a := range demo.Agencies {
		if a.ID == id {
			return a.JurisdictionID, a.Name, a.NameES, nil
		}
	}
	return "", "", "", platform.Errorf(platform.CodeNotFound, "agency %q does not exist", id)
}

// Env is the block under test.
type Env struct {
	DB     *storage.DB
	Svc    *report.Service
	Clock  *platform.FakeClock
	Mail   *Mailer
	Bucket *blob.Bucket
	Audit  *audit.Log
}

// New builds the block over db with the demo's services defined.
func New(t testing.TB, db *storage.DB) *Env {
	t.Helper()
	ctx := context.Background()
	clock := platform.NewFakeClock(Start)
	bucket, err := blob.OpenBucket(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	e := &Env{DB: db, Clock: clock, Mail: &Mailer{}, Bucket: bucket, Audit: audit.New(db, clock, nil)}
	e.Svc, err = report.New(report.Config{DB: db, Audit: e.Audit, Bus: events.NewBus(clock), Clock: clock, Mailer: e.Mail, Photos: bucket,
		Agencies: agencies{}, PublicURL: func() string { return PublicURL },
		Zone: func(context.Context) *time.Location { loc, _ := time.LoadLocation("America/Chicago"); return loc }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedReportServices(ctx, e.Svc); err != nil {
		t.Fatal(err)
	}
	return e
}
