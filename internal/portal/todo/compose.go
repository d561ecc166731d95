package todo

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
)

// Kind is what a to-do item asks the person to do; it picks the item's
// one action.
type Kind string

// Kinds, in the order items due on the same day are listed.
const (
	Pay    Kind = "pay"    // an amount owed: how to pay it
	Answer Kind = "answer" // a caseworker's question: the case page's reply form
	Renew  Kind = "renew"  // a licence or registration that expires: the service's start page
	Finish Kind = "finish" // a draft not yet sent: resume it
	Other  Kind = "other"  // anything else an agency asked for
)

var kindOrder = []Kind{Pay, Answer, Renew, Finish, Other}

// Item is one thing to do, from whichever block knows it.
type Item struct {
	Kind Kind
	// Key is what the item is about, in the reminder block's source
	// format ("draft:ID", "case:ID/request", "case:ID/payment:N"): an
	// obligation with this source only mirrors the item and is dropped.
	Key      string
	Title    reminder.Text
	AgencyID string
	// Due is the calendar day it is due in the jurisdiction's zone; zero
	// when there is no due date (listed last).
	Due       reminder.Date
	Amount    *platform.Money // Pay items; nil otherwise
	Reference string          // what to quote at the counter
	URL       string          // where the action leads ("" for the counter)
	// PayKey is the item as the Pay page (/pay?item=KEY) knows it, when it
	// can be paid online: "case_payment:ID" or "obligation:ID"; "" else.
	PayKey string
}

// Gathered is what the blocks returned for one person.
type Gathered struct {
	Owed        []casework.Owed
	Awaiting    []casework.Awaiting
	Drafts      []application.Summary
	Obligations []reminder.Obligation
}

// Items is the person's to-do list from g, soonest due first (overdue
// items are the earliest, so they come first), items without a due date
// last. loc is the jurisdiction's zone, in which instants become due
// dates.
func (g Gathered) Items(loc *time.Location) []Item {
	m := i18n.Messages()
	both := func(key string, t reminder.Text) reminder.Text {
		return reminder.Text{EN: m.T(i18n.English, key, t.EN), ES: m.T(i18n.Spanish, key, t.In("es"))}
	}
	var out []Item
	owners := map[string]bool{}
	for _, o := range g.Owed {
		amount := o.Amount
		it := Item{Kind: Pay, Key: casework.PaymentSource(o.CaseID, o.PaymentID), Title: both("todo.title.fee", reminder.Text(o.Service)),
			AgencyID: o.AgencyID, Amount: &amount, Reference: o.Reference, URL: "/applications/" + o.CaseID}
		if amount.Minor > 0 {
			it.PayKey = payment.ItemCasePayment + ":" + strconv.FormatInt(o.PaymentID, 10)
		}
		if o.DueAt != nil {
			it.Due = reminder.DateOf(o.DueAt.In(loc))
		}
		out = append(out, it)
	}
	for _, a := range g.Awaiting {
		out = append(out, Item{Kind: Answer, Key: casework.RequestSource(a.CaseID), Title: both("todo.title.answer", reminder.Text(a.Service)),
			AgencyID: a.AgencyID, Due: reminder.DateOf(a.DueAt.In(loc)), Reference: a.Reference, URL: "/applications/" + a.CaseID + "#body"})
	}
	for _, d := range g.Drafts {
		it := Item{Kind: Finish, Key: "draft:" + d.App.ID, Title: both("todo.title.finish", reminder.Text(d.ServiceTitle)),
			AgencyID: d.App.AgencyID, URL: "/apply/" + d.App.ID}
		if d.App.ExpiresAt != nil {
			it.Due = reminder.DateOf(d.App.ExpiresAt.In(loc))
		}
		out = append(out, it)
	}
	for _, it := range out {
		owners[it.Key] = true
	}
	for _, o := range g.Obligations {
		if owners[o.Source] {
			continue // the owning block's item says more
		}
		it := Item{Kind: Other, Key: o.Source, Title: o.Title, AgencyID: o.AgencyID, Due: o.Due, Amount: o.Amount, Reference: o.Reference, URL: o.URL}
		switch {
		case o.Amount != nil:
			it.Kind = Pay
			// What the Pay page offers: an amount owed to an agency.
			if o.Amount.Minor > 0 && o.AgencyID != "" && !strings.HasPrefix(o.Source, "case:") {
				it.PayKey = payment.ItemObligation + ":" + o.ID
			}
		case o.Kind == reminder.KindRenewal:
			it.Kind = Renew
		case o.Kind == reminder.KindDraft && strings.HasPrefix(o.URL, "/apply/"):
			it.Kind = Finish
		}
		out = append(out, it)
	}
	Sort(out)
	return out
}

// Sort orders items by due date, soonest (and so overdue) first; items
// without a due date last; on the same day by kind, then title.
func Sort(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int {
		switch {
		case a.Due.IsZero() != b.Due.IsZero():
			if a.Due.IsZero() {
				return 1
			}
			return -1
		case a.Due != b.Due:
			return strings.Compare(a.Due.String(), b.Due.String())
		}
		if c := slices.Index(kindOrder, a.Kind) - slices.Index(kindOrder, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Title.EN, b.Title.EN)
	})
}
