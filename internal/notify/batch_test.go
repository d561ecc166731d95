package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// sendBatch stores es through one Batch in one committed transaction and
// returns their ids.
func (h *harness) sendBatch(t *testing.T, es []notify.Email) []string {
	t.Helper()
	ids := make([]string, len(es))
	err := h.db.InTx(context.Background(), func(tx *sql.Tx) error {
		b := h.svc.Batch()
		for i, e := range es {
			var err error
			if ids[i], err = b.SendEmail(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return b.Flush(context.Background(), tx)
	})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	return ids
}

// batchJobs returns the batch delivery jobs: their notification ids and
// states.
func (h *harness) batchJobs(t *testing.T) ([][]string, []rivertype.JobState) {
	t.Helper()
	res, err := h.client.JobList(context.Background(), river.NewJobListParams().Kinds(notify.DeliverEmailBatchArgs{}.Kind()).First(10000))
	if err != nil {
		t.Fatal(err)
	}
	var ids [][]string
	var states []rivertype.JobState
	for _, j := range res.Jobs {
		var a notify.DeliverEmailBatchArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		ids, states = append(ids, a.NotificationIDs), append(states, j.State)
	}
	return ids, states
}

// TestBatchDeliveryOutcomes sends one batch holding every outcome the
// server can give (see testServer) and checks each email's own status,
// attempts and copies on the server, as TestDeliveryOutcomes does for
// single deliveries: a batch shares a job, never an outcome. The email
// that stays busy longer than the retries makes the batch job a dead
// letter once its attempts run out; the others were recorded before.
func TestBatchDeliveryOutcomes(t *testing.T) {
	const maxAttempts = 4
	tests := []struct {
		name      string
		email     notify.Email
		status    notify.Status
		attempts  int
		received  int
		lastError string
	}{
		{name: "accepted", email: notify.Email{To: "ada@example.com", Subject: "Hello", Text: "Hello Ada"},
			status: notify.StatusDelivered, attempts: 1, received: 1},
		{name: "accepted with HTML", email: notify.Email{To: "bob@example.com", Subject: "Hello", Text: "Hello Bob", HTML: "<p>Hello Bob</p>"},
			status: notify.StatusDelivered, attempts: 1, received: 1},
		{name: "recipient refused (550): permanent, not retried", email: notify.Email{To: "reject-rcpt@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusPermanentFailure, attempts: 1, lastError: "550"},
		{name: "content refused (554): permanent, not retried", email: notify.Email{To: "reject-data@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusPermanentFailure, attempts: 1, lastError: "554"},
		{name: "busy twice (451) then accepted", email: notify.Email{To: "busy-2@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusDelivered, attempts: 3, received: 1},
		{name: "busy longer than the retries: technical failure", email: notify.Email{To: "busy-99@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusTechnicalFailure, attempts: maxAttempts, lastError: "451"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), maxAttempts)
		es := make([]notify.Email, len(tests))
		for i, tt := range tests {
			es[i] = tt.email
		}
		ids := h.sendBatch(t, es)
		if got := h.jobStates(t); len(got) != 0 {
			t.Fatalf("single delivery jobs %v beside the batch", got)
		}
		h.start(t)
		eventually(t, "the batch job to be discarded", func() bool {
			_, st := h.batchJobs(t)
			return len(st) == 1 && st[0] == rivertype.JobStateDiscarded
		})
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n := h.waitFinal(t, ids[i])
				if n.Status != tt.status || n.Attempts != tt.attempts {
					t.Errorf("status %s after %d attempts, want %s after %d (last error %q)", n.Status, n.Attempts, tt.status, tt.attempts, n.LastError)
				}
				if !strings.Contains(n.LastError, tt.lastError) || (tt.lastError == "") != (n.LastError == "") {
					t.Errorf("last error %q, want one containing %q", n.LastError, tt.lastError)
				}
				if got := srv.CountMessageID(h.svc.MessageID(ids[i])); got != tt.received {
					t.Errorf("server accepted %d copies, want %d", got, tt.received)
				}
				if n.Status == notify.StatusDelivered && n.SentAt.IsZero() || n.CompletedAt.IsZero() {
					t.Errorf("times not recorded: sent %v completed %v", n.SentAt, n.CompletedAt)
				}
			})
		}
	})
}

// TestBatchSizesAndCritical: a batch larger than Config.EmailBatch is split
// into jobs of at most that many; a critical email keeps its own job (at
// the front of the queue); every email is delivered exactly once, also
// when a batch job runs again after it completed (River's rescue).
func TestBatchSizesAndCritical(t *testing.T) {
	tests := []struct {
		name      string
		size      int // Config.EmailBatch
		emails    int
		critical  int // of the emails, the first this many
		wantJobs  []int
		wantSingl int
	}{
		{name: "one job", size: 10, emails: 10, wantJobs: []int{10}},
		{name: "split", size: 4, emails: 10, wantJobs: []int{4, 4, 2}},
		{name: "critical alone", size: 10, emails: 5, critical: 2, wantJobs: []int{3}, wantSingl: 2},
		{name: "default size", size: 0, emails: 150, wantJobs: []int{100, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				srv := startTestServer(t)
				h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: srv.URL(), EmailBatch: tt.size}, jobs.Config{MaxAttempts: 3})
				es := make([]notify.Email, tt.emails)
				for i := range es {
					es[i] = notify.Email{To: fmt.Sprintf("p%d@example.com", i), Subject: "Hi", Text: "x", Critical: i < tt.critical}
				}
				ids := h.sendBatch(t, es)
				batches, _ := h.batchJobs(t)
				var sizes []int
				for _, b := range batches {
					sizes = append(sizes, len(b))
				}
				if fmt.Sprint(sizes) != fmt.Sprint(tt.wantJobs) {
					t.Errorf("batch jobs of %v emails, want %v", sizes, tt.wantJobs)
				}
				if got := len(h.jobStates(t)); got != tt.wantSingl {
					t.Errorf("%d single delivery jobs, want %d", got, tt.wantSingl)
				}
				h.start(t)
				for _, id := range ids {
					if n := h.waitFinal(t, id); n.Status != notify.StatusDelivered || n.Attempts != 1 {
						t.Fatalf("%s: %s after %d attempts", id, n.Status, n.Attempts)
					}
				}
				// The first batch again, as a rescue would run it.
				if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
					_, err := h.ins.InsertManyTx(context.Background(), tx, []river.InsertManyParams{{Args: notify.DeliverEmailBatchArgs{NotificationIDs: batches[0]}}})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				eventually(t, "every batch job to complete", func() bool {
					_, st := h.batchJobs(t)
					for _, s := range st {
						if s != rivertype.JobStateCompleted {
							return false
						}
					}
					return len(st) == len(tt.wantJobs)+1
				})
				for _, id := range ids {
					if got := srv.CountMessageID(h.svc.MessageID(id)); got != 1 {
						t.Errorf("server holds %d copies of %s, want 1", got, id)
					}
				}
			})
		})
	}
}

// TestBatchOutageDeliversEachMessageOnce is TestOutageDeliversEachMessageOnce
// for a batch: sent while the server is down, retried with backoff, each
// delivered exactly once when it is back.
func TestBatchOutageDeliversEachMessageOnce(t *testing.T) {
	const messages = 8
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		srv.Stop()
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), 1000)
		h.start(t)
		es := make([]notify.Email, messages)
		for i := range es {
			es[i] = notify.Email{To: fmt.Sprintf("person%d@example.com", i), Subject: "During the outage", Text: "x"}
		}
		ids := h.sendBatch(t, es)
		eventually(t, "failed attempts during the outage", func() bool {
			for _, id := range ids {
				if n := h.get(t, id); n.Status != notify.StatusTemporaryFailure || n.Attempts < 2 {
					return false
				}
			}
			return true
		})
		srv.Start()
		for _, id := range ids {
			if n := h.waitFinal(t, id); n.Status != notify.StatusDelivered {
				t.Fatalf("%s ended %s: %s", id, n.Status, n.LastError)
			}
		}
		eventually(t, "the batch job to complete", func() bool {
			_, st := h.batchJobs(t)
			return len(st) == 1 && st[0] == rivertype.JobStateCompleted
		})
		for _, id := range ids {
			if got := srv.CountMessageID(h.svc.MessageID(id)); got != 1 {
				t.Errorf("server holds %d copies of %s, want exactly 1", got, id)
			}
		}
	})
}

// TestBatchWithoutSMTPServer: without --smtp-url every email of a batch
// ends technical-failure saying why, and the job is cancelled.
func TestBatchWithoutSMTPServer(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, platform.SystemClock{}, "", 25)
		h.start(t)
		ids := h.sendBatch(t, []notify.Email{{To: "ada@example.com", Subject: "Hello", Text: "x"}, {To: "bob@example.com", Subject: "Hello", Text: "x"}})
		for _, id := range ids {
			n := h.waitFinal(t, id)
			if n.Status != notify.StatusTechnicalFailure || n.Attempts != 1 || !strings.Contains(n.LastError, "no SMTP server configured") {
				t.Fatalf("got %+v", n)
			}
		}
		eventually(t, "the batch job to be cancelled", func() bool {
			_, st := h.batchJobs(t)
			return len(st) == 1 && st[0] == rivertype.JobStateCancelled
		})
	})
}
