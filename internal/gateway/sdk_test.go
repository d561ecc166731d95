package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/pkg/pluginsdk"
)

// TestSDKThroughGateway: a handler protected by pkg/pluginsdk's middleware,
// called through the real gateway with Portico's real OpenID Provider keys,
// receives exactly the claims the gateway put in the token; the SDK that
// plug-in authors use and the gateway agree on the protocol.
func TestSDKThroughGateway(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		env.GiveConsent(t, "acct-ana-0001") // the calls below are for Ana, carrying her data
		v := pluginsdk.NewVerifier(env.Issuer.URL, "vehicle-registry")
		var mu sync.Mutex
		var got []*pluginsdk.Claims
		env.SetHandler(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := pluginsdk.ClaimsFrom(r.Context())
			if !ok {
				t.Error("no claims in the context")
			}
			mu.Lock()
			got = append(got, c)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"plate": "EX 4KQ-218", "vin": "1HGCM82633A004352", "make": "Honda",
				"model": "Civic", "year": 2018, "registration_expires": "2027-01-01"})
		})))
		g := env.Gateway(t, gateway.Config{})
		ctx := context.Background()

		req := find("EX4KQ218")
		req.Data["answers:vehicle-registration-renewal"] = map[string]any{"plate": "EX 4KQ-218", "months": 12}
		res, err := g.Call(ctx, eli, req)
		if err != nil || res.Status != 200 {
			t.Fatalf("call: %v %d %s", err, res.Status, res.Body)
		}
		// A call for no person: the subject names the agency.
		agencyCall := find("EX4KQ218")
		agencyCall.Person, agencyCall.Case, agencyCall.Data = "", "", nil
		if _, err := g.Call(ctx, eli, agencyCall); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d calls reached the plug-in", len(got))
		}
		c := got[0]
		if c.Issuer != env.Issuer.URL || len(c.Audience) != 1 || c.Audience[0] != "vehicle-registry" || c.Subject != g.Subject("vehicle-registry", ana) || !c.ForPerson() {
			t.Fatalf("identity claims: %+v", c)
		}
		if c.Agency != "dmv" || c.Service != "vehicle-registration-renewal" || c.Case != "case-1" || c.JTI == "" {
			t.Fatalf("call claims: %+v", c)
		}
		if life := c.Expiry.Sub(c.IssuedAt); life <= 0 || life > pluginsdk.MaxLifetime {
			t.Fatalf("lifetime %s", life)
		}
		if c.Name != "Ana Example" || c.Address == nil || c.Address.Locality != "Springfield" || c.Email != "" || c.Phone != "" || c.BirthDate != "" {
			t.Fatalf("personal data: %+v (address %+v)", c, c.Address)
		}
		var answers struct {
			Plate  string `json:"plate"`
			Months int    `json:"months"`
		}
		if err := c.DecodeAnswers("vehicle-registration-renewal", &answers); err != nil || answers.Plate != "EX 4KQ-218" || answers.Months != 12 {
			t.Fatalf("answers: %v %+v", err, answers)
		}
		a := got[1]
		if a.ForPerson() || a.Subject != "agency:dmv" || a.Case != "" || a.Name != "" || a.Address != nil || len(a.Answers) != 0 || a.JTI == c.JTI {
			t.Fatalf("agency call claims: %+v", a)
		}
	})
}
