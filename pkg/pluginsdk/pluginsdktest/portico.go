// Package pluginsdktest runs a fake Portico for a plug-in's own tests: an
// HTTP server on loopback that serves the discovery document and the key
// set as Portico does, mints call tokens as Portico's gateway does, calls
// the plug-in with them, and delivers signed events to its webhook.
//
//	p := pluginsdktest.New(t, "counter-booking")
//	srv := httptest.NewServer(myplugin.Handler(pluginsdk.NewVerifier(p.URL, "counter-booking")))
//	req, _ := http.NewRequest("GET", srv.URL+"/offices/main/slots", nil)
//	res, err := p.CallWith(req, pluginsdk.Claims{Agency: "adams-clerk", Service: "marriage-licence", Name: "Ana Example"})
//
// Only the wire protocol is faked; the plug-in under test runs for real.
package pluginsdktest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portico-gov/portico/pkg/pluginsdk"
)

// DefaultTTL is the lifetime of the tokens the fake mints, as Portico's default.
const DefaultTTL = 2 * time.Minute

// Portico is the fake. Its fields may be changed before use.
type Portico struct {
	// URL is the issuer (the fake's base URL).
	URL string
	// PluginID is the audience of the tokens.
	PluginID string
	// Secret is the webhook secret, whsec_ + base64 of 32 random bytes,
	// as Portico shows it once at registration.
	Secret string
	// Claims are the claims Call uses: agency, service, data, ...
	Claims pluginsdk.Claims
	// Client calls the plug-in (default http.DefaultClient).
	Client *http.Client
	// Now is the clock of the tokens and webhooks (default time.Now).
	Now func() time.Time

	tb      testing.TB
	srv     *httptest.Server
	macKey  []byte
	mu      sync.Mutex
	keys    []signingKey // keys[0] signs; all are published
	fetches atomic.Int64
}

type signingKey struct {
	alg  jose.SignatureAlgorithm
	id   string
	priv crypto.Signer
}

// Algorithm picks the signing algorithm of the fake's keys.
type Algorithm = jose.SignatureAlgorithm

// The algorithms Portico signs with.
const (
	ES256 = jose.ES256
	RS256 = jose.RS256
)

// New starts a fake Portico for pluginID with an ES256 key, stopped when
// the test ends.
func New(tb testing.TB, pluginID string) *Portico {
	return NewWith(tb, pluginID, ES256)
}

// NewWith starts a fake Portico whose key uses alg (ES256 or RS256).
func NewWith(tb testing.TB, pluginID string, alg Algorithm) *Portico {
	tb.Helper()
	secret := make([]byte, 32)
	mac := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		tb.Fatal(err)
	}
	if _, err := rand.Read(mac); err != nil {
		tb.Fatal(err)
	}
	p := &Portico{PluginID: pluginID, Secret: "whsec_" + base64.StdEncoding.EncodeToString(secret), tb: tb, macKey: mac,
		Client: http.DefaultClient, Now: time.Now}
	p.keys = []signingKey{p.newKey(alg)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	return p
}

func (p *Portico) newKey(alg Algorithm) signingKey {
	p.tb.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		p.tb.Fatalf("pluginsdktest: Portico signs with ES256 or RS256, not %s", alg)
	}
	if err != nil {
		p.tb.Fatal(err)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return signingKey{alg: alg, id: hex.EncodeToString(id), priv: priv}
}

// RotateKey makes a new key (of alg) the signing key; the old one stays
// published, as during Portico's key rotation. Verifiers learn the new key
// when a token names it.
func (p *Portico) RotateKey(alg Algorithm) {
	p.tb.Helper()
	k := p.newKey(alg)
	p.mu.Lock()
	p.keys = append([]signingKey{k}, p.keys...)
	p.mu.Unlock()
}

// KeyFetches counts the requests for the key set so far.
func (p *Portico) KeyFetches() int64 { return p.fetches.Load() }

func (p *Portico) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.URL, "jwks_uri": p.URL + "/.well-known/jwks.json",
			"id_token_signing_alg_values_supported": []string{"ES256", "RS256"},
		})
	case "/.well-known/jwks.json":
		p.fetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
		for _, k := range p.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	default:
		http.NotFound(w, r)
	}
}

