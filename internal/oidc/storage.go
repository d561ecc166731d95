package oidc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// This file implements op.Storage over the tables of migration 00004:
//
//	op.Storage method                      table
//	GetClientByClientID, AuthorizeClient…  oidc_clients
//	CreateAuthRequest, AuthRequestByID     oidc_auth_requests
//	SaveAuthCode, AuthRequestByCode        oidc_codes
//	CreateAccessToken, SetUserinfo…        oidc_tokens (+ audit)
//	CreateAccessAndRefreshTokens,
//	TokenRequestByRefreshToken             oidc_refresh_tokens, oidc_tokens (+ audit)
//	SigningKey, KeySet                     oidc_keys (keys.go)
//
// Every method returns *oidc.Error values for the client's mistakes, and
// oidc.ErrServerError only for Portico's own faults, so the library
// answers bad input with a 4xx.

var (
	_ op.Storage                        = (*Service)(nil)
	_ op.ClientCredentialsStorage       = (*Service)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Service)(nil)
	_ op.CanTerminateSessionFromRequest = (*Service)(nil)
)

func serverError(what string, err error) *oidc.Error {
	return oidc.ErrServerError().WithParent(fmt.Errorf("oidc: %s: %w", what, err))
}

// AuthRequest is a row of oidc_auth_requests; it implements op.AuthRequest.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	Nonce               string
	ResponseType        oidc.ResponseType
	ResponseMode        oidc.ResponseMode
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              *int64
	UILocales           string
	LoginHint           string
	AccountID           string
	SessionID           string
	AuthTime            time.Time
	AMR                 []string
	IsDone              bool
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

var _ op.AuthRequest = (*AuthRequest)(nil)

func (a *AuthRequest) GetID() string                      { return a.ID }
func (a *AuthRequest) GetACR() string                     { return "" }
func (a *AuthRequest) GetAMR() []string                   { return a.AMR }
func (a *AuthRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *AuthRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *AuthRequest) GetClientID() string                { return a.ClientID }
func (a *AuthRequest) GetNonce() string                   { return a.Nonce }
func (a *AuthRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *AuthRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *AuthRequest) GetScopes() []string                { return a.Scopes }
func (a *AuthRequest) GetState() string                   { return a.State }
func (a *AuthRequest) GetSubject() string                 { return a.AccountID }
func (a *AuthRequest) Done() bool                         { return a.IsDone }

func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// hasPrompt reports whether the request asked for prompt p.
func (a *AuthRequest) HasPrompt(p string) bool { return slices.Contains(a.Prompt, p) }

// errBadAuthRequest is the answer for an unknown, expired or used
// authorization request id.
func errBadAuthRequest() *oidc.Error {
	return oidc.ErrInvalidRequest().WithDescription("unknown, expired or already used authorization request")
}

// Limits on what an authorization request may carry. Longer values are
// refused rather than stored.
const (
	maxStateLen  = 2000
	maxNonceLen  = 1000
	maxHintLen   = 300
	maxScopes    = 20
	maxPromptLen = 4
)

