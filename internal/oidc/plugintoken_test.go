package oidc_test

import (
	"context"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestSignJWTFollowsRotation: SignJWT reuses one signer per active key,
// concurrently, and after a rotation signs with the new key at once;
// every token verifies against the published key set.
func TestSignJWTFollowsRotation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		ctx := context.Background()
		verify := func(tok string) map[string]any {
			t.Helper()
			set, err := s.svc.PublicKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := parsed.Claims(set, &out); err != nil {
				t.Fatalf("token does not verify against the JWKS: %v", err)
			}
			return out
		}
		sign := func(n int) string {
			tok, err := s.svc.SignJWT(ctx, map[string]any{"n": n})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		first := sign(0)
		kid := kidOf(t, first)
		// Concurrent signers share the cached signer (go test -race).
		var wg sync.WaitGroup
		toks := make([]string, 16)
		for i := range toks {
			wg.Go(func() { toks[i] = sign(i + 1) })
		}
		wg.Wait()
		for i, tok := range toks {
			if kidOf(t, tok) != kid {
				t.Fatalf("token %d signed with %s, not the active %s", i, kidOf(t, tok), kid)
			}
			if got := verify(tok)["n"]; got != float64(i+1) {
				t.Fatalf("token %d carries n=%v", i, got)
			}
		}
		for _, alg := range []string{"RS256", "ES256"} {
			res, err := s.svc.RotateKeys(ctx, alg, true)
			if err != nil {
				t.Fatal(err)
			}
			tok := sign(99)
			if kidOf(t, tok) != res.Active.ID {
				t.Fatalf("after rotating to %s: signed with %s, want the new key %s", alg, kidOf(t, tok), res.Active.ID)
			}
			verify(tok)
		}
	})
}
