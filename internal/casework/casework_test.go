package casework_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

func TestFormatReference(t *testing.T) {
	for _, c := range []struct {
		agency string
		year   int
		n      int64
		want   string
	}{
		{"dmv", 2026, 123, "DMV-2026-000123"},
		{"adams-clerk", 2027, 1, "ADAMS-CLERK-2027-000001"},
		{"dmv", 2026, 1234567, "DMV-2026-1234567"},
	} {
		if got := casework.FormatReference(c.agency, c.year, c.n); got != c.want {
			t.Errorf("FormatReference(%q, %d, %d) = %q, want %q", c.agency, c.year, c.n, got, c.want)
		}
	}
}

// TestOpen opens cases for submitted applications and checks references
// count per agency and restart each year, and the SLA comes from the
// initial state.
func TestOpen(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
		log := audit.New(db, clock, nil)
		ten, err := tenancy.New(db, log, clock)
		if err != nil {
			t.Fatal(err)
		}
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
		if _, err := demo.Seed(ctx, ten); err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.New(db, log, clock, ten)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := demo.SeedExamples(ctx, cat); err != nil {
			t.Fatal(err)
		}
		bus := events.NewBus(clock)
		cw, err := casework.New(db, log, bus, clock, casework.Deps{Runtimes: cat, Citizens: citizens{}})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := cat.Latest(ctx, "vehicle-registration-renewal")
		if err != nil {
			t.Fatal(err)
		}
		open := func(id string) casework.Case {
			t.Helper()
			var c casework.Case
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				now := clock.Now()
				if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
					VALUES ($1, $2, $3, $4, 'acct-1', 'submitted', '{"vehicle":{"type":"car","plate":"ABC123"}}', $5, $5)`, id, svc.ID, svc.Version, svc.AgencyID, now); err != nil {
					return err
				}
				var err error
				c, err = cw.Open(ctx, tx, casework.Opening{ApplicationID: id, AccountID: "acct-1", AgencyID: svc.AgencyID, ServiceID: svc.ID, Version: svc.Version,
					Fee: submittedFee(t, cat, svc, map[string]map[string]any{"vehicle": {"type": "car", "plate": "ABC123"}}, now)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		want := []string{"DMV-2026-000001", "DMV-2026-000002"}
		for i, id := range []string{"a1", "a2"} {
			if c := open(id); c.Reference != want[i] {
				t.Fatalf("reference %d = %q, want %q", i, c.Reference, want[i])
			}
		}
		clock.Advance(2 * time.Hour) // 2027
		c := open("a3")
		if c.Reference != "DMV-2027-000001" {
			t.Fatalf("new year reference = %q", c.Reference)
		}
		got, err := cw.Case(ctx, "a3")
		if err != nil {
			t.Fatal(err)
		}
		initial := svc.Manifest.Workflow.States[svc.Manifest.Workflow.Initial]
		if got.State != svc.Manifest.Workflow.Initial || got.WaitingOn != casework.WaitingOnAgency || (initial.SLA != "") != (got.SLADueAt != nil) {
			t.Fatalf("case = %+v", got)
		}
		mine, err := cw.ForAccount(ctx, "acct-1")
		if err != nil || len(mine) != 3 || mine[0].ID != "a3" {
			t.Fatalf("ForAccount = %+v, %v", mine, err)
		}
		if _, err := cw.Case(ctx, "nope"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("missing case: %v", err)
		}
	})
}
