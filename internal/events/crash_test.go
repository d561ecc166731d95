package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The crash tests run a child copy of this test binary that changes state
// with its event and then dies by SIGKILL at a dangerous moment. The parent
// then "restarts" Portico on the same database and checks what the log and
// the consumer did.
const (
	crashModeEnv = "PORTICO_CRASH_MODE"
	crashDBEnv   = "PORTICO_CRASH_DB"
)

const eventType = "gov.portico.test.jurisdiction.created"

// rig is a minimal Portico: a bus with one consumer whose effect is to open
// an agency for each new jurisdiction, exactly once, and a dispatcher.
type rig struct {
	db    *storage.DB
	bus   *events.Bus
	disp  *events.Dispatcher
	calls atomic.Int32 // handler calls in this process
}

func newRig(t testing.TB, dbURL string, afterEffect func()) *rig {
	ctx := context.Background()
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db}
	clock := platform.SystemClock{}
	r.bus = events.NewBus(clock)
	r.bus.Subscribe(events.Consumer{
		Name:  "test.open-agency",
		Types: []string{eventType},
		Handle: func(ctx context.Context, e events.Event) error {
			r.calls.Add(1)
			err := events.Once(ctx, db, "test.open-agency", e.ID, clock.Now(), func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO agencies (id, jurisdiction_id, name, created_at) VALUES ($1, $2, $3, $4)`,
					e.Subject+"-office", e.Subject, "Office", clock.Now())
				return err
			})
			if err == nil && afterEffect != nil {
				afterEffect()
			}
			return err
		},
	})
	// A short lease: the restarted process takes over a dead one's
	// consumer once it lapses.
	r.disp, err = events.NewDispatcher(db, r.bus, events.DispatchConfig{Poll: 50 * time.Millisecond, Lease: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// createJurisdiction commits a jurisdiction and its event; with beforeCommit
// it runs that just before committing.
func (r *rig) createJurisdiction(t testing.TB, id string, beforeCommit func()) {
	ctx := context.Background()
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, 'state', $2, $3)`, id, "State "+id, time.Now().UTC()); err != nil {
			return err
		}
		if err := r.bus.Emit(ctx, tx, events.Event{Source: "/portico/test", Type: eventType, Subject: id}); err != nil {
			return err
		}
		if beforeCommit != nil {
			beforeCommit()
		}
		return nil
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
	case "before-commit":
		// Die inside the producing transaction: it never commits.
		r := newRig(t, os.Getenv(crashDBEnv), nil)
		r.createJurisdiction(t, mode, die)
	case "after-commit":
		// Commit the change and its event, then die before any worker runs.
		r := newRig(t, os.Getenv(crashDBEnv), nil)
		r.createJurisdiction(t, mode, nil)
		die()
	case "after-handler":
		// Die after the consumer's handler succeeded (its effect
		// committed) but before the dispatcher moved the cursor.
		r := newRig(t, os.Getenv(crashDBEnv), die)
		r.createJurisdiction(t, mode, nil)
		if err := r.disp.Start(context.Background()); err != nil {
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
		for _, tc := range []struct {
			mode string
			// delivered: the event must reach the consumer after restart;
			// again: the restarted process must call the handler for it
			// although its effect already happened.
			delivered, again bool
		}{
			{"before-commit", false, false},
			{"after-commit", true, false},
			{"after-handler", true, true},
		} {
			t.Run(fmt.Sprintf("%s/%s", d, tc.mode), func(t *testing.T) {
				t.Parallel()
				u := storagetest.MigratedURL(t, d)
				db, err := storage.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				db.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashModeEnv+"="+tc.mode, crashDBEnv+"="+u)
				out, err := cmd.CombinedOutput()
				ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
				}

				// Restart on the same database, and append a marker after
				// the crash: once the marker is handled, everything before
				// it has been too.
				r := newRig(t, u, nil)
				defer r.db.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := r.disp.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer r.disp.Stop(context.Background())
				r.createJurisdiction(t, "marker", nil)

				count := func(q string, args ...any) int {
					var n int
					if err := r.db.Read().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				}
				wantEffect, wantEvents := 0, 1
				if tc.delivered {
					wantEffect, wantEvents = 1, 2
				}
				for count(`SELECT COUNT(*) FROM event_consumers WHERE position = $1`, wantEvents) == 0 {
					select {
					case <-ctx.Done():
						t.Fatal("the consumer did not reach the marker event after restart")
					case <-time.After(50 * time.Millisecond):
					}
				}
				if n := count(`SELECT COUNT(*) FROM agencies WHERE id = 'marker-office'`); n != 1 {
					t.Errorf("marker effect happened %d times, want 1", n)
				}
				if n := count(`SELECT COUNT(*) FROM agencies WHERE id = $1`, tc.mode+"-office"); n != wantEffect {
					t.Errorf("effect happened %d times, want %d", n, wantEffect)
				}
				if n := count(`SELECT COUNT(*) FROM event_log`); n != wantEvents {
					t.Errorf("log has %d events, want %d", n, wantEvents)
				}
				if n := count(`SELECT COUNT(*) FROM jurisdictions WHERE id = $1`, tc.mode); n != wantEffect {
					t.Errorf("the state change exists %d times, want %d (it commits with its event or not at all)", n, wantEffect)
				}
				// The marker plus, when the crash left the event's cursor
				// unmoved, the crashed event once more.
				wantCalls := int32(1)
				if tc.mode == "after-commit" || tc.again {
					wantCalls = 2
				}
				if n := r.calls.Load(); n != wantCalls {
					t.Errorf("handler called %d times after restart, want %d", n, wantCalls)
				}
				cs, err := events.Consumers(ctx, r.db)
				if err != nil {
					t.Fatal(err)
				}
				if len(cs) != 1 || cs[0].Position != int64(wantEvents) {
					t.Errorf("consumers = %+v, want the cursor at %d", cs, wantEvents)
				}
			})
		}
	}
}
