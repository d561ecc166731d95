package oidc

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
)

// What the HTTP side (oidcweb) needs of the block beyond op.Storage: the
// provider's crypto and key set, the authorization request and consent
// steps of the hand-off, and the browser session at logout. The block
// holds no HTTP types; oidcweb turns requests into these calls.

// Paths the block itself hands to the provider: a client's LoginURL and
// the logout confirmation page (TerminateSessionFromRequest). oidcweb
// serves them.
const (
	LoginPath  = "/oauth/login"
	LogoutPath = "/oauth/logout"
)

const logoutSealLabel = "oidc-logout"

// Now is the block's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// LoadAuthRequest returns a live authorization request; an unknown,
// expired or used one is an *oidc.Error the client caused.
func (s *Service) LoadAuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	return s.loadAuthRequest(ctx, s.db.Read(), id)
}

// CodeCrypto is the provider's Crypto (authorization codes are
// Encrypt(auth request id)): internal/secrets' AES-GCM box, so every
// replica that shares DATA/keys/secrets.key shares it.
func (s *Service) CodeCrypto() op.Crypto { return boxCrypto{s} }

type boxCrypto struct{ s *Service }

func (c boxCrypto) Encrypt(s string) (string, error) { return c.s.box.Seal(s, "oidc-code") }
func (c boxCrypto) Decrypt(s string) (string, error) { return c.s.box.Open(s, "oidc-code") }

// TokenKeySet checks signatures of tokens Portico issued (access tokens at
// userinfo, ID token hints at logout) against the published keys.
func (s *Service) TokenKeySet() oidc.KeySet { return verifyKeySet{s} }

// verifyKeySet reloads the keys once when a key id is unknown: another
// replica may have rotated within the cache period.
type verifyKeySet struct{ s *Service }

func (v verifyKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid, alg := oidc.GetKeyIDAndAlg(jws)
	for attempt := 0; ; attempt++ {
		ring, err := v.s.loadKeys(ctx, attempt == 1)
		if err != nil {
			return nil, err
		}
		keys := make([]jose.JSONWebKey, 0, len(ring.all))
		for _, k := range ring.all {
			keys = append(keys, jose.JSONWebKey{KeyID: k.id, Algorithm: string(k.alg), Use: "sig", Key: k.private.Public()})
		}
		key, err := oidc.FindMatchingKey(kid, oidc.KeyUseSignature, alg, keys...)
		if err == nil {
			return jws.Verify(&key)
		}
		if attempt == 1 || time.Since(ring.loadedAt) < time.Second {
			return nil, err
		}
	}
}

// BrowserSession is the browser's Portico session, carried by oidcweb to
// the storage methods the provider calls (logout) through the request
// context.
type BrowserSession struct {
	Token   string // the session cookie's value
	Session *identity.Session
	Account *identity.Account
	Ended   bool // the session was signed out; the cookie must go
}

type sessionKey struct{}

// WithBrowserSession returns ctx carrying b for TerminateSessionFromRequest.
func WithBrowserSession(ctx context.Context, b *BrowserSession) context.Context {
	return context.WithValue(ctx, sessionKey{}, b)
}

// LogoutTicket is what the logout confirmation page carries, sealed, from
// the end_session request to the person's answer.
type LogoutTicket struct {
	Redirect  string    `json:"r"`
	ClientID  string    `json:"c"`
	AccountID string    `json:"a"`
	Expires   time.Time `json:"e"`
}

func (s *Service) sealTicket(t LogoutTicket) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return s.box.Seal(string(b), logoutSealLabel)
}

// OpenLogoutTicket unseals a ticket from the logout page; ok is false for
// one that was tampered with, is too long or has expired.
func (s *Service) OpenLogoutTicket(sealed string) (*LogoutTicket, bool) {
	if sealed == "" || len(sealed) > 4000 {
		return nil, false
	}
	raw, err := s.box.Open(sealed, logoutSealLabel)
	if err != nil {
		return nil, false
	}
	var t LogoutTicket
	if json.Unmarshal([]byte(raw), &t) != nil || !s.clock.Now().Before(t.Expires) {
		return nil, false
	}
	return &t, true
}

// TerminateSessionFromRequest implements op.CanTerminateSessionFromRequest
// (RP-initiated logout; the library has already checked
// post_logout_redirect_uri against the client's registered list). When
// the browser's Portico session belongs to the person named by a valid
// id_token_hint, the session ends here and the client's tokens for that
// person are revoked. A session without such a hint is not ended behind
// the person's back: they are asked first (oidcweb's logout page), since
// any site can link to this endpoint. Without a session there is nothing
// to end, and the client's tokens for the hinted person are revoked.
func (s *Service) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	info, _ := ctx.Value(sessionKey{}).(*BrowserSession)
	if info != nil && info.Session != nil {
		if req.UserID != "" && req.UserID == info.Account.ID {
			if err := s.EndSession(ctx, info, req.ClientID); err != nil {
				return "", err
			}
			return req.RedirectURI, nil
		}
		t, err := s.sealTicket(LogoutTicket{Redirect: req.RedirectURI, ClientID: req.ClientID, Expires: s.clock.Now().Add(30 * time.Minute)})
		if err != nil {
			return "", err
		}
		return LogoutPath + "?" + url.Values{"t": {t}}.Encode(), nil
	}
	if err := s.logoutAudit(ctx, req.UserID, req.ClientID, false); err != nil {
		return "", err
	}
	return req.RedirectURI, nil
}

// EndSession signs the browser's session out and records the logout;
// info.Ended tells the caller to clear the cookie.
func (s *Service) EndSession(ctx context.Context, info *BrowserSession, clientID string) error {
	if info.Token != "" {
		if err := s.accounts.SignOut(ctx, info.Token); err != nil {
			return err
		}
	}
	info.Ended = true
	return s.logoutAudit(ctx, info.Account.ID, clientID, true)
}

// amrOf maps a Portico sign-in method to RFC 8176 values.
func amrOf(method string) []string {
	switch {
	case strings.Contains(method, "passkey"):
		return []string{"hwk", "user"}
	case strings.Contains(method, "totp"):
		return []string{"pwd", "otp", "mfa"}
	case strings.Contains(method, "recovery"):
		return []string{"pwd", "mfa"}
	}
	return []string{"pwd"}
}

// actorFor returns ctx acting as the account (for audit) unless an actor
// is already set.
func actorFor(ctx context.Context, accountID string) context.Context {
	if platform.ActorFrom(ctx).Kind != platform.ActorAnonymous || accountID == "" {
		return ctx
	}
	return platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: accountID})
}
