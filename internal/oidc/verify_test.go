package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestVerifyAccessToken: Portico's own APIs accept a live token it issued
// and refuse anything else, including a token of a revoked grant.
func TestVerifyAccessToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		tok := s.flow(t, conf, "vera@example.com")
		ctx := context.Background()
		got, err := s.svc.VerifyAccessToken(ctx, tok.access)
		if err != nil || got.AccountID == "" || got.ClientID != reg.ID || !got.HasScope("openid") {
			t.Fatalf("live token: %+v, %v", got, err)
		}
		tampered := tok.access[:len(tok.access)-4] + "AAAA"
		for name, raw := range map[string]string{
			"empty": "", "garbage": "not-a-jwt", "tampered": tampered, "huge": strings.Repeat("a", 9000),
		} {
			if _, err := s.svc.VerifyAccessToken(ctx, raw); platform.ErrorCode(err) != platform.CodeUnauthorized {
				t.Errorf("%s: %v, want unauthorized", name, err)
			}
		}
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {tok.refresh}, "token_type_hint": {"refresh_token"}}, reg.ID, reg.Secret); code != http.StatusOK {
			t.Fatalf("revoke: %d %v", code, r)
		}
		if _, err := s.svc.VerifyAccessToken(ctx, tok.access); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Fatalf("token of a revoked grant: %v", err)
		}
	})
}
