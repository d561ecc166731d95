package casework_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
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
	// The parent set the database up (gatewaytest publishes its renewal
	// once per database, so the child does not build a gatewaytest env):
	// the child only opens a case of the flow service, which records the
	// call and commits its job; no call is made before it dies.
	clock := platform.NewFakeClock(time.Now().UTC())
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
	svc, err := cat.Service(ctx, "vehicle-registration-renewal", flowVersion)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cw, err := casework.New(db, log, events.NewBus(clock), clock, casework.Deps{Runtimes: cat, Citizens: citizens{manifest.Person{Age: 40, Language: "en"}},
		Mailer: &mailer{}, People: people{}, Plugins: noCalls{t}, Jobs: ins})
	if err != nil {
		t.Fatal(err)
	}
	f := &flowEnv{env: &env{t: t, db: db, clock: clock, cat: cat, cw: cw, mailer: &mailer{}, ctx: ctx}, svc: svc}
	f.submit("00000000-0000-4000-8000-00000000c0de", "EX7MB904", "car")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// noCalls is the child's plug-in caller: it dies before any call.
type noCalls struct{ t *testing.T }

func (n noCalls) CallPlugin(context.Context, platform.Actor, casework.PluginCall) (casework.PluginReply, error) {
	n.t.Error("the child called a plug-in")
	return casework.PluginReply{}, errors.New("no calls in the crash child")
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
			u := storagetest.MigratedURL(t, d)
			db, err := storage.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The gateway, plug-in registry and flow service, set up once
			// on the database (gatewaytest publishes its renewal once).
			f := newFlowEnv(t, db)
			cmd := exec.Command(os.Args[0], "-test.run=^TestPluginCallCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), flowCrashDBEnv+"="+u)
			out, err := cmd.CombinedOutput()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL (err %v):\n%s", err, out)
			}
			f.reset(t, gateway.Config{}, nil) // the restarted process: a new casework block, plug-in and job client
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