// CreateAuthRequest implements op.Storage. Besides the library's checks
// (client, redirect_uri, response_type, scopes) it requires the openid
// scope, PKCE with S256 from public clients (and S256 whenever PKCE is
// used), and query response mode: form_post needs an inline script that
// Portico's Content-Security-Policy forbids.
func (s *Service) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	c, err := s.ClientByID(ctx, req.ClientID)
	if err != nil {
		return nil, err
	}
	switch {
	case !slices.Contains(req.Scopes, oidc.ScopeOpenID):
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	case len(req.Scopes) > maxScopes || len(req.Prompt) > maxPromptLen:
		return nil, oidc.ErrInvalidRequest().WithDescription("too many scopes or prompt values")
	case len(req.State) > maxStateLen || len(req.Nonce) > maxNonceLen || len(req.LoginHint) > maxHintLen || len(req.CodeChallenge) > 128:
		return nil, oidc.ErrInvalidRequest().WithDescription("state, nonce, login_hint or code_challenge is too long")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	case c.Public && req.CodeChallenge == "":
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	for _, p := range req.Prompt {
		if p != oidc.PromptNone && p != oidc.PromptLogin && p != oidc.PromptConsent && p != oidc.PromptSelectAccount {
			return nil, oidc.ErrInvalidRequest().WithDescription("unsupported prompt value")
		}
	}
	now := s.clock.Now().UTC()
	a := &AuthRequest{
		ID: uuid.Must(uuid.NewV7()).String(), ClientID: c.ID, RedirectURI: req.RedirectURI, Scopes: dedupe(req.Scopes),
		State: req.State, Nonce: req.Nonce, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt,
		LoginHint: req.LoginHint, AMR: []string{}, CreatedAt: now, ExpiresAt: now.Add(s.cfg.AuthRequestTTL),
	}
	if a.Prompt == nil {
		a.Prompt = []string{}
	}
	if req.MaxAge != nil {
		m := int64(min(*req.MaxAge, 1<<31))
		a.MaxAge = &m
	}
	var locales []string
	for _, t := range req.UILocales {
		locales = append(locales, t.String())
	}
	a.UILocales = truncate(strings.Join(locales, " "), 200)
	var maxAge any
	if a.MaxAge != nil {
		maxAge = *a.MaxAge
	}
	_, err = s.db.Write().ExecContext(ctx, `INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, scopes, state, nonce,
		response_type, response_mode, code_challenge, code_challenge_method, prompt, max_age, ui_locales, login_hint, amr,
		created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		a.ID, a.ClientID, a.RedirectURI, mustJSON(a.Scopes), a.State, a.Nonce, string(a.ResponseType), string(a.ResponseMode),
		a.CodeChallenge, a.CodeChallengeMethod, mustJSON(a.Prompt), maxAge, a.UILocales, a.LoginHint, mustJSON(a.AMR),
		a.CreatedAt, a.ExpiresAt)
	if err != nil {
		return nil, serverError("create auth request", err)
	}
	return a, nil
}

const authRequestColumns = `id, client_id, redirect_uri, scopes, state, nonce, response_type, response_mode, code_challenge,
	code_challenge_method, prompt, max_age, ui_locales, login_hint, account_id, session_id, auth_time, amr, done,
	consumed_at, created_at, expires_at`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadAuthRequest returns a live request: known, unexpired and not yet
// turned into tokens. Anything else is errBadAuthRequest.
func (s *Service) loadAuthRequest(ctx context.Context, q querier, id string) (*AuthRequest, error) {
	a, consumed, err := s.loadAuthRequestAny(ctx, q, id)
	if err == nil && consumed {
		return nil, errBadAuthRequest()
	}
	return a, err
}

// loadAuthRequestAny returns a known, unexpired request and whether tokens
// were already issued for it.
func (s *Service) loadAuthRequestAny(ctx context.Context, q querier, id string) (*AuthRequest, bool, error) {
	if !platform.IsUUID(id) { // names no request: no query
		return nil, false, errBadAuthRequest()
	}
	var a AuthRequest
	var scopes, prompt, amr, rt, rm string
	var maxAge sql.NullInt64
	var authTime, consumed sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM oidc_auth_requests WHERE id = $1`, id).Scan(
		&a.ID, &a.ClientID, &a.RedirectURI, &scopes, &a.State, &a.Nonce, &rt, &rm, &a.CodeChallenge, &a.CodeChallengeMethod,
		&prompt, &maxAge, &a.UILocales, &a.LoginHint, &a.AccountID, &a.SessionID, &authTime, &amr, &a.IsDone,
		&consumed, &a.CreatedAt, &a.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, errBadAuthRequest()
	}
	if err != nil {
		return nil, false, serverError("load auth request", err)
	}
	if !s.clock.Now().Before(a.ExpiresAt) {
		return nil, false, errBadAuthRequest()
	}
	a.Scopes, a.Prompt, a.AMR = fromJSON(scopes), fromJSON(prompt), fromJSON(amr)
	a.ResponseType, a.ResponseMode = oidc.ResponseType(rt), oidc.ResponseMode(rm)
	if maxAge.Valid {
		a.MaxAge = &maxAge.Int64
	}
	if authTime.Valid {
		a.AuthTime = authTime.Time.UTC()
	}
	return &a, consumed.Valid, nil
}

