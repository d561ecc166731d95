package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The Submit kill test runs a child copy of this test binary that sends
// from many goroutines at once through Submit (the group commit) and
// prints each acknowledged send; the parent kills it with SIGKILL in the
// middle of the load and checks the database: every acknowledged send is
// stored exactly once with its delivery job, and no send is stored twice.
const (
	submitDBEnv       = "PORTICO_NOTIFY_SUBMIT_CRASH_DB"
	submitTemplateEnv = "PORTICO_NOTIFY_SUBMIT_CRASH_TEMPLATE"
)

// TestSubmitCrashChild is the child's body; it does nothing in a normal run.
func TestSubmitCrashChild(t *testing.T) {
	u := os.Getenv(submitDBEnv)
	if u == "" {
		t.Skip("crash helper: runs only as a child of TestSubmitSurvivesKill")
	}
	db, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, db, platform.SystemClock{}, "", 3)
	tid := os.Getenv(submitTemplateEnv)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ref := fmt.Sprintf("g%d-%d", g, i)
				n, err := h.svc.Submit(context.Background(), notify.Message{TemplateID: tid, Channel: notify.ChannelEmail,
					To: "ana@example.com", Reference: ref, Personalisation: notify.Personalisation{"name": "Ana"}})
				if err != nil {
					mu.Lock()
					fmt.Fprintf(os.Stdout, "ERR %s %v\n", ref, err)
					mu.Unlock()
					continue
				}
				// One write per line, straight to the pipe: what the
				// parent reads was acknowledged before the kill.
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ACK %s %s\n", ref, n.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestSubmitSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			u := storagetest.MigratedURL(t, d)
			db, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			h := newHarness(t, db, platform.SystemClock{}, "", 3)
			tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal",
				Subject: "Renew, ((name))", Body: "Dear ((name)), renew at https://example.gov/renew."})

			cmd := exec.Command(os.Args[0], "-test.run=^TestSubmitCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), submitDBEnv+"="+u, submitTemplateEnv+"="+tpl.ID)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := map[string]string{} // reference → id
			var failures []string
			const killAfter = 400
			killed := false
			deadline := time.AfterFunc(3*time.Minute, func() { _ = cmd.Process.Kill() })
			defer deadline.Stop()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) == 3 && f[0] == "ACK":
					if _, dup := acked[f[1]]; dup {
						t.Errorf("reference %s acknowledged twice", f[1])
					}
					acked[f[1]] = f[2]
				case len(f) > 0 && f[0] == "ERR":
					failures = append(failures, sc.Text())
				}
				if !killed && len(acked) >= killAfter {
					// Mid-load: 16 sends are in flight, some in a
					// transaction being committed.
					_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
					killed = true
				}
			}
			err = cmd.Wait()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !killed || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed mid-load after %d acknowledgements (err %v):\n%s", len(acked), err, stderr.String())
			}
			if len(failures) > 0 {
				t.Errorf("%d sends failed before the kill, first: %s", len(failures), failures[0])
			}

			// On PostgreSQL a transaction whose COMMIT the child sent just
			// before the kill is committed by its server process after
			// the child is gone, while the checks below already read: a
			// send and its job read in two statements (two snapshots)
			// could then disagree ("406 delivery jobs for 405 stored
			// sends" once under load, the job counted after the late
			// commit, its send before). So wait until no other session
			// of this database is still working, and count sends and
			// jobs in one statement, one snapshot.
			if d == storage.Postgres {
				waitQuiet(t, db)
			}
			stored := map[string][]string{} // reference → ids
			rows, err := db.Read().QueryContext(ctx, `SELECT reference, id FROM notifications WHERE template_id = $1`, tpl.ID)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var ref, id string
				if err := rows.Scan(&ref, &id); err != nil {
					t.Fatal(err)
				}
				stored[ref] = append(stored[ref], id)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			for ref, id := range acked {
				if ids := stored[ref]; len(ids) != 1 || ids[0] != id {
					t.Errorf("acknowledged send %s (%s) is stored as %v", ref, id, ids)
				}
			}
			total := 0
			for ref, ids := range stored {
				total += len(ids)
				if len(ids) > 1 {
					t.Errorf("send %s stored %d times", ref, len(ids))
				}
			}
			// Every stored send has its delivery job: the outbox
			// committed with it.
			var jobsN, sendsN int
			if err := db.Read().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM river_job WHERE kind = $1),
				(SELECT COUNT(*) FROM notifications WHERE template_id = $2)`, notify.DeliverEmailArgs{}.Kind(), tpl.ID).Scan(&jobsN, &sendsN); err != nil {
				t.Fatal(err)
			}
			if jobsN != sendsN {
				t.Errorf("%d delivery jobs for %d stored sends", jobsN, sendsN)
			}
			if sendsN != total {
				t.Errorf("%d sends stored, %d read before: a transaction committed after the child's sessions ended", sendsN, total)
			}
			t.Logf("%d acknowledged, %d stored (in flight at the kill: %d)", len(acked), total, total-len(acked))
		})
	}
}

// waitQuiet waits until no other session on db's PostgreSQL database is
// running a statement (a killed client's server process finishes the
// COMMIT it was sent, then exits).
func waitQuiet(t *testing.T, db *storage.DB) {
	t.Helper()
	start := time.Now()
	for deadline := start.Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var busy int
		if err := db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle'`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			if waited := time.Since(start); waited > 20*time.Millisecond {
				t.Logf("waited %v for the killed child's sessions to finish", waited)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed child still working after 30 s", busy)
		}
	}
}
