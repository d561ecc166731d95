package webhook_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/webhook"
)

// The kill test runs a child copy of this test binary that commits a state
// change with its event and dies by SIGKILL at a dangerous moment; the
// parent restarts the block on the same database and checks what the
// plug-in's loopback receiver got.
const (
	crashModeEnv = "PORTICO_WEBHOOK_CRASH_MODE"
	crashDBEnv   = "PORTICO_WEBHOOK_CRASH_DB"
)

func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// commitChange commits a jurisdiction (the state change) and a case event
// for the DMV in one transaction, running beforeCommit just before commit.
func commitChange(t testing.TB, r *rig, mode string, beforeCommit func()) {
	ctx := context.Background()
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, 'state', $2, $3)`, "crash-"+mode, "State "+mode, time.Now().UTC()); err != nil {
			return err
		}
		if _, err := emitIn(ctx, tx, r.bus, typeTransitioned, "dmv", caseOf(mode)); err != nil {
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

func caseOf(mode string) string {
	return map[string]string{"before-commit": "0190a1b2-0000-7000-8000-0000000c0001", "after-commit": "0190a1b2-0000-7000-8000-0000000c0002",
		"after-fanout": "0190a1b2-0000-7000-8000-0000000c0003", "marker": "0190a1b2-0000-7000-8000-0000000c0004"}[mode]
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("crash helper: runs only as a child of TestWebhookSurvivesKill")
	}
	db, err := storage.Open(context.Background(), os.Getenv(crashDBEnv))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, db, nil, rigOpts{seeded: true, noStart: true})
	switch mode {
	case "before-commit":
		commitChange(t, r, mode, die)
	case "after-commit":
		commitChange(t, r, mode, nil)
		die()
	case "after-fanout":
		// The consumer records the delivery and its job; the process dies
		// before any worker sends it.
		commitChange(t, r, mode, nil)
		if err := r.disp.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		wait(t, "the fan-out", func() bool {
			return r.count(t, `SELECT COUNT(*) FROM webhook_deliveries`) > 0
		})
		die()
	}
	t.Fatal("child was not killed")
}

func TestWebhookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	for _, d := range storagetest.Dialects(t) {
		for _, tc := range []struct {
			mode      string
			delivered bool
		}{
			{"before-commit", false},
			{"after-commit", true},
			{"after-fanout", true},
		} {
			t.Run(fmt.Sprintf("%s/%s", d, tc.mode), func(t *testing.T) {
				u := storagetest.MigratedURL(t, d)
				db, err := storage.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				recv := newReceiver(t)
				// Seed the agencies and the plug-in (webhook on recv), start nothing.
				seed := newRig(t, db, recv, rigOpts{noStart: true})

				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashModeEnv+"="+tc.mode, crashDBEnv+"="+u)
				out, err := cmd.CombinedOutput()
				ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
				}
				if recv.count() != 0 {
					t.Fatalf("the plug-in got %d requests before the restart", recv.count())
				}

				// Restart, and commit a marker: once it is delivered, the
				// consumer has fanned out everything before it. The
				// deliveries themselves are jobs that run concurrently, so
				// an earlier event's may finish just after the marker's:
				// a committed event is waited for (bounded), not assumed.
				r := newRig(t, db, recv, rigOpts{seeded: true, maxAttempts: 3})
				r.secret = seed.secret
				marker := r.emit(t, typeTransitioned, "dmv", caseOf("marker"))
				r.waitStatus(t, marker, webhook.StatusDelivered)
				if tc.delivered {
					deadline := time.Now().Add(10 * time.Second)
					for time.Now().Before(deadline) && r.count(t, `SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'delivered'`) > 0 {
						time.Sleep(20 * time.Millisecond)
					}
				}

				subjects := map[string]int{}
				for _, g := range recv.since(0) {
					if err := verify(r.secret, g.Header, g.Body, time.Now(), time.Minute); err != nil {
						t.Errorf("signature: %v", err)
					}
					var ce struct{ Subject string }
					if err := json.Unmarshal(g.Body, &ce); err != nil {
						t.Fatal(err)
					}
					subjects[ce.Subject]++
				}
				got := subjects["case:"+caseOf(tc.mode)]
				if tc.delivered && got < 1 {
					t.Errorf("the committed event was not delivered after the restart (got %v)", subjects)
				}
				if !tc.delivered && got != 0 {
					t.Errorf("the rolled-back event was delivered %d times", got)
				}
				wantLog, wantChange := 1, 0
				if tc.delivered {
					wantLog, wantChange = 2, 1
				}
				if n := r.count(t, `SELECT COUNT(*) FROM event_log`); n != wantLog {
					t.Errorf("log has %d events, want %d", n, wantLog)
				}
				if n := r.count(t, `SELECT COUNT(*) FROM jurisdictions WHERE id = $1`, "crash-"+tc.mode); n != wantChange {
					t.Errorf("the state change exists %d times, want %d", n, wantChange)
				}
			})
		}
	}
}
