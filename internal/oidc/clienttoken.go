package oidc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// A client's own token (client_credentials grant, ADR 60) is a JWT whose
// jti starts with "ct_" and whose subject is the client. Unlike a token
// issued for a person it has no oidc_tokens row: everything a resource
// server needs is in the signed JWT (client, scopes, expiry), so issuing
// one writes only its audit entry, which shares a group commit with
// concurrent grants (audit.Log.Write) instead of a transaction per grant.
// It is live while its signature and expiry hold, its client is neither
// disabled nor gone, and it was not revoked. Revoking one (RFC 7009)
// stores a revoked row under its jti, which outlives the token.
const clientTokenPrefix = "ct_"

// revocationMargin is how much longer than the current access token
// lifetime a revocation row is kept, so a token issued under a longer
// lifetime (before a configuration change) stays revoked until it expires.
const revocationMargin = 24 * time.Hour

// clockSkew is how far a client token's issue time may lie in the future,
// and its lifetime exceed the configured one, before it is refused: the
// replicas' clocks are close, not equal.
const clockSkew = time.Minute

// isClientToken reports whether a jti names a client's own token.
func isClientToken(id string) bool {
	return strings.HasPrefix(id, clientTokenPrefix) && len(id) <= 64
}

// issueClientToken returns a new client token's jti and expiry once its
// issue is audited (committed).
func (s *Service) issueClientToken(ctx context.Context, g grant) (string, time.Time, error) {
	id, exp := s.newClientToken()
	if err := s.auditClientToken(ctx, g, id); err != nil {
		return "", time.Time{}, err
	}
	return id, exp, nil
}

// newClientToken returns a fresh client token's jti and expiry.
func (s *Service) newClientToken() (string, time.Time) {
	return clientTokenPrefix + randomToken()[:27], s.clock.Now().UTC().Add(s.cfg.AccessTokenTTL)
}

// auditClientToken records the issue of client token id and returns once
// the entry is committed.
func (s *Service) auditClientToken(ctx context.Context, g grant, id string) error {
	_, err := s.audit.Write(s.asClient(ctx, g.clientID), audit.Record{Action: "oidc.token.issue", Subject: "client:" + g.clientID,
		Detail: issueDetail{Client: g.clientID, Grant: g.kind, JTI: id, Scopes: g.scopes}})
	if err != nil {
		return serverError("create access token", err)
	}
	return nil
}

// ClientCredentialsResponse issues the token of a client_credentials
// request the library has parsed and validated
// (op.ValidateClientCredentialsRequest: client authenticated, grant and
// scopes allowed) and returns the token response, as the library's
// op.CreateClientCredentialsTokenResponse would with this Service as its
// storage: the same claims (iss, sub, aud, exp, iat, nbf, client_id, jti,
// scope), the same header (alg and kid of the active key, typ JWT),
// signed by go-jose with the same key. Two things differ, for speed
// (issue 14): the token is signed while its audit entry commits, instead
// of after, and it is still handed out only once the entry is committed;
// and the signer is the cached one of the active key (SignJWT's) and the
// scope travels in the claims' own field, where the library builds a
// signer per grant and merges a private "scope" claim through a JSON
// decode and re-encode. Other grants keep the library's whole path.
func (s *Service) ClientCredentialsResponse(ctx context.Context, req op.TokenRequest, client op.Client) (*oidc.AccessTokenResponse, error) {
	cc, ok := req.(*ccRequest)
	if !ok {
		return nil, oidc.ErrServerError().WithParent(fmt.Errorf("oidc: client credentials: request %T", req))
	}
	g := grant{kind: GrantClientCredentials, clientID: cc.clientID, scopes: cc.scopes}
	id, exp := s.newClientToken()
	audited := make(chan error, 1)
	go func() { audited <- s.auditClientToken(ctx, g, id) }()
	token, signErr := s.signClientToken(ctx, cc, client, id, exp)
	if err := <-audited; err != nil {
		return nil, err
	}
	if signErr != nil {
		return nil, signErr
	}
	return &oidc.AccessTokenResponse{
		AccessToken: token,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   uint64(max(exp.Add(client.ClockSkew()).Sub(s.clock.Now().UTC()), 0).Seconds()),
		Scope:       cc.GetScopes(),
	}, nil
}

// signClientToken signs a client token's claims as op.CreateJWT does
// (JSON, then a compact JWS with the active key: SignJWT's signer).
func (s *Service) signClientToken(ctx context.Context, cc *ccRequest, client op.Client, id string, exp time.Time) (string, error) {
	claims := oidc.NewAccessTokenClaims(s.cfg.Issuer, cc.GetSubject(), cc.GetAudience(), exp, id, client.GetID(), client.ClockSkew())
	if scopes := withoutUserinfoScopes(client.RestrictAdditionalAccessTokenScopes()(cc.GetScopes())); len(scopes) > 0 {
		claims.Scopes = scopes
	}
	ring, err := s.loadKeys(ctx, false)
	if err != nil {
		return "", err
	}
	signer, err := s.signerFor(ring.active)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidc: client token: %w", err)
	}
	return signer.sign(payload)
}