// AuthRequestByID implements op.Storage.
func (s *Service) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.loadAuthRequest(ctx, s.db.Read(), id)
}

// SaveAuthCode implements op.Storage: one code per request, stored hashed.
func (s *Service) SaveAuthCode(ctx context.Context, id, code string) error {
	now := s.clock.Now().UTC()
	_, err := s.db.Write().ExecContext(ctx, `INSERT INTO oidc_codes (code_hash, auth_request_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, hashSecret(code), id, now, now.Add(s.cfg.CodeTTL))
	if storage.IsUniqueViolation(err) {
		return errBadAuthRequest()
	}
	if err != nil {
		return serverError("save code", err)
	}
	return nil
}

// AuthRequestByCode implements op.Storage. It only reads: the code is
// spent by the transaction that issues its tokens (spendCode), after the
// client authenticated and the PKCE verifier matched, so a failed attempt
// does not burn it and two concurrent exchanges cannot both succeed. A
// code whose tokens were already issued is a replay: every token of that
// grant is revoked (RFC 6749 section 4.1.2), and it is audited.
func (s *Service) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if code == "" || len(code) > 512 {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	var id string
	err := s.db.Read().QueryRowContext(ctx, `SELECT auth_request_id FROM oidc_codes WHERE code_hash = $1 AND expires_at > $2`,
		hashSecret(code), s.clock.Now().UTC()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	if err != nil {
		return nil, serverError("redeem code", err)
	}
	a, consumed, err := s.loadAuthRequestAny(ctx, s.db.Read(), id)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code").WithParent(err)
	}
	if consumed {
		if err := s.revokeGrant(ctx, id, "oidc.code.replay"); err != nil {
			return nil, serverError("revoke replayed grant", err)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	if !a.IsDone {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	return a, nil
}

// errCodeSpent is the answer when another exchange of the same code won.
func errCodeSpent() *oidc.Error { return oidc.ErrInvalidGrant().WithDescription("invalid code") }

// spendCode marks an authorization request consumed in tx. It reports
// false when another transaction already did (a concurrent replay).
func (s *Service) spendCode(ctx context.Context, tx *sql.Tx, id string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL`, now, id)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE oidc_codes SET used_at = $1 WHERE auth_request_id = $2`, now, id)
	return err == nil, err
}

// DeleteAuthRequest implements op.Storage. The row was already marked
// consumed by the token transaction (spendCode) and is kept until it
// expires: a replayed code must still find which grant to revoke.
func (s *Service) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := s.db.Write().ExecContext(ctx, `UPDATE oidc_auth_requests SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL`,
		s.clock.Now().UTC(), id)
	if err != nil {
		return serverError("consume auth request", err)
	}
	return nil
}

// ccRequest is a client_credentials grant; the client is the subject.
type ccRequest struct {
	clientID string
	scopes   []string
}

func (r *ccRequest) GetSubject() string    { return r.clientID }
func (r *ccRequest) GetAudience() []string { return []string{r.clientID} }
func (r *ccRequest) GetScopes() []string   { return r.scopes }
func (r *ccRequest) GetClientID() string   { return r.clientID }

// refreshRequest is a refresh_token grant, from TokenRequestByRefreshToken.
type refreshRequest struct {
	tokenHash string
	id        string
	grantID   string
	clientID  string
	accountID string
	scopes    []string // the grant's scopes; a refresh token keeps them all
	current   []string // the scopes asked for this time (narrower or equal)
	amr       []string
	authTime  time.Time
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return r.amr }
func (r *refreshRequest) GetAudience() []string            { return []string{r.clientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshRequest) GetClientID() string              { return r.clientID }
func (r *refreshRequest) GetScopes() []string              { return r.current }
func (r *refreshRequest) GetSubject() string               { return r.accountID }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.current = scopes }

// grant describes whatever token request the library hands over.
type grant struct {
	kind      string // authorization_code, client_credentials, refresh_token
	clientID  string
	accountID string
	grantID   string
	scopes    []string
}

func grantOf(req op.TokenRequest) (grant, error) {
	switch r := req.(type) {
	case *AuthRequest:
		return grant{kind: GrantAuthorizationCode, clientID: r.ClientID, accountID: r.AccountID, grantID: r.ID, scopes: r.Scopes}, nil
	case *ccRequest:
		return grant{kind: GrantClientCredentials, clientID: r.clientID, scopes: r.scopes}, nil
	case *refreshRequest:
		return grant{kind: grantRefreshToken, clientID: r.clientID, accountID: r.accountID, grantID: r.grantID, scopes: r.current}, nil
	}
	return grant{}, oidc.ErrUnsupportedGrantType().WithDescription("grant not supported")
}

// insertAccessToken stores an access token row and audits its issue, in tx.
func (s *Service) insertAccessToken(ctx context.Context, tx *sql.Tx, g grant, now time.Time) (string, time.Time, error) {
	id := "at_" + randomToken()[:27]
	exp := now.Add(s.cfg.AccessTokenTTL)
	if _, err := s.db.ExecHot(ctx, tx, `INSERT INTO oidc_tokens (id, client_id, account_id, grant_id, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, g.clientID, g.accountID, g.grantID, mustJSON(g.scopes), now, exp); err != nil {
		return "", time.Time{}, err
	}
	subject := "client:" + g.clientID
	if g.accountID != "" {
		subject = "account:" + g.accountID
	}
	_, err := s.audit.Append(s.asClient(ctx, g.clientID), tx, audit.Record{Action: "oidc.token.issue", Subject: subject,
		Detail: map[string]any{"client": g.clientID, "grant": g.kind, "jti": id, "scopes": g.scopes}})
	return id, exp, err
}

