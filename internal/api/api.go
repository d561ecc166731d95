// Package api is Portico's JSON API under /api/v1. Every operation is
// registered with Handle together with its Go request and response types;
// the OpenAPI 3.1 document served at /api/openapi.json is generated from
// those same registrations, so the document cannot drift from the
// handlers (a test also checks that no /api/v1 route bypasses Handle and
// validates real responses against the document).
//
// Authentication is a bearer access token issued by Portico's OpenID
// Provider (internal/oidc). A citizen's token must carry the
// "applications" scope to read their applications; staff tokens are
// authorised by the agency roles of the account. Errors are RFC 9457
// problem+json (internal/web).
package api

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// ScopeApplications is the OAuth scope a relying party asks for to read
// the signed-in person's applications through this API.
const ScopeApplications = oidc.ScopeApplications

// Auth is who may call an operation.
type Auth int

const (
	Public  Auth = iota // anyone; no token needed
	Citizen             // a person's token with ScopeApplications
	Staff               // a token of a staff account with at least one agency role
	// AgencySystem is an OAuth client's own token (the client_credentials
	// grant, no person) carrying the operation's Scope. Which agency the
	// client belongs to, and what that lets it see, the block decides.
	AgencySystem
)

// ScopeEvents is the scope an agency system's client is registered with
// (`portico oidc client add --grant client_credentials --scope
// events.read`) and asks for, to read its agency's events.
const ScopeEvents = "events.read"

// Param documents one path or query parameter.
type Param struct {
	Name        string
	In          string // "path" or "query"
	Description string
	Type        string // "string" or "integer"
	Required    bool
}

// Op describes one operation. Response is a value of the type the handler
// returns on success (status 200); the schema comes from its Go type.
type Op struct {
	Method      string // GET, POST…
	Path        string // e.g. /api/v1/applications/{id}
	ID          string // operationId
	Summary     string
	Description string
	Tag         string
	Auth        Auth
	Scope       string // the scope an AgencySystem token must carry
	Params      []Param
	Response    any
}

// Principal is the caller of an operation: nobody (Public), or the
// verified token and its account.
type Principal struct {
	Token   oidc.AccessToken
	Account *identity.Account // nil for Public operations and client tokens
}

// Agencies returns the agencies in which the principal has a role.
func (p Principal) Agencies() []string {
	if p.Account == nil {
		return nil
	}
	var out []string
	for _, m := range p.Account.Memberships {
		if !slices.Contains(out, m.AgencyID) {
			out = append(out, m.AgencyID)
		}
	}
	return out
}

// Handler serves one operation: it returns the response value or an
// error (a *platform.Error becomes its problem; anything else a 500).
type Handler func(r *http.Request, p Principal) (any, error)

// Tokens verifies bearer tokens (the OpenID Provider).
type Tokens interface {
	VerifyAccessToken(ctx context.Context, raw string) (oidc.AccessToken, error)
}

// Accounts loads the account a token names (the identity block).
type Accounts interface {
	Account(ctx context.Context, id string) (*identity.Account, error)
}

// API registers operations on the web server and keeps their descriptions.
type API struct {
	web      *web.Server
	tokens   Tokens
	accounts Accounts
	ops      []Op
	doc      documentCache
}

// New returns the API on s and serves its OpenAPI document.
func New(s *web.Server, tokens Tokens, accounts Accounts) *API {
	a := &API{web: s, tokens: tokens, accounts: accounts}
	s.HandleFunc("GET /api/openapi.json", a.serveDocument)
	return a
}

// Ops returns the registered operations.
func (a *API) Ops() []Op { return slices.Clone(a.ops) }

