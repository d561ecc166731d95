package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/pkg/pluginsdk"
)

func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		env.GiveConsent(t, ana) // the person agreed to share their data with the plug-in
		real := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler()
		var mu sync.Mutex
		var tokens []string
		env.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			tokens = append(tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			mu.Unlock()
			real.ServeHTTP(w, r)
		}))
		g := env.Gateway(t, gateway.Config{})
		ctx := context.Background()
		// The example server verified the token against the JWKS: a 200.
		for i := 0; i < 2; i++ {
			res, err := g.Call(ctx, eli, find("EX 4KQ-218"))
			if err != nil || res.Status != 200 || !strings.Contains(string(res.Body), `"EX 4KQ-218"`) {
				t.Fatalf("call: %v %d %s", err, res.Status, res.Body)
			}
		}
		tok := tokens[0]
		c := payload(t, tok)
		if c["iss"] != env.Issuer.URL || c["aud"] != "vehicle-registry" || c["agency"] != "dmv" || c["service"] != "vehicle-registration-renewal" || c["case"] != "case-1" {
			t.Fatalf("claims: %v", c)
		}
		if c["name"] != "Ana Example" || c["address"] == nil {
			t.Fatalf("the allowed data are missing: %v", c)
		}
		for _, k := range []string{"email", "phone_number", "birthdate", "answers"} {
			if _, ok := c[k]; ok {
				t.Fatalf("the token carries %s, which was not asked for: %v", k, c)
			}
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat > 300 || exp <= iat {
			t.Fatalf("lifetime %v s", exp-iat)
		}
		if j1, j2 := c["jti"], payload(t, tokens[1])["jti"]; j1 == "" || j1 == j2 {
			t.Fatalf("jti not unique: %v %v", j1, j2)
		}
		sub := c["sub"].(string)
		if sub == ana || strings.Contains(sub, ana) || sub != payload(t, tokens[1])["sub"] || sub != g.Subject("vehicle-registry", ana) {
			t.Fatalf("sub %q is not the stable pairwise subject", sub)
		}
		if g.Subject("counter-booking", ana) == sub || g.Subject("vehicle-registry", "acct-beto") == sub {
			t.Fatal("sub is the same across plug-ins or persons")
		}

		// The verifier refuses a token for another plug-in, an expired
		// one and a tampered one.
		mine := pluginsdk.NewVerifier(env.Issuer.URL, "vehicle-registry")
		if _, err := mine.Verify(ctx, tok); err != nil {
			t.Fatalf("the plug-in refused Portico's token: %v", err)
		}
		other := pluginsdk.NewVerifier(env.Issuer.URL, "counter-booking")
		if _, err := other.Verify(ctx, tok); err == nil {
			t.Fatal("another plug-in accepted the token")
		}
		later := pluginsdk.NewVerifier(env.Issuer.URL, "vehicle-registry", pluginsdk.WithClock(func() time.Time { return time.Now().Add(10 * time.Minute) }))
		if _, err := later.Verify(ctx, tok); err == nil {
			t.Fatal("an expired token was accepted")
		}
		parts := strings.Split(tok, ".")
		c["name"] = "Mallory"
		forged, _ := json.Marshal(c)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
		if _, err := mine.Verify(ctx, tampered); err == nil {
			t.Fatal("a tampered token was accepted")
		}
		wrongIss := pluginsdk.NewVerifier("http://127.0.0.1:1", "vehicle-registry")
		if _, err := wrongIss.Verify(ctx, tok); err == nil {
			t.Fatal("a token was accepted without the issuer's keys")
		}
		// Through HTTP: the example server answers 401 to a tampered token.
		req, _ := http.NewRequest("GET", env.Plugin.URL+"/vehicles/EX4KQ218", nil)
		req.Header.Set("Authorization", "Bearer "+tampered)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("tampered token over HTTP: %d", res.StatusCode)
		}
	})
}
