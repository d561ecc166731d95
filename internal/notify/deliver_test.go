package notify_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestDeliveryOutcomes sends one email per row to a real SMTP server that
// answers by recipient (see testServer) and checks the status each ends in,
// how often it was tried, what River did with its job and what the server
// holds.
func TestDeliveryOutcomes(t *testing.T) {
	const maxAttempts = 4
	tests := []struct {
		name         string
		email        notify.Email
		status       notify.Status
		attempts     int
		job          rivertype.JobState
		received     int    // copies the server accepted
		lastError    string // substring of last_error
		rcptAttempts int    // RCPT TO attempts the server saw (busy recipients only)
	}{
		{name: "accepted", email: notify.Email{To: "ada@example.com", Subject: "Hello", Text: "Hello Ada"},
			status: notify.StatusDelivered, attempts: 1, job: rivertype.JobStateCompleted, received: 1},
		{name: "accepted with HTML", email: notify.Email{To: "bob@example.com", Subject: "Hello", Text: "Hello Bob", HTML: "<p>Hello Bob</p>"},
			status: notify.StatusDelivered, attempts: 1, job: rivertype.JobStateCompleted, received: 1},
		{name: "recipient refused (550): permanent, not retried", email: notify.Email{To: "reject-rcpt@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusPermanentFailure, attempts: 1, job: rivertype.JobStateCancelled, lastError: "550"},
		{name: "content refused (554): permanent, not retried", email: notify.Email{To: "reject-data@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusPermanentFailure, attempts: 1, job: rivertype.JobStateCancelled, lastError: "554"},
		{name: "busy twice (451) then accepted", email: notify.Email{To: "busy-2@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusDelivered, attempts: 3, job: rivertype.JobStateCompleted, received: 1, rcptAttempts: 3},
		{name: "busy longer than the retries: technical failure", email: notify.Email{To: "busy-99@example.com", Subject: "Hello", Text: "x"},
			status: notify.StatusTechnicalFailure, attempts: maxAttempts, job: rivertype.JobStateDiscarded, lastError: "451", rcptAttempts: maxAttempts},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), maxAttempts)
		ids := make([]string, len(tests))
		for i, tt := range tests {
			ids[i] = h.send(t, tt.email)
		}
		h.start(t)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n := h.waitFinal(t, ids[i])
				h.waitJob(t, ids[i], tt.job)
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
				if tt.rcptAttempts > 0 {
					srv.mu.Lock()
					got := srv.attempts[tt.email.To]
					srv.mu.Unlock()
					if got != tt.rcptAttempts {
						t.Errorf("server saw %d RCPT TO attempts, want %d", got, tt.rcptAttempts)
					}
				}
			})
		}
	})
}

// TestOutageDeliversEachMessageOnce stops the SMTP server, sends messages
// while it is down, and brings it back: every message is then delivered,
// and the server holds exactly one copy of each (counted by Message-ID).
func TestOutageDeliversEachMessageOnce(t *testing.T) {
	const messages = 8
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		srv.Stop()
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), 1000)
		h.start(t)
		ids := make([]string, messages)
		for i := range ids {
			ids[i] = h.send(t, notify.Email{To: fmt.Sprintf("person%d@example.com", i), Subject: "During the outage", Text: "x"})
		}
		// Every message has been tried and failed at least twice.
		eventually(t, "failed attempts during the outage", func() bool {
			for _, id := range ids {
				if n := h.get(t, id); n.Status != notify.StatusTemporaryFailure || n.Attempts < 2 {
					return false
				}
			}
			return true
		})
		n := h.get(t, ids[0])
		if !strings.Contains(n.LastError, "connection refused") {
			t.Errorf("last error during outage = %q", n.LastError)
		}
		srv.Start()
		for _, id := range ids {
			if n := h.waitFinal(t, id); n.Status != notify.StatusDelivered {
				t.Fatalf("%s ended %s: %s", id, n.Status, n.LastError)
			}
			h.waitJob(t, id, rivertype.JobStateCompleted)
		}
		for _, id := range ids {
			if got := srv.CountMessageID(h.svc.MessageID(id)); got != 1 {
				t.Errorf("server holds %d copies of %s, want exactly 1", got, id)
			}
		}
		if got := len(srv.Received()); got != messages {
			t.Errorf("server received %d messages, want %d", got, messages)
		}
	})
}