// Handle registers op with h. It panics on a programming error (a
// malformed Op), at start-up, never per request.
func (a *API) Handle(op Op, h Handler) {
	if op.Method == "" || !strings.HasPrefix(op.Path, "/api/v1/") || op.ID == "" || op.Response == nil || (op.Auth == AgencySystem) != (op.Scope != "") {
		panic(fmt.Sprintf("api: incomplete operation %+v", op))
	}
	for _, o := range a.ops {
		if o.ID == op.ID {
			panic("api: duplicate operationId " + op.ID)
		}
	}
	if k := reflect.TypeOf(op.Response).Kind(); k == reflect.Pointer {
		panic("api: Response must be a value, not a pointer: " + op.ID)
	}
	a.ops = append(a.ops, op)
	a.web.Handle(op.Method+" "+op.Path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ctx, err := a.authenticate(r, op)
		if err != nil {
			a.problem(w, r, err)
			return
		}
		v, err := h(r.WithContext(ctx), p)
		if err != nil {
			a.problem(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if op.Auth == Public {
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		web.WriteJSON(w, http.StatusOK, v)
	}))
}

func (a *API) problem(w http.ResponseWriter, r *http.Request, err error) {
	if platform.ErrorCode(err) == platform.CodeUnauthorized {
		// RFC 6750: say how to authenticate.
		w.Header().Set("WWW-Authenticate", `Bearer realm="portico", error="invalid_token"`)
	}
	web.WriteProblem(w, r, a.web.Logger(), err)
}

// authenticate resolves the caller for op and returns the request context
// carrying the caller as the audit actor: the person (with the app that
// acts for them), or the client acting as itself.
func (a *API) authenticate(r *http.Request, op Op) (Principal, context.Context, error) {
	p, err := a.principal(r, op)
	if err != nil {
		return p, r.Context(), err
	}
	if op.Auth == AgencySystem {
		return p, platform.WithActor(r.Context(), platform.Actor{Kind: platform.ActorClient, ID: p.Token.ClientID}), nil
	}
	if p.Account == nil {
		return p, r.Context(), nil
	}
	actor := p.Account.Actor()
	actor.Client = p.Token.ClientID
	return p, platform.WithActor(r.Context(), actor), nil
}

func (a *API) principal(r *http.Request, op Op) (Principal, error) {
	auth := op.Auth
	if auth == Public {
		return Principal{}, nil
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Principal{}, platform.Errorf(platform.CodeUnauthorized, "send a bearer access token from Portico's OpenID Provider in the Authorization header")
	}
	tok, err := a.tokens.VerifyAccessToken(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		return Principal{}, err
	}
	if auth == AgencySystem {
		if tok.AccountID != "" || tok.ClientID == "" {
			return Principal{}, platform.Errorf(platform.CodeForbidden, "this operation needs an agency system's own token (the client_credentials grant), not a person's")
		}
		if !tok.HasScope(op.Scope) {
			return Principal{}, platform.Errorf(platform.CodeForbidden, "the token lacks the %q scope", op.Scope)
		}
		return Principal{Token: tok}, nil
	}
	if tok.AccountID == "" {
		return Principal{}, platform.Errorf(platform.CodeForbidden, "this operation needs a person's token, not a client's own")
	}
	acct, err := a.accounts.Account(r.Context(), tok.AccountID)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return Principal{}, platform.Errorf(platform.CodeUnauthorized, "the account of this token no longer exists")
		}
		return Principal{}, fmt.Errorf("api: load account: %w", err)
	}
	if acct.Disabled {
		return Principal{}, platform.Errorf(platform.CodeUnauthorized, "the account of this token is disabled")
	}
	p := Principal{Token: tok, Account: acct}
	switch auth {
	case Citizen:
		if acct.Kind != identity.Citizen {
			return Principal{}, platform.Errorf(platform.CodeForbidden, "this operation is for citizens' own applications")
		}
		if !tok.HasScope(ScopeApplications) {
			return Principal{}, platform.Errorf(platform.CodeForbidden, "the token lacks the %q scope", ScopeApplications)
		}
	case Staff:
		if acct.Kind != identity.Staff || len(acct.Memberships) == 0 {
			return Principal{}, platform.Errorf(platform.CodeForbidden, "this operation is for agency staff")
		}
	}
	return p, nil
}
