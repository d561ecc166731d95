package casework_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var dogAnswers = map[string]map[string]any{"dog": {"name": "Rex", "sex": "male", "neutered": "yes"}, "rabies": {"certificate": "att-1"}}

// TestApplicantPolicy walks ViewApplicant × principal: staff of the
// case's agency (any role) read who applied, and every view writes one
// case.applicant.read entry in their name about the applicant's account;
// the applicant is forbidden and everyone else told the case does not
// exist, and neither writes an entry.
func TestApplicantPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		c := e.open("p1", "springfield-pothole", potholeAnswers)
		allowed := map[string]bool{"agency_admin": true, "caseworker": true, "finance": true, "auditor": true}
		for name, actor := range principals(c.AgencyID) {
			t.Run(name, func(t *testing.T) {
				entries := func() int {
					return e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1 AND action = 'case.applicant.read' AND subject = 'account:acct-1' AND agency_id = $2`,
						actor.String(), c.AgencyID)
				}
				any := func() int { return e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1`, actor.String()) }
				before, beforeAny := entries(), any()
				for view := 1; view <= 2; view++ {
					a, err := e.cw.ViewApplicant(e.ctx, actor, c.ID)
					switch {
					case allowed[name]:
						if err != nil {
							t.Fatalf("view %d refused: %v", view, err)
						}
						if a.Name != "Ana Citizen" || a.Email != "ana@example.com" || a.Phone == "" || a.DateOfBirth != "1988-04-12" ||
							!slices.Equal(a.Residential.Lines(), []string{"12 Elm Street", "Springfield, EX 70101"}) {
							t.Errorf("applicant %+v", a)
						}
						if got := entries() - before; got != view {
							t.Errorf("after %d views, %d case.applicant.read entries", view, got)
						}
						if got := any() - beforeAny; got != view {
							t.Errorf("after %d views, %d audit entries in all", view, got)
						}
					case name == "owner citizen":
						if platform.ErrorCode(err) != platform.CodeForbidden {
							t.Fatalf("applicant: %v, want forbidden", err)
						}
					default:
						if platform.ErrorCode(err) != platform.CodeNotFound {
							t.Fatalf("got %v, want not found", err)
						}
					}
					if !allowed[name] && any() != beforeAny {
						t.Errorf("a refused view wrote %d audit entries", any()-beforeAny)
					}
				}
			})
		}
		if _, err := e.cw.ViewApplicant(e.ctx, principals(c.AgencyID)["caseworker"], "no-such-case"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("missing case: %v", err)
		}
	})
}