// withoutUserinfoScopes drops the scopes that only ask for userinfo
// claims, as the library does before it puts scopes in an access token.
func withoutUserinfoScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeAddress, oidc.ScopePhone:
			continue
		}
		out = append(out, sc)
	}
	return out
}

// issueDetail is a token issue's audit detail. It marshals to the same
// JSON as the map it replaced (fields in the map's sorted key order),
// without sorting keys per grant.
type issueDetail struct {
	Client string   `json:"client"`
	Grant  string   `json:"grant"`
	JTI    string   `json:"jti"`
	Scopes []string `json:"scopes"`
}

// GetPrivateClaimsFromRequest implements op.CanGetPrivateClaimsFromRequest:
// a client's own token carries its scopes ("scope", RFC 9068), since it
// has no row to look them up in. Tokens for a person carry none; their
// scopes are in their row.
func (s *Service) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, scopes []string) (map[string]any, error) {
	if _, ok := req.(*ccRequest); ok && len(scopes) > 0 {
		return map[string]any{"scope": strings.Join(scopes, " ")}, nil
	}
	return nil, nil
}

// clientTokenRevoked reports whether a client token is revoked: its jti
// has a row (only RFC 7009 revocation writes one), or it was issued
// before its client's tokens_not_before (RevokeClientTokens). Both are
// read from the database in one statement on every check, never from the
// client cache, so a revocation on one replica holds on every replica at
// once. A client that is gone reads as revoked.
func (s *Service) clientTokenRevoked(ctx context.Context, id, clientID string, issued time.Time) (bool, error) {
	var notBefore sql.NullTime
	var row sql.NullString
	err := s.db.ReadRowHot(ctx, `SELECT c.tokens_not_before, t.id FROM oidc_clients c LEFT JOIN oidc_tokens t ON t.id = $1 WHERE c.id = $2`,
		id, clientID).Scan(&notBefore, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return true, err
	}
	return row.Valid || (notBefore.Valid && issued.Before(notBefore.Time)), nil
}

// clientTokenLive checks what the signature cannot: a verified client
// token's claims name one live client as subject, client and only
// audience; that client may still use the client_credentials grant and
// every scope the token carries; the token was issued in the past for no
// longer than tokens are issued for; and it was not revoked. The
// signature alone is not trusted for scope or lifetime, so a JWT signed
// with the provider's key for another purpose cannot pass as a client's
// token (security review of ADR 60). ok is false for a dead token; err is
// a fault, and ok is then false too.
func (s *Service) clientTokenLive(ctx context.Context, claims *oidc.AccessTokenClaims) (bool, error) {
	now := s.clock.Now()
	if claims.Subject == "" || claims.Subject != claims.ClientID || !now.Before(claims.Expiration.AsTime()) {
		return false, nil
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != claims.ClientID {
		return false, nil
	}
	issued := claims.IssuedAt.AsTime()
	if issued.IsZero() || issued.After(now.Add(clockSkew)) || claims.Expiration.AsTime().Sub(issued) > s.cfg.AccessTokenTTL+clockSkew {
		return false, nil
	}
	c, err := s.ClientByID(ctx, claims.ClientID)
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
			return false, nil
		}
		return false, err
	}
	if c.Disabled || !slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return false, nil
	}
	for _, sc := range claims.Scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	revoked, err := s.clientTokenRevoked(ctx, claims.JWTID, claims.ClientID, issued)
	if err != nil {
		return false, err
	}
	return !revoked, nil
}

// verifyClientToken is VerifyAccessToken for a client's own token.
func (s *Service) verifyClientToken(ctx context.Context, claims *oidc.AccessTokenClaims) (AccessToken, error) {
	ok, err := s.clientTokenLive(ctx, claims)
	if err != nil {
		return AccessToken{}, fmt.Errorf("oidc: verify access token: %w", err)
	}
	if !ok {
		return AccessToken{}, platform.Errorf(platform.CodeUnauthorized, "the bearer access token has expired or was revoked")
	}
	scopes := []string(claims.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return AccessToken{ID: claims.JWTID, ClientID: claims.ClientID, Scopes: scopes, Expires: claims.Expiration.AsTime().UTC()}, nil
}

type presentedTokenKey struct{}

// WithPresentedToken returns ctx carrying the token a request presents
// for introspection: the library hands SetIntrospectionFromToken only its
// jti and subject, and a client token's scopes and times are in the JWT.
func WithPresentedToken(ctx context.Context, raw string) context.Context {
	return context.WithValue(ctx, presentedTokenKey{}, raw)
}

// introspectClientToken answers RFC 7662 for a client token from its
// verified claims (the presented JWT, WithPresentedToken).
func (s *Service) introspectClientToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject string) error {
	inactive := oidc.ErrInvalidRequest().WithDescription("inactive token")
	raw, _ := ctx.Value(presentedTokenKey{}).(string)
	if raw == "" || len(raw) > 8192 {
		return inactive
	}
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, raw, op.NewAccessTokenVerifier(s.cfg.Issuer, s.TokenKeySet()))
	if err != nil || claims.JWTID != tokenID || claims.Subject != subject {
		return inactive
	}
	ok, err := s.clientTokenLive(ctx, claims)
	if err != nil {
		return serverError("load token", err)
	}
	if !ok {
		return inactive
	}
	scopes := []string(claims.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	resp.Scope = scopes
	resp.ClientID = claims.ClientID
	resp.Subject = claims.Subject
	resp.Audience = []string{claims.ClientID}
	resp.Expiration = claims.Expiration
	resp.IssuedAt = claims.IssuedAt
	resp.TokenType = oidc.BearerToken
	resp.Issuer = s.cfg.Issuer
	resp.JWTID = tokenID
	return nil
}

