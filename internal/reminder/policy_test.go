package reminder_test

import (
	"context"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestObligationPolicy checks, for each kind of principal, what the
// reminder block's person-facing methods answer. An obligation is its
// owner's alone: staff of the obligation's agency, staff of another
// agency and a platform administrator are told someone else's obligation
// is not found, like any other person; someone not signed in is
// unauthorized. Every allowed read wrote one audit entry in the reader's
// name; a refused one wrote none.
func TestObligationPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{})
		o := f.set(t, vehicle(reminder.Date{Year: 2027, Month: 6, Day: 1}))
		log := audit.New(db, f.clock, nil)
		staff := func(id, agency, role string) platform.Actor {
			return platform.Actor{Kind: platform.ActorStaff, ID: id, Grants: []platform.Grant{{Agency: agency, Role: role}}}
		}
		for _, tc := range []struct {
			name  string
			by    platform.Actor
			list  string // outcome of List
			items int    // obligations List returns
			get   string // outcome of Get of the owner's obligation
		}{
			{"owner", citizen("ana"), "allowed", 1, "allowed"},
			{"other citizen", citizen("beto"), "allowed", 0, "not_found"},
			{"agency caseworker", staff("staff-1", "dmv", "caseworker"), "allowed", 0, "not_found"},
			{"agency administrator", staff("staff-2", "dmv", "agency_admin"), "allowed", 0, "not_found"},
			{"agency auditor", staff("staff-3", "dmv", "auditor"), "allowed", 0, "not_found"},
			{"agency finance", staff("staff-4", "dmv", "finance"), "allowed", 0, "not_found"},
			{"other agency", staff("staff-5", "adams-clerk", "agency_admin"), "allowed", 0, "not_found"},
			{"platform admin", platform.Actor{Kind: platform.ActorStaff, ID: "staff-admin", PlatformAdmin: true}, "allowed", 0, "not_found"},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, "unauthorized", 0, "unauthorized"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := countAudit(t, log, "account:"+tc.by.ID, "obligation.list")
				got, err := f.svc.List(ctx, tc.by, false)
				if outcome(err) != tc.list || len(got) != tc.items {
					t.Fatalf("List = %d obligations, %s; want %d, %s", len(got), outcome(err), tc.items, tc.list)
				}
				if n := countAudit(t, log, "account:"+tc.by.ID, "obligation.list") - before; n != boolInt(tc.list == "allowed") {
					t.Fatalf("List wrote %d audit entries", n)
				}
				before = countAudit(t, log, "obligation:"+o.ID, "obligation.read")
				if _, err := f.svc.Get(ctx, tc.by, o.ID); outcome(err) != tc.get {
					t.Fatalf("Get = %s, want %s", outcome(err), tc.get)
				}
				entries := countAudit(t, log, "obligation:"+o.ID, "obligation.read") - before
				if entries != boolInt(tc.get == "allowed") {
					t.Fatalf("Get wrote %d audit entries", entries)
				}
				// Feed management is each person's own; anonymous is refused
				// and nothing is made.
				tok, err := f.svc.CreateFeed(ctx, tc.by)
				if want := tc.list; outcome(err) != want || (want == "allowed") != (tok != "") {
					t.Fatalf("CreateFeed = %q, %s; want %s", tok, outcome(err), want)
				}
				if tok != "" {
					if acct, err := f.svc.FeedAccount(ctx, tok); err != nil || acct != tc.by.ID {
						t.Fatalf("feed of %s belongs to %q (%v)", tc.name, acct, err)
					}
				}
				if err := f.svc.RevokeFeed(ctx, tc.by); outcome(err) != tc.list {
					t.Fatalf("RevokeFeed = %s, want %s", outcome(err), tc.list)
				}
			})
		}
		// The owner's feed, read by its token, is audited as a read of the
		// owner's obligations.
		tok, err := f.svc.CreateFeed(ctx, citizen("ana"))
		if err != nil {
			t.Fatal(err)
		}
		acct, err := f.svc.FeedAccount(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		before := countAudit(t, log, "account:ana", "calendar.feed.read")
		if _, err := f.svc.Calendar(ctx, acct); err != nil {
			t.Fatal(err)
		}
		if n := countAudit(t, log, "account:ana", "calendar.feed.read") - before; n != 1 {
			t.Fatalf("feed read wrote %d audit entries", n)
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