// asClient returns ctx acting as the client, for the audit log, unless a
// person is already the actor.
func (s *Service) asClient(ctx context.Context, clientID string) context.Context {
	if a := platform.ActorFrom(ctx); a.Kind != platform.ActorAnonymous {
		return ctx
	}
	return platform.WithActor(ctx, platform.Actor{Kind: platform.ActorClient, ID: clientID})
}

// CreateAccessToken implements op.Storage for grants without a refresh
// token: the token row and its audit entry commit together. A
// client-credentials token has no row (clientToken): its audit entry is
// its only write, committed before the token is handed out.
func (s *Service) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	if g.kind == GrantClientCredentials {
		return s.issueClientToken(ctx, g)
	}
	var id string
	var exp time.Time
	spent := false
	now := s.clock.Now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if g.kind == GrantAuthorizationCode {
			ok, err := s.spendCode(ctx, tx, g.grantID, now)
			if err != nil {
				return err
			}
			if !ok {
				spent = true
				return errCodeSpent()
			}
		}
		var err error
		id, exp, err = s.insertAccessToken(ctx, tx, g, now)
		return err
	})
	if spent {
		if err := s.revokeGrant(ctx, g.grantID, "oidc.code.replay"); err != nil {
			return "", time.Time{}, serverError("revoke replayed grant", err)
		}
		return "", time.Time{}, errCodeSpent()
	}
	if err != nil {
		return "", time.Time{}, serverError("create access token", err)
	}
	return id, exp, nil
}

