package main

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
)

// TestDemoGateway: `portico demo` serves the example vehicle records on
// loopback, registered at that address; a call through the gateway is
// verified by the plug-in against the demo's own discovery document and
// JWKS, and a renewal is recorded.
func TestDemoGateway(t *testing.T) {
	_, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	staff := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	giveConsent(t, a, "ana") // the person agreed to share their name with the vehicle records
	req := gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Person: "ana", Plugin: "vehicle-registry",
		Operation: "find-vehicle", Path: map[string]string{"plate": "EX7MB904"}, Data: map[string]any{"name": "Beto Ciudadano"}}
	res, err := a.Gateway.Call(ctx, staff, req)
	if err != nil || res.Status != 200 || !strings.Contains(string(res.Body), `"EX 7MB-904"`) {
		t.Fatalf("find-vehicle: %v %d %s", err, res.Status, res.Body)
	}
	req.Operation, req.Body = "record-renewal", []byte(`{"case_reference":"DMV-TEST-1","months":24}`)
	res, err = a.Gateway.Call(ctx, staff, req)
	if err != nil || res.Status != 201 {
		t.Fatalf("record-renewal: %v %d %s", err, res.Status, res.Body)
	}
}
