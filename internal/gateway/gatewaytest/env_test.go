package gatewaytest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestNewTwiceOnOneDB: a second env on the database of a first (a
// benchmark's sub-runs do this) builds, and its gateway reaches its own
// plug-in server, not the first env's.
func TestNewTwiceOnOneDB(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		first := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		first.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("the first env's plug-in was called: %s %s", r.Method, r.URL)
			http.Error(w, "stale", http.StatusTeapot)
		}))
		second := gatewaytest.New(t, db, gatewaytest.Timeouts{Find: "2s"})
		second.SetHandler(vehicleregistry.NewServer(vehicleregistry.Config{Issuer: second.Issuer.URL}).Handler())
		const ana = "acct-ana-0001"
		second.GiveConsent(t, ana)
		g := second.Gateway(t, gateway.Config{})
		caseworker := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
		res, err := g.Call(context.Background(), caseworker, gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Case: "case-1", Person: ana,
			Plugin: "vehicle-registry", Operation: "find-vehicle", Path: map[string]string{"plate": "EX 4KQ-218"},
			Data: map[string]any{"name": "Ana Example", "address": map[string]any{"locality": "Springfield"}}})
		if err != nil || res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"EX 4KQ-218"`) {
			t.Fatalf("call through the second env: %v %d %s", err, res.Status, res.Body)
		}
	})
}
