package oidcweb

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/identity/identityweb"
	oidcsvc "github.com/portico-gov/portico/internal/oidc"
)

// The person's page of connected services: the relying parties they agreed
// to share information with, and a way to stop. Only the signed-in person's
// own consents are listed or withdrawn; a withdrawal names the client in a
// form field and is refused unless that person gave it consent.

const connectionsPath = "/account/connected-services"

type connectionView struct {
	oidcsvc.Consent
	Items []string // message keys of what the client receives
}

type connectionsView struct {
	Connections []connectionView
	Withdrawn   bool
}

func (h *handlers) connections(w http.ResponseWriter, r *http.Request) {
	_, acct := identityweb.Current(r)
	cs, err := h.svc.Consents(r.Context(), acct.ID)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v := connectionsView{Withdrawn: r.URL.Query().Get("withdrawn") == "1"}
	for _, c := range cs {
		v.Connections = append(v.Connections, connectionView{Consent: c, Items: consentItems(c.Scopes)})
	}
	w.Header().Set("Cache-Control", "no-store")
	h.web.Page(w, r, http.StatusOK, "oidc_connections", h.web.Renderer().NewPage(r, v))
}

func (h *handlers) withdraw(w http.ResponseWriter, r *http.Request) {
	_, acct := identityweb.Current(r)
	client := r.PostFormValue("client")
	if client == "" || len(client) > 100 {
		h.web.Error(w, r, oidcsvc.ErrNoConsent)
		return
	}
	if err := h.svc.WithdrawConsent(r.Context(), acct.ID, client); err != nil {
		if !errors.Is(err, oidcsvc.ErrNoConsent) {
			h.web.Error(w, r, err)
			return
		}
		h.web.Error(w, r, oidcsvc.ErrNoConsent)
		return
	}
	http.Redirect(w, r, connectionsPath+"?"+url.Values{"withdrawn": {"1"}}.Encode(), http.StatusSeeOther)
}
