package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Grant types a client may be registered for. An authorization_code client
// may also refresh (refresh tokens are issued only for offline_access).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
)

// Client is a registered relying party.
type Client struct {
	ID             string    `json:"client_id"`
	Name           string    `json:"name"`
	AgencyID       string    `json:"agency_id,omitempty"`
	Public         bool      `json:"public"`
	GrantTypes     []string  `json:"grant_types"`
	RedirectURIs   []string  `json:"redirect_uris"`
	PostLogoutURIs []string  `json:"post_logout_redirect_uris"`
	Scopes         []string  `json:"scopes"`
	CreatedAt      time.Time `json:"created_at"`
	Disabled       bool      `json:"disabled"`
	// TokensNotBefore, when set: the client's own tokens issued before
	// it are refused (RevokeClientTokens).
	TokensNotBefore *time.Time `json:"tokens_not_before,omitempty"`
	secretHash      string
}

// NewClient is what an operator registers.
type NewClient struct {
	Name           string
	AgencyID       string
	Grant          string // GrantAuthorizationCode or GrantClientCredentials
	Public         bool   // no secret; PKCE S256 required (authorization_code only)
	RedirectURIs   []string
	PostLogoutURIs []string
	Scopes         []string // extra scopes a client_credentials client may request
}

// Registered is a new client with its secret, which is shown once and
// stored only as a hash.
type Registered struct {
	Client
	Secret string `json:"client_secret,omitempty"`
}

var scopePattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// userScopes are the scopes that release a person's data; a
// client_credentials client has no person and may not register them.
var userScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress, ScopeBirthdate, ScopeApplications, oidc.ScopeOfflineAccess}

// ValidateRedirectURI checks a redirect or post-logout URI an operator
// registers: an absolute URI without a fragment; https, or http only for a
// loopback host (development and native apps), or a private-use scheme
// with a dot in it ("gov.example.app:/callback", RFC 8252) for native
// apps. It returns the URI unchanged when it is acceptable.
func ValidateRedirectURI(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", platform.Invalid("redirect_uri", fmt.Sprintf("%q is not a usable redirect URI: %s", truncate(raw, 200), why))
	}
	if raw == "" || len(raw) > 2000 || !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n\x00") {
		return bad("it must be a single absolute URI of at most 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("it does not parse")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("it must not have a fragment")
	}
	if u.User != nil {
		return bad("it must not carry a user name or password")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return bad("it has no host")
		}
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return bad("http is allowed only for localhost and loopback addresses; use https")
		}
	case "":
		return bad("it is not absolute")
	default:
		if !strings.Contains(u.Scheme, ".") {
			return bad("a private-use scheme must be a reversed domain name, e.g. gov.example.app")
		}
		if u.Host != "" {
			return bad("a private-use scheme URI takes the form scheme:/path")
		}
	}
	return raw, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// validate checks n and fills in derived values.
func (n *NewClient) validate() error {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || utf8.RuneCountInString(n.Name) > 200 || strings.ContainsAny(n.Name, "<>\x00") {
		return platform.Invalid("name", "a name of at most 200 characters, without < or >, is required")
	}
	switch n.Grant {
	case GrantAuthorizationCode:
		if len(n.RedirectURIs) == 0 {
			return platform.Invalid("redirect_uri", "an authorization_code client needs at least one --redirect-uri")
		}
		if len(n.Scopes) > 0 {
			return platform.Invalid("scope", "--scope is for client_credentials clients; people's data is released by the standard scopes they consent to")
		}
	case GrantClientCredentials:
		if n.Public {
			return platform.Invalid("public", "a client_credentials client must have a secret; it cannot be --public")
		}
		if len(n.RedirectURIs)+len(n.PostLogoutURIs) > 0 {
			return platform.Invalid("redirect_uri", "a client_credentials client has no redirect or post-logout URIs")
		}
	default:
		return platform.Invalid("grant", fmt.Sprintf("grant %q must be authorization_code or client_credentials", n.Grant))
	}
	for _, list := range [][]string{n.RedirectURIs, n.PostLogoutURIs} {
		for _, u := range list {
			if _, err := ValidateRedirectURI(u); err != nil {
				return err
			}
		}
	}
	if len(n.RedirectURIs) > 20 || len(n.PostLogoutURIs) > 20 || len(n.Scopes) > 50 {
		return platform.Invalid("redirect_uri", "at most 20 redirect URIs, 20 post-logout URIs and 50 scopes")
	}
	for _, s := range n.Scopes {
		if !scopePattern.MatchString(s) || slices.Contains(userScopes, s) {
			return platform.Invalid("scope", fmt.Sprintf("scope %q must be lowercase letters, digits and _.:- and not a standard OpenID scope", truncate(s, 80)))
		}
	}
	n.RedirectURIs = dedupe(n.RedirectURIs)
	n.PostLogoutURIs = dedupe(n.PostLogoutURIs)
	n.Scopes = dedupe(n.Scopes)
	return nil
}

