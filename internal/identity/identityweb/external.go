package identityweb

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
)

// External configures sign-in through another OpenID Provider, the way a
// state might accept Login.gov. Portico is its relying party, using the
// authorization code flow with PKCE.
type External struct {
	Name         string // shown on the button: "Sign in with Login.gov"
	Issuer       string
	ClientID     string
	ClientSecret string
	// HTTPClient talks to the provider (tests use the default).
	HTTPClient *http.Client
}

// external holds the relying party, made on first use: the provider's
// discovery document is fetched then, so Portico starts even while the
// provider is unreachable.
type external struct {
	cfg External
	mu  sync.Mutex
	rp  rp.RelyingParty
}

func (e *external) party(ctx context.Context, publicURL string) (rp.RelyingParty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rp != nil {
		return e.rp, nil
	}
	var opts []rp.Option
	if e.cfg.HTTPClient != nil {
		opts = append(opts, rp.WithHTTPClient(e.cfg.HTTPClient))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	party, err := rp.NewRelyingPartyOIDC(ctx, e.cfg.Issuer, e.cfg.ClientID, e.cfg.ClientSecret,
		publicURL+"/sign-in/external/callback", []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile}, opts...)
	if err != nil {
		return nil, err
	}
	e.rp = party
	return party, nil
}

// externalState travels, sealed, in a cookie from the redirect to the
// callback.
type externalState struct {
	State    string    `json:"state"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (h *Handlers) cookieName(base string) string {
	if h.cfg.SecureCookie {
		return "__Host-portico-" + base
	}
	return "portico-" + base
}

func (h *Handlers) setShortCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// externalStart sends the person to the external provider.
func (h *Handlers) externalStart(w http.ResponseWriter, r *http.Request) {
	party, err := h.ext.party(r.Context(), h.svc.PublicURL())
	if err != nil {
		h.web.Logger().WarnContext(r.Context(), "external provider unavailable", "err", err)
		h.externalFailed(w, r, http.StatusBadGateway, "identity.external.unavailable")
		return
	}
	st := externalState{State: randomString(), Verifier: randomString(), Next: safeNext(r.URL.Query().Get("next")), Expires: h.svc.Now().Add(10 * time.Minute)}
	sealed, err := h.svc.Seal("external-state", st)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.setShortCookie(w, "ext-state", sealed, 600)
	http.Redirect(w, r, rp.AuthURL(st.State, party, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(st.Verifier))), http.StatusSeeOther)
}

func (h *Handlers) externalFailed(w http.ResponseWriter, r *http.Request, status int, key string) {
	h.render(w, r, status, "signin", form{Values: map[string]string{}, Extra: h.signInView(false)}, map[string]string{"external": key})
}

// externalCallback finishes the code flow and signs the person in, or asks
// them to confirm linking to their existing account.
func (h *Handlers) externalCallback(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(h.cookieName("ext-state"))
	h.setShortCookie(w, "ext-state", "", -1)
	var st externalState
	if err != nil || h.svc.Open("external-state", ck.Value, &st) != nil || !h.svc.Now().Before(st.Expires) ||
		r.URL.Query().Get("state") != st.State {
		h.externalFailed(w, r, http.StatusBadRequest, "identity.external.failed")
		return
	}
	q := r.URL.Query()
	if q.Get("error") != "" || q.Get("code") == "" {
		h.externalFailed(w, r, http.StatusBadRequest, "identity.external.cancelled")
		return
	}
	party, err := h.ext.party(r.Context(), h.svc.PublicURL())
	if err != nil {
		h.externalFailed(w, r, http.StatusBadGateway, "identity.external.unavailable")
		return
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](r.Context(), q.Get("code"), party, rp.WithCodeVerifier(st.Verifier))
	if err != nil {
		h.web.Logger().WarnContext(r.Context(), "external code exchange failed", "err", err)
		h.externalFailed(w, r, http.StatusBadRequest, "identity.external.failed")
		return
	}
	claims := identity.ExternalClaims{Issuer: tokens.IDTokenClaims.Issuer, Subject: tokens.IDTokenClaims.Subject,
		Email: tokens.IDTokenClaims.Email, EmailVerified: bool(tokens.IDTokenClaims.EmailVerified), Name: tokens.IDTokenClaims.Name}
	if claims.Email == "" {
		// Providers often keep email out of the ID token: ask userinfo.
		info, err := rp.Userinfo[*oidc.UserInfo](r.Context(), tokens.AccessToken, tokens.TokenType, claims.Subject, party)
		if err == nil {
			claims.Email, claims.EmailVerified, claims.Name = info.Email, bool(info.EmailVerified), info.Name
		}
	}
	out, err := h.svc.ExternalSignIn(r.Context(), claims, clientOf(r))
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeInternal {
			h.web.Error(w, r, err)
			return
		}
		h.externalFailed(w, r, http.StatusForbidden, platform.ErrorMessage(err))
		return
	}
	if out.Link != nil {
		out.Link.Next = st.Next
		sealed, err := h.svc.Seal("external-link", out.Link)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		h.setShortCookie(w, "ext-link", sealed, 600)
		http.Redirect(w, r, "/sign-in/external/link", http.StatusSeeOther)
		return
	}
	h.finishExternal(w, r, out, st.Next)
}

func (h *Handlers) finishExternal(w http.ResponseWriter, r *http.Request, out *identity.ExternalOutcome, next string) {
	h.setCookie(w, out.Token)
	switch out.Session.Stage {
	case identity.StagePassword:
		redirect(w, r, "/sign-in/verify", url.Values{"next": {next}})
	case identity.StageMFASetup:
		redirect(w, r, "/account/mfa/setup", nil)
	default:
		http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	}
}

func (h *Handlers) pendingLink(r *http.Request) (*identity.PendingLink, bool) {
	ck, err := r.Cookie(h.cookieName("ext-link"))
	if err != nil {
		return nil, false
	}
	var p identity.PendingLink
	if h.svc.Open("external-link", ck.Value, &p) != nil || !h.svc.Now().Before(p.Expires) {
		return nil, false
	}
	return &p, true
}

type linkView struct {
	Email    string
	Provider string
}

func (h *Handlers) externalLinkForm(w http.ResponseWriter, r *http.Request) {
	p, ok := h.pendingLink(r)
	if !ok {
		h.externalFailed(w, r, http.StatusBadRequest, "identity.external.failed")
		return
	}
	h.render(w, r, http.StatusOK, "externallink", form{Values: map[string]string{}, Extra: linkView{Email: p.Email, Provider: h.ext.cfg.Name}}, nil)
}

func (h *Handlers) externalLink(w http.ResponseWriter, r *http.Request) {
	p, ok := h.pendingLink(r)
	h.setShortCookie(w, "ext-link", "", -1)
	if !ok || r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
		return
	}
	out, err := h.svc.ConfirmExternalLink(r.Context(), *p, clientOf(r))
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeInternal {
			h.web.Error(w, r, err)
			return
		}
		h.externalFailed(w, r, http.StatusForbidden, platform.ErrorMessage(err))
		return
	}
	h.finishExternal(w, r, out, p.Next)
}
