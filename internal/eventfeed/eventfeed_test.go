package eventfeed_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/eventfeed"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func TestProject(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := events.Event{ID: "e1", Source: "/portico/casework", Subject: "case:c1", Time: at, SpecVersion: "1.0", AgencyID: "dmv",
		DataContentType: "application/json", Position: 7}
	for _, tc := range []struct {
		name, typ, data   string
		subject, wantData string
	}{
		{"opened: the case without its account", "gov.portico.case.opened",
			`{"id":"c1","reference":"DMV-1","account_id":"acct-secret","state":"new","fee":{"amount":100},"future_field":"x"}`,
			"case:c1", `{"fee":{"amount":100},"id":"c1","reference":"DMV-1","state":"new"}`},
		{"other case events: case and detail", "gov.portico.case.assigned",
			`{"case":{"id":"c1","account_id":"acct-secret","assignee":"staff-1"},"detail":{"from":"","to":"staff-1"},"extra":1}`,
			"case:c1", `{"case":{"assignee":"staff-1","id":"c1"},"detail":{"from":"","to":"staff-1"}}`},
		{"case event without data", "gov.portico.case.closed", "", "case:c1", ""},
		{"case event whose data is not an object", "gov.portico.case.closed", `["acct-secret"]`, "case:c1", ""},
		{"case event whose case is not an object", "gov.portico.case.closed", `{"case":"acct-secret","detail":{"state":"done"}}`, "case:c1", `{"detail":{"state":"done"}}`},
		{"an undescribed type: attributes only", "gov.portico.consent.given", `{"account_id":"acct-secret"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			e.Type = tc.typ
			if tc.data != "" {
				e.Data = json.RawMessage(tc.data)
			}
			got := eventfeed.Project(e)
			if got.Subject != tc.subject || string(got.Data) != tc.wantData {
				t.Errorf("Project = subject %q data %s; want %q %s", got.Subject, got.Data, tc.subject, tc.wantData)
			}
			if got.ID != "e1" || got.Position != 7 || got.AgencyID != "dmv" || !got.Time.Equal(at) || got.Type != tc.typ || got.SpecVersion != "1.0" {
				t.Errorf("attributes changed: %+v", got)
			}
			if (got.Data == nil) != (got.DataContentType == "") {
				t.Errorf("datacontenttype %q with data %s", got.DataContentType, got.Data)
			}
		})
	}
}

// clients is the OpenID Provider's registry as the feed sees it.
type clients map[string]string

func (c clients) ClientAgency(_ context.Context, id string) (string, error) {
	agency, ok := c[id]
	if !ok {
		return "", platform.Errorf(platform.CodeUnauthorized, "no such client")
	}
	return agency, nil
}

// TestReadPolicy: who may read the feed, on each engine. Only a client
// acting as itself and belonging to an agency reads, and only that
// agency's events.
func TestReadPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := platform.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		log := audit.New(db, clock, nil)
		feed, err := eventfeed.New(db, log, clients{"pc_dmv": "dmv", "pc_clerk": "adams-clerk", "pc_none": ""})
		if err != nil {
			t.Fatal(err)
		}
		bus := events.NewBus(clock)
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			for _, ag := range []string{"dmv", "adams-clerk", "", "dmv"} {
				if err := bus.Emit(ctx, tx, events.Event{Source: "/portico/casework", Type: "gov.portico.case.closed", Subject: "case:x", AgencyID: ag}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := events.Sequence(ctx, db, 0); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			actor     platform.Actor
			after     int64
			limit     int
			code      platform.Code
			positions []int64
			next      int64
		}{
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, 0, 10, platform.CodeForbidden, nil, 0},
			{"citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "a1"}, 0, 10, platform.CodeForbidden, nil, 0},
			{"dmv staff", platform.Actor{Kind: platform.ActorStaff, ID: "s1", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}, 0, 10, platform.CodeForbidden, nil, 0},
			{"platform admin", platform.Actor{Kind: platform.ActorStaff, ID: "s2", PlatformAdmin: true}, 0, 10, platform.CodeForbidden, nil, 0},
			{"an app acting for a person", platform.Actor{Kind: platform.ActorCitizen, ID: "a1", Client: "pc_dmv"}, 0, 10, platform.CodeForbidden, nil, 0},
			{"client of no agency", platform.Actor{Kind: platform.ActorClient, ID: "pc_none"}, 0, 10, platform.CodeForbidden, nil, 0},
			{"unknown client", platform.Actor{Kind: platform.ActorClient, ID: "pc_gone"}, 0, 10, platform.CodeUnauthorized, nil, 0},
			{"negative cursor", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, -1, 10, platform.CodeInvalid, nil, 0},
			{"limit too big", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, 0, eventfeed.MaxLimit + 1, platform.CodeInvalid, nil, 0},
			{"dmv", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, 0, 10, "", []int64{1, 4}, 4},
			{"dmv one at a time", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, 1, 1, "", []int64{4}, 4},
			{"dmv at the end", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, 4, 10, "", nil, 4},
			{"clerk", platform.Actor{Kind: platform.ActorClient, ID: "pc_clerk"}, 0, 10, "", []int64{2}, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page, err := feed.Read(platform.WithActor(ctx, tc.actor), tc.actor, tc.after, tc.limit)
				if got := platform.ErrorCode(err); got != tc.code {
					t.Fatalf("error %v (code %q), want code %q", err, got, tc.code)
				}
				var got []int64
				for _, e := range page.Events {
					got = append(got, e.Position)
				}
				if len(got) != len(tc.positions) || (len(got) > 0 && (got[0] != tc.positions[0] || got[len(got)-1] != tc.positions[len(tc.positions)-1])) {
					t.Errorf("positions %v, want %v", got, tc.positions)
				}
				if err == nil && page.Next != tc.next {
					t.Errorf("next %d, want %d", page.Next, tc.next)
				}
			})
		}
		entries, err := log.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		reads := 0
		for _, e := range entries {
			if e.Action == "events.read" {
				reads++
			}
		}
		if reads != 3 { // dmv, dmv one at a time, clerk; not the empty read
			t.Errorf("%d events.read entries, want 3", reads)
		}
	})
}