// Subject is the fake's pairwise pseudonym of person (an HMAC under a key
// of this fake), as Portico's gateway derives a stable sub per plug-in.
func (p *Portico) Subject(person string) string {
	m := hmac.New(sha256.New, p.macKey)
	m.Write([]byte(p.PluginID + "\x00" + person))
	return hex.EncodeToString(m.Sum(nil))
}

// Token mints a call token with c's claims, as the gateway does. Zero
// fields take Portico's values: Issuer p.URL, Audience p.PluginID, Subject
// "agency:"+Agency, a random JTI, IssuedAt now, Expiry IssuedAt+DefaultTTL.
// Nothing else is checked, so a test can mint wrong tokens on purpose
// (another audience, an expired or over-long one).
func (p *Portico) Token(c pluginsdk.Claims) string {
	p.tb.Helper()
	now := p.Now()
	if c.Issuer == "" {
		c.Issuer = p.URL
	}
	if len(c.Audience) == 0 {
		c.Audience = []string{p.PluginID}
	}
	if c.Subject == "" {
		c.Subject = "agency:" + c.Agency
	}
	if c.JTI == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		c.JTI = hex.EncodeToString(b)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(DefaultTTL)
	}
	// The gateway's claim set, key for key.
	claims := map[string]any{
		"iss": c.Issuer, "sub": c.Subject, "iat": c.IssuedAt.Unix(), "nbf": c.IssuedAt.Unix(), "exp": c.Expiry.Unix(),
		"jti": c.JTI, "agency": c.Agency, "service": c.Service,
	}
	if len(c.Audience) == 1 {
		claims["aud"] = c.Audience[0]
	} else {
		claims["aud"] = c.Audience
	}
	set := func(k string, v any, ok bool) {
		if ok {
			claims[k] = v
		}
	}
	set("case", c.Case, c.Case != "")
	set("name", c.Name, c.Name != "")
	set("birthdate", c.BirthDate, c.BirthDate != "")
	set("address", c.Address, c.Address != nil)
	set("email", c.Email, c.Email != "")
	set("phone_number", c.Phone, c.Phone != "")
	set("answers", c.Answers, len(c.Answers) > 0)

	p.mu.Lock()
	k := p.keys[0]
	p.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		p.tb.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		p.tb.Fatal(err)
	}
	return tok
}

// Call sends req to the plug-in with a fresh token of p.Claims.
func (p *Portico) Call(req *http.Request) (*http.Response, error) {
	return p.CallWith(req, p.Claims)
}

// CallWith sends req with a fresh token of c, and the headers the gateway
// sends (Accept; Content-Type application/json when there is a body).
func (p *Portico) CallWith(req *http.Request, c pluginsdk.Claims) (*http.Response, error) {
	p.tb.Helper()
	req.Header.Set("Authorization", "Bearer "+p.Token(c))
	req.Header.Set("Accept", "application/json, application/problem+json")
	if req.Body != nil && req.Body != http.NoBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return p.Client.Do(req)
}

// SendEvent delivers e to the webhook at url as Portico does: CloudEvents
// structured mode, signed with p.Secret (webhook-id is the event id).
// Zero fields take defaults: SpecVersion "1.0", a random ID, Source
// "/portico/test", Time now, DataContentType application/json with Data.
func (p *Portico) SendEvent(url string, e pluginsdk.Event) (*http.Response, error) {
	p.tb.Helper()
	now := p.Now()
	if e.SpecVersion == "" {
		e.SpecVersion = "1.0"
	}
	if e.ID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		e.ID = hex.EncodeToString(b)
	}
	if e.Source == "" {
		e.Source = "/portico/test"
	}
	if e.Time.IsZero() {
		e.Time = now.UTC()
	}
	if len(e.Data) > 0 && e.DataContentType == "" {
		e.DataContentType = "application/json"
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return p.SendRaw(url, e.ID, now, body)
}

// SendRaw posts body to url signed for id at the time at, for tests of
// what a receiver does with odd deliveries.
func (p *Portico) SendRaw(url, id string, at time.Time, body []byte) (*http.Response, error) {
	p.tb.Helper()
	sig, err := pluginsdk.SignWebhook(p.Secret, id, at, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", pluginsdk.ContentTypeCloudEvents)
	req.Header.Set(pluginsdk.HeaderWebhookID, id)
	req.Header.Set(pluginsdk.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(pluginsdk.HeaderWebhookSignature, sig)
	return p.Client.Do(req)
}
