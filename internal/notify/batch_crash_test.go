package notify_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The batch kill test (ADR 71's crash window): a child copy of this test
// binary works batch delivery jobs, one at a time, against an SMTP server
// in the parent that accepts the first messages and then holds the next
// ones unanswered. With a batch's emails partly accepted and its outcomes
// not yet recorded, the parent kills the child with SIGKILL, then restarts
// the queue itself on the same database and checks: every email is
// delivered and recorded; only emails of the interrupted batch reached
// the server twice, each with its one Message-ID; and the interrupted
// batch's emails stayed "sending" across the crash until its job was
// rescued.
const (
	batchCrashDBEnv   = "PORTICO_NOTIFY_BATCH_CRASH_DB"
	batchCrashSMTPEnv = "PORTICO_NOTIFY_BATCH_CRASH_SMTP"
)

const (
	crashBatchSize = 30 // emails per batch job (Config.EmailBatch)
	crashBatches   = 3
	crashAccepted  = crashBatchSize + crashBatchSize/2 // the first batch and half the second, then held
)

// TestBatchCrashChild is the child's body; it does nothing in a normal run.
func TestBatchCrashChild(t *testing.T) {
	u := os.Getenv(batchCrashDBEnv)
	if u == "" {
		t.Skip("crash helper: runs only as a child of TestBatchDeliverySurvivesKill")
	}
	db, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: os.Getenv(batchCrashSMTPEnv), EmailBatch: crashBatchSize},
		jobs.Config{MaxAttempts: 3, Workers: 1})
	if err := h.client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Minute) // killed long before
}

func TestBatchDeliverySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts a child process")
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
			srv := startTestServer(t)
			held := srv.HoldAfter(crashAccepted)
			t.Cleanup(srv.Release)

			// The batches, stored as a reminder send job stores them.
			h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: srv.URL(), EmailBatch: crashBatchSize}, jobs.Config{MaxAttempts: 3})
			var es []notify.Email
			for i := range crashBatchSize * crashBatches {
				es = append(es, notify.Email{To: fmt.Sprintf("person%d@example.com", i), Subject: "Renew", Text: fmt.Sprintf("Renew, person %d", i)})
			}
			ids := h.sendBatch(t, es)
			batches, _ := h.batchJobs(t)
			if len(batches) != crashBatches {
				t.Fatalf("%d batch jobs, want %d", len(batches), crashBatches)
			}
			batchOf := map[string]int{}
			for b, bids := range batches {
				for _, id := range bids {
					batchOf[id] = b
				}
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestBatchCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), batchCrashDBEnv+"="+u, batchCrashSMTPEnv+"="+srv.URL())
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-held:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the child never reached the held message; %d accepted:\n%s", len(srv.Received()), out.String())
			}
			// Mid-batch: some of its emails accepted, the rest waiting for
			// an answer, no outcome of the batch recorded.
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed: %v\n%s", cmd.ProcessState, out.String())
			}
			srv.Release()

			first := map[string]bool{} // accepted before the kill
			for _, r := range srv.Received() {
				first[strings.Trim(r.Msg.Header.Get("Message-ID"), "<>")] = true
			}
			if len(first) != crashAccepted {
				t.Fatalf("%d emails accepted before the kill, want %d", len(first), crashAccepted)
			}
			interrupted := -1
			sendingBefore := 0
			for _, id := range ids {
				n := h.get(t, id)
				if first[h.svc.MessageID(id)] && n.Status == notify.StatusSending {
					interrupted = batchOf[id]
				}
				if n.Status == notify.StatusSending {
					sendingBefore++
				}
			}
			if interrupted < 0 {
				t.Fatal("no accepted email is still marked sending: the kill did not interrupt a batch")
			}
			// The whole interrupted batch is "sending" across the crash,
			// its accepted and its unanswered emails alike.
			if sendingBefore != crashBatchSize {
				t.Errorf("%d emails marked sending after the crash, want the interrupted batch's %d", sendingBefore, crashBatchSize)
			}

			// The restart: a queue on the same database rescues the job
			// the dead process left running (once the dead process's
			// leadership has expired: River's rescuer runs on the leader).
			r := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: srv.URL(), EmailBatch: crashBatchSize},
				jobs.Config{MaxAttempts: 3, Workers: 1, JobTimeout: 5 * time.Second, RescueStuckJobsAfter: 6 * time.Second})
			r.start(t)
			deadline := time.Now().Add(2 * time.Minute)
			for {
				var left int
				if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE channel = 'email' AND status <> $1`, notify.StatusDelivered).Scan(&left); err != nil {
					t.Fatal(err)
				}
				if left == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d emails not delivered after the restart", left)
				}
				time.Sleep(100 * time.Millisecond)
			}

			dups := 0
			for _, id := range ids {
				n, mid := r.get(t, id), r.svc.MessageID(id)
				got := srv.CountMessageID(mid)
				switch {
				case got == 0:
					t.Errorf("email %s (batch %d) never reached the server", id, batchOf[id])
				case got == 2 && batchOf[id] == interrupted && first[mid]:
					dups++ // the crash window: accepted, not recorded, resent with its Message-ID
				case got != 1:
					t.Errorf("email %s (batch %d, interrupted %d, accepted before the kill %v) reached the server %d times",
						id, batchOf[id], interrupted, first[mid], got)
				}
				if n.Status != notify.StatusDelivered {
					t.Errorf("email %s is %s, want delivered", id, n.Status)
				}
			}
			want := 0 // the interrupted batch's emails accepted before the kill
			for _, id := range ids {
				if batchOf[id] == interrupted && first[h.svc.MessageID(id)] {
					want++
				}
			}
			if dups != want {
				t.Errorf("%d emails sent twice, want the %d of the interrupted batch accepted before the kill", dups, want)
			}
			if total := len(srv.Received()); total != len(ids)+dups {
				t.Errorf("the server accepted %d messages for %d emails and %d duplicates", total, len(ids), dups)
			}
			t.Logf("%d emails in %d batches; killed in batch %d with %d of its emails accepted; %d resent after the restart, each with its Message-ID",
				len(ids), crashBatches, interrupted, dups, dups)
		})
	}
}
