package oidc

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portico-gov/portico/internal/platform"
)

// AccessToken is a bearer token this provider issued, verified and live.
// AccountID is empty for a client's own token (client credentials).
type AccessToken struct {
	ID        string
	ClientID  string
	AccountID string
	Scopes    []string
	Expires   time.Time
}

// HasScope reports whether the token carries scope.
func (t AccessToken) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// VerifyAccessToken checks a bearer token for Portico's own APIs: the JWT
// signature against the provider's keys (old keys stay verifiable until
// their tokens expire), issuer and expiry (by zitadel/oidc's verifier),
// then the stored token row, so a revoked token or one of a revoked grant
// is refused before its expiry. Any failure is CodeUnauthorized with a
// message safe to show the client; the cause is not revealed.
func (s *Service) VerifyAccessToken(ctx context.Context, raw string) (AccessToken, error) {
	if raw == "" || len(raw) > 8192 {
		return AccessToken{}, platform.Errorf(platform.CodeUnauthorized, "a valid bearer access token is required")
	}
	v := op.NewAccessTokenVerifier(s.cfg.Issuer, s.TokenKeySet())
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, raw, v)
	if err != nil {
		return AccessToken{}, platform.Errorf(platform.CodeUnauthorized, "the bearer access token is not valid")
	}
	if isClientToken(claims.JWTID) {
		return s.verifyClientToken(ctx, claims)
	}
	clientID, accountID, scopes, _, expires, ok, err := s.liveToken(ctx, claims.JWTID)
	if err != nil {
		return AccessToken{}, fmt.Errorf("oidc: verify access token: %w", err)
	}
	if !ok || (accountID != "" && accountID != claims.Subject) {
		return AccessToken{}, platform.Errorf(platform.CodeUnauthorized, "the bearer access token has expired or was revoked")
	}
	return AccessToken{ID: claims.JWTID, ClientID: clientID, AccountID: accountID, Scopes: scopes, Expires: expires}, nil
}
