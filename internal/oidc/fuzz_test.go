package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// FuzzValidateRedirectURI: the check an operator's redirect URIs pass
// never panics, and what it accepts is absolute, fragment-free and not
// plain http to a remote host.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://fish.example.gov/cb", "http://127.0.0.1:8080/cb", "http://localhost/x", "gov.example.app:/cb",
		"http://evil.example/", "https://x/#frag", "javascript:alert(1)", "", "https://u:p@x/", "//x/y", "http://[::1]/cb", "https://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := oidc.ValidateRedirectURI(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Scheme == "" || u.Fragment != "" || strings.ContainsAny(got, "# \r\n") {
			t.Fatalf("accepted %q", raw)
		}
		if u.Scheme == "http" && u.Hostname() != "localhost" && !strings.HasPrefix(u.Hostname(), "127.") && u.Hostname() != "::1" {
			t.Fatalf("accepted remote http %q", raw)
		}
	})
}

// FuzzProtocolEndpoints sends arbitrary query strings and form bodies to
// the protocol endpoints and Portico's pages around them: the answer is
// never a 5xx (and a panic would fail the test).
func FuzzProtocolEndpoints(f *testing.F) {
	db := storagetest.Open(f, storage.SQLite)
	s := newSite(f, db)
	reg, _ := s.webClient(f)
	paths := []string{"/oauth/authorize", "/oauth/token", "/oauth/userinfo", "/oauth/end_session", "/oauth/introspect",
		"/oauth/revoke", "/oauth/authorize/callback", "/oauth/login", "/oauth/consent", "/oauth/logout"}
	f.Add(uint8(0), "client_id="+reg.ID+"&redirect_uri="+url.QueryEscape(rpCallback)+"&response_type=code&scope=openid&prompt=none", "")
	f.Add(uint8(1), "", "grant_type=authorization_code&code=abc&redirect_uri=x&client_id="+reg.ID+"&client_secret="+reg.Secret)
	f.Add(uint8(1), "", "grant_type=refresh_token&refresh_token=&scope=openid%20email")
	f.Add(uint8(1), "", "grant_type=client_credentials&client_id=%zz")
	f.Add(uint8(2), "access_token=a.b.c", "")
	f.Add(uint8(3), "id_token_hint=eyJhbGciOiJub25lIn0.e30.&post_logout_redirect_uri=%2F%2Fevil", "")
	f.Add(uint8(4), "", "token=x&token_type_hint=refresh_token")
	f.Add(uint8(6), "id=%00", "")
	f.Add(uint8(8), "", "id=x&decision=allow")
	f.Add(uint8(0), "request=eyJhbGciOiJub25lIn0.e30.&client_id="+reg.ID+"&max_age=-1&ui_locales=%FF", "")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, which uint8, query, body string) {
		path := paths[int(which)%len(paths)]
		method := "GET"
		if body != "" {
			method = "POST"
		}
		req, err := http.NewRequest(method, s.URL+path+"?"+query, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(reg.ID, reg.Secret)
		r, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode >= 500 {
			t.Fatalf("%s %s?%s body %q: %d", method, path, query, body, r.StatusCode)
		}
	})
}
