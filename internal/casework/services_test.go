package casework_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// step is one thing that happens to a case in a demo journey.
type step struct {
	take  string         // a transition id, taken by as
	as    casework.Actor // who takes it
	pay   int64          // > 0: finance records this payment at the counter
	wait  time.Duration  // > 0: time passes and the SLA sweep runs
	state string         // the state after the step
	// refused: the step must be refused (a conflict) and change nothing.
	refused bool
}

var (
	caseworker = casework.Staff("caseworker")
	finance    = casework.Staff("finance")
	citizen    = casework.Actor{Kind: casework.ActorCitizen}
)

// TestDemoServices takes a case of each demo service through its whole
// workflow, as the right people, to a terminal state, and checks what
// the states left behind: fees asked and paid, documents issued,
// reminders set, emails to the citizen, events in the outbox, the audit
// trail and the timeline.
func TestDemoServices(t *testing.T) {
	for i, c := range []struct {
		service   string
		answers   map[string]map[string]any
		steps     []step
		fee       int64 // total asked
		documents []string
		reminders []string
		mails     int
		events    string
	}{
		{
			service: "vehicle-registration-renewal",
			answers: map[string]map[string]any{"vehicle": {"plate": "ABC123", "type": "truck"}, "insurance": {"insurer": "Acme", "policy": "P-1"}},
			steps: []step{
				{take: "renew", as: caseworker, state: "submitted", refused: true}, // refused: not paid
				{take: "flag", as: caseworker, state: "needs_review"},
				{pay: 7500, state: "needs_review"},
				{take: "approve", as: caseworker, state: "renewed"},
			},
			fee: 7500, documents: []string{"registration"}, reminders: []string{"renew_next_year"}, mails: 2,
			events: "opened payment_requested transitioned payment_recorded transitioned document_issued reminder_set closed",
		},
		{
			service: "fishing-licence",
			answers: map[string]map[string]any{"licence": {"residency": "resident"}},
			steps:   []step{{pay: 2500, state: "issued"}},
			fee:     2500, documents: []string{"licence"}, reminders: []string{"expiring"}, mails: 2,
			events: "opened payment_requested payment_recorded transitioned document_issued reminder_set closed",
		},
		{
			service: "fishing-licence", // not paid in time: the sweep lets it lapse
			answers: map[string]map[string]any{"licence": {"residency": "visitor"}},
			steps:   []step{{wait: 49 * time.Hour, state: "lapsed"}},
			fee:     6000, mails: 1,
			events: "opened payment_requested transitioned closed",
		},
		{
			service: "adams-property-tax",
			answers: map[string]map[string]any{"bill": {"parcel": "123-456-789", "amount": 98765}},
			steps:   []step{{take: "settle", as: finance, state: "awaiting_payment", refused: true}, {pay: 98765, state: "paid"}},
			fee:     98765, documents: []string{"receipt"}, mails: 2,
			events: "opened payment_requested payment_recorded transitioned document_issued closed",
		},
		{
			service: "adams-property-tax", // the citizen cancels
			answers: map[string]map[string]any{"bill": {"parcel": "123-456-789", "amount": 100}},
			steps:   []step{{take: "cancel", as: citizen, state: "cancelled"}},
			fee:     100,
			events:  "opened payment_requested transitioned staff_notified closed",
		},
		{
			service: "adams-marriage-licence",
			answers: map[string]map[string]any{"partner": {"name": "Sam", "born": "1990-01-01", "email": "sam@example.com"}, "previous": {"married_before": "no"}},
			steps: []step{
				{take: "accept", as: caseworker, state: "submitted", refused: true}, // refused: not paid
				{pay: 6000, state: "submitted"},
				{take: "accept", as: caseworker, state: "appointment"},
				{take: "sign", as: caseworker, state: "issued"},
			},
			fee: 6000, documents: []string{"marriage_licence"}, mails: 3,
			events: "opened payment_requested staff_notified payment_recorded transitioned transitioned document_issued closed",
		},
		{
			service: "springfield-business-licence",
			answers: map[string]map[string]any{"business": {"name": "Corner Shop", "activity": "retail", "employees": 4, "address": map[string]any{"street": "1 Main St", "zip": "70101"}}},
			steps: []step{
				{take: "deny", as: caseworker, state: "review", refused: true}, // refused: only the agency admin denies
				{take: "approve", as: caseworker, state: "approved"},
				{pay: 9000, state: "licensed"},
			},
			fee: 9000, documents: []string{"licence"}, reminders: []string{"renew"}, mails: 3,
			events: "opened staff_notified transitioned payment_requested payment_recorded transitioned document_issued reminder_set closed",
		},
		{
			service: "springfield-pothole",
			answers: map[string]map[string]any{"where": {"location": "Elm St and 3rd", "size": "large"}},
			steps: []step{
				{take: "schedule", as: finance, state: "reported", refused: true}, // refused: not finance's
				{take: "schedule", as: caseworker, state: "scheduled"},
				{take: "fix", as: caseworker, state: "fixed"},
			},
			mails:  2,
			events: "opened staff_notified transitioned transitioned closed",
		},
	} {
		t.Run(fmt.Sprintf("%d-%s", i, c.service), func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				e := newEnv(t, db)
				cs := e.open("app-1", c.service, c.answers)
				for i, s := range c.steps {
					var err error
					switch {
					case s.take != "":
						_, err = e.cw.Take(e.ctx, principal(s.as, cs), cs.ID, s.take)
					case s.pay > 0:
						_, err = e.cw.RecordPayment(e.ctx, principal(finance, cs), cs.ID, s.pay, fmt.Sprintf("R-%d", i))
					case s.wait > 0:
						e.clock.Advance(s.wait)
						_, err = e.cw.SweepSLA(e.ctx)
					}
					got, gerr := e.cw.Case(e.ctx, cs.ID)
					if gerr != nil {
						t.Fatal(gerr)
					}
					if got.State != s.state {
						t.Fatalf("step %d (%+v): state %s, want %s (err %v)", i, s, got.State, s.state, err)
					}
					if s.refused != (err != nil) || err != nil && platform.ErrorCode(err) != platform.CodeConflict {
						t.Fatalf("step %d (%+v): err %v", i, s, err)
					}
				}
				final, _ := e.cw.Case(e.ctx, cs.ID)
				if final.ClosedAt == nil || final.WaitingOn != casework.WaitingOnNobody || final.SLADueAt != nil {
					t.Fatalf("final case not closed: %+v", final)
				}
				pays, _ := e.cw.Payments(e.ctx, cs.ID)
				var asked int64
				for _, p := range pays {
					asked += p.Amount
				}
				if asked != c.fee {
					t.Errorf("fees asked %d, want %d", asked, c.fee)
				}
				docs, _ := e.cw.Documents(e.ctx, cs.ID)
				var dnames []string
				for _, d := range docs {
					dnames = append(dnames, d.Document)
					if d.ValidUntil != nil && !d.ValidUntil.After(d.IssuedAt) {
						t.Errorf("document %s valid until %v", d.Document, d.ValidUntil)
					}
				}
				if strings.Join(dnames, ",") != strings.Join(c.documents, ",") {
					t.Errorf("documents %v, want %v", dnames, c.documents)
				}
				rems, _ := e.cw.Reminders(e.ctx, cs.ID)
				var rnames []string
				for _, r := range rems {
					rnames = append(rnames, r.Reminder)
					if !r.DueAt.After(e.clock.Now()) {
						t.Errorf("reminder %s due %v, not in the future", r.Reminder, r.DueAt)
					}
				}
				if strings.Join(rnames, ",") != strings.Join(c.reminders, ",") {
					t.Errorf("reminders %v, want %v", rnames, c.reminders)
				}
				if n := e.mailer.count(); n != c.mails {
					t.Errorf("%d emails to the citizen, want %d: %+v", n, c.mails, e.mailer.sent)
				}
				if got := strings.Join(e.emitted(cs.ID), " "); got != c.events {
					t.Errorf("events:\n got %s\nwant %s", got, c.events)
				}
				// Every change is audited; refusals change nothing.
				transitions := e.count(`SELECT COUNT(*) FROM case_entries WHERE case_id = $1 AND kind = 'transition'`, cs.ID)
				if a := e.count(`SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action = 'case.transition'`, "case:"+cs.ID); a != transitions || a == 0 {
					t.Errorf("%d transition audit entries for %d transitions", a, transitions)
				}
			})
		})
	}
}
