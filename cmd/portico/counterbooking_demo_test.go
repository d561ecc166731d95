package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
)

// TestDemoCounterBooking: `portico demo` serves the private provider's
// counter booking on loopback, registered and enabled for two agencies
// (reuse); each books at its own counters through the gateway, the
// plug-in's answers pass the gateway's OpenAPI validation, and neither
// agency sees the other's offices.
func TestDemoCounterBooking(t *testing.T) {
	_, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	p, err := a.Plugins.Get(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), platform.Actor{Kind: platform.ActorSystem}, "counter-booking")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.BaseURL, "http://127.0.0.1:") || p.BaseURL == "http://127.0.0.1:8092" {
		t.Fatalf("counter-booking is registered at %s, not at the demo's own server", p.BaseURL)
	}
	for _, tt := range []struct{ agency, office, other string }{
		{"adams-clerk", "adams-courthouse", "dmv-springfield"},
		{"dmv", "dmv-springfield", "adams-courthouse"},
	} {
		t.Run(tt.agency, func(t *testing.T) {
			staff := platform.Actor{Kind: platform.ActorStaff, ID: "clerk-" + tt.agency, Grants: []platform.Grant{{Agency: tt.agency, Role: "caseworker"}}}
			list := gateway.Request{Agency: tt.agency, Service: "marriage-licence", Plugin: "counter-booking", Operation: "list-slots",
				Path: map[string]string{"office": tt.office}, Query: map[string][]string{"day": {nextWeekday(t)}}}
			res, err := a.Gateway.Call(ctx, staff, list)
			if err != nil || res.Status != 200 {
				t.Fatalf("list-slots: %v %d %s", err, res.Status, res.Body)
			}
			var slots struct {
				Slots []struct {
					ID string `json:"id"`
				} `json:"slots"`
			}
			if err := json.Unmarshal(res.Body, &slots); err != nil || len(slots.Slots) == 0 {
				t.Fatalf("no free times: %v %s", err, res.Body)
			}
			book := gateway.Request{Agency: tt.agency, Service: "marriage-licence", Plugin: "counter-booking", Operation: "book-slot",
				Path: map[string]string{"office": tt.office}, Body: []byte(`{"slot_id":"` + slots.Slots[0].ID + `"}`),
				Data: map[string]any{"name": "Ana Ciudadana", "email": "ana@example.com"}}
			res, err = a.Gateway.Call(ctx, staff, book)
			if err != nil || res.Status != 201 || !strings.Contains(string(res.Body), `"name":"Ana Ciudadana"`) {
				t.Fatalf("book-slot: %v %d %s", err, res.Status, res.Body)
			}
			var booking struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(res.Body, &booking)
			cancel := gateway.Request{Agency: tt.agency, Service: "marriage-licence", Plugin: "counter-booking", Operation: "cancel-booking",
				Path: map[string]string{"booking": booking.ID}}
			if res, err := a.Gateway.Call(ctx, staff, cancel); err != nil || res.Status != 204 {
				t.Fatalf("cancel-booking: %v %d %s", err, res.Status, res.Body)
			}
			list.Path["office"] = tt.other
			if res, err := a.Gateway.Call(ctx, staff, list); err != nil || res.Status != 404 {
				t.Fatalf("another agency's office: %v %d %s", err, res.Status, res.Body)
			}
		})
	}
}

// nextWeekday is the next Monday-to-Friday date after today in the
// State of Example's zone, when every counter has free times.
func nextWeekday(t *testing.T) string {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	d := time.Now().In(loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.Format(time.DateOnly)
}
