package bench

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkGateway calls the example vehicle-registry plug-in on loopback
// through the gateway (access check, token minting, response validation,
// audit entry) and, in the same run, directly with a token minted once,
// so the ratio is the gateway's cost. The plug-in verifies every token
// against Portico's JWKS (cached) in both.
//
//	go test ./bench -run '^$' -bench 'Gateway' -benchtime 2s
func BenchmarkGateway(b *testing.B) {
	for _, d := range storagetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := storagetest.Open(b, d)
			benchGateway(b, db)
		})
	}
}

func benchGateway(b *testing.B, db *storage.DB) {
	env := gatewaytest.New(b, db, gatewaytest.Timeouts{})
	env.GiveConsent(b, "acct-ana") // the person agreed to share their data with the plug-in
	env.SetHandler(vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler())
	g := env.Gateway(b, gateway.Config{})
	actor := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	req := gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Person: "acct-ana", Plugin: "vehicle-registry",
		Operation: "find-vehicle", Path: map[string]string{"plate": "EX4KQ218"}, Data: map[string]any{"name": "Ana Example"}}
	ctx := context.Background()
	b.Run("through-gateway", func(b *testing.B) {
		for b.Loop() {
			if res, err := g.Call(ctx, actor, req); err != nil || res.Status != 200 {
				b.Fatal(err, res.Status)
			}
		}
	})
	tok, err := env.OIDC.SignJWT(ctx, map[string]any{"iss": env.Issuer.URL, "aud": "vehicle-registry", "sub": "x",
		"jti": "bench-direct", "agency": "dmv", "service": "vehicle-registration-renewal", // the claims a plug-in requires (pluginsdk)

		"iat": time.Now().Unix(), "exp": time.Now().Add(gateway.MaxTokenTTL).Unix()})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			r, _ := http.NewRequest("GET", env.Plugin.URL+"/vehicles/EX4KQ218", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatal(res.StatusCode)
			}
		}
	})
}
