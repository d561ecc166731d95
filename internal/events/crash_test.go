package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The crash tests run a child copy of this test binary that commits a state
// change with its event and then dies by SIGKILL at a dangerous moment. The
// parent then "restarts" Portico on the same database and proves the event
// is delivered, and its effect happens exactly once.
const (
	crashModeEnv = "PORTICO_CRASH_MODE"
	crashDBEnv   = "PORTICO_CRASH_DB"
)

const eventType = "gov.portico.test.jurisdiction.created"

// rig is a minimal Portico: a bus with one consumer whose effect is to open
// an agency for each new jurisdiction, exactly once.
type rig struct {
	db     *storage.DB
	bus    *events.Bus
	client *jobs.Client
}

func newRig(t testing.TB, dbURL string, onEffect func()) *rig {
	ctx := context.Background()
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	clock := platform.SystemClock{}
	bus := events.NewBus(reg, clock)
	bus.Subscribe(events.Consumer{
		Name:  "test.open-agency",
		Types: []string{eventType},
		Handle: func(ctx context.Context, e events.Event) error {
			err := events.Once(ctx, db, "test.open-agency", e.ID, clock.Now(), func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO agencies (id, jurisdiction_id, name, created_at) VALUES ($1, $2, $3, $4)`,
					e.Subject+"-office", e.Subject, "Office", clock.Now())
				return err
			})
			if err == nil && onEffect != nil {
				onEffect()
			}
			return err
		},
	})
	client, err := jobs.New(db, reg, jobs.Config{
		Work:                 true,
		FetchPollInterval:    100 * time.Millisecond,
		JobTimeout:           time.Second,
		RescueStuckJobsAfter: 2 * time.Second,
		RetryPolicy:          fastRetry{},
	})
	if err != nil {
		t.Fatal(err)
	}
	bus.SetJobs(client)
	return &rig{db: db, bus: bus, client: client}
}

type fastRetry struct{}

func (fastRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(100 * time.Millisecond)
}

func (r *rig) createJurisdiction(t testing.TB, id string) {
	ctx := context.Background()
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, 'state', $2, $3)`, id, "State "+id, time.Now().UTC()); err != nil {
			return err
		}
		return r.bus.Emit(ctx, tx, events.Event{Source: "/portico/test", Type: eventType, Subject: id})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestCrashChild is the body of the child process; it does nothing in a
// normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("crash helper: runs only as a child of TestDeliverySurvivesCrash")
	}
	switch mode {
	case "after-commit":
		// Commit the change and its event, then die before any worker runs.
		r := newRig(t, os.Getenv(crashDBEnv), nil)
		r.createJurisdiction(t, "after-commit")
		die()
	case "during-delivery":
		// Die after the consumer's effect committed but before River
		// records the job as completed: the delivery will be retried.
		r := newRig(t, os.Getenv(crashDBEnv), die)
		r.createJurisdiction(t, "during-delivery")
		if err := r.client.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		t.Fatal("child was not killed by its consumer")
	}
}

func TestDeliverySurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	for _, d := range storagetest.Dialects(t) {
		for _, mode := range []string{"after-commit", "during-delivery"} {
			t.Run(fmt.Sprintf("%s/%s", d, mode), func(t *testing.T) {
				// A restarted process waits for the dead one's leadership
				// to lapse before rescuing its jobs; run the waits together.
				t.Parallel()
				u := storagetest.NewURL(t, d)
				db, err := storage.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				db.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashModeEnv+"="+mode, crashDBEnv+"="+u)
				out, err := cmd.CombinedOutput()
				ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
				}

				// Restart on the same database.
				r := newRig(t, u, nil)
				defer r.db.Close()
				// River rescues an orphaned running job only once this
				// process is leader (the dead one's term lapses after 15s)
				// and its rescuer runs (every 30s): allow for both on a
				// loaded CI machine.
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
				defer cancel()
				if err := r.client.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer r.client.Stop(context.Background())

				want := mode + "-office"
				for {
					var agencies, completed int
					if err := r.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM agencies WHERE id = $1`, want).Scan(&agencies); err != nil {
						t.Fatal(err)
					}
					if err := r.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'event.deliver' AND state = 'completed'`).Scan(&completed); err != nil {
						t.Fatal(err)
					}
					if agencies > 1 {
						t.Fatalf("effect happened %d times", agencies)
					}
					if agencies == 1 && completed == 1 {
						return // delivered exactly once and acknowledged
					}
					select {
					case <-ctx.Done():
						t.Fatalf("event not delivered after restart: agencies=%d completed jobs=%d", agencies, completed)
					case <-time.After(100 * time.Millisecond):
					}
				}
			})
		}
	}
}
