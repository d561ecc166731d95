package todo_test

import (
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/portal/todo"
	"github.com/portico-gov/portico/internal/reminder"
)

// TestItems: every block's items in one list, soonest due first (so
// overdue ones first), items without a due date last, the same day by
// kind; an obligation that mirrors a block's own item (the same source)
// is dropped; instants become due dates in the jurisdiction's zone.
func TestItems(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) reminder.Date { return reminder.Date{Year: y, Month: m, Day: d} }
	// 03:00 UTC on December 9 is still December 8 in Chicago.
	feeDue := time.Date(2026, 12, 9, 3, 0, 0, 0, time.UTC)
	expires := time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)
	ten := platform.MustMoney(1000, "USD")
	tax := platform.MustMoney(123550, "USD")
	g := todo.Gathered{
		Owed: []casework.Owed{
			{PaymentID: 7, CaseID: "c1", Reference: "ADAMS-CLERK-2026-000001", AgencyID: "adams-clerk", Service: manifest.Text{EN: "Get a dog license"}, Amount: ten, DueAt: &feeDue},
			{PaymentID: 8, CaseID: "c3", Reference: "DMV-2026-000004", AgencyID: "dmv", Service: manifest.Text{EN: "Renew a registration"}, Amount: ten}, // no due date
		},
		Awaiting: []casework.Awaiting{{CaseID: "c2", Reference: "SPRINGFIELD-PUBLIC-WORKS-2026-000001", AgencyID: "springfield-public-works",
			Service: manifest.Text{EN: "Report a pothole"}, DueAt: time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)}},
		Drafts: []application.Summary{{App: &application.Application{ID: "d1", AgencyID: "adams-clerk", ExpiresAt: &expires}, ServiceTitle: manifest.Text{EN: "Apply for a marriage license"}}},
		Obligations: []reminder.Obligation{
			{Source: "case:c1/payment:7", Kind: reminder.KindPayment, Title: reminder.Text{EN: "mirror of the fee"}, Due: day(2026, 12, 8), Amount: &ten},
			{Source: "case:c2/request", Kind: reminder.KindAction, Title: reminder.Text{EN: "mirror of the request"}, Due: day(2026, 12, 8)},
			{Source: "draft:d1", Kind: reminder.KindDraft, Title: reminder.Text{EN: "mirror of the draft"}, Due: day(2026, 12, 20)},
			{Source: "demo:proof", AgencyID: "lakeside-licensing", Kind: reminder.KindAction, Title: reminder.Text{EN: "Send proof of address"}, Due: day(2026, 11, 22)},
			{Source: "demo:reg", AgencyID: "dmv", Kind: reminder.KindRenewal, Title: reminder.Text{EN: "Renew your registration"}, Due: day(2026, 12, 15), URL: "/services/vehicle-registration-renewal"},
			{Source: "demo:tax", AgencyID: "adams-treasurer", Kind: reminder.KindPayment, Title: reminder.Text{EN: "Pay your property tax"}, Due: day(2027, 1, 8), Amount: &tax, Reference: "Parcel 1"},
		},
	}
	items := g.Items(chicago)
	want := []struct {
		kind todo.Kind
		key  string
		due  reminder.Date
	}{
		{todo.Other, "demo:proof", day(2026, 11, 22)}, // overdue: first
		{todo.Pay, "case:c1/payment:7", day(2026, 12, 8)},
		{todo.Answer, "case:c2/request", day(2026, 12, 8)},
		{todo.Renew, "demo:reg", day(2026, 12, 15)},
		{todo.Finish, "draft:d1", day(2026, 12, 20)},
		{todo.Pay, "demo:tax", day(2027, 1, 8)},
		{todo.Pay, "case:c3/payment:8", reminder.Date{}}, // no due date: last
	}
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(want), items)
	}
	for i, w := range want {
		it := items[i]
		if it.Kind != w.kind || it.Key != w.key || it.Due != w.due {
			t.Errorf("item %d = %s %s %v, want %s %s %v", i, it.Kind, it.Key, it.Due, w.kind, w.key, w.due)
		}
	}
	fee := items[1]
	if fee.Amount == nil || *fee.Amount != ten || fee.Reference != "ADAMS-CLERK-2026-000001" || fee.AgencyID != "adams-clerk" ||
		fee.Title.EN != "Pay the fee: Get a dog license" || fee.URL != "/applications/c1" {
		t.Errorf("fee item: %+v", fee)
	}
	if items[2].URL != "/applications/c2#body" || items[4].URL != "/apply/d1" {
		t.Errorf("actions: %q %q", items[2].URL, items[4].URL)
	}
	if tax := items[5]; tax.Amount == nil || tax.Reference != "Parcel 1" {
		t.Errorf("tax item: %+v", tax)
	}
}
