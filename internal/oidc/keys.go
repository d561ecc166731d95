package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Signing algorithms Portico can sign with. ES256 is the default: an
// ECDSA P-256 signature costs tens of microseconds where an RSA-2048 one
// costs about a millisecond, and every token grant signs at least once.
// RS256 is there for relying parties that cannot verify anything else.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// signingKey is one key of the set: the private half when it is loaded
// for signing, always the public half for the JWKS.
type signingKey struct {
	id          string
	alg         jose.SignatureAlgorithm
	private     crypto.Signer
	createdAt   time.Time
	signFrom    time.Time // when it starts signing (created_at for keys made before sign_from)
	retireAfter *time.Time
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a key as published in the JWKS.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.private.Public() }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// keyRing caches the key set read from the database for keyCacheTTL, so a
// grant does not read and unseal the key on every request. Every replica
// reloads on the same schedule, so a rotation reaches them all within
// keyCacheTTL; the retirement rule below allows for that.
type keyRing struct {
	mu sync.Mutex
	// first serializes making the first key in this process: two
	// requests that both found no key must not both make one, or the
	// JWKS a plug-in fetched between the two commits lacks the key
	// tokens are then signed with (seen in CI as unknown_key refusals
	// right after a fresh demo started).
	first    sync.Mutex
	loadedAt time.Time
	active   *signingKey
	all      []*signingKey
	// switchAt is the earliest sign_from still ahead at loadedAt (zero:
	// none): the cached set is stale from then, so a process starts
	// signing with a published key at its time, not up to keyCacheTTL
	// later.
	switchAt time.Time
}

// Key is a signing key as the operator sees it.
type Key struct {
	ID          string     `json:"kid"`
	Alg         string     `json:"alg"`
	CreatedAt   time.Time  `json:"created_at"`
	SignFrom    time.Time  `json:"sign_from"` // when it signs (or signed) from; published from created_at
	RetireAfter *time.Time `json:"retire_after,omitempty"`
	Active      bool       `json:"active"` // signing now
}

// RotateResult says what a rotation did.
type RotateResult struct {
	// Active is the new key. It is published at once and signs from its
	// SignFrom (KeyPublishDelay later unless the rotation was
	// immediate); its Active says whether it signs already.
	Active  Key   `json:"active"`
	Retired []Key `json:"retiring"` // still published until their retire_after
	Dropped int   `json:"dropped"`  // keys past retire_after that were deleted
}

// KeyPublishDelay is how long a rotated key is published before it
// signs. A verifier that meets an unknown kid refetches the key set at
// most once a minute (docs/plugins.md asks that of plug-ins; pluginsdk
// does it), so one that fetched the set just before the rotation would
// refuse the new key's tokens for up to a minute if it signed at once.
// Published this long first, every verifier either fetched the set after
// the key appeared or may refetch when it meets it: one minute for that
// limit, keyCacheTTL for replicas to load the key, and 30 seconds of
// clock skew between replicas.
const KeyPublishDelay = time.Minute + keyCacheTTL + 30*time.Second

func newPrivateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, platform.Invalid("alg", fmt.Sprintf("algorithm %q must be ES256 or RS256", alg))
}

func keySealContext(kid string) string { return "oidc-key:" + kid }

// retirementDelay is how long a superseded key must stay published: other
// replicas may go on signing with it until their key cache expires, and a
// token signed at that last moment lives for the longest token lifetime.
// Refresh tokens are opaque, not signed, so they do not count.
func (s *Service) retirementDelay() time.Duration {
	return keyCacheTTL + max(s.cfg.AccessTokenTTL, s.cfg.IDTokenTTL) + time.Minute // a minute of clock skew between replicas
}

