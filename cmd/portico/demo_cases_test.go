package main

import (
	"context"
	"slices"
	"testing"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// TestDemoSeedsCases: `portico demo` opens the demo's cases through the
// applying and casework blocks, with their history (named staff on the
// timelines, a receipt number, an SLA already missed), and a second run
// on the same data directory opens none again.
func TestDemoSeedsCases(t *testing.T) {
	dir := t.TempDir()
	_, a := startDemoApp(t, dir)
	ctx := context.Background()
	type seen struct {
		email, service, state string
		overdue, assigned     bool
	}
	want := []seen{
		{"ana.citizen@example.com", "adams-dog-licence", "submitted", false, true},
		{"beto.ciudadano@example.com", "vehicle-registration-renewal", "submitted", true, true},
		{"ana.citizen@example.com", "adams-voter-registration", "received", false, false},
		{"ana.citizen@example.com", "vehicle-registration-renewal", "renewed", false, true},
	}
	if len(want) != len(demo.Cases) {
		t.Fatalf("the test knows %d demo cases, the demo has %d", len(want), len(demo.Cases))
	}
	count := func() map[string][]casework.Case {
		out := map[string][]casework.Case{}
		for _, email := range []string{"ana.citizen@example.com", "beto.ciudadano@example.com"} {
			acct, err := a.Identity.AccountByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := a.Casework.ForAccount(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[email] = cs
		}
		return out
	}
	got := count()
	now := a.Clock.Now()
	for _, w := range want {
		i := slices.IndexFunc(got[w.email], func(c casework.Case) bool { return c.ServiceID == w.service })
		if i < 0 {
			t.Errorf("%s has no %s case", w.email, w.service)
			continue
		}
		c := got[w.email][i]
		if c.State != w.state || (casework.SLAStatus(c, now) == casework.SLAOverdue) != w.overdue || (c.Assignee != "") != w.assigned {
			t.Errorf("%s's %s: state %s, sla %s, assignee %q; want %+v", w.email, w.service, c.State, casework.SLAStatus(c, now), c.Assignee, w)
		}
		if !c.OpenedAt.Before(now) {
			t.Errorf("%s's %s opened %s, not in the past", w.email, w.service, c.OpenedAt)
		}
		entries, err := a.Casework.Timeline(ctx, c.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Casework.NameActors(ctx, c, entries, casework.Applicant{Name: "the applicant"}); err != nil {
			t.Fatal(err)
		}
		var staff []string
		for _, e := range entries {
			if e.By.Kind == casework.ByStaff {
				staff = append(staff, e.By.Name)
			}
		}
		if w.assigned && len(staff) == 0 {
			t.Errorf("%s's %s: no named staff on the timeline", w.email, w.service)
		}
		if w.state == "renewed" {
			pays, err := a.Casework.Payments(ctx, c.ID)
			if err != nil || len(pays) != 1 || pays[0].PaidRef != "20431" {
				t.Errorf("renewed case's payments: %+v %v", pays, err)
			}
		}
	}
	// Seeding again (as a second `portico demo` run does) opens nothing.
	clock := platform.NewFakeClock(a.Clock.Now())
	apply, cases, err := a.DemoBlocks(ctx, clock)
	if err != nil {
		t.Fatal(err)
	}
	n, err := demo.SeedCases(ctx, demo.CaseBlocks{Identity: a.Identity, Places: a.Tenancy, Apply: apply, Cases: cases, Clock: clock, Now: a.Clock.Now()})
	if err != nil || n != 0 {
		t.Fatalf("second seeding opened %d cases (%v)", n, err)
	}
	again := count()
	for email, cs := range got {
		if len(again[email]) != len(cs) {
			t.Errorf("%s had %d cases, has %d after seeding again", email, len(cs), len(again[email]))
		}
	}
}

// demoCasesOf is how many cases the demo seeds for email's citizen.
func demoCasesOf(email string) int {
	n := 0
	for _, c := range demo.Cases {
		if c.Email == email {
			n++
		}
	}
	return n
}
