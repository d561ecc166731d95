package pluginsdk_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

const plugin = "counter-booking"

func base() pluginsdk.Claims {
	return pluginsdk.Claims{Agency: "adams-clerk", Service: "marriage-licence"}
}

func TestVerify(t *testing.T) {
	for _, alg := range []pluginsdktest.Algorithm{pluginsdktest.ES256, pluginsdktest.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			p := pluginsdktest.NewWith(t, plugin, alg)
			other := pluginsdktest.New(t, plugin) // another issuer's keys
			now := time.Now()
			v := pluginsdk.NewVerifier(p.URL, plugin)
			ctx := context.Background()

			full := base()
			full.Subject, full.Case = p.Subject("ana"), "case-1"
			full.Name, full.BirthDate, full.Email, full.Phone = "Ana Example", "1990-04-02", "ana@example.com", "+1 555 0100"
			full.Address = &pluginsdk.Address{Locality: "Springfield", Region: "EX", PostalCode: "70101"}
			full.Answers = map[string]json.RawMessage{"marriage-licence": json.RawMessage(`{"partner":"Beto"}`)}

			with := func(f func(*pluginsdk.Claims)) pluginsdk.Claims { c := base(); f(&c); return c }
			tests := []struct {
				name   string
				token  string
				reason pluginsdk.Reason // "" = accepted
			}{
				{"full", p.Token(full), ""},
				{"agency call", p.Token(base()), ""},
				{"five minutes", p.Token(with(func(c *pluginsdk.Claims) { c.IssuedAt = now; c.Expiry = now.Add(5 * time.Minute) })), ""},
				{"skew within leeway", p.Token(with(func(c *pluginsdk.Claims) { c.IssuedAt = now.Add(20 * time.Second); c.Expiry = now.Add(2 * time.Minute) })), ""},
				{"empty", "", pluginsdk.ReasonMissing},
				{"garbage", "a.b.c", pluginsdk.ReasonMalformed},
				{"alg none", "eyJhbGciOiJub25lIn0.e30.", pluginsdk.ReasonMalformed},
				{"HS256", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.Et9HFtf9R3GEMA0IICOfFMVXY7kkTX1wr4qCyhIf58U", pluginsdk.ReasonMalformed},
				{"other audience", p.Token(with(func(c *pluginsdk.Claims) { c.Audience = []string{"vehicle-registry"} })), pluginsdk.ReasonAudience},
				{"other issuer claim", p.Token(with(func(c *pluginsdk.Claims) { c.Issuer = "https://evil.example" })), pluginsdk.ReasonIssuer},
				{"other issuer's key", other.Token(with(func(c *pluginsdk.Claims) { c.Issuer = p.URL })), pluginsdk.ReasonUnknownKey},
				{"expired", p.Token(with(func(c *pluginsdk.Claims) { c.IssuedAt = now.Add(-4 * time.Minute); c.Expiry = now.Add(-time.Minute) })), pluginsdk.ReasonExpired},
				{"future", p.Token(with(func(c *pluginsdk.Claims) { c.IssuedAt = now.Add(2 * time.Minute); c.Expiry = now.Add(4 * time.Minute) })), pluginsdk.ReasonNotYetValid},
				{"too long", p.Token(with(func(c *pluginsdk.Claims) { c.IssuedAt = now; c.Expiry = now.Add(6 * time.Minute) })), pluginsdk.ReasonLifetime},
				{"no agency", p.Token(with(func(c *pluginsdk.Claims) { c.Agency = ""; c.Subject = "x" })), pluginsdk.ReasonClaims},
				{"tampered", tamper(t, p.Token(full)), pluginsdk.ReasonSignature},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c, err := v.Verify(ctx, tt.token)
					if tt.reason == "" {
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
						return
					}
					var te *pluginsdk.TokenError
					if !errors.As(err, &te) || te.Reason != tt.reason {
						t.Fatalf("got %v (claims %+v), want reason %s", err, c, tt.reason)
					}
				})
			}

			c, err := v.Verify(ctx, p.Token(full))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != p.Subject("ana") || !c.ForPerson() || c.Agency != "adams-clerk" || c.Service != "marriage-licence" || c.Case != "case-1" ||
				c.Name != "Ana Example" || c.BirthDate != "1990-04-02" || c.Email != "ana@example.com" || c.Phone != "+1 555 0100" ||
				c.Address == nil || c.Address.PostalCode != "70101" || c.JTI == "" || c.Issuer != p.URL || c.Expiry.Sub(c.IssuedAt) != pluginsdktest.DefaultTTL {
				t.Fatalf("claims: %+v", c)
			}
			var answers struct{ Partner string }
			if err := c.DecodeAnswers("marriage-licence", &answers); err != nil || answers.Partner != "Beto" {
				t.Fatalf("answers: %v %+v", err, answers)
			}
			if err := c.DecodeAnswers("fishing-licence", &answers); err == nil {
				t.Fatal("answers of a service the token does not carry")
			}
			if a, _ := v.Verify(ctx, p.Token(base())); a.ForPerson() || a.Name != "" || a.Address != nil {
				t.Fatalf("an agency call: %+v", a)
			}
		})
	}
}

// tamper changes the name in the token's payload, keeping the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = "Mallory"
	b, _ = json.Marshal(m)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// TestKeyRotation: a token signed with a new key makes the verifier fetch