// errRefreshReused is the answer to a refresh token presented twice.
func errRefreshReused() *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("refresh token already used; every token of this grant is now revoked")
}

// CreateAccessAndRefreshTokens implements op.Storage. For a refresh grant
// the presented token is marked used in the same transaction that stores
// its successor, with a condition that only one request can meet; the
// loser is treated as a reuse.
func (s *Service) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	var amr []string
	var authTime time.Time
	scopes := g.scopes
	switch r := req.(type) {
	case *AuthRequest:
		amr, authTime = r.AMR, r.AuthTime
	case *refreshRequest:
		amr, authTime, scopes = r.amr, r.authTime, r.scopes
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are issued only to the authorization code flow")
	}
	now := s.clock.Now().UTC()
	refresh := randomToken()
	var accessID string
	var exp time.Time
	reused, spent := false, false
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if g.kind == GrantAuthorizationCode {
			ok, err := s.spendCode(ctx, tx, g.grantID, now)
			if err != nil {
				return err
			}
			if !ok {
				spent = true
				return errCodeSpent()
			}
		}
		if rr, ok := req.(*refreshRequest); ok {
			res, err := s.db.ExecHot(ctx, tx, `UPDATE oidc_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL
				AND revoked_at IS NULL AND expires_at > $1`, now, rr.tokenHash)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				reused = true
				return errRefreshReused()
			}
		}
		if _, err := s.db.ExecHot(ctx, tx, `INSERT INTO oidc_refresh_tokens (token_hash, grant_id, client_id, account_id, scopes,
			amr, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			hashSecret(refresh), g.grantID, g.clientID, g.accountID, mustJSON(scopes), mustJSON(amr),
			authTime, now, now.Add(s.cfg.RefreshTokenTTL)); err != nil {
			return err
		}
		var err error
		accessID, exp, err = s.insertAccessToken(ctx, tx, g, now)
		return err
	})
	if spent {
		if err := s.revokeGrant(ctx, g.grantID, "oidc.code.replay"); err != nil {
			return "", "", time.Time{}, serverError("revoke replayed grant", err)
		}
		return "", "", time.Time{}, errCodeSpent()
	}
	if reused {
		if err := s.revokeGrant(ctx, g.grantID, "oidc.refresh.reuse"); err != nil {
			return "", "", time.Time{}, serverError("revoke reused grant", err)
		}
		return "", "", time.Time{}, errRefreshReused()
	}
	if err != nil {
		return "", "", time.Time{}, serverError("create tokens", err)
	}
	return accessID, refresh, exp, nil
}

// TokenRequestByRefreshToken implements op.Storage. A token that was
// already used revokes its grant (reuse detection, audited); an expired,
// revoked or unknown one, or one whose account is disabled, is refused.
func (s *Service) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	if token == "" || len(token) > 512 {
		return nil, op.ErrInvalidRefreshToken
	}
	r := &refreshRequest{tokenHash: hashSecret(token)}
	var scopes, amr string
	var expires time.Time
	var created time.Time
	var used, revoked, notBefore sql.NullTime
	r.id = "rt_" + r.tokenHash
	err := s.db.ReadRowHot(ctx, `SELECT t.grant_id, t.client_id, t.account_id, t.scopes, t.amr, t.auth_time, t.created_at, t.expires_at, t.used_at,
		t.revoked_at, c.tokens_not_before FROM oidc_refresh_tokens t LEFT JOIN oidc_clients c ON c.id = t.client_id WHERE t.token_hash = $1`,
		r.tokenHash).Scan(&r.grantID, &r.clientID, &r.accountID, &scopes, &amr, &r.authTime, &created, &expires, &used, &revoked, &notBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, serverError("load refresh token", err)
	}
	if used.Valid && !revoked.Valid {
		if err := s.revokeGrant(ctx, r.grantID, "oidc.refresh.reuse"); err != nil {
			return nil, serverError("revoke reused grant", err)
		}
		return nil, errRefreshReused()
	}
	if used.Valid || revoked.Valid || !s.clock.Now().Before(expires) || notBefore.Valid && created.Before(notBefore.Time) {
		// Issued before its client's tokens were all revoked: refused, but
		// not reuse (the grant stays for the client's next sign-in).
		return nil, op.ErrInvalidRefreshToken
	}
	if s.accounts != nil {
		if active, err := s.accounts.AccountActive(ctx, r.accountID); err != nil {
			return nil, serverError("check account", err)
		} else if !active {
			return nil, op.ErrInvalidRefreshToken
		}
	}
	r.scopes, r.amr = fromJSON(scopes), fromJSON(amr)
	r.current = r.scopes
	r.authTime = r.authTime.UTC()
	return r, nil
}

// revokeGrant revokes every access and refresh token of one grant and
// audits why (action), in one transaction.
func (s *Service) revokeGrant(ctx context.Context, grantID, action string) error {
	if grantID == "" {
		return nil
	}
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var clientID, accountID string
		err := tx.QueryRowContext(ctx, `SELECT client_id, account_id FROM oidc_auth_requests WHERE id = $1`, grantID).Scan(&clientID, &accountID)
		if errors.Is(err, sql.ErrNoRows) {
			// The authorization request was purged (purge.go); its refresh
			// tokens still say whose grant it is.
			err = tx.QueryRowContext(ctx, `SELECT client_id, account_id FROM oidc_refresh_tokens WHERE grant_id = $1 LIMIT 1`,
				grantID).Scan(&clientID, &accountID)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		r1, err := tx.ExecContext(ctx, `UPDATE oidc_refresh_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL`, now, grantID)
		if err != nil {
			return err
		}
		r2, err := tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL`, now, grantID)
		if err != nil {
			return err
		}
		n1, _ := r1.RowsAffected()
		n2, _ := r2.RowsAffected()
		_, err = s.audit.Append(s.asClient(ctx, clientID), tx, audit.Record{Action: action, Subject: "account:" + accountID,
			Detail: map[string]any{"client": clientID, "grant": grantID, "refresh_tokens_revoked": n1, "access_tokens_revoked": n2}})
		return err
	})
}