// TestNoSMTPServerFailsClearly: without --smtp-url a delivery ends as a
// technical failure that says why, at once, instead of vanishing.
func TestNoSMTPServerFailsClearly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, platform.SystemClock{}, "", 25)
		h.start(t)
		id := h.send(t, notify.Email{To: "ada@example.com", Subject: "Hello", Text: "x"})
		n := h.waitFinal(t, id)
		h.waitJob(t, id, rivertype.JobStateCancelled)
		if n.Status != notify.StatusTechnicalFailure || n.Attempts != 1 || !strings.Contains(n.LastError, "no SMTP server configured") {
			t.Fatalf("got %+v", n)
		}
	})
}

// TestRerunOfDeliveredJobSendsNothing: a second delivery job for a delivered
// notification (as River's rescue of an orphaned job would run) is a no-op.
func TestRerunOfDeliveredJobSendsNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), 5)
		h.start(t)
		id := h.send(t, notify.Email{To: "ada@example.com", Subject: "Once", Text: "x"})
		h.waitFinal(t, id)
		h.waitJob(t, id, rivertype.JobStateCompleted)
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			return jobs.Enqueue(context.Background(), h.ins, tx, notify.DeliverEmailArgs{NotificationID: id}, nil)
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the re-run to complete", func() bool {
			s := h.jobStates(t)[id]
			return len(s) == 2 && s[0] == rivertype.JobStateCompleted && s[1] == rivertype.JobStateCompleted
		})
		if n := h.get(t, id); n.Status != notify.StatusDelivered || n.Attempts != 1 {
			t.Fatalf("after re-run: %s, %d attempts", n.Status, n.Attempts)
		}
		if got := srv.CountMessageID(h.svc.MessageID(id)); got != 1 {
			t.Fatalf("server holds %d copies, want 1", got)
		}
	})
}

// TestSMTPAuth delivers through a server that requires AUTH PLAIN, and
// shows that wrong credentials are retried (an operator can fix them) and
// end as a technical failure, not a permanent one.
func TestSMTPAuth(t *testing.T) {
	tests := []struct {
		name   string
		pass   string
		status notify.Status
		err    string
	}{
		{"right password", "s3cret", notify.StatusDelivered, ""},
		{"wrong password", "guess", notify.StatusTechnicalFailure, "535"},
	}
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv := startAuthTestServer(t, "portico", "s3cret")
					url := strings.Replace(srv.URL(), ":s3cret@", ":"+tt.pass+"@", 1)
					h := newHarness(t, storagetest.Open(t, d), platform.SystemClock{}, url, 2)
					h.start(t)
					id := h.send(t, notify.Email{To: "ada@example.com", Subject: "Hello", Text: "x"})
					n := h.waitFinal(t, id)
					if n.Status != tt.status || !strings.Contains(n.LastError, tt.err) {
						t.Fatalf("status %s, last error %q; want %s with %q", n.Status, n.LastError, tt.status, tt.err)
					}
					if strings.Contains(n.LastError, tt.pass) {
						t.Fatalf("last error leaks the password: %q", n.LastError)
					}
				})
			}
		})
	}
}

// TestCriticalMailGoesFirst: with a backlog queued, a critical message
// (a sign-in code) is delivered before the ordinary ones queued before it.
func TestCriticalMailGoesFirst(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		// One worker, so jobs run one at a time in the order River picks them.
		h := newHarnessWith(t, db, platform.SystemClock{}, srv.URL(), jobs.Config{MaxAttempts: 5, Workers: 1})
		var ids []string
		for i := range 5 {
			ids = append(ids, h.send(t, notify.Email{To: fmt.Sprintf("bulk%d@example.com", i), Subject: "Newsletter", Text: "x"}))
		}
		critical := h.send(t, notify.Email{To: "ada@example.com", Subject: "Your code", Text: "123456", Critical: true})
		h.start(t)
		for _, id := range append(ids, critical) {
			h.waitFinal(t, id)
		}
		first := h.get(t, critical).SentAt
		for _, id := range ids {
			if h.get(t, id).SentAt.Before(first) {
				t.Fatalf("ordinary mail %s was sent before the critical message", id)
			}
		}
	})
}
