package application_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestApplicationEvents: the start and every end of an application is an
// event of the log, in the transaction of the change (outcomes are
// counted from them): started, ineligible (no draft made), submitted
// (with the case reference and the fee), withdrawn and expired. Starting
// again the same draft, or submitting twice, adds none.
func TestApplicationEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		marriage := fillMarriage(t, e)
		if _, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence"); err != nil { // the same draft
			t.Fatal(err)
		}
		res := save(t, e, marriage.ID, "previous", url.Values{"married_before": {"no"}})
		sub, err := e.svc.Submit(e.ctx, ana, marriage.ID, res.App.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Submit(e.ctx, ana, marriage.ID, res.App.Revision); err != nil {
			t.Fatal(err)
		}
		child := application.Applicant{AccountID: "acct-child", DateOfBirth: "2015-06-01"}
		if _, err := e.svc.Start(e.ctx, child, "fishing-licence"); !errors.Is(err, application.ErrNotEligible) {
			t.Fatalf("a child's fishing licence: %v", err)
		}
		pothole, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Withdraw(e.ctx, citizen(ana.AccountID), pothole.ID); err != nil {
			t.Fatal(err)
		}
		fishing, err := e.svc.Start(e.ctx, ana, "fishing-licence")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(application.DraftLifetime + 1)
		if _, _, err := e.svc.Sweep(e.ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Read().QueryContext(e.ctx, `SELECT type, subject, agency_id, data FROM event_log WHERE type LIKE 'gov.portico.application.%' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		type got struct{ typ, subject, agency string }
		var list []got
		var submitted map[string]any
		for rows.Next() {
			var g got
			var data string
			if err := rows.Scan(&g.typ, &g.subject, &g.agency, &data); err != nil {
				t.Fatal(err)
			}
			list = append(list, g)
			if g.typ == application.EventSubmitted {
				if err := json.Unmarshal([]byte(data), &submitted); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := []got{
			{application.EventStarted, "application:" + marriage.ID, "adams-clerk"},
			{application.EventSubmitted, "application:" + marriage.ID, "adams-clerk"},
			{application.EventIneligible, "service:fishing-licence", "fish-wildlife"},
			{application.EventStarted, "application:" + pothole.ID, "springfield-public-works"},
			{application.EventWithdrawn, "application:" + pothole.ID, "springfield-public-works"},
			{application.EventStarted, "application:" + fishing.ID, "fish-wildlife"},
			{application.EventExpired, "application:" + fishing.ID, "fish-wildlife"},
		}
		if !slices.Equal(list, want) {
			t.Fatalf("events:\n got %v\nwant %v", list, want)
		}
		if submitted["reference"] != sub.Reference || submitted["service"] != "adams-marriage-licence" || submitted["channel"] != "online" {
			t.Fatalf("submitted event data: %v", submitted)
		}
	})
}
