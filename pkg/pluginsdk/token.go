package pluginsdk

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

// Limits of the token protocol.
const (
	// MaxLifetime is the longest lifetime (exp - iat) a token may declare.
	MaxLifetime = 5 * time.Minute
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultRefetchInterval is the least time between two fetches of the
	// keys caused by tokens naming unknown keys.
	DefaultRefetchInterval = time.Minute
	// DefaultKeyMaxAge is how long fetched keys are used before they are
	// fetched again (so a key Portico withdrew stops being trusted).
	DefaultKeyMaxAge = time.Hour
	// maxTokenBytes bounds what is parsed at all.
	maxTokenBytes = 16 << 10
)

// Algorithms are the only signature algorithms a token may use.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// Address is the OpenID Connect address claim. A token may also carry the
// address as a plain string; it is then in Formatted.
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// UnmarshalJSON accepts the claim's object form and a plain string.
func (a *Address) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Address{Formatted: s}
		return nil
	}
	type plain Address
	return json.Unmarshal(b, (*plain)(a))
}

// Claims are a verified call token's claims. The personal data fields are
// set only when the person consented and the agency approved sending them
// for this call; an empty field means "not shared", never "unknown".
type Claims struct {
	Issuer   string    // Portico's public URL
	Audience []string  // your plug-in id
	Subject  string    // a pseudonym of the person, stable for your plug-in; "agency:ID" when the call is for no person
	JTI      string    // unique per call (the same on the gateway's retries of that call)
	IssuedAt time.Time //
	Expiry   time.Time //

	Agency  string // the calling agency's id
	Service string // the calling service's id
	Case    string // the case id, when the call is about one

	Name      string   // "name"
	BirthDate string   // "birthdate", YYYY-MM-DD
	Address   *Address // "address"
	Email     string   // "email"
	Phone     string   // "phone_number"
	// Answers are a service's form answers, by service id ("answers").
	Answers map[string]json.RawMessage
}

// ForPerson reports whether the call is on behalf of a person (rather than
// of the agency alone).
func (c *Claims) ForPerson() bool { return !strings.HasPrefix(c.Subject, "agency:") }

// DecodeAnswers decodes the answers of service into v. It reports an
// error when the token carries no answers of that service.
func (c *Claims) DecodeAnswers(service string, v any) error {
	raw, ok := c.Answers[service]
	if !ok {
		return fmt.Errorf("pluginsdk: the token carries no answers of %q", service)
	}
	return json.Unmarshal(raw, v)
}

// wireClaims is the token's JSON.
type wireClaims struct {
	jwt.Claims
	Agency    string                     `json:"agency"`
	Service   string                     `json:"service"`
	Case      string                     `json:"case,omitempty"`
	Name      string                     `json:"name,omitempty"`
	BirthDate string                     `json:"birthdate,omitempty"`
	Address   *Address                   `json:"address,omitempty"`
	Email     string                     `json:"email,omitempty"`
	Phone     string                     `json:"phone_number,omitempty"`
	Answers   map[string]json.RawMessage `json:"answers,omitempty"`
}

// Reason says why a token was refused, in a word a log or a problem
// document can carry.
type Reason string

// Reasons a token is refused.
const (
	ReasonMissing     Reason = "missing"       // no Bearer token
	ReasonMalformed   Reason = "malformed"     // not a signed JWT with ES256 or RS256, or claims unreadable
	ReasonUnknownKey  Reason = "unknown_key"   // signed with a key the issuer does not publish
	ReasonSignature   Reason = "signature"     // the signature does not match
	ReasonIssuer      Reason = "issuer"        // iss is not the expected issuer
	ReasonAudience    Reason = "audience"      // aud is not this plug-in
	ReasonExpired     Reason = "expired"       // exp has passed
	ReasonNotYetValid Reason = "not_yet_valid" // nbf or iat in the future
	ReasonLifetime    Reason = "lifetime"      // no exp or iat, or exp - iat above five minutes
	ReasonClaims      Reason = "claims"        // a required claim (sub, jti, agency, service) is missing
	ReasonKeys        Reason = "keys"          // the issuer's keys could not be fetched (not the caller's fault)
)

// TokenError is why a token was refused.
type TokenError struct {
	Reason Reason
	Detail string
	Err    error // the underlying error, if any
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("pluginsdk: token refused (%s): %s: %v", e.Reason, e.Detail, e.Err)
	}
	return fmt.Sprintf("pluginsdk: token refused (%s): %s", e.Reason, e.Detail)
}

func (e *TokenError) Unwrap() error { return e.Err }

func refuse(r Reason, err error, format string, args ...any) *TokenError {
	return &TokenError{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithHTTPClient sets the client that fetches the discovery document and
// the keys (default: a client with a 10-second timeout).
func WithHTTPClient(c *http.Client) Option { return func(v *Verifier) { v.client = c } }

// WithClock sets the verifier's clock (default time.Now), for tests.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithLeeway sets the clock skew allowed (default DefaultLeeway; at most a minute).
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) { v.leeway = min(max(d, 0), time.Minute) }
}

// WithRefetchInterval sets the least time between fetches of the keys
// caused by unknown key ids (default DefaultRefetchInterval).
func WithRefetchInterval(d time.Duration) Option { return func(v *Verifier) { v.refetch = d } }

// Verifier checks Portico's call tokens for one plug-in. It is safe for
// concurrent use; create one per process and keep it.
type Verifier struct {
	issuer, audience string
	client           *http.Client
	now              func() time.Time
	leeway, refetch  time.Duration
	maxAge           time.Duration

	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	fetchedAt time.Time // last fetch attempt
	loadedAt  time.Time // last successful fetch
}

