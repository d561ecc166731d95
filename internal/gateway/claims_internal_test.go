package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
)

// TestCallDetailEncoding: the plugin.call detail struct encodes to the
// bytes of the map[string]any the gateway audited before (ADR 72), with
// and without each optional field, so old and new entries read alike.
func TestCallDetailEncoding(t *testing.T) {
	for _, c := range []struct {
		name string
		d    callDetail
	}{
		{"all fields", callDetail{Service: "svc", Operation: "find", Outcome: OutcomeOK, DurationMS: 12, Attempts: 1,
			RequestSHA256: sum(nil), Data: []string{"address", "name"}, Case: "case-1", Person: "acct-<ana>&", Status: 200, ResponseSHA256: sum([]byte("{}"))}},
		{"no answer", callDetail{Service: "svc", Operation: "find", Outcome: OutcomeTimeout, Attempts: 3, RequestSHA256: sum(nil)}},
		{"no data, empty body", callDetail{Service: "svc", Operation: "find", Outcome: OutcomeInvalid, Attempts: 1,
			RequestSHA256: sum(nil), Data: []string{}, Status: 418, ResponseSHA256: sum([]byte{})}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.d
			m := map[string]any{
				"service": d.Service, "operation": d.Operation, "outcome": d.Outcome, "duration_ms": d.DurationMS,
				"attempts": d.Attempts, "request_sha256": d.RequestSHA256, "data": d.Data,
			}
			if d.Case != "" {
				m["case"] = d.Case
			}
			if d.Person != "" {
				m["person"] = d.Person
			}
			if d.Status != 0 {
				m["status"] = d.Status
			}
			if d.ResponseSHA256 != "" {
				m["response_sha256"] = d.ResponseSHA256
			}
			want, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("struct:\n%s\nmap:\n%s", got, want)
			}
		})
	}
}

// claimSigner keeps the claims it is asked to sign.
type claimSigner struct{ claims []byte }

func (s *claimSigner) Issuer() string { return "https://portico.example" }

func (s *claimSigner) SignJWT(_ context.Context, claims any) (string, error) {
	raw, ok := claims.(json.RawMessage)
	if !ok {
		return "", fmt.Errorf("claims are a %T, not encoded JSON", claims)
	}
	s.claims = raw
	return "token", nil
}

// TestTokenClaims: a call token's claims, encoded once by the gateway (ADR 72), are
// one JSON object with exactly the claims the map the gateway signed
// before had: each datum under its claim name, answers:SERVICE under
// answers, a person's pairwise subject or the agency's.
func TestTokenClaims(t *testing.T) {
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	signer := &claimSigner{}
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	g := &Gateway{signer: signer, box: box, clock: platform.NewFakeClock(at), cfg: Config{TokenTTL: time.Minute}}
	p := &plugin.Plugin{ID: "vehicle-registry"}
	tg := &target{pairKey: pairwiseKey(box, p.ID)}
	for _, c := range []struct {
		name string
		req  Request
		want map[string]any
	}{
		{"person with data", Request{Agency: "dmv", Service: "renew", Case: "case-1", Person: "acct-ana",
			Data: map[string]any{"name": "Ana \"<Example>\"", "address": map[string]any{"city": "Springfield"}, "answers:renew": map[string]any{"months": 12}, "answers:other": nil}},
			map[string]any{"case": "case-1", "sub": PairwiseSubject(box, "vehicle-registry", "acct-ana"), "name": "Ana \"<Example>\"",
				"address": map[string]any{"city": "Springfield"}, "answers": map[string]any{"renew": map[string]any{"months": float64(12)}, "other": nil}}},
		{"agency alone", Request{Agency: "dmv", Service: "renew"}, map[string]any{"sub": "agency:dmv"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := slices.Sorted(maps.Keys(c.req.Data))
			if _, err := g.token(context.Background(), tg, p, c.req, data); err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(signer.claims, &got); err != nil {
				t.Fatalf("%s: %v", signer.claims, err)
			}
			jti, _ := got["jti"].(string)
			if len(jti) != 32 {
				t.Fatalf("jti %q is not 128 bits in hex", jti)
			}
			delete(got, "jti")
			want := map[string]any{"iss": "https://portico.example", "aud": "vehicle-registry", "agency": "dmv", "service": "renew",
				"iat": float64(at.Unix()), "nbf": float64(at.Unix()), "exp": float64(at.Add(time.Minute).Unix())}
			maps.Copy(want, c.want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("claims\n%v\nwant\n%v", got, want)
			}
		})
	}
}