// RotateKeys makes a new signing key (alg ES256 or RS256), published at
// once. It signs from KeyPublishDelay later, or at once when immediate
// (a key that leaked must stop signing now, whatever verifiers refuse
// for a minute; a new installation's first key has nothing to wait for).
// Every earlier key that has no retirement time gets one,
// retirementDelay after the new key starts signing (until then the
// current key goes on signing); keys whose retirement time has passed
// are deleted. Audited.
func (s *Service) RotateKeys(ctx context.Context, alg string, immediate bool) (*RotateResult, error) {
	if alg == "" {
		alg = AlgES256
	}
	priv, err := newPrivateKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("oidc: marshal key: %w", err)
	}
	kid := randomToken()[:16]
	sealed, err := s.box.Seal(base64.StdEncoding.EncodeToString(der), keySealContext(kid))
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	res := &RotateResult{Active: Key{ID: kid, Alg: alg, CreatedAt: now}, Retired: []Key{}}
	var signFrom time.Time
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// With no key published, no verifier can have cached a set that
		// lacks this one: it signs at once.
		var published int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_keys WHERE retire_after IS NULL OR retire_after > $1`, now).Scan(&published); err != nil {
			return fmt.Errorf("oidc: count keys: %w", err)
		}
		atOnce := immediate || published == 0
		signFrom = now
		if !atOnce {
			signFrom = now.Add(KeyPublishDelay)
		}
		res.Active.SignFrom, res.Active.Active = signFrom, atOnce
		retire := signFrom.Add(s.retirementDelay())
		if _, err := tx.ExecContext(ctx, `UPDATE oidc_keys SET retire_after = $1 WHERE retire_after IS NULL`, retire); err != nil {
			return fmt.Errorf("oidc: retire keys: %w", err)
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM oidc_keys WHERE retire_after IS NOT NULL AND retire_after <= $1`, now)
		if err != nil {
			return fmt.Errorf("oidc: drop keys: %w", err)
		}
		n, _ := r.RowsAffected()
		res.Dropped = int(n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_keys (id, alg, private_key, created_at, sign_from) VALUES ($1, $2, $3, $4, $5)`,
			kid, alg, sealed, now, signFrom); err != nil {
			return fmt.Errorf("oidc: store key: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, alg, created_at, sign_from, retire_after FROM oidc_keys WHERE id <> $1 ORDER BY created_at`, kid)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k Key
			var sf, ra sql.NullTime
			if err := rows.Scan(&k.ID, &k.Alg, &k.CreatedAt, &sf, &ra); err != nil {
				return err
			}
			k.CreatedAt = k.CreatedAt.UTC()
			k.SignFrom = k.CreatedAt
			if sf.Valid {
				k.SignFrom = sf.Time.UTC()
			}
			if ra.Valid {
				t := ra.Time.UTC()
				k.RetireAfter = &t
			}
			res.Retired = append(res.Retired, k)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "oidc.keys.rotate", Subject: "oidc-key:" + kid,
			Detail: map[string]any{"alg": alg, "retiring": len(res.Retired), "dropped": res.Dropped, "sign_from": signFrom, "immediate": res.Active.Active}})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.keys.mu.Lock()
	s.keys.loadedAt = time.Time{} // this process picks the new key up at once
	s.keys.mu.Unlock()
	return res, nil
}

// Keys lists the signing keys, newest first.
func (s *Service) Keys(ctx context.Context) ([]Key, error) {
	ring, err := s.loadKeys(ctx, true)
	if err != nil {
		return nil, err
	}
	out := []Key{}
	for _, k := range ring.all {
		out = append(out, Key{ID: k.id, Alg: string(k.alg), CreatedAt: k.createdAt, SignFrom: k.signFrom, RetireAfter: k.retireAfter, Active: k == ring.active})
	}
	return out, nil
}

// keyCacheTTL bounds how long a process keeps signing with a key after
// another process rotated it.
const keyCacheTTL = 30 * time.Second

