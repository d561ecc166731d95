package oidcweb

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// revokeAllPath is where a client (an agency system, an app that signs
// people in) ends every token it has been issued, its own and those it
// holds for people, after one or its secret leaked
// (oidc.Service.RevokeClientTokens). It is not part of an OAuth standard:
// RFC 7009 revokes one token, and a client's own tokens have no row to
// find them by (ADR 60).
const revokeAllPath = "/oauth/revoke_all"

// revokeAll serves POST /oauth/revoke_all. The client authenticates with
// its secret, as at the token endpoint (HTTP Basic, or client_id and
// client_secret in the form), never with a bearer token: the token may be
// what leaked, and the secret is what gets new ones. Errors are OAuth
// error objects (RFC 6749 §5.2).
func (h *handlers) revokeAll(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the request could not be parsed"))
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the Basic credentials are form-encoded first.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			id, secret = "", ""
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" || secret == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
		writeOAuthError(w, http.StatusUnauthorized, oidc.ErrInvalidClient().WithDescription("authenticate the client with its client_id and client_secret"))
		return
	}
	if err := h.svc.AuthorizeClientIDSecret(r.Context(), id, secret); err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
			w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
			writeOAuthError(w, http.StatusUnauthorized, oidc.ErrInvalidClient().WithDescription("invalid client credentials"))
			return
		}
		h.web.Logger().ErrorContext(r.Context(), "oidc: revoke_all: authenticate client", "err", err, "request_id", platform.RequestIDFrom(r.Context()))
		writeOAuthError(w, http.StatusInternalServerError, oidc.ErrServerError())
		return
	}
	ctx := platform.WithActor(r.Context(), platform.Actor{Kind: platform.ActorClient, ID: id})
	notBefore, err := h.svc.RevokeClientTokens(ctx, id)
	switch platform.ErrorCode(err) {
	case "":
	default:
		h.web.Logger().ErrorContext(r.Context(), "oidc: revoke_all", "client", id, "err", err, "request_id", platform.RequestIDFrom(r.Context()))
		writeOAuthError(w, http.StatusInternalServerError, oidc.ErrServerError())
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"client_id": id, "tokens_not_before": notBefore.Format(time.RFC3339)})
}
