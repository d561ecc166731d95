package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is Portico's public URL as tokens carry it in iss (the issuer
// of the discovery document).
func (s *Service) Issuer() string { return s.cfg.Issuer }

// SignJWT signs claims as a compact JWT with the OpenID Provider's active
// key, the key the JWKS at /.well-known/jwks.json publishes. The plug-in
// gateway (internal/gateway) mints its call tokens with it, so a plug-in
// verifies Portico with the same discovery document and keys a relying
// party uses. The caller sets every claim, iss, aud and exp included.
//
// claims is marshalled to JSON (encoding/json), except a json.RawMessage,
// which is taken as the claims already encoded: it must be one JSON
// object, and is signed byte for byte (the gateway builds its call
// tokens' claims that way, once, ADR 72).
//
// The token is a compact JWS (RFC 7515) that go-jose makes and signs
// over those bytes (its Signer.Sign: the claims are not decoded or
// encoded again), with the protected header {"alg","kid","typ":"JWT"},
// so any JOSE library verifies it against the JWKS. The signer is built
// once per active key and reused; it is rebuilt when the key ring's
// active key changes (a rotation here, or one another replica made, seen
// when the ring reloads). go-jose's signer only reads its fields when it
// signs, so one is shared by concurrent calls.
func (s *Service) SignJWT(ctx context.Context, claims any) (string, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return "", err
	}
	payload, ok := claims.(json.RawMessage)
	if !ok {
		if payload, err = json.Marshal(claims); err != nil {
			return "", fmt.Errorf("oidc: sign: claims: %w", err)
		}
	}
	if len(payload) < 2 || payload[0] != '{' {
		return "", errors.New("oidc: sign: the claims are not a JSON object")
	}
	signer, err := s.signerFor(ring.active)
	if err != nil {
		return "", err
	}
	return signer.sign(payload)
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

// cachedSigner is a JWS signer and the key it signs with. A key id
// names one key for good (ids are random and a key's material never
// changes), so the id and algorithm say whether the signer is still the
// active key's.
type cachedSigner struct {
	kid    string
	alg    jose.SignatureAlgorithm
	signer jose.Signer
}

// signerFor returns the JWT signer of k, building it when the cached one
// is another key's. Two callers may both build one after a rotation; the
// last stored wins, and both sign with k.
func (s *Service) signerFor(k *signingKey) (*cachedSigner, error) {
	if c := s.jwtSigner.Load(); c != nil && c.kid == k.id && c.alg == k.alg {
		return c, nil
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("oidc: signer: %w", err)
	}
	c := &cachedSigner{kid: k.id, alg: k.alg, signer: signer}
	s.jwtSigner.Store(c)
	return c, nil
}

// sign returns the compact JWS of payload (the claims, encoded), made by
// go-jose: JOSE is never assembled by hand here.
func (c *cachedSigner) sign(payload []byte) (string, error) {
	jws, err := c.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	return tok, nil
}