// TerminateSession implements op.Storage; the provider uses
// TerminateSessionFromRequest (web.go) instead, which also ends the
// browser's Portico session.
func (s *Service) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.logoutAudit(ctx, userID, clientID, false)
}

// GetRefreshTokenInfo implements op.Storage.
func (s *Service) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	if token == "" || len(token) > 512 {
		return "", "", op.ErrInvalidRefreshToken
	}
	var accountID string
	h := hashSecret(token)
	err := s.db.Read().QueryRowContext(ctx, `SELECT account_id FROM oidc_refresh_tokens WHERE token_hash = $1 AND client_id = $2`,
		h, clientID).Scan(&accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", op.ErrInvalidRefreshToken
	}
	if err != nil {
		return "", "", err
	}
	return accountID, "rt_" + h, nil
}

// RevokeToken implements op.Storage (RFC 7009). tokenOrID is an access
// token's jti ("at_…") or a refresh token's id ("rt_" + its hash); revoking a
// refresh token revokes its whole grant. A token of another client is
// refused; an unknown one is quietly accepted, as the RFC asks.
func (s *Service) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	var owner, grantID string
	var err error
	switch {
	case strings.HasPrefix(tokenOrID, "rt_"):
		err = s.db.Read().QueryRowContext(ctx, `SELECT client_id, grant_id FROM oidc_refresh_tokens WHERE token_hash = $1`,
			strings.TrimPrefix(tokenOrID, "rt_")).Scan(&owner, &grantID)
	case isClientToken(tokenOrID):
		// The library passes a JWT's jti and subject only after checking
		// its signature; a client's own token's subject is the client.
		if userID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
		}
		if err := s.revokeClientToken(ctx, tokenOrID, clientID); err != nil {
			return serverError("revoke", err)
		}
		return nil
	case strings.HasPrefix(tokenOrID, "at_"):
		err = s.db.Read().QueryRowContext(ctx, `SELECT client_id, grant_id FROM oidc_tokens WHERE id = $1`, tokenOrID).Scan(&owner, &grantID)
	default:
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return serverError("revoke", err)
	}
	if owner != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
	}
	if grantID != "" && strings.HasPrefix(tokenOrID, "rt_") {
		if err := s.revokeGrant(ctx, grantID, "oidc.token.revoke"); err != nil {
			return serverError("revoke", err)
		}
		return nil
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
			s.clock.Now().UTC(), tokenOrID); err != nil {
			return err
		}
		_, err := s.audit.Append(s.asClient(ctx, clientID), tx, audit.Record{Action: "oidc.token.revoke", Subject: "client:" + clientID,
			Detail: map[string]string{"jti": tokenOrID}})
		return err
	})
	if err != nil {
		return serverError("revoke", err)
	}
	return nil
}

