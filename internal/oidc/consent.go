package oidc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity"
)

// Bind records who signed in for an authorization request: the account,
// the Portico session, when they authenticated and how.
func (s *Service) Bind(ctx context.Context, a *AuthRequest, sess *identity.Session, acct *identity.Account) error {
	a.AccountID, a.SessionID, a.AuthTime, a.AMR = acct.ID, sess.ID, sess.AuthenticatedAt.UTC(), amrOf(sess.Method)
	res, err := s.db.Write().ExecContext(ctx, `UPDATE oidc_auth_requests SET account_id = $1, session_id = $2, auth_time = $3, amr = $4
		WHERE id = $5 AND consumed_at IS NULL`, a.AccountID, a.SessionID, a.AuthTime, mustJSON(a.AMR), a.ID)
	if err != nil {
		return serverError("bind auth request", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errBadAuthRequest()
	}
	return nil
}

// MarkDone completes an authorization request: the callback may now issue
// its code.
func (s *Service) MarkDone(ctx context.Context, id string) error {
	res, err := s.db.Write().ExecContext(ctx, `UPDATE oidc_auth_requests SET done = TRUE WHERE id = $1 AND account_id <> ''
		AND consumed_at IS NULL`, id)
	if err != nil {
		return serverError("complete auth request", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errBadAuthRequest()
	}
	return nil
}

// Consented returns the scopes the person has agreed to give the client.
func (s *Service) Consented(ctx context.Context, accountID, clientID string) ([]string, error) {
	var scopes string
	err := s.db.Read().QueryRowContext(ctx, `SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2`,
		accountID, clientID).Scan(&scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, serverError("load consent", err)
	}
	return fromJSON(scopes), nil
}

// GrantConsent adds scopes to what the person has agreed to give the
// client, and audits it, in one transaction.
func (s *Service) GrantConsent(ctx context.Context, accountID, clientID string, scopes []string) error {
	ctx = actorFor(ctx, accountID)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var prior string
		err := tx.QueryRowContext(ctx, `SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2`,
			accountID, clientID).Scan(&prior)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("oidc: consent: %w", err)
		}
		all := fromJSON(prior)
		for _, sc := range scopes {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
		slices.Sort(all)
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
			accountID, clientID, mustJSON(all), s.clock.Now().UTC()); err != nil {
			return fmt.Errorf("oidc: consent: %w", err)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "oidc.consent.grant", Subject: "account:" + accountID,
			Detail: map[string]any{"client": clientID, "scopes": scopes}})
		return err
	})
}

// DenyConsent records a refusal and ends the authorization request.
func (s *Service) DenyConsent(ctx context.Context, accountID, clientID, requestID string) error {
	ctx = actorFor(ctx, accountID)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET consumed_at = $1 WHERE id = $2`, s.clock.Now().UTC(), requestID); err != nil {
			return fmt.Errorf("oidc: deny: %w", err)
		}
		_, err := s.audit.Append(ctx, tx, audit.Record{Action: "oidc.consent.deny", Subject: "account:" + accountID,
			Detail: map[string]string{"client": clientID}})
		return err
	})
}

// logoutAudit revokes the client's tokens for the person and records the
// logout, in one transaction. sessionEnded says whether Portico's own
// session was ended too.
func (s *Service) logoutAudit(ctx context.Context, accountID, clientID string, sessionEnded bool) error {
	ctx = actorFor(ctx, accountID)
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var n1, n2 int64
		if accountID != "" && clientID != "" {
			r1, err := tx.ExecContext(ctx, `UPDATE oidc_refresh_tokens SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3
				AND revoked_at IS NULL`, now, accountID, clientID)
			if err != nil {
				return fmt.Errorf("oidc: logout: %w", err)
			}
			r2, err := tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3
				AND revoked_at IS NULL AND expires_at > $1`, now, accountID, clientID)
			if err != nil {
				return fmt.Errorf("oidc: logout: %w", err)
			}
			n1, _ = r1.RowsAffected()
			n2, _ = r2.RowsAffected()
		}
		subject := "client:" + clientID
		if accountID != "" {
			subject = "account:" + accountID
		}
		_, err := s.audit.Append(ctx, tx, audit.Record{Action: "oidc.logout", Subject: subject,
			Detail: map[string]any{"client": clientID, "session_ended": sessionEnded, "refresh_tokens_revoked": n1, "access_tokens_revoked": n2}})
		return err
	})
}