// NewVerifier returns a verifier of the tokens issuer (Portico's public
// URL, as in its discovery document) mints for the plug-in pluginID. It
// fetches nothing until the first token (or Prefetch).
func NewVerifier(issuer, pluginID string, opts ...Option) *Verifier {
	v := &Verifier{issuer: strings.TrimRight(issuer, "/"), audience: pluginID,
		client: &http.Client{Timeout: 10 * time.Second}, now: time.Now,
		leeway: DefaultLeeway, refetch: DefaultRefetchInterval, maxAge: DefaultKeyMaxAge}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Issuer is the issuer the verifier trusts.
func (v *Verifier) Issuer() string { return v.issuer }

// Prefetch fetches the issuer's keys now, so a plug-in can refuse to start
// when Portico's discovery document is unreachable or wrong.
func (v *Verifier) Prefetch(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetchLocked(ctx)
}

// Verify checks token and returns its claims. A refusal is a *TokenError
// whose Reason says why.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, refuse(ReasonMissing, nil, "no token")
	}
	if len(token) > maxTokenBytes {
		return nil, refuse(ReasonMalformed, nil, "the token is longer than %d bytes", maxTokenBytes)
	}
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return nil, refuse(ReasonMalformed, err, "not a JWT signed with ES256 or RS256")
	}
	if len(tok.Headers) != 1 {
		return nil, refuse(ReasonMalformed, nil, "the token must have exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	key, err := v.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm {
		return nil, refuse(ReasonSignature, nil, "key %q is for %s, the token says %s", kid, key.Algorithm, tok.Headers[0].Algorithm)
	}
	var w wireClaims
	if err := tok.Claims(key.Key, &w); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, refuse(ReasonSignature, err, "the signature does not match key %q", kid)
		}
		return nil, refuse(ReasonMalformed, err, "the claims are unreadable")
	}
	now := v.now()
	if w.Issuer != v.issuer {
		return nil, refuse(ReasonIssuer, nil, "iss is %q, not %q", w.Issuer, v.issuer)
	}
	if !w.Audience.Contains(v.audience) {
		return nil, refuse(ReasonAudience, nil, "aud is %q, not %q", []string(w.Audience), v.audience)
	}
	if w.Expiry == nil || w.IssuedAt == nil {
		return nil, refuse(ReasonLifetime, nil, "the token must carry exp and iat")
	}
	exp, iat := w.Expiry.Time(), w.IssuedAt.Time()
	if life := exp.Sub(iat); life > MaxLifetime || life <= 0 {
		return nil, refuse(ReasonLifetime, nil, "the token lives %s; at most %s", life, MaxLifetime)
	}
	if err := w.ValidateWithLeeway(jwt.Expected{Time: now}, v.leeway); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return nil, refuse(ReasonExpired, err, "the token expired at %s", exp.UTC().Format(time.RFC3339))
		case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
			return nil, refuse(ReasonNotYetValid, err, "the token is not valid yet (clock skew above %s?)", v.leeway)
		default:
			return nil, refuse(ReasonMalformed, err, "the time claims are invalid")
		}
	}
	if w.Subject == "" || w.ID == "" || w.Agency == "" || w.Service == "" {
		return nil, refuse(ReasonClaims, nil, "sub, jti, agency and service are required")
	}
	return &Claims{
		Issuer: w.Issuer, Audience: []string(w.Audience), Subject: w.Subject, JTI: w.ID, IssuedAt: iat, Expiry: exp,
		Agency: w.Agency, Service: w.Service, Case: w.Case,
		Name: w.Name, BirthDate: w.BirthDate, Address: w.Address, Email: w.Email, Phone: w.Phone, Answers: w.Answers,
	}, nil
}

// key finds kid among the cached keys, fetching them when they are stale
// or kid is unknown (at most once per refetch interval for unknown ids,
// so forged key ids cannot make the verifier hammer the issuer).
func (v *Verifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	stale := v.loadedAt.IsZero() || now.Sub(v.loadedAt) > v.maxAge
	if !stale {
		if ks := v.keys.Key(kid); len(ks) > 0 {
			return &ks[0], nil
		}
	}
	if v.fetchedAt.IsZero() || now.Sub(v.fetchedAt) >= v.refetch || now.Before(v.fetchedAt) {
		prev := v.fetchedAt
		err := v.fetchLocked(ctx)
		if err != nil && ctx.Err() != nil && v.loadedAt.IsZero() {
			// The caller went away (Portico's call timed out) mid-fetch
			// before any keys were loaded: that says nothing of the
			// issuer, so it does not count as this interval's fetch.
			// Counted, it left a plug-in with no keys refusing every
			// token until the next interval. Once keys are loaded it
			// counts, so callers that hang up (a forged kid, dropped
			// mid-fetch) cannot make every request fetch again.
			v.fetchedAt = prev
		}
		if err != nil && v.loadedAt.IsZero() {
			return nil, err
		}
		// A failed refresh keeps the keys fetched before: Portico being
		// briefly unreachable must not refuse every call.
	}
	if ks := v.keys.Key(kid); len(ks) > 0 {
		return &ks[0], nil
	}
	return nil, refuse(ReasonUnknownKey, nil, "the issuer publishes no key %q", kid)
}

func (v *Verifier) fetchLocked(ctx context.Context) error {
	v.fetchedAt = v.now()
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, v.issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return refuse(ReasonKeys, err, "reading the discovery document")
	}
	if strings.TrimRight(disc.Issuer, "/") != v.issuer || disc.JWKSURI == "" {
		return refuse(ReasonKeys, nil, "the discovery document names issuer %q and jwks_uri %q", disc.Issuer, disc.JWKSURI)
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return refuse(ReasonKeys, err, "reading the keys")
	}
	v.keys, v.loadedAt = set, v.now()
	return nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(into); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