func dedupe(in []string) []string {
	out := []string{}
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// randomToken returns a 256-bit random value, base64url.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oidc: crypto/rand failed: " + err.Error()) // the OS RNG does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashSecret is how client secrets, codes and refresh tokens are stored.
// They are 256-bit random values, so SHA-256 is enough: there is nothing
// to guess, and a slow password hash would cap grants per second.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with string slices
	}
	return string(b)
}

func fromJSON(s string) []string {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil {
		return []string{}
	}
	return out
}

// AddClient registers a client and returns it with its secret (none for a
// public client). The registration is audited.
func (s *Service) AddClient(ctx context.Context, n NewClient) (*Registered, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	grants := []string{n.Grant}
	if n.Grant == GrantAuthorizationCode {
		grants = append(grants, grantRefreshToken)
	}
	reg := &Registered{Client: Client{
		ID: "pc_" + randomToken()[:22], Name: n.Name, AgencyID: n.AgencyID, Public: n.Public, GrantTypes: grants,
		RedirectURIs: n.RedirectURIs, PostLogoutURIs: n.PostLogoutURIs, Scopes: n.Scopes, CreatedAt: s.clock.Now().UTC(),
	}}
	if !n.Public {
		reg.Secret = randomToken()
		reg.secretHash = hashSecret(reg.Secret)
	}
	var agency any
	if n.AgencyID != "" {
		agency = n.AgencyID
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if n.AgencyID != "" {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM agencies WHERE id = $1`, n.AgencyID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return platform.Invalid("agency", fmt.Sprintf("there is no agency %q", n.AgencyID))
			}
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oidc_clients (id, secret_hash, name, agency_id, public, grant_types, redirect_uris,
			post_logout_uris, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			reg.ID, reg.secretHash, reg.Name, agency, reg.Public, mustJSON(reg.GrantTypes), mustJSON(reg.RedirectURIs),
			mustJSON(reg.PostLogoutURIs), mustJSON(reg.Scopes), reg.CreatedAt)
		if err != nil {
			return fmt.Errorf("oidc: add client: %w", err)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "oidc.client.add", Subject: "client:" + reg.ID, AgencyID: n.AgencyID,
			Detail: map[string]any{"name": reg.Name, "grant_types": reg.GrantTypes, "public": reg.Public, "redirect_uris": reg.RedirectURIs}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return reg, nil
}

const clientColumns = `id, secret_hash, name, COALESCE(agency_id, ''), public, grant_types, redirect_uris, post_logout_uris, scopes, created_at, disabled_at, tokens_not_before`

func scanClient(r interface{ Scan(...any) error }) (*Client, error) {
	var c Client
	var grants, redirects, logouts, scopes string
	var disabled, notBefore sql.NullTime
	if err := r.Scan(&c.ID, &c.secretHash, &c.Name, &c.AgencyID, &c.Public, &grants, &redirects, &logouts, &scopes, &c.CreatedAt, &disabled, &notBefore); err != nil {
		return nil, err
	}
	if notBefore.Valid {
		nb := notBefore.Time.UTC()
		c.TokensNotBefore = &nb
	}
	c.GrantTypes, c.RedirectURIs, c.PostLogoutURIs, c.Scopes = fromJSON(grants), fromJSON(redirects), fromJSON(logouts), fromJSON(scopes)
	c.Disabled = disabled.Valid
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

// errUnknownClient is the OAuth error for a client id that names no live
// client. It is an invalid_client error, never a server error.
func errUnknownClient() *oidc.Error {
	return oidc.ErrInvalidClient().WithDescription("unknown client")
}

// clientCacheTTL is how long a loaded client is reused. A token request
// reads its client two or three times (the library asks for it, then
// authenticates it); the cache makes that one read every few seconds. A
// change to a client (disabling it) reaches every replica within this.
const clientCacheTTL = 5 * time.Second

// clientCache holds recently loaded live clients. Unknown ids are never
// cached, so junk ids cannot grow it; it is emptied when it grows past a
// bound anyway.
type clientCache struct {
	mu sync.Mutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c  *Client
	at time.Time
}

func (cc *clientCache) get(id string, now time.Time) *Client {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.m[id]; ok && now.Sub(e.at) < clientCacheTTL && !now.Before(e.at) {
		return e.c
	}
	return nil
}

// drop forgets id, so this process reads the client's next change at
// once (other replicas within clientCacheTTL).
func (cc *clientCache) drop(id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.m, id)
}

func (cc *clientCache) put(c *Client, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) > 10000 {
		cc.m = map[string]cachedClient{}
	}
	cc.m[c.ID] = cachedClient{c: c, at: now}
}

// ClientByID loads a live client (from the cache when recently loaded). The
// result is shared and must not be changed. An unknown or disabled client
// is errUnknownClient; a database fault is a server_error.
func (s *Service) ClientByID(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > 100 {
		return nil, errUnknownClient()
	}
	now := s.clock.Now()
	if c := s.clients.get(id, now); c != nil {
		return c, nil
	}
	c, err := scanClient(s.db.Read().QueryRowContext(ctx, `SELECT `+clientColumns+` FROM oidc_clients WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnknownClient()
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(fmt.Errorf("oidc: load client: %w", err))
	}
	if c.Disabled {
		return nil, errUnknownClient()
	}
	s.clients.put(c, now)
	return c, nil
}

// checkSecret reports whether secret is the client's, in constant time.
func (c *Client) checkSecret(secret string) bool {
	if c.Public || c.secretHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.secretHash)) == 1
}

