package notify_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestInboxPolicy checks, for each kind of principal, what the inbox
// methods answer: everyone signed in reads their own inbox (and only
// theirs: someone else's message is not found, even to staff and a
// platform administrator), someone not signed in is unauthorized, and
// every allowed read or mark-read wrote one audit entry in the reader's
// name while a refused one wrote none.
func TestInboxPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		log := audit.New(db, platform.SystemClock{}, nil)
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{Audit: log}, jobs.Config{MaxAttempts: 1})
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := h.svc.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: "acct-ana", Email: "ana@example.com", Subject: "Your licence", Text: "It is ready.", Lang: "en"}); err != nil {
				return err
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		msgs, err := h.svc.Inbox(ctx, citizen("acct-ana"), 0)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("owner's inbox: %v %v", msgs, err)
		}
		msg := msgs[0].ID

		staff := func(id, agency, role string) platform.Actor {
			return platform.Actor{Kind: platform.ActorStaff, ID: id, Grants: []platform.Grant{{Agency: agency, Role: role}}}
		}
		for _, tc := range []struct {
			name     string
			by       platform.Actor
			inbox    string // outcome of Inbox
			messages int    // how many messages Inbox returns
			markRead string // outcome of MarkRead of the owner's message
		}{
			{"other citizen", citizen("acct-beto"), "allowed", 0, "not_found"},
			{"agency caseworker", staff("staff-1", "dmv", "caseworker"), "allowed", 0, "not_found"},
			{"agency administrator", staff("staff-2", "dmv", "agency_admin"), "allowed", 0, "not_found"},
			{"agency auditor", staff("staff-3", "dmv", "auditor"), "allowed", 0, "not_found"},
			{"agency finance", staff("staff-4", "dmv", "finance"), "allowed", 0, "not_found"},
			{"platform admin", platform.Actor{Kind: platform.ActorStaff, ID: "staff-admin", PlatformAdmin: true}, "allowed", 0, "not_found"},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, "unauthorized", 0, "unauthorized"},
			// Last, so that until here the message is unread.
			{"owner", citizen("acct-ana"), "allowed", 1, "allowed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := countAudit(t, log, "account:"+tc.by.ID, "notify.inbox.read")
				got, err := h.svc.Inbox(ctx, tc.by, 0)
				if outcome(err) != tc.inbox || len(got) != tc.messages {
					t.Fatalf("Inbox = %d messages, %s; want %d, %s", len(got), outcome(err), tc.messages, tc.inbox)
				}
				if n := countAudit(t, log, "account:"+tc.by.ID, "notify.inbox.read") - before; n != boolInt(tc.inbox == "allowed") || (tc.by.ID == "" && n != 0) {
					t.Fatalf("Inbox wrote %d audit entries", n)
				}
				before = countAudit(t, log, "notification:"+msg, "notify.message.read")
				if got := outcome(h.svc.MarkRead(ctx, tc.by, msg)); got != tc.markRead {
					t.Fatalf("MarkRead = %s, want %s", got, tc.markRead)
				}
				if n := countAudit(t, log, "notification:"+msg, "notify.message.read") - before; n != boolInt(tc.markRead == "allowed") {
					t.Fatalf("MarkRead wrote %d audit entries", n)
				}
				if n := h.get(t, msg); n.ReadAt.IsZero() == (tc.markRead == "allowed") {
					t.Fatalf("after MarkRead by %s read_at = %v", tc.name, n.ReadAt)
				}
			})
		}
		// A malformed id is not found before any query.
		if got := outcome(h.svc.MarkRead(ctx, citizen("acct-ana"), "\xff")); got != "not_found" {
			t.Fatalf("malformed id: %s", got)
		}
	})
}

func outcome(err error) string {
	if err == nil {
		return "allowed"
	}
	return string(platform.ErrorCode(err))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// countAudit counts the audit entries of action about subject.
func countAudit(t *testing.T, log *audit.Log, subject, action string) int {
	t.Helper()
	all, err := log.List(context.Background(), audit.Filter{Subject: subject, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range all {
		if e.Action == action {
			n++
		}
	}
	return n
}
