package vehicleregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the claims of a Portico call token that this plug-in reads.
type Claims struct {
	jwt.Claims
	Agency  string `json:"agency"`
	Service string `json:"service"`
	Case    string `json:"case,omitempty"`
	Name    string `json:"name,omitempty"`
	Address any    `json:"address,omitempty"`
}

// Verifier checks Portico's call tokens against the keys Portico
// publishes: it reads the discovery document at
// Issuer/.well-known/openid-configuration, fetches its jwks_uri, caches
// the keys, and fetches them again (at most once a minute) when a token
// names a key it does not know, as after a rotation.
type Verifier struct {
	issuer, audience string
	client           *http.Client
	now              func() time.Time

	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	fetchedAt time.Time
}

// MaxLifetime is the longest lifetime (exp - iat) a token may declare.
const MaxLifetime = 5 * time.Minute

// NewVerifier returns a verifier of tokens for audience issued by issuer.
func NewVerifier(issuer, audience string, client *http.Client, now func() time.Time) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{issuer: strings.TrimRight(issuer, "/"), audience: audience, client: client, now: now}
}

var algs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// Verify checks the token's signature, iss, aud, exp and lifetime.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > 16<<10 {
		return nil, errors.New("token too long")
	}
	tok, err := jwt.ParseSigned(token, algs)
	if err != nil {
		return nil, err
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("the token must have one signature")
	}
	key, err := v.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var c Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, err
	}
	now := v.now()
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.audience}, Time: now}, 30*time.Second); err != nil {
		return nil, err
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return nil, errors.New("the token must carry exp and iat")
	}
	if c.Expiry.Time().Sub(c.IssuedAt.Time()) > MaxLifetime {
		return nil, errors.New("the token lives longer than five minutes")
	}
	return &c, nil
}

func (v *Verifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ks := v.keys.Key(kid); len(ks) > 0 {
		return &ks[0], nil
	}
	if !v.fetchedAt.IsZero() && v.now().Sub(v.fetchedAt) < time.Minute {
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	set, err := v.fetch(ctx)
	v.fetchedAt = v.now()
	if err != nil {
		return nil, err
	}
	v.keys = set
	if ks := v.keys.Key(kid); len(ks) > 0 {
		return &ks[0], nil
	}
	return nil, fmt.Errorf("unknown key %q", kid)
}

func (v *Verifier) getJSON(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", url, res.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(into)
}

func (v *Verifier) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, v.issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("discovery: %w", err)
	}
	if strings.TrimRight(disc.Issuer, "/") != v.issuer || disc.JWKSURI == "" {
		return jose.JSONWebKeySet{}, fmt.Errorf("discovery: issuer %q, jwks_uri %q", disc.Issuer, disc.JWKSURI)
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("keys: %w", err)
	}
	return set, nil
}
