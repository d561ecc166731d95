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

var potholeAnswers = map[string]map[string]any{"where": {"location": "Elm St", "size": "small"}}

// TestRequestInfo: asking the citizen stops the SLA clock; their answer
// restarts it with the time that was left, and the case returns to the
// agency. Notes stay internal; messages reach the citizen by email.
func TestRequestInfo(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		c := e.open("p1", "springfield-pothole", potholeAnswers) // SLA 1d
		staff := platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorStaff, ID: "staff-1"})
		e.clock.Advance(6 * time.Hour)
		if _, err := e.cw.RequestInfo(e.ctx, principal(caseworker, c), c.ID, "  "); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("empty request: %v", err)
		}
		if _, err := e.cw.RequestInfo(e.ctx, principal(caseworker, c), c.ID, strings.Repeat("x", casework.MaxText+1)); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("long request: %v", err)
		}
		if _, err := e.cw.Respond(e.ctx, principal(casework.Actor{Kind: casework.ActorCitizen}, c), c.ID, "unasked"); platform.ErrorCode(err) != platform.CodeConflict {
			t.Fatalf("answer without a request: %v", err)
		}
		got, err := e.cw.RequestInfo(e.ctx, principal(caseworker, c), c.ID, "Which side of the street?")
		if err != nil {
			t.Fatal(err)
		}
		if got.WaitingOn != casework.WaitingOnCitizen || got.SLADueAt != nil || casework.SLAStatus(got, e.clock.Now()) != casework.SLAPaused {
			t.Fatalf("after request: %+v", got)
		}
		if _, err := e.cw.RequestInfo(e.ctx, principal(caseworker, c), c.ID, "again"); platform.ErrorCode(err) != platform.CodeConflict {
			t.Fatalf("second request: %v", err)
		}
		// Days pass while the citizen thinks: no breach.
		e.clock.Advance(5 * 24 * time.Hour)
		if n, err := e.cw.SweepSLA(e.ctx); err != nil || n != 0 {
			t.Fatalf("sweep while paused: %d, %v", n, err)
		}
		got, err = e.cw.Respond(e.ctx, principal(casework.Actor{Kind: casework.ActorCitizen}, c), c.ID, "The north side, by the bakery.")
		if err != nil {
			t.Fatal(err)
		}
		if got.WaitingOn != casework.WaitingOnAgency || got.SLADueAt == nil || got.SLADueAt.Sub(e.clock.Now()) != 18*time.Hour {
			t.Fatalf("after answer: %+v (due in %v)", got, got.SLADueAt.Sub(e.clock.Now()))
		}
		if _, err := e.cw.Note(e.ctx, principal(caseworker, c), c.ID, "Crew B knows the spot."); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cw.Message(e.ctx, principal(caseworker, c), c.ID, "Thanks, we have what we need."); err != nil {
			t.Fatal(err)
		}
		all, _ := e.cw.Timeline(e.ctx, c.ID, true)
		public, _ := e.cw.Timeline(e.ctx, c.ID, false)
		var kinds, pub []string
		for _, x := range all {
			kinds = append(kinds, x.Kind)
		}
		for _, x := range public {
			pub = append(pub, x.Kind)
			if x.Internal || x.Kind == "note" {
				t.Errorf("citizen sees an internal entry: %+v", x)
			}
		}
		if g := strings.Join(kinds, " "); g != "opened note request response note message" {
			t.Errorf("staff timeline %s", g)
		}
		if g := strings.Join(pub, " "); g != "opened request response message" {
			t.Errorf("citizen timeline %s", g)
		}
		// The request and the message were emailed; the note was not.
		if n := e.mailer.count(); n != 2 || !strings.Contains(e.mailer.sent[0].Body.EN, "Which side") || e.mailer.sent[0].Reference != c.Reference {
			t.Errorf("emails: %+v", e.mailer.sent)
		}
		for _, action := range []string{"case.request_info", "case.respond", "case.note", "case.message"} {
			if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action = $2`, "case:"+c.ID, action); n != 1 {
				t.Errorf("%s audited %d times", action, n)
			}
		}
		if got := strings.Join(e.emitted(c.ID), " "); got != "opened staff_notified info_requested info_received messaged" {
			t.Errorf("events %s", got)
		}
		// A closed case takes no more work.
		if _, err := e.cw.Take(staff, principal(caseworker, c), c.ID, "duplicate"); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func() error{
			"note":    func() error { _, err := e.cw.Note(e.ctx, principal(caseworker, c), c.ID, "x"); return err },
			"assign":  func() error { _, err := e.cw.Assign(e.ctx, principal(caseworker, c), c.ID, "staff-1"); return err },
			"request": func() error { _, err := e.cw.RequestInfo(e.ctx, principal(caseworker, c), c.ID, "x"); return err },
			"take":    func() error { _, err := e.cw.Take(staff, principal(caseworker, c), c.ID, "fix"); return err },
			"pay":     func() error { _, err := e.cw.RecordPayment(staff, principal(finance, c), c.ID, 1, ""); return err },
		} {
			if err := f(); platform.ErrorCode(err) != platform.CodeConflict {
				t.Errorf("%s on a closed case: %v", name, err)
			}
		}
	})
}

// TestRecordPayment refuses wrong amounts and cases with nothing due.
func TestRecordPayment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		p := e.open("p1", "springfield-pothole", potholeAnswers)
		if _, err := e.cw.RecordPayment(e.ctx, principal(finance, p), p.ID, 100, ""); platform.ErrorCode(err) != platform.CodeConflict {
			t.Fatalf("nothing due: %v", err)
		}
		f := e.open("f1", "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}})
		if _, err := e.cw.RecordPayment(e.ctx, principal(finance, f), f.ID, 2499, ""); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("short payment: %v", err)
		}
		if _, err := e.cw.RecordPayment(e.ctx, principal(finance, f), "nope", 2500, ""); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("no case: %v", err)
		}
		got, err := e.cw.RecordPayment(e.ctx, principal(finance, f), f.ID, 2500, "CASH-1")
		if err != nil || got.State != "issued" {
			t.Fatalf("payment: %+v, %v", got, err)
		}
		pays, _ := e.cw.Payments(e.ctx, f.ID)
		if len(pays) != 1 || pays[0].PaidAt == nil || pays[0].PaidRef != "CASH-1" || pays[0].PaidBy != "staff:staff-1" {
			t.Fatalf("payments: %+v", pays)
		}
	})
}

// TestSweepSLA: a case past due is marked overdue once per breach, with an
// event; entering a new state clears the mark and a new breach emits
// again. The sweep's cost follows what is due: it reads the cases_sla
// index and leaves cases not yet due alone.
func TestSweepSLA(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		late := e.open("late", "springfield-pothole", potholeAnswers) // reported: 1d
		e.clock.Advance(12 * time.Hour)
		e.open("early", "springfield-pothole", potholeAnswers)
		e.clock.Advance(12*time.Hour + time.Second)
		n, err := e.cw.SweepSLA(e.ctx)
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		if n, _ := e.cw.SweepSLA(e.ctx); n != 0 {
			t.Fatalf("second sweep handled %d", n)
		}
		got, _ := e.cw.Case(e.ctx, late.ID)
		if !got.Overdue || casework.SLAStatus(got, e.clock.Now()) != casework.SLAOverdue {
			t.Fatalf("late case: %+v", got)
		}
		if early, _ := e.cw.Case(e.ctx, "early"); early.Overdue || casework.SLAStatus(early, e.clock.Now()) != casework.SLADueSoon {
			t.Fatalf("early case: %+v", early)
		}
		staff := platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorStaff, ID: "staff-1"})
		if _, err := e.cw.Take(staff, principal(caseworker, late), late.ID, "schedule"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5*24*time.Hour + time.Second) // scheduled: 5d; early is long overdue too
		if n, _ := e.cw.SweepSLA(e.ctx); n != 2 {
			t.Fatalf("third sweep handled %d", n)
		}
		if got := strings.Count(strings.Join(e.emitted(late.ID), " "), "overdue"); got != 2 {
			t.Fatalf("overdue events for two breaches: %d", got)
		}
		if got := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.overdue'`); got != 3 {
			t.Fatalf("overdue audit entries: %d", got)
		}
		if db.Dialect == storage.SQLite { // the planner's word that the sweep uses the partial index
			var plan strings.Builder
			rows, err := db.Read().QueryContext(e.ctx, `EXPLAIN QUERY PLAN SELECT id FROM cases WHERE overdue = FALSE AND closed_at IS NULL AND sla_due_at <= $1 ORDER BY sla_due_at LIMIT 200`, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, parent, unused int
				var detail string
				rows.Scan(&id, &parent, &unused, &detail)
				plan.WriteString(detail + "\n")
			}
			rows.Close()
			if !strings.Contains(plan.String(), "cases_sla") {
				t.Errorf("sweep does not use cases_sla:\n%s", plan.String())
			}
		}
	})
}