// GetClientByClientID implements op.Storage.
func (s *Service) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return opClient{Client: c, s: s}, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *Service) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return err
	}
	if !c.checkSecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	return nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Service) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.checkSecret(secret) {
		return nil, oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	return opClient{Client: c, s: s}, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage:
// the scopes must be among those registered for the client.
func (s *Service) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	scopes = dedupe(scopes)
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope not registered for this client")
		}
	}
	return &ccRequest{clientID: c.ID, scopes: scopes}, nil
}

// SetUserinfoFromScopes implements op.Storage; it is deprecated upstream
// and does nothing: SetUserinfoFromRequest does the work.
func (s *Service) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the
// claims an ID token carries for scopes (only when no access token is
// issued; otherwise they come from userinfo).
func (s *Service) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	info.Subject = req.GetSubject()
	if !needsAccount(scopes) {
		return nil
	}
	a, err := s.accounts.Account(ctx, req.GetSubject())
	if err != nil {
		return serverError("load account", err)
	}
	fillUserinfo(info, a, scopes)
	return nil
}

// needsAccount reports whether any scope releases account data.
func needsAccount(scopes []string) bool {
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress, ScopeBirthdate:
			return true
		}
	}
	return false
}

// fillUserinfo sets the claims that scopes release. sub is the account id
// always; the rest only for their scope:
//
//	profile    name, locale
//	email      email, email_verified
//	phone      phone_number (never verified by Portico)
//	address    address (the residential address)
//	birthdate  birthdate (Portico's own scope)
func fillUserinfo(info *oidc.UserInfo, a *identity.Account, scopes []string) {
	info.Subject = a.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.Name = a.LegalName
			if tag, err := language.Parse(a.Lang); err == nil {
				info.Locale = oidc.NewLocale(tag)
			}
		case oidc.ScopeEmail:
			info.Email = a.Email
			info.EmailVerified = oidc.Bool(a.EmailVerified)
		case oidc.ScopePhone:
			info.PhoneNumber = a.Phone
		case oidc.ScopeAddress:
			if !a.Residential.IsZero() {
				r := a.Residential
				street := strings.TrimSpace(r.Line1 + "\n" + r.Line2)
				info.Address = &oidc.UserInfoAddress{
					StreetAddress: street, Locality: r.City, Region: r.State, PostalCode: r.ZIP, Country: "US",
					Formatted: strings.TrimSpace(street + "\n" + r.City + ", " + r.State + " " + r.ZIP),
				}
			}
		case ScopeBirthdate:
			info.Birthdate = a.DateOfBirth
		}
	}
}