// the keys again; unknown key ids do not make it fetch more than once per
// interval.
func TestKeyRotation(t *testing.T) {
	p := pluginsdktest.New(t, plugin)
	clock := time.Now()
	v := pluginsdk.NewVerifier(p.URL, plugin, pluginsdk.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	if _, err := v.Verify(ctx, p.Token(base())); err != nil {
		t.Fatal(err)
	}
	if n := p.KeyFetches(); n != 1 {
		t.Fatalf("%d fetches for the first token", n)
	}
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, p.Token(base())); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.KeyFetches(); n != 1 {
		t.Fatalf("known key: %d fetches, want the cached 1", n)
	}
	clock = clock.Add(2 * time.Minute)
	p.Now = func() time.Time { return clock }
	p.RotateKey(pluginsdktest.RS256)
	if _, err := v.Verify(ctx, p.Token(base())); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := p.KeyFetches(); n != 2 {
		t.Fatalf("rotated key: %d fetches, want 2", n)
	}
	forged := pluginsdktest.New(t, plugin)
	forged.Now = p.Now
	for i := 0; i < 10; i++ {
		c := base()
		c.Issuer = p.URL
		if _, err := v.Verify(ctx, forged.Token(c)); err == nil {
			t.Fatal("a token of unknown key was accepted")
		}
	}
	if n := p.KeyFetches(); n != 2 {
		t.Fatalf("unknown key ids: %d fetches, want none within the interval", n)
	}
	clock = clock.Add(pluginsdk.DefaultRefetchInterval)
	c := base()
	c.Issuer = p.URL
	_, _ = v.Verify(ctx, forged.Token(c))
	if n := p.KeyFetches(); n != 3 {
		t.Fatalf("after the interval: %d fetches, want 3", n)
	}
}

func TestIssuerDown(t *testing.T) {
	p := pluginsdktest.New(t, plugin)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	v := pluginsdk.NewVerifier(down.URL, plugin)
	_, err := v.Verify(context.Background(), p.Token(base()))
	var te *pluginsdk.TokenError
	if !errors.As(err, &te) || te.Reason != pluginsdk.ReasonKeys {
		t.Fatalf("got %v, want reason keys", err)
	}
	if err := v.Prefetch(context.Background()); err == nil {
		t.Fatal("Prefetch of an unreachable issuer succeeded")
	}
	if err := pluginsdk.NewVerifier(p.URL, plugin).Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMiddleware(t *testing.T) {
	p := pluginsdktest.New(t, plugin)
	v := pluginsdk.NewVerifier(p.URL, plugin)
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := pluginsdk.ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in the context")
		}
		_, _ = io.WriteString(w, c.Agency+" "+c.Name)
	})))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	srvDown := httptest.NewServer(pluginsdk.NewVerifier(down.URL, plugin).Middleware(http.NotFoundHandler()))
	defer srvDown.Close()

	ana := base()
	ana.Name = "Ana Example"
	expired := base()
	expired.IssuedAt, expired.Expiry = time.Now().Add(-10*time.Minute), time.Now().Add(-8*time.Minute)
	wrongAud := base()
	wrongAud.Audience = []string{"vehicle-registry"}
	tests := []struct {
		name, url, auth string
		status          int
		reason, body    string
	}{
		{"ok", srv.URL, "Bearer " + p.Token(ana), 200, "", "adams-clerk Ana Example"},
		{"lower-case scheme", srv.URL, "bearer " + p.Token(ana), 200, "", "adams-clerk Ana Example"},
		{"no header", srv.URL, "", 401, "missing", `Authorization: Bearer TOKEN`},
		{"basic", srv.URL, "Basic dXNlcjpwYXNz", 401, "missing", ""},
		{"expired", srv.URL, "Bearer " + p.Token(expired), 401, "expired", "the token expired at"},
		{"audience", srv.URL, "Bearer " + p.Token(wrongAud), 401, "audience", `not \"counter-booking\"`},
		{"keys unreachable", srvDown.URL, "Bearer " + p.Token(ana), 503, "keys", "cannot fetch Portico's keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tt.url, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			if tt.status == 200 {
				return
			}
			var prob pluginsdk.Problem
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(b, &prob) != nil || prob.Reason != tt.reason || prob.Status != tt.status {
				t.Fatalf("problem: %s %s", ct, b)
			}
			if tt.status == 401 && !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate: %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestAddressForms(t *testing.T) {
	for in, want := range map[string]pluginsdk.Address{
		`"1 Main St, Springfield"`:                  {Formatted: "1 Main St, Springfield"},
		`{"locality":"Springfield","country":"US"}`: {Locality: "Springfield", Country: "US"},
	} {
		var a pluginsdk.Address
		if err := json.Unmarshal([]byte(in), &a); err != nil || a != want {
			t.Errorf("%s: %v %+v", in, err, a)
		}
	}
	var a pluginsdk.Address
	if err := json.Unmarshal([]byte(`12`), &a); err == nil {
		t.Error("a number was accepted as an address")
	}
}

// TestCallerGoneDuringFirstFetch: a request whose caller went away
// (Portico's call timed out) while the verifier fetched its first keys
// does not count as the interval's fetch: the next request fetches and
// is accepted. It once counted, and every token was refused as of an
// unknown key until the refetch interval passed.
func TestCallerGoneDuringFirstFetch(t *testing.T) {
	p := pluginsdktest.New(t, plugin)
	v := pluginsdk.NewVerifier(p.URL, plugin)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(gone, p.Token(base())); err == nil {
		t.Fatal("a token was accepted without keys")
	}
	if _, err := v.Verify(context.Background(), p.Token(base())); err != nil {
		t.Fatalf("the next request: %v", err)
	}
}