// TestTimelineActors: every timeline entry names who really made it. The
// applicant opened the case; the fee request and renewal reminder are the
// workflow's own automatic steps (written while the applicant's or the
// caseworker's step ran); its notices are the platform's; staff are named
// with their roles; the SLA sweep is the system.
func TestTimelineActors(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		e.ctx = platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"})
		c := e.open("d1", "adams-dog-licence", dogAnswers)
		ps := principals(c.AgencyID)
		if _, err := e.cw.Assign(e.ctx, ps["caseworker"], c.ID, "staff-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cw.RecordPayment(e.ctx, ps["finance"], c.ID, 1000, "R-12345"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * 24 * time.Hour) // past the 5-day SLA
		if n, err := e.cw.SweepSLA(e.ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		staff1 := platform.Actor{Kind: platform.ActorStaff, ID: "staff-1", Grants: []platform.Grant{{Agency: c.AgencyID, Role: "caseworker"}}}
		if _, err := e.cw.Take(e.ctx, staff1, c.ID, "approve"); err != nil {
			t.Fatal(err)
		}
		entries, err := e.cw.Timeline(e.ctx, c.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		applicant, err := e.cw.ViewApplicant(e.ctx, ps["caseworker"], c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.cw.NameActors(e.ctx, c, entries, applicant); err != nil {
			t.Fatal(err)
		}
		type row struct {
			kind, action string
			by           casework.Who
		}
		want := []row{
			{"opened", "", casework.Who{Kind: casework.ByApplicant, ID: "acct-1", Name: "Ana Citizen"}},
			{"message", "request_payment", casework.Who{Kind: casework.BySystem}},
			{"note", "notify_staff", casework.Who{Kind: casework.ByPlatform}},
			{"assign", "", casework.Who{Kind: casework.ByStaff, ID: ps["caseworker"].ID, Name: "Staff caseworker", Roles: []string{"caseworker"}}},
			{"message", "payment_recorded", casework.Who{Kind: casework.ByStaff, ID: ps["finance"].ID, Name: "Staff finance", Roles: []string{"finance"}}},
			{"overdue", "", casework.Who{Kind: casework.BySystem}},
			{"transition", "", casework.Who{Kind: casework.ByStaff, ID: "staff-1", Name: "Sam Staff", Roles: []string{"caseworker", "finance"}}},
			{"message", "issue_document", casework.Who{Kind: casework.BySystem}},
			{"note", "set_reminder", casework.Who{Kind: casework.BySystem}},
			{"message", "notify", casework.Who{Kind: casework.ByPlatform}},
		}
		if len(entries) != len(want) {
			for _, en := range entries {
				t.Logf("%s %s %s", en.Kind, en.Action(), en.Actor)
			}
			t.Fatalf("%d entries, want %d", len(entries), len(want))
		}
		for i, w := range want {
			got := entries[i]
			if got.Kind != w.kind || got.Action() != w.action || got.By.Kind != w.by.Kind || got.By.ID != w.by.ID || got.By.Name != w.by.Name ||
				!slices.Equal(got.By.Roles, w.by.Roles) {
				t.Errorf("entry %d: %s/%s by %+v (actor %s), want %s/%s by %+v", i, got.Kind, got.Action(), got.By, got.Actor, w.kind, w.action, w.by)
			}
		}
		// The receipt number is kept with the payment and on the timeline.
		pays, err := e.cw.Payments(e.ctx, c.ID)
		if err != nil || len(pays) != 1 || pays[0].PaidRef != "R-12345" || pays[0].PaidAt == nil {
			t.Errorf("payments %+v %v", pays, err)
		}
		if entries[4].Str("ref") != "R-12345" {
			t.Errorf("payment entry detail %v", entries[4].Detail)
		}
		// Without the applicant's details (the citizen's own page) the
		// applicant is still the applicant, unnamed.
		if err := e.cw.NameActors(e.ctx, c, entries, casework.Applicant{}); err != nil {
			t.Fatal(err)
		}
		if entries[0].By.Kind != casework.ByApplicant || entries[0].By.Name != "" {
			t.Errorf("unnamed applicant: %+v", entries[0].By)
		}
	})
}

// TestOverview: the console's counts per agency, service and state, the
// overdue cases (marked, or past their SLA before the sweep has run), the
// agency's latest timeline entries newest first with named actors; a
// platform administrator sees every agency's counts and no case; anyone
// but staff is forbidden; each overview is audited once.
func TestOverview(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		e.ctx = platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"})
		p1 := e.open("p1", "springfield-pothole", potholeAnswers)
		e.open("p2", "springfield-pothole", potholeAnswers)
		e.open("d1", "adams-dog-licence", dogAnswers)
		e.open("b1", "springfield-business-licence", map[string]map[string]any{"business": {"employees": 1}})
		works, clerk := p1.AgencyID, "adams-clerk"
		ps := principals(works)
		if _, err := e.cw.Take(e.ctx, ps["caseworker"], p1.ID, "schedule"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(26 * time.Hour) // p2 is past its 1-day SLA; p1's repair has 5 days
		if _, err := e.cw.Note(e.ctx, ps["caseworker"], p1.ID, "Crew booked for Thursday."); err != nil {
			t.Fatal(err)
		}

		both := platform.Actor{Kind: platform.ActorStaff, ID: "staff-both", Grants: []platform.Grant{{Agency: works, Role: "caseworker"}, {Agency: clerk, Role: "auditor"}}}
		got, err := e.cw.Overview(e.ctx, both, []string{"ignored-for-staff"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].AgencyID != works || got[1].AgencyID != clerk {
			t.Fatalf("agencies %+v", got)
		}
		w := got[0]
		wantQueues := []casework.QueueCount{{ServiceID: "springfield-pothole", State: "reported", Open: 1, Overdue: 1},
			{ServiceID: "springfield-pothole", State: "scheduled", Open: 1, Overdue: 0}}
		if !slices.Equal(w.Queues, wantQueues) || w.Open != 2 || w.Overdue != 1 {
			t.Errorf("public works: %+v", w)
		}
		if len(w.Recent) == 0 || len(w.Recent) > casework.RecentActivity {
			t.Fatalf("recent: %d entries", len(w.Recent))
		}
		first := w.Recent[0]
		if first.Entry.Kind != "note" || first.Case.ID != p1.ID || first.Entry.By.Kind != casework.ByStaff || first.Entry.By.Name != "Staff caseworker" {
			t.Errorf("newest activity %+v by %+v", first.Entry, first.Entry.By)
		}
		for i := 1; i < len(w.Recent); i++ {
			if w.Recent[i].Entry.ID >= w.Recent[i-1].Entry.ID {
				t.Errorf("recent activity is not newest first: %d after %d", w.Recent[i].Entry.ID, w.Recent[i-1].Entry.ID)
			}
			if w.Recent[i].Case.AgencyID != works {
				t.Errorf("another agency's entry in the activity: %+v", w.Recent[i].Case)
			}
		}
		if !slices.ContainsFunc(w.Recent, func(a casework.Activity) bool {
			return a.Entry.By.Kind == casework.ByApplicant && a.Entry.By.Name == "Ana Citizen"
		}) {
			t.Errorf("no applicant named in the activity: %+v", w.Recent)
		}
		c := got[1]
		if c.Open != 1 || c.Overdue != 0 || len(c.Queues) != 1 || c.Queues[0].ServiceID != "adams-dog-licence" || len(c.Recent) == 0 {
			t.Errorf("clerk: %+v", c)
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1 AND action = 'case.overview.read'`, both.String()); n != 1 {
			t.Errorf("%d overview audit entries, want 1", n)
		}

		// The platform administrator: every agency named, counts only.
		admin := ps["platform admin"]
		all := []string{works, clerk, "springfield-licensing", "dmv"}
		got, err = e.cw.Overview(e.ctx, admin, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(all) {
			t.Fatalf("admin sees %d agencies", len(got))
		}
		counts := map[string][2]int{}
		for _, o := range got {
			counts[o.AgencyID] = [2]int{o.Open, o.Overdue}
			if len(o.Recent) != 0 {
				t.Errorf("the administrator sees %s's activity", o.AgencyID)
			}
		}
		if counts[works] != [2]int{2, 1} || counts[clerk] != [2]int{1, 0} || counts["springfield-licensing"] != [2]int{1, 0} || counts["dmv"] != [2]int{} {
			t.Errorf("admin counts %v", counts)
		}

		// The sweep marks p2 overdue; the count is the same.
		if _, err := e.cw.SweepSLA(e.ctx); err != nil {
			t.Fatal(err)
		}
		got, err = e.cw.Overview(e.ctx, ps["caseworker"], nil)
		if err != nil || len(got) != 1 || got[0].Overdue != 1 {
			t.Errorf("after the sweep: %+v %v", got, err)
		}

		for _, name := range []string{"owner citizen", "anonymous"} {
			if _, err := e.cw.Overview(e.ctx, ps[name], nil); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Errorf("%s: %v, want forbidden", name, err)
			}
		}
		// Staff of another agency see only theirs.
		got, err = e.cw.Overview(e.ctx, ps["staff of another agency"], all)
		if err != nil || len(got) != 1 || got[0].AgencyID != "elsewhere" || got[0].Open != 0 || len(got[0].Recent) != 0 {
			t.Errorf("staff elsewhere: %+v %v", got, err)
		}
	})
}
