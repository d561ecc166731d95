package identityweb

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// The passkey endpoints speak JSON to static/portico.js, which calls the
// browser's WebAuthn API between "begin" and "finish".

type beginResponse struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

type finishRequest struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name"`
	Next       string          `json:"next"`
	Credential json.RawMessage `json:"credential"`
}

type finishResponse struct {
	Redirect string `json:"redirect"`
}

// jsonError answers a passkey call with a problem whose detail is
// translated for the page to show.
func (h *Handlers) jsonError(w http.ResponseWriter, r *http.Request, err error) {
	status := web.Status(err)
	if status >= 500 {
		web.WriteProblem(w, r, h.web.Logger(), err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	detail := p.T(platform.ErrorMessage(err))
	var te *identity.ThrottledError
	if errors.As(err, &te) {
		detail = p.T("identity.throttled", "10")
	}
	prob := web.Problem{Type: "https://portico.dev/problems/" + string(platform.ErrorCode(err)), Title: http.StatusText(status),
		Status: status, Detail: detail, Code: platform.ErrorCode(err), RequestID: platform.RequestIDFrom(r.Context())}
	if errors.Is(err, identity.ErrReauth) {
		prob.Instance = "/account/reauth?next=" + url.QueryEscape("/account/security")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(prob)
}

func readFinish(r *http.Request) (finishRequest, error) {
	var f finishRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Ceremony == "" || len(f.Credential) == 0 {
		return f, identity.ErrPasskey
	}
	return f, nil
}

func (h *Handlers) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	opts, ceremony, err := h.svc.BeginPasskeyRegistration(r.Context(), sess, a)
	if err != nil {
		h.jsonError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, beginResponse{Ceremony: ceremony, Options: opts})
}

func (h *Handlers) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	f, err := readFinish(r)
	if err != nil {
		h.jsonError(w, r, identity.ErrPasskey)
		return
	}
	if _, err := h.svc.FinishPasskeyRegistration(r.Context(), sess, a, f.Ceremony, f.Credential, f.Name); err != nil {
		h.jsonError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, finishResponse{Redirect: "/account/security?done=passkey"})
}

func (h *Handlers) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	opts, ceremony, err := h.svc.BeginPasskeySignIn(r.Context())
	if err != nil {
		h.jsonError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, beginResponse{Ceremony: ceremony, Options: opts})
}

func (h *Handlers) passkeySignInFinish(w http.ResponseWriter, r *http.Request) {
	f, err := readFinish(r)
	if err != nil {
		h.jsonError(w, r, identity.ErrPasskey)
		return
	}
	token, _, err := h.svc.FinishPasskeySignIn(r.Context(), f.Ceremony, f.Credential, clientOf(r))
	if err != nil {
		h.jsonError(w, r, err)
		return
	}
	h.setCookie(w, token)
	web.WriteJSON(w, http.StatusOK, finishResponse{Redirect: safeNext(f.Next)})
}

func (h *Handlers) passkeyRemove(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/security") {
		return
	}
	sess, a := Current(r)
	if err := h.svc.RemovePasskey(r.Context(), sess, a, r.PathValue("id")); err != nil {
		h.web.Error(w, r, err)
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"passkey-removed"}})
}
