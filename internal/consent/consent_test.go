package consent_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

const (
	renewal = "vehicle-registration-renewal"
	vehicle = "vehicle-registry"
)

var (
	ana  = platform.Actor{Kind: platform.ActorCitizen, ID: "acct-ana"}
	beto = platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}
)

// setup is the gateway test environment (the example vehicle-registry
// registered and enabled for the DMV, the renewal published using it,
// carrying name, address and its answers) with a consent block on a
// fake clock.
func setup(t *testing.T, db *storage.DB) (*consent.Service, *platform.FakeClock, *gatewaytest.Env) {
	env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
	clock := platform.NewFakeClock(time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	svc, err := consent.New(db, env.Log, events.NewBus(clock), clock, env.Catalog, env.Registry, consent.Config{
		Validity: 30 * 24 * time.Hour, Subject: func(p, a string) string { return "pairwise-" + p + "-" + strings.ToUpper(a) }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, clock, env
}

func TestCovers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		svc, clock, _ := setup(t, db)
		ctx := context.Background()
		c, err := svc.Give(ctx, ana, renewal, vehicle)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.Data, ","); got != "address,answers:vehicle-registration-renewal,name" {
			t.Fatalf("data %q: want the union of the service's uses of the plug-in", got)
		}
		if !c.ExpiresAt.Equal(clock.Now().Add(30*24*time.Hour)) || c.Purpose.EN != "to apply for “Renew your vehicle registration”" || c.Purpose.ES == c.Purpose.EN {
			t.Fatalf("consent: %+v", c)
		}
		if c.Provider.Agency != "dmv" || c.PluginName.EN == "" {
			t.Fatalf("who: %+v", c)
		}
		type tc struct {
			name                             string
			account, agency, service, plugin string
			data                             []string
			want                             bool
		}
		for _, k := range []tc{
			{"empty data needs no consent", "acct-beto", "dmv", renewal, vehicle, nil, true},
			{"one datum", "acct-ana", "dmv", renewal, vehicle, []string{"name"}, true},
			{"all data", "acct-ana", "dmv", renewal, vehicle, []string{"name", "address", "answers:vehicle-registration-renewal"}, true},
			{"partly covered", "acct-ana", "dmv", renewal, vehicle, []string{"name", "phone"}, false},
			{"another service's answers", "acct-ana", "dmv", renewal, vehicle, []string{"answers:fishing-license"}, false},
			{"another person", "acct-beto", "dmv", renewal, vehicle, []string{"name"}, false},
			{"no person", "", "dmv", renewal, vehicle, []string{"name"}, false},
			{"another agency", "acct-ana", "revenue", renewal, vehicle, []string{"name"}, false},
			{"another service", "acct-ana", "dmv", "fishing-license", vehicle, []string{"name"}, false},
			{"another plug-in", "acct-ana", "dmv", renewal, "counter-booking", []string{"name"}, false},
		} {
			t.Run(k.name, func(t *testing.T) {
				got, err := svc.Covers(ctx, k.account, k.agency, k.service, k.plugin, k.data)
				if err != nil || got != k.want {
					t.Fatalf("Covers = %v, %v; want %v", got, err, k.want)
				}
			})
		}
		t.Run("expiry", func(t *testing.T) {
			clock.Advance(30*24*time.Hour - time.Second)
			if ok, _ := svc.Covers(ctx, "acct-ana", "dmv", renewal, vehicle, []string{"name"}); !ok {
				t.Fatal("a consent ends only when it expires")
			}
			clock.Advance(time.Second)
			if ok, _ := svc.Covers(ctx, "acct-ana", "dmv", renewal, vehicle, []string{"name"}); ok {
				t.Fatal("an expired consent covers nothing")
			}
			cs, err := svc.List(ctx, ana)
			if err != nil || len(cs) != 1 || cs[0].State != consent.StatusExpired {
				t.Fatalf("list after expiry: %+v %v", cs, err)
			}
			// Giving again after expiry is a new consent; the old one stays.
			if _, err := svc.Give(ctx, ana, renewal, vehicle); err != nil {
				t.Fatal(err)
			}
			if ok, _ := svc.Covers(ctx, "acct-ana", "dmv", renewal, vehicle, []string{"name"}); !ok {
				t.Fatal("a new consent covers")
			}
			if cs, _ := svc.List(ctx, ana); len(cs) != 2 || cs[0].State != consent.StatusActive || cs[1].State != consent.StatusExpired {
				t.Fatalf("list: %+v", cs)
			}
		})
		t.Run("renewal keeps one active consent", func(t *testing.T) {
			before, _ := svc.List(ctx, ana)
			clock.Advance(time.Hour)
			c2, err := svc.Give(ctx, ana, renewal, vehicle)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := svc.List(ctx, ana)
			if len(after) != len(before) || c2.ID != before[0].ID || !after[0].ExpiresAt.Equal(clock.Now().Add(30*24*time.Hour)) {
				t.Fatalf("renewal: %+v then %+v", before, after)
			}
			o, err := svc.Offer(ctx, ana, renewal, vehicle)
			if err != nil || o.Existing == nil || o.Existing.ID != c2.ID {
				t.Fatalf("offer: %+v %v", o, err)
			}
		})
		t.Run("withdrawal", func(t *testing.T) {
			cs, _ := svc.List(ctx, ana)
			if _, err := svc.Withdraw(ctx, beto, cs[0].ID); platform.ErrorCode(err) != platform.CodeNotFound {
				t.Fatalf("another person withdrew it: %v", err)
			}
			w, err := svc.Withdraw(ctx, ana, cs[0].ID)
			if err != nil || w.WithdrawnAt == nil {
				t.Fatalf("withdraw: %+v %v", w, err)
			}
			if ok, _ := svc.Covers(ctx, "acct-ana", "dmv", renewal, vehicle, []string{"name"}); ok {
				t.Fatal("a withdrawn consent covers nothing")
			}
			if _, err := svc.Withdraw(ctx, ana, cs[0].ID); err != nil {
				t.Fatalf("withdrawing twice: %v", err)
			}
			if cs, _ := svc.List(ctx, ana); cs[0].State != consent.StatusWithdrawn {
				t.Fatalf("list: %+v", cs)
			}
		})
	})
}

