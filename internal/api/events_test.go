package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/eventfeed"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
)

// oidcClients is the events feed's view of the OpenID Provider's clients,
// as internal/app adapts it (cmd/portico's journey uses the real adapter
// with real tokens).
type oidcClients struct{ o *oidc.Service }

func (c oidcClients) ClientAgency(ctx context.Context, id string) (string, error) {
	cl, err := c.o.Client(ctx, id)
	if err != nil {
		return "", err
	}
	return cl.AgencyID, nil
}

// registerEvents registers the events operation on r.api, and real
// clients of the DMV, of the Adams County Clerk and of no agency, with
// tokens for them in v.
func registerEvents(t *testing.T, r *rig, v tokens) {
	t.Helper()
	feed, err := eventfeed.New(r.app.DB, r.app.Audit, oidcClients{r.app.OIDC})
	if err != nil {
		t.Fatal(err)
	}
	(&api.Events{Feed: feed}).Register(r.api)
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator})
	for _, c := range []struct{ token, agency string }{{"dmv-sys", "dmv"}, {"clerk-sys", "adams-clerk"}, {"nowhere-sys", ""}} {
		reg, err := r.app.OIDC.AddClient(ctx, oidc.NewClient{Name: c.token, AgencyID: c.agency, Grant: oidc.GrantClientCredentials, Scopes: []string{api.ScopeEvents}})
		if err != nil {
			t.Fatal(err)
		}
		v[c.token] = oidc.AccessToken{ID: "at_" + c.token, ClientID: reg.ID, Scopes: []string{api.ScopeEvents}}
		if c.token == "dmv-sys" {
			v["dmv-noscope"] = oidc.AccessToken{ID: "at_dmv-noscope", ClientID: reg.ID, Scopes: []string{"records.read"}}
		}
	}
}