// Clients lists every client, oldest first.
func (s *Service) Clients(ctx context.Context) ([]*Client, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+clientColumns+` FROM oidc_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("oidc: list clients: %w", err)
	}
	defer rows.Close()
	out := []*Client{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("oidc: list clients: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Client returns the client with id, for pages (consent) and tools.
func (s *Service) Client(ctx context.Context, id string) (*Client, error) {
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
			return nil, platform.Errorf(platform.CodeNotFound, "No such client.")
		}
		return nil, err
	}
	return c, nil
}

// opClient adapts a Client to op.Client for the provider.
type opClient struct {
	*Client
	s *Service
}

var _ op.Client = opClient{}

func (c opClient) GetID() string                       { return c.ID }
func (c opClient) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string    { return c.PostLogoutURIs }
func (c opClient) LoginURL(id string) string           { return LoginPath + "?id=" + url.QueryEscape(id) }
func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c opClient) IDTokenLifetime() time.Duration      { return c.s.cfg.IDTokenTTL }
func (c opClient) DevMode() bool                       { return false }
func (c opClient) ClockSkew() time.Duration            { return 0 }

// ApplicationType: public clients are native apps (loopback redirects on
// any port, private-use schemes); confidential ones are web servers.
func (c opClient) ApplicationType() op.ApplicationType {
	if c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c opClient) ResponseTypes() []oidc.ResponseType {
	if slices.Contains(c.Client.GrantTypes, GrantAuthorizationCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}

func (c opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.Client.GrantTypes))
	for _, g := range c.Client.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits Portico's own birthdate and applications scopes
// next to the standard ones the library always admits; anything else is
// dropped from an authorization request.
func (c opClient) IsScopeAllowed(scope string) bool {
	return scope == ScopeBirthdate || scope == ScopeApplications
}

// IDTokenUserinfoClaimsAssertion is false: claims come from userinfo, and
// the ID token carries only who signed in.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
