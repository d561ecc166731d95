package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/audit"
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

// BenchmarkGatewayParts measures two pieces of the work every plug-in
// call must do and a reverse proxy never does, in CPU time per call
// (cpu-us/op: the whole process, setup excluded): signing the call's
// ES256 token (claims as the gateway encodes them: a pairwise subject, a
// fresh jti, the person's name) and appending its plugin.call entry to the
// hash-chained audit log, with as many writers at once as
// BenchmarkGatewayHTTP's client has calls in flight (so group commit
// shares transactions as it does there). Beside nginx's proxy-cpu-us/op
// in BenchmarkGatewayHTTP, their sum is a floor under the gateway's own
// CPU per call that no implementation keeping those guarantees goes
// below (docs/performance.md, "Session 14").
//
//	go test ./bench -run '^$' -bench GatewayParts -benchtime 3s
func BenchmarkGatewayParts(b *testing.B) {
	for _, d := range storagetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := storagetest.Open(b, d)
			env := gatewaytest.New(b, db, gatewaytest.Timeouts{})
			actor := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
			ctx := platform.WithActor(context.Background(), actor)
			b.Run("part=sign", func(b *testing.B) {
				if _, err := env.OIDC.SignJWT(ctx, callClaimsJSON(env.Issuer.URL)); err != nil { // keys loaded before timing
					b.Fatal(err)
				}
				cpu := processCPU()
				b.SetParallelism(parallelism)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := env.OIDC.SignJWT(ctx, callClaimsJSON(env.Issuer.URL)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				reportCPU(b, processCPU()-cpu, b.N)
			})
			b.Run("part=audit", func(b *testing.B) {
				detail := map[string]any{"attempts": 1, "data": []string{"name"}, "duration_ms": 1, "operation": "find-vehicle",
					"outcome": "ok", "person": "acct-ana", "request_sha256": strings.Repeat("a", 64),
					"response_sha256": strings.Repeat("b", 64), "service": "vehicle-registration-renewal", "status": 200}
				cpu := processCPU()
				b.SetParallelism(parallelism)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := env.Log.Write(ctx, audit.Record{Action: "plugin.call", Subject: "plugin:vehicle-registry",
							AgencyID: "dmv", Person: "acct-ana", Detail: detail}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				reportCPU(b, processCPU()-cpu, b.N)
			})
		})
	}
}

// callClaimsJSON is a call token's claims as the gateway hands them to
// its signer: encoded once, with a fresh jti.
func callClaimsJSON(issuer string) json.RawMessage {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	now := time.Now().Unix()
	b, _ := json.Marshal(struct {
		Iss     string `json:"iss"`
		Aud     string `json:"aud"`
		Sub     string `json:"sub"`
		Iat     int64  `json:"iat"`
		Nbf     int64  `json:"nbf"`
		Exp     int64  `json:"exp"`
		Jti     string `json:"jti"`
		Agency  string `json:"agency"`
		Service string `json:"service"`
		Name    string `json:"name"`
	}{issuer, "vehicle-registry", strings.Repeat("5f", 32), now, now, now + 120, hex.EncodeToString(jti[:]), "dmv", "vehicle-registration-renewal", "Ana Example"})
	return b
}
