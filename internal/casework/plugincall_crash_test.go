package casework_test

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

const flowCrashDBEnv = "PORTICO_FLOW_CRASH_DB"

// TestPluginCallCrashChild is the child of TestPluginCallSurvivesCrash: it
// submits a case whose initial state calls a plug-in, so the step and its
// job commit, then dies by SIGKILL before any worker runs. It does
// nothing in a normal run.
func TestPluginCallCrashChild(t *testing.T) {
	u := os.Getenv(flowCrashDBEnv)
	if u == "" {
		t.Skip("crash helper: runs only as a child of TestPluginCallSurvivesCrash")
	}
	db, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	f := newFlowEnv(t, db)
	f.reset(t, gateway.Config{}, nil)
	f.submit("00000000-0000-4000-8000-00000000c0de", "EX7MB904", "car")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestPluginCallSurvivesCrash: a process killed after the step that calls
// a plug-in committed, before the call was made; restarted on the same
// database, the call is made and its decision taken, once.
func TestPluginCallSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts a child process")
	}
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			u := storagetest.NewURL(t, d)
			db, err := storage.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			db.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestPluginCallCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), flowCrashDBEnv+"="+u)
			out, err := cmd.CombinedOutput()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
			}
			db, err = storage.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			f := newFlowEnv(t, db) // the restarted process: the plug-in at a new loopback address
			f.reset(t, gateway.Config{}, nil)
			if n := f.count(`SELECT COUNT(*) FROM case_plugin_calls WHERE status = 'pending'`); n != 1 {
				t.Fatalf("%d pending calls after the crash, want 1", n)
			}
			f.work()
			c := f.caseOf("00000000-0000-4000-8000-00000000c0de")
			if c.State != "needs_review" || len(f.requests()) != 1 {
				t.Fatalf("after restart: state %q, %d requests (timeline %v)", c.State, len(f.requests()), f.outcomes(c.ID))
			}
		})
	}
}
