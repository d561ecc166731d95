package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
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
// The token is a compact JWS (RFC 7515) with the protected header
// {"alg":…,"kid":…,"typ":"JWT"}, the same go-jose wrote before ADR 72, so
// any JOSE library verifies it against the JWKS. The header is encoded
// once per active key and kept with it; it is rebuilt when the key ring's
// active key changes (a rotation here, or one another replica made, seen
// when the ring reloads). Signing only reads the cached header and key,
// so one is shared by concurrent calls.
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

// cachedSigner is the active key with its JWS protected header, encoded.
// A key id names one key for good (ids are random and a key's material
// never changes), so the id and algorithm say whether the signer is still
// the active key's.
type cachedSigner struct {
	kid    string
	alg    jose.SignatureAlgorithm
	key    crypto.Signer
	header string // base64url(protected header) + "."
	sigLen int    // the signature's length: 64 for ES256, the modulus's for RS256
}

// signerFor returns the JWT signer of k, building it when the cached one
// is another key's. Two callers may both build one after a rotation; the
// last stored wins, and both sign with k.
func (s *Service) signerFor(k *signingKey) (*cachedSigner, error) {
	if c := s.jwtSigner.Load(); c != nil && c.kid == k.id && c.alg == k.alg {
		return c, nil
	}
	c := &cachedSigner{kid: k.id, alg: k.alg, key: k.private}
	switch k.alg {
	case jose.ES256:
		if pub, ok := k.private.Public().(*ecdsa.PublicKey); !ok || pub.Curve.Params().BitSize != 256 {
			return nil, fmt.Errorf("oidc: signer: key %s is not a P-256 key", k.id)
		}
		c.sigLen = 64
	case jose.RS256:
		c.sigLen = k.private.Public().(interface{ Size() int }).Size()
	default:
		return nil, fmt.Errorf("oidc: signer: algorithm %s is not supported", k.alg)
	}
	// encoding/json writes the struct's fields in order and escapes the
	// id if it ever needed it: {"alg":"ES256","kid":"…","typ":"JWT"}.
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{string(k.alg), k.id, "JWT"})
	if err != nil {
		return nil, fmt.Errorf("oidc: signer: %w", err)
	}
	c.header = base64.RawURLEncoding.EncodeToString(h) + "."
	s.jwtSigner.Store(c)
	return c, nil
}

// sign returns the compact JWS of payload: header.payload.signature, each
// part base64url without padding; the signature is over the first two
// parts with SHA-256, as RFC 7518 defines ES256 (R and S, 32 bytes each,
// big-endian) and RS256 (RSASSA-PKCS1-v1_5).
func (c *cachedSigner) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(c.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(c.sigLen))
	buf = append(buf, c.header...)
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	sig, err := c.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	if c.alg == jose.ES256 {
		if sig, err = rawECDSA(sig, 32); err != nil {
			return "", fmt.Errorf("oidc: sign: %w", err)
		}
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// rawECDSA turns an ASN.1 DER ECDSA signature (what crypto.Signer gives)
// into JWS's form: R and S big-endian, each left-padded to size bytes.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var r, s []byte
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() ||
		len(r) > size || len(s) > size {
		return nil, errors.New("the ECDSA signature is malformed")
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):size], r)
	copy(out[2*size-len(s):], s)
	return out, nil
}