// revokeClientToken stores a revoked row under a client token's jti, and
// audits the revocation, in one transaction. Revoking twice is harmless.
func (s *Service) revokeClientToken(ctx context.Context, id, clientID string) error {
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_tokens (id, client_id, account_id, grant_id, scopes, created_at, expires_at, revoked_at)
			VALUES ($1, $2, '', '', $3, $4, $5, $4) ON CONFLICT (id) DO NOTHING`,
			id, clientID, "[]", now, now.Add(s.cfg.AccessTokenTTL+revocationMargin)); err != nil {
			return err
		}
		_, err := s.audit.Append(s.asClient(ctx, clientID), tx, audit.Record{Action: "oidc.token.revoke", Subject: "client:" + clientID,
			Detail: map[string]string{"jti": id}})
		return err
	})
}

// RevokeClientTokens ends every token client id has been issued until
// now, for when one (or its secret) leaked: its own tokens (the
// client_credentials grant) and the tokens it holds for people (access
// and refresh tokens of the authorization-code grant). A client token has
// no row to revoke (ADR 60), and a sign-in client may hold the tokens of
// a million people, so instead of touching their rows the client keeps a
// time before which every token issued to it is refused: by every check
// of a client token (clientTokenLive: Portico's APIs and introspection),
// of a person's access token (liveToken: userinfo, introspection,
// Portico's APIs) and at the refresh of a person's token. The people's
// grants stay: the client sends them through sign-in again and gets new
// tokens without asking them to consent again. The time is
// the next whole second, since a JWT's iat is in whole seconds: a token
// issued in the same second as the revocation is refused too, and one
// issued from the next second on lives. "Now" is the later of this
// process's clock and, on PostgreSQL, the database's, which every replica
// shares: a revocation handled by a replica whose clock is behind still
// ends the tokens issued until the database's now. The time never moves
// back: the statement stores the latest of the time already stored and
// these, and the time stored is what is returned and audited (a later
// revocation may have stored a later one). Every replica refuses the
// tokens at once: the time is read with the revoked-row check
// (clientTokenRevoked), not from the client cache. The change and its
// audit record (actor from ctx: an operator, or the client itself) commit
// together. A disabled client may be revoked too: its tokens stay dead if
// it is enabled again.
func (s *Service) RevokeClientTokens(ctx context.Context, id string) (time.Time, error) {
	cutoff := s.clock.Now().UTC().Truncate(time.Second).Add(time.Second)
	var notBefore time.Time
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var agency string
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(agency_id, '') FROM oidc_clients WHERE id = $1`, id).Scan(&agency)
		if errors.Is(err, sql.ErrNoRows) {
			return platform.Errorf(platform.CodeNotFound, "There is no client %q.", truncate(id, 100))
		}
		if err != nil {
			return fmt.Errorf("oidc: revoke client tokens: %w", err)
		}
		q := revokeClientTokensSQLite
		if s.db.Dialect == storage.Postgres {
			q = revokeClientTokensPostgres
		}
		if err := tx.QueryRowContext(ctx, q, id, cutoff).Scan(&notBefore); err != nil {
			return fmt.Errorf("oidc: revoke client tokens: %w", err)
		}
		notBefore = notBefore.UTC()
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "oidc.client.tokens_revoke", Subject: "client:" + id, AgencyID: agency,
			Detail: map[string]any{"client": id, "not_before": notBefore.Format(time.RFC3339)}})
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	s.clients.drop(id)
	return notBefore, nil
}

// The statements that store the latest of a client's tokens_not_before
// and $2 (this process's next whole second) and return what is stored.
// On PostgreSQL the database's next whole second counts too
// (clock_timestamp: the time of the statement, not of the transaction's
// start); GREATEST ignores a NULL. On SQLite the database is a file of
// this process, so its clock is this process's.
const (
	revokeClientTokensPostgres = `UPDATE oidc_clients
		SET tokens_not_before = GREATEST(tokens_not_before, $2::timestamptz, date_trunc('second', clock_timestamp()) + interval '1 second')
		WHERE id = $1 RETURNING tokens_not_before`
	revokeClientTokensSQLite = `UPDATE oidc_clients
		SET tokens_not_before = CASE WHEN tokens_not_before IS NULL OR tokens_not_before < $2 THEN $2 ELSE tokens_not_before END
		WHERE id = $1 RETURNING tokens_not_before`
)
