package oidc

import (
	"context"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is Portico's public URL as tokens carry it in iss (the issuer
// of the discovery document).
func (s *Service) Issuer() string { return s.cfg.Issuer }

// SignJWT signs claims as a compact JWT with the OpenID Provider's active
// key, the key the JWKS at /.well-known/jwks.json publishes. The plug-in
// gateway (internal/gateway) mints its call tokens with it, so a plug-in
// verifies Portico with the same discovery document and keys a relying
// party uses. The caller sets every claim, iss, aud and exp included.
func (s *Service) SignJWT(ctx context.Context, claims any) (string, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return "", err
	}
	k := ring.active
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("oidc: signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	return tok, nil
}

// PublicKeys is the published key set, as /.well-known/jwks.json serves it.
func (s *Service) PublicKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range ring.all {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.private.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
	}
	return set, nil
}