// liveToken loads an access token row that is neither revoked nor expired.
// A client-credentials token ("ct_", clientToken) has no row; it is never
// live here (see clientTokenLive).
func (s *Service) liveToken(ctx context.Context, id string) (clientID, accountID string, scopes []string, created, expires time.Time, ok bool, err error) {
	if !strings.HasPrefix(id, "at_") || len(id) > 64 {
		return "", "", nil, time.Time{}, time.Time{}, false, nil
	}
	var sc string
	var revoked, notBefore sql.NullTime
	// The client's not-before time (RevokeClientTokens) is read with the
	// row, by primary key, so a revocation holds on every replica at once.
	err = s.db.ReadRowHot(ctx, `SELECT t.client_id, t.account_id, t.scopes, t.created_at, t.expires_at, t.revoked_at, c.tokens_not_before
		FROM oidc_tokens t LEFT JOIN oidc_clients c ON c.id = t.client_id WHERE t.id = $1`, id).Scan(&clientID, &accountID, &sc, &created, &expires, &revoked, &notBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil, time.Time{}, time.Time{}, false, nil
	}
	if err != nil {
		return "", "", nil, time.Time{}, time.Time{}, false, err
	}
	if revoked.Valid || !s.clock.Now().Before(expires) || notBefore.Valid && created.Before(notBefore.Time) {
		return "", "", nil, time.Time{}, time.Time{}, false, nil
	}
	return clientID, accountID, fromJSON(sc), created.UTC(), expires.UTC(), true, nil
}

// SetUserinfoFromToken implements op.Storage: the person's claims for the
// scopes the token carries. A revoked or expired token, a client's own
// token (no person) or a disabled account is refused (403).
func (s *Service) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	_, accountID, scopes, _, _, ok, err := s.liveToken(ctx, tokenID)
	if err != nil {
		return serverError("load token", err)
	}
	if !ok || accountID == "" || accountID != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token is not valid for userinfo")
	}
	a, err := s.accounts.Account(ctx, accountID)
	if errors.Is(err, identity.ErrNotFound) || err == nil && a.Disabled {
		return oidc.ErrAccessDenied().WithDescription("the account is not active")
	}
	if err != nil {
		return serverError("load account", err)
	}
	fillUserinfo(info, a, scopes)
	return nil
}

// SetIntrospectionFromToken implements op.Storage (RFC 7662): any
// authenticated client may ask about a token; the answer names its
// client, subject, scopes and times, never the person's claims.
func (s *Service) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	if isClientToken(tokenID) {
		return s.introspectClientToken(ctx, resp, tokenID, subject)
	}
	owner, accountID, scopes, created, expires, ok, err := s.liveToken(ctx, tokenID)
	if err != nil {
		return serverError("load token", err)
	}
	if !ok {
		return oidc.ErrInvalidRequest().WithDescription("inactive token")
	}
	sub := owner
	if accountID != "" {
		sub = accountID
	}
	if sub != subject {
		return oidc.ErrInvalidRequest().WithDescription("inactive token")
	}
	resp.Scope = scopes
	resp.ClientID = owner
	resp.Subject = sub
	resp.Audience = []string{owner}
	resp.Expiration = oidc.FromTime(expires)
	resp.IssuedAt = oidc.FromTime(created)
	resp.TokenType = oidc.BearerToken
	resp.Issuer = s.cfg.Issuer
	resp.JWTID = tokenID
	return nil
}

// GetPrivateClaimsFromScopes implements op.Storage: access tokens carry
// no claims beyond the registered JWT ones.
func (s *Service) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.Storage. Portico registers no
// client keys, so JWT client assertions and the jwt-bearer grant are
// refused as invalid_client.
func (s *Service) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrInvalidClient().WithDescription("JWT client authentication is not supported")
}

// ValidateJWTProfileScopes implements op.Storage; the jwt-bearer grant is
// not supported.
func (s *Service) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnauthorizedClient().WithDescription("the jwt-bearer grant is not supported")
}

// Health implements op.Storage.
func (s *Service) Health(ctx context.Context) error { return s.db.Ping(ctx) }