// TestEventsAPI: an agency's system reads its own agency's events, in
// order, page by page, and nothing else; people's tokens, clients without
// the scope or an agency, and bad cursors are refused with problems; the
// applicant's account id never reaches the agency; reads are audited.
func TestEventsAPI(t *testing.T) {
	r, ids := newRig(t)
	ana := ids["ana.citizen@example.com"]
	dmvCase := openCase(t, r.app, "app-ana-1", ana, "vehicle-registration-renewal")
	clerkCase := openCase(t, r.app, "app-ana-2", ana, "adams-dog-licence")
	// Events of another kind and of no agency, emitted by the platform.
	ctx := context.Background()
	if err := r.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := r.app.Bus.Emit(ctx, tx, events.Event{Source: "/portico/test", Type: "gov.portico.consent.given", Subject: "account:" + ana,
			AgencyID: "dmv", Data: json.RawMessage(`{"account_id":"` + ana + `"}`)}); err != nil {
			return err
		}
		return r.app.Bus.Emit(ctx, tx, events.Event{Source: "/portico/test", Type: "gov.portico.platform.thing", Subject: "x"})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.Sequence(ctx, r.app.DB, 0); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, token, query string
		want               int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"citizen token", "ana", "", http.StatusForbidden},
		{"staff token", "dana", "", http.StatusForbidden},
		{"client without the scope", "dmv-noscope", "", http.StatusForbidden},
		{"client of no agency", "nowhere-sys", "", http.StatusForbidden},
		{"bad token", "forged", "", http.StatusUnauthorized},
		{"negative cursor", "dmv-sys", "?after=-1", http.StatusBadRequest},
		{"word cursor", "dmv-sys", "?after=latest", http.StatusBadRequest},
		{"huge cursor", "dmv-sys", "?after=99999999999999999999", http.StatusBadRequest},
		{"cursor twice", "dmv-sys", "?after=1&after=2", http.StatusBadRequest},
		{"zero limit", "dmv-sys", "?limit=0", http.StatusBadRequest},
		{"limit too big", "dmv-sys", "?limit=1001", http.StatusBadRequest},
		{"plus sign", "dmv-sys", "?after=%2B1", http.StatusBadRequest},
		{"dmv", "dmv-sys", "", http.StatusOK},
		{"adams clerk", "clerk-sys", "?after=0&limit=1000", http.StatusOK},
		{"past the head", "dmv-sys", "?after=100000", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := r.get(t, tc.token, "/api/v1/events"+tc.query, tc.want)
			if tc.want != http.StatusOK {
				r.validate(t, "/api/v1/events", "default", "application/problem+json", body)
				return
			}
			r.validate(t, "/api/v1/events", "200", "application/json", body)
		})
	}

	read := func(token string, after int64, limit int) api.EventPage {
		t.Helper()
		body := r.get(t, token, "/api/v1/events?after="+strconv.FormatInt(after, 10)+"&limit="+strconv.Itoa(limit), http.StatusOK)
		var p api.EventPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), ana) {
			t.Errorf("%s's page names the applicant's account id: %s", token, body)
		}
		return p
	}
	// The DMV's system pages through its events one at a time and sees
	// exactly the DMV's, in log order, ending on an empty page that keeps
	// its cursor.
	var got []api.FeedEvent
	var cursor int64
	for range 20 {
		p := read("dmv-sys", cursor, 1)
		if len(p.Events) == 0 {
			if p.Next != cursor {
				t.Fatalf("an empty page moved the cursor from %d to %d", cursor, p.Next)
			}
			break
		}
		got = append(got, p.Events...)
		cursor = p.Next
	}
	all, err := events.Read(ctx, r.app.DB, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range all {
		if e.AgencyID == "dmv" {
			want = append(want, e.Position)
		}
	}
	if len(got) != len(want) || len(want) < 2 {
		t.Fatalf("the DMV read %d events, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.Position != want[i] || e.Agency != "dmv" || e.SpecVersion != "1.0" || e.ID == "" {
			t.Errorf("event %d = %+v, want position %d of the DMV", i, e, want[i])
		}
		switch {
		case e.Type == "gov.portico.case.opened":
			var c map[string]any
			if err := json.Unmarshal(e.Data, &c); err != nil || c["id"] != dmvCase.ID || c["reference"] != dmvCase.Reference || c["account_id"] != nil {
				t.Errorf("case.opened data = %s", e.Data)
			}
			if e.Subject != "case:"+dmvCase.ID {
				t.Errorf("case.opened subject = %q", e.Subject)
			}
		case strings.HasPrefix(e.Type, "gov.portico.case."):
			var d struct {
				Case   map[string]any `json:"case"`
				Detail map[string]any `json:"detail"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil || d.Case["id"] != dmvCase.ID || d.Case["account_id"] != nil {
				t.Errorf("%s data = %s", e.Type, e.Data)
			}
		case e.Type == "gov.portico.consent.given":
			if e.Subject != "" || e.Data != nil {
				t.Errorf("an undescribed type carried subject %q and data %s", e.Subject, e.Data)
			}
		}
	}
	// The clerk's system sees only the clerk's events: of cases, only
	// the clerk's case (an amount owed the case set is the clerk's too).
	p := read("clerk-sys", 0, 1000)
	if len(p.Events) == 0 {
		t.Fatal("the Adams County Clerk read no events")
	}
	for _, e := range p.Events {
		if e.Agency != "adams-clerk" || (strings.HasPrefix(e.Type, "gov.portico.case.") && !strings.Contains(e.Subject, clerkCase.ID)) {
			t.Errorf("the clerk read %+v", e)
		}
	}

	// Reads that returned events are audited in the client's name; the
	// empty poll is not.
	entries, err := r.app.Audit.List(ctx, audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range entries {
		if e.Action == "events.read" {
			reads++
			if !strings.HasPrefix(e.Actor, "client:") || !strings.HasPrefix(e.Subject, "client:") {
				t.Errorf("events.read by %q about %q", e.Actor, e.Subject)
			}
		}
	}
	// The table's two successful reads with events (dmv, clerk), the
	// DMV's one-by-one pages, and the clerk's read above.
	if wantReads := 2 + len(want) + 1; reads != wantReads {
		t.Errorf("%d events.read entries, want %d", reads, wantReads)
	}
}

// FuzzEventsCursor: whatever a client sends as after and limit, parsing
// never panics, accepts only plain decimal numbers in range, and refuses
// everything else with an invalid-input error naming the parameter.
func FuzzEventsCursor(f *testing.F) {
	f.Add("0", "100", false)
	f.Add("", "", false)
	f.Add("-1", "1", false)
	f.Add("9223372036854775807", "1000", false)
	f.Add("9223372036854775808", "1", false)
	f.Add("+5", " 5", false)
	f.Add("1", "1001", true)
	f.Add("0x10", "1e3", false)
	f.Fuzz(func(t *testing.T, after, limit string, twice bool) {
		q := url.Values{}
		if after != "" {
			q.Add("after", after)
			if twice {
				q.Add("after", after)
			}
		}
		if limit != "" {
			q.Add("limit", limit)
		}
		a, l, err := api.ParseEventsCursor(q)
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("error %v is not invalid input", err)
			}
			var pe *platform.Error
			if !errors.As(err, &pe) || (pe.Field != "after" && pe.Field != "limit") {
				t.Fatalf("error %v does not name the parameter", err)
			}
			return
		}
		if twice && after != "" {
			t.Fatalf("accepted after given twice")
		}
		if a < 0 || l < 1 || l > eventfeed.MaxLimit {
			t.Fatalf("accepted after %d, limit %d", a, l)
		}
		if after != "" && strconv.FormatInt(a, 10) != strings.TrimLeft(after, "0") && !(a == 0 && strings.Trim(after, "0") == "") {
			t.Fatalf("after %q read as %d", after, a)
		}
		if limit == "" && l != eventfeed.DefaultLimit {
			t.Fatalf("default limit %d", l)
		}
	})
}
