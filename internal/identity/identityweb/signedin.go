package identityweb

import (
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// SignedIn is the one "signed in" rule for every block's pages: it runs fn
// for a full session (citizen or staff) with the session's account, and
// otherwise answers as the identity block does for its own pages. A
// session waiting for its second factor goes to /sign-in/verify, one that
// must set a second factor up goes to /account/mfa/setup, an anonymous GET
// goes to sign in and comes back, and any other anonymous request is
// refused as unauthorized (problem+json or the error page).
//
// Whether the person may read or change a particular object is not
// decided here: the block method decides, with the Actor that the session
// middleware put in the request context.
func SignedIn(s *web.Server, fn func(http.ResponseWriter, *http.Request, *identity.Account), opts ...SignedInOption) http.Handler {
	var o signedInOptions
	for _, opt := range opts {
		opt(&o)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, a := Current(r)
		if sess != nil && sess.Stage == identity.StageFull && a != nil {
			fn(w, r, a)
			return
		}
		refuse(s, w, r, sess, o.returnTo)
	})
}

// SignedInOption adjusts SignedIn.
type SignedInOption func(*signedInOptions)

type signedInOptions struct{ returnTo func(*http.Request) string }

// ReturnTo names the page an anonymous visitor comes back to after signing
// in when the request was not a GET (a form post cannot be replayed), for
// example the GET page that asks again. An empty answer refuses the
// request as without the option.
func ReturnTo(page func(*http.Request) string) SignedInOption {
	return func(o *signedInOptions) { o.returnTo = page }
}

// refuse answers a request that needs a full session it does not have.
func refuse(s *web.Server, w http.ResponseWriter, r *http.Request, sess *identity.Session, returnTo func(*http.Request) string) {
	if sess != nil {
		switch sess.Stage {
		case identity.StagePassword:
			http.Redirect(w, r, "/sign-in/verify", http.StatusSeeOther)
			return
		case identity.StageMFASetup:
			http.Redirect(w, r, "/account/mfa/setup", http.StatusSeeOther)
			return
		}
	}
	next := ""
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	} else if returnTo != nil {
		next = returnTo(r)
	}
	if next == "" {
		s.Error(w, r, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required"))
		return
	}
	http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(next), http.StatusSeeOther)
}
