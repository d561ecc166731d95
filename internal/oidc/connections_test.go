package oidc_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestConnectedServices: a person sees the services they agreed to share
// with, in their language, and withdrawing one revokes its tokens at once
// (audited); nobody can see or withdraw another person's consents.
func TestConnectedServices(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		ana := s.flow(t, conf, "ana@example.com") // Ana consented
		bo := s.flow(t, conf, "bo@example.com")   // so did Bo
		anonymous := s.browser(t)
		withdraw := url.Values{"client": {reg.ID}}

		steps := []struct {
			name    string
			b       *browser
			method  string
			form    url.Values
			status  int
			want    []string
			notWant []string
		}{
			{"anonymous is sent to sign in", anonymous, "GET", nil, http.StatusSeeOther, []string{"/sign-in?next="}, nil},
			{"anonymous cannot withdraw", anonymous, "POST", withdraw, http.StatusUnauthorized, nil, nil},
			{"Ana sees the service and what it receives", ana.browser, "GET", nil, http.StatusOK,
				[]string{"Fishing Licences", "Stop sharing with Fishing Licences", "Your full name"}, nil},
			{"Ana withdraws", ana.browser, "POST", withdraw, http.StatusSeeOther, []string{"withdrawn=1"}, nil},
			{"Ana's list is empty", ana.browser, "GET", nil, http.StatusOK, []string{"You have not agreed"}, []string{"Fishing Licences"}},
			{"withdrawing twice is not found", ana.browser, "POST", withdraw, http.StatusNotFound, nil, nil},
			{"an unknown client is not found", ana.browser, "POST", url.Values{"client": {"pc_nobody"}}, http.StatusNotFound, nil, nil},
			{"Bo still has his", bo.browser, "GET", nil, http.StatusOK, []string{"Fishing Licences"}, nil},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				var r resp
				if st.method == "GET" {
					r = st.b.get(s.URL + "/account/connected-services")
				} else {
					r = st.b.post(s.URL+"/account/connected-services/withdraw", st.form)
				}
				expect(t, r, st.status, st.want...)
				for _, nw := range st.notWant {
					if strings.Contains(r.body, nw) {
						t.Fatalf("response contains %q", nw)
					}
				}
			})
		}
		// Ana's tokens died with her consent; Bo's live on.
		if code, _ := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ana.refresh}}, reg.ID, reg.Secret); code != http.StatusBadRequest {
			t.Fatalf("Ana's refresh after withdrawal: %d", code)
		}
		if code, _ := s.userinfo(t, ana.access); code == http.StatusOK {
			t.Fatal("Ana's access token still works at userinfo")
		}
		if code, _ := s.userinfo(t, bo.access); code != http.StatusOK {
			t.Fatalf("Bo's access token: %d", code)
		}
		if !slices.Contains(s.auditActions(t), "oidc.consent.withdraw") {
			t.Fatal("withdrawal not audited")
		}
	})
}