// TestAuditAndEvents: giving and withdrawing are audited with the person
// and emit events that carry the pairwise subject, never the account id.
func TestAuditAndEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		svc, _, env := setup(t, db)
		ctx := context.Background()
		c, err := svc.Give(ctx, ana, renewal, vehicle)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Withdraw(ctx, ana, c.ID); err != nil {
			t.Fatal(err)
		}
		es, err := env.Log.ForPerson(ctx, ana.ID, 0, 10)
		if err != nil || len(es) != 2 || es[0].Action != "consent.withdraw" || es[1].Action != "consent.give" || es[0].Actor != ana.String() {
			t.Fatalf("the person's audit entries: %+v %v", es, err)
		}
		rows, err := db.Read().QueryContext(ctx, `SELECT type, subject, agency_id, data FROM event_log ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var types []string
		for rows.Next() {
			var typ, subject, agency, data string
			if err := rows.Scan(&typ, &subject, &agency, &data); err != nil {
				t.Fatal(err)
			}
			types = append(types, typ)
			var d map[string]any
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatal(err)
			}
			if subject != "consent:"+c.ID || agency != "dmv" || d["subject"] != "pairwise-vehicle-registry-ACCT-ANA" || d["plugin"] != vehicle || d["service"] != renewal {
				t.Fatalf("event %s: %s %s %v", typ, subject, agency, d)
			}
			if strings.Contains(data, ana.ID) {
				t.Fatalf("event %s names the account: %s", typ, data)
			}
		}
		if strings.Join(types, " ") != consent.EventGiven+" "+consent.EventWithdrawn {
			t.Fatalf("events %v", types)
		}
	})
}

// TestPolicy: only the person themselves, signed in, acts on consents.
func TestPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		svc, _, _ := setup(t, db)
		ctx := context.Background()
		c, err := svc.Give(ctx, ana, renewal, vehicle)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []struct {
			name  string
			actor platform.Actor
			code  platform.Code
		}{
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, platform.CodeUnauthorized},
			{"staff of the agency", platform.Actor{Kind: platform.ActorStaff, ID: "eli", Grants: []platform.Grant{{Agency: "dmv", Role: "agency_admin"}}}, platform.CodeForbidden},
			{"platform administrator", platform.Actor{Kind: platform.ActorStaff, ID: "root", PlatformAdmin: true}, platform.CodeForbidden},
			{"operator", platform.Actor{Kind: platform.ActorOperator, ID: "ops"}, platform.CodeForbidden},
		} {
			t.Run(k.name, func(t *testing.T) {
				if _, err := svc.Give(ctx, k.actor, renewal, vehicle); platform.ErrorCode(err) != k.code {
					t.Fatalf("give: %v", err)
				}
				if _, err := svc.List(ctx, k.actor); platform.ErrorCode(err) != k.code {
					t.Fatalf("list: %v", err)
				}
				if _, err := svc.History(ctx, k.actor, 0); platform.ErrorCode(err) != k.code {
					t.Fatalf("history: %v", err)
				}
				if _, err := svc.Withdraw(ctx, k.actor, c.ID); platform.ErrorCode(err) != k.code {
					t.Fatalf("withdraw: %v", err)
				}
			})
		}
		t.Run("another citizen sees nothing of it", func(t *testing.T) {
			if cs, err := svc.List(ctx, beto); err != nil || len(cs) != 0 {
				t.Fatalf("list: %v %v", cs, err)
			}
			if h, err := svc.History(ctx, beto, 0); err != nil || len(h.Entries) != 0 {
				t.Fatalf("history: %v %v", h, err)
			}
		})
		t.Run("unknown service or plug-in, or a service that does not use it", func(t *testing.T) {
			for _, sp := range [][2]string{{"no-such-service", vehicle}, {renewal, "no-such-plugin"}, {renewal, "counter-booking"}} {
				if _, err := svc.Give(ctx, ana, sp[0], sp[1]); platform.ErrorCode(err) != platform.CodeNotFound {
					t.Fatalf("give %v: %v", sp, err)
				}
			}
			if _, err := svc.Withdraw(ctx, ana, "not-a-uuid"); platform.ErrorCode(err) != platform.CodeNotFound {
				t.Fatalf("withdraw: %v", err)
			}
		})
	})
}

// TestHistory: the person's uses are listed newest first, a page at a
// time, and the read is audited (without adding to the list).
func TestHistory(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		svc, _, _ := setup(t, db)
		ctx := context.Background()
		var id string
		for i := 0; i < consent.HistoryPageSize+3; i++ {
			c, err := svc.Give(ctx, ana, renewal, vehicle) // renews one consent
			if err != nil {
				t.Fatal(err)
			}
			id = c.ID
		}
		p1, err := svc.History(ctx, ana, 0)
		if err != nil || len(p1.Entries) != consent.HistoryPageSize || p1.Next == 0 {
			t.Fatalf("page 1: %d entries, next %d, %v", len(p1.Entries), p1.Next, err)
		}
		p2, err := svc.History(ctx, ana, p1.Next)
		if err != nil || len(p2.Entries) != 3 || p2.Next != 0 {
			t.Fatalf("page 2: %d entries, next %d, %v", len(p2.Entries), p2.Next, err)
		}
		all := append(p1.Entries, p2.Entries...)
		for i := 1; i < len(all); i++ {
			if all[i].Seq >= all[i-1].Seq {
				t.Fatal("not newest first")
			}
		}
		for _, e := range all {
			if e.Action != "consent.give" || e.Subject != "consent:"+id {
				t.Fatalf("the history lists %s %s", e.Action, e.Subject)
			}
		}
		if _, err := svc.History(ctx, ana, -1); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("negative cursor: %v", err)
		}
	})
}