// loadKeys returns the current key set, from cache unless force or stale
// (older than keyCacheTTL, or a published key's sign_from has come since
// it was read). The set holds every key whose retire_after is unset or
// ahead; the active one is the key with the latest sign_from that has
// come. When there is no key at all (a new installation), one is made.
func (s *Service) loadKeys(ctx context.Context, force bool) (*keyRing, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	now := s.clock.Now()
	if !force && s.keys.active != nil && now.Sub(s.keys.loadedAt) < keyCacheTTL && now.After(s.keys.loadedAt) &&
		(s.keys.switchAt.IsZero() || now.Before(s.keys.switchAt)) {
		return &keyRing{active: s.keys.active, all: s.keys.all, loadedAt: s.keys.loadedAt}, nil
	}
	all, active, err := s.readKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	if active == nil {
		s.keys.mu.Unlock()
		_, rerr := s.firstKey(ctx)
		s.keys.mu.Lock()
		if rerr != nil {
			return nil, rerr
		}
		if all, active, err = s.readKeys(ctx, now); err != nil {
			return nil, err
		}
		if active == nil {
			return nil, fmt.Errorf("oidc: no active signing key after creating one")
		}
	}
	s.keys.switchAt = time.Time{}
	for _, k := range all {
		if k.signFrom.After(now) && (s.keys.switchAt.IsZero() || k.signFrom.Before(s.keys.switchAt)) {
			s.keys.switchAt = k.signFrom
		}
	}
	s.keys.active, s.keys.all, s.keys.loadedAt = active, all, now
	return &keyRing{active: active, all: all, loadedAt: now}, nil
}

// firstKey creates the first signing key unless another process just did.
func (s *Service) firstKey(ctx context.Context) (bool, error) {
	s.keys.first.Lock()
	defer s.keys.first.Unlock()
	var n int
	if err := s.db.Write().QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_keys WHERE retire_after IS NULL`).Scan(&n); err != nil {
		return false, fmt.Errorf("oidc: count keys: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem})
	_, err := s.RotateKeys(ctx, s.cfg.KeyAlg, true) // no token exists yet for any verifier to have cached a key set
	return err == nil, err
}

func (s *Service) readKeys(ctx context.Context, now time.Time) (all []*signingKey, active *signingKey, err error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, alg, private_key, created_at, sign_from, retire_after FROM oidc_keys
		WHERE retire_after IS NULL OR retire_after > $1 ORDER BY COALESCE(sign_from, created_at) DESC, created_at DESC, id`, now)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: load keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k signingKey
		var alg, sealed string
		var sf, ra sql.NullTime
		if err := rows.Scan(&k.id, &alg, &sealed, &k.createdAt, &sf, &ra); err != nil {
			return nil, nil, fmt.Errorf("oidc: load keys: %w", err)
		}
		k.alg = jose.SignatureAlgorithm(alg)
		k.createdAt = k.createdAt.UTC()
		k.signFrom = k.createdAt
		if sf.Valid {
			k.signFrom = sf.Time.UTC()
		}
		if ra.Valid {
			t := ra.Time.UTC()
			k.retireAfter = &t
		}
		b64, err := s.box.Open(sealed, keySealContext(k.id))
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: key %s cannot be unsealed (is DATA/keys/secrets.key the one it was sealed with?): %w", k.id, err)
		}
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: key %s: %w", k.id, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: key %s: %w", k.id, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, nil, fmt.Errorf("oidc: key %s is not a signing key", k.id)
		}
		k.private = signer
		all = append(all, &k)
		// Newest sign_from first: the first whose time has come signs.
		if active == nil && !k.signFrom.After(now) {
			active = &k
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if active == nil && len(all) > 0 {
		// Only keys whose time has not come on this clock: a replica
		// whose clock is behind the one that made the first key. The
		// earliest signs rather than a second first key being made.
		active = all[len(all)-1]
	}
	return all, active, nil
}

// SigningKey implements op.Storage: the active key.
func (s *Service) SigningKey(ctx context.Context) (op.SigningKey, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return nil, err
	}
	return ring.active, nil
}

// SignatureAlgorithms implements op.Storage: the algorithms of the
// published keys, the active one first.
func (s *Service) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return nil, err
	}
	out := []jose.SignatureAlgorithm{ring.active.alg}
	for _, k := range ring.all {
		if k.alg != out[0] && (len(out) < 2 || out[1] != k.alg) {
			out = append(out, k.alg)
		}
	}
	return out, nil
}

// KeySet implements op.Storage: every published public key.
func (s *Service) KeySet(ctx context.Context) ([]op.Key, error) {
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(ring.all))
	for _, k := range ring.all {
		out = append(out, publicKey{k})
	}
	return out, nil
}