// TestQueue filters, sorts and pages the staff queue, and never shows
// another agency's cases.
func TestQueue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		for i := range 5 {
			e.open(fmt.Sprintf("p%d", i), "springfield-pothole", potholeAnswers)
			e.clock.Advance(time.Hour)
		}
		e.open("b1", "springfield-business-licence", map[string]map[string]any{"business": {"employees": 1}})
		e.open("f1", "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}}) // another agency
		if _, err := e.cw.Assign(e.ctx, principal(caseworker, e.caseOf("p1")), "p1", "staff-1"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(19*time.Hour + 30*time.Minute) // p0 (due at +24h) is overdue, p1..p4 due soon; b1 on time
		ids := func(f casework.QueueFilter) string {
			t.Helper()
			q, err := e.cw.Queue(e.ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range q.Cases {
				out = append(out, c.ID)
			}
			return fmt.Sprintf("%s (%d/%d)", strings.Join(out, ","), q.Total, q.Pages)
		}
		works := []string{"springfield-public-works", "springfield-licensing"}
		for _, c := range []struct {
			name string
			f    casework.QueueFilter
			want string
		}{
			{"all", casework.QueueFilter{Agencies: works}, "p0,p1,p2,p3,p4,b1 (6/1)"},
			{"desc", casework.QueueFilter{Agencies: works, Desc: true}, "b1,p4,p3,p2,p1,p0 (6/1)"},
			{"page 2", casework.QueueFilter{Agencies: works, PerPage: 4, Page: 2}, "p4,b1 (6/2)"},
			{"one agency", casework.QueueFilter{Agencies: works[1:]}, "b1 (1/1)"},
			{"none", casework.QueueFilter{}, " (0/0)"},
			{"service", casework.QueueFilter{Agencies: works, Service: "springfield-pothole", PerPage: 2}, "p0,p1 (5/3)"},
			{"state", casework.QueueFilter{Agencies: works, State: "review"}, "b1 (1/1)"},
			{"overdue", casework.QueueFilter{Agencies: works, SLA: casework.SLAOverdue}, "p0 (1/1)"},
			{"due soon", casework.QueueFilter{Agencies: works, SLA: casework.SLADueSoon}, "p1,p2,p3,p4 (4/1)"},
			{"on time", casework.QueueFilter{Agencies: works, SLA: casework.SLAOnTime}, "b1 (1/1)"},
			{"assignee", casework.QueueFilter{Agencies: works, Assignee: "staff-1"}, "p1 (1/1)"},
			{"unassigned", casework.QueueFilter{Agencies: works, Assignee: "none", Service: "springfield-pothole"}, "p0,p2,p3,p4 (4/1)"},
			{"closed", casework.QueueFilter{Agencies: works, Closed: true}, " (0/0)"},
			{"hostile", casework.QueueFilter{Agencies: works, State: "x' OR 1=1 --"}, " (0/0)"},
		} {
			if got := ids(c.f); got != c.want {
				t.Errorf("%s: %s, want %s", c.name, got, c.want)
			}
		}
	})
}
