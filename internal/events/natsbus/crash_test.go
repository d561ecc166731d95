package natsbus_test

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

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/events/natsbus"
	"github.com/portico-gov/portico/internal/events/natsbus/natstest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The kill tests run a child copy of this test binary that commits an
// event and dies by SIGKILL at a dangerous moment; the parent, which runs
// the NATS server, then restarts Portico on the same database and stream.
const (
	crashModeEnv     = "PORTICO_NATS_CRASH_MODE"
	crashDBEnv       = "PORTICO_NATS_CRASH_DB"
	crashNATSEnv     = "PORTICO_NATS_CRASH_URL"
	crashStreamEnv   = "PORTICO_NATS_CRASH_STREAM"
	crashSubjectsEnv = "PORTICO_NATS_CRASH_SUBJECTS"
)

func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func crashEvent(subject string) events.Event {
	return events.Event{Source: "/portico/test", Type: "gov.portico.test.crashed", Subject: subject, AgencyID: "dmv"}
}

// TestNATSCrashChild is the child's body; it does nothing in a normal run.
func TestNATSCrashChild(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("crash helper: runs only as a child of TestPublishSurvivesKill")
	}
	db, err := storage.Open(context.Background(), os.Getenv(crashDBEnv))
	if err != nil {
		t.Fatal(err)
	}
	cfg := natsbus.Config{URL: os.Getenv(crashNATSEnv), Stream: os.Getenv(crashStreamEnv), Subjects: os.Getenv(crashSubjectsEnv)}
	switch mode {
	case "before-commit":
		// Die inside the producing transaction: it never commits.
		r := openRig(t, db, cfg, false, nil)
		_ = db.InTx(context.Background(), func(tx *sql.Tx) error {
			if err := r.bus.Emit(context.Background(), tx, crashEvent(mode)); err != nil {
				return err
			}
			die()
			return nil
		})
	case "after-commit":
		// Commit the event, then die before the consumer publishes it.
		r := openRig(t, db, cfg, false, nil)
		r.emit(t, false, crashEvent(mode))
		die()
	case "after-publish":
		// Die once JetStream acknowledged the event, before the cursor
		// moved past it.
		r := openRig(t, db, cfg, false, func(h events.Handler) events.Handler {
			return func(ctx context.Context, e events.Event) error {
				if err := h(ctx, e); err != nil {
					return err
				}
				die()
				return nil
			}
		})
		r.emit(t, false, crashEvent(mode))
		r.start(t)
		time.Sleep(30 * time.Second)
		t.Fatal("child was not killed after publishing")
	}
}

func TestPublishSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test starts child processes")
	}
	srv := natstest.Start(t)
	for _, d := range storagetest.Dialects(t) {
		for _, tc := range []struct {
			mode string
			// published: the event reaches the stream (once);
			// duplicates: the restarted process publishes it again and
			// the stream drops it.
			published  bool
			duplicates float64
		}{
			{"before-commit", false, 0},
			{"after-commit", true, 0},
			{"after-publish", true, 1},
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
				cfg := natsbus.Config{URL: srv.URL(), Stream: natstest.Unique("PORTICO_KILL_"), Subjects: natstest.Unique("portico-kill-") + ".events",
					ReconnectWait: 100 * time.Millisecond}

				cmd := exec.Command(os.Args[0], "-test.run=^TestNATSCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashModeEnv+"="+tc.mode, crashDBEnv+"="+u, crashNATSEnv+"="+cfg.URL,
					crashStreamEnv+"="+cfg.Stream, crashSubjectsEnv+"="+cfg.Subjects)
				out, err := cmd.CombinedOutput()
				ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
				}

				// Restart on the same database and stream, then commit a
				// marker: once it is published, everything before it is.
				r := openRig(t, db, cfg, true, nil)
				r.start(t)
				r.emit(t, false, crashEvent("marker"))
				waitFor(t, "the marker published", func() bool {
					msgs := r.messages(t)
					if len(msgs) == 0 {
						return false
					}
					var ce cloudEvent
					return json.Unmarshal(msgs[len(msgs)-1].Data, &ce) == nil && ce.Subject == "marker"
				})
				var subjects []string
				for _, m := range r.messages(t) {
					var ce cloudEvent
					if err := json.Unmarshal(m.Data, &ce); err != nil {
						t.Fatal(err)
					}
					subjects = append(subjects, ce.Subject)
				}
				want := []string{"marker"}
				if tc.published {
					want = []string{tc.mode, "marker"}
				}
				if fmt.Sprint(subjects) != fmt.Sprint(want) {
					t.Errorf("stream holds %v, want %v (each committed event exactly once)", subjects, want)
				}
				if got := metric(t, r.pub, "portico_bus_duplicates_total"); got != tc.duplicates {
					t.Errorf("duplicates dropped after restart = %v, want %v", got, tc.duplicates)
				}
				waitFor(t, "the cursor at the head", func() bool { return r.cursor(t).Position == int64(len(want)) })
			})
		}
	}
}
