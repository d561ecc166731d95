package oidc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Consent is what a person agreed to give one client: shown to them on
// /account/connected-services, where they can withdraw it.
type Consent struct {
	ClientID   string
	ClientName string
	Scopes     []string
	GrantedAt  time.Time
}

// ErrNoConsent is the answer to withdrawing a consent the person has not
// given (or another person's): nothing says whether the client exists.
var ErrNoConsent = platform.Errorf(platform.CodeNotFound, "oidc.connections.notfound")

// Consents lists the consents accountID gave, newest first.
func (s *Service) Consents(ctx context.Context, accountID string) ([]Consent, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT c.client_id, k.name, c.scopes, c.granted_at
		FROM oidc_consents c JOIN oidc_clients k ON k.id = c.client_id
		WHERE c.account_id = $1 ORDER BY c.granted_at DESC, k.name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("oidc: consents: %w", err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		var c Consent
		var scopes string
		if err := rows.Scan(&c.ClientID, &c.ClientName, &scopes, &c.GrantedAt); err != nil {
			return nil, fmt.Errorf("oidc: consents: %w", err)
		}
		c.Scopes, c.GrantedAt = fromJSON(scopes), c.GrantedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// WithdrawConsent forgets what accountID agreed to give clientID and
// revokes every refresh and access token the client holds for the person,
// so the client loses access at once and must ask again; audited
// (oidc.consent.withdraw) in the same transaction.
func (s *Service) WithdrawConsent(ctx context.Context, accountID, clientID string) error {
	ctx = actorFor(ctx, accountID)
	now := s.clock.Now().UTC()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var scopes string
		err := tx.QueryRowContext(ctx, `DELETE FROM oidc_consents WHERE account_id = $1 AND client_id = $2 RETURNING scopes`,
			accountID, clientID).Scan(&scopes)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoConsent
		}
		if err != nil {
			return err
		}
		r1, err := tx.ExecContext(ctx, `UPDATE oidc_refresh_tokens SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3
			AND revoked_at IS NULL`, now, accountID, clientID)
		if err != nil {
			return err
		}
		r2, err := tx.ExecContext(ctx, `UPDATE oidc_tokens SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3
			AND revoked_at IS NULL AND expires_at > $1`, now, accountID, clientID)
		if err != nil {
			return err
		}
		n1, _ := r1.RowsAffected()
		n2, _ := r2.RowsAffected()
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "oidc.consent.withdraw", Subject: "account:" + accountID,
			Detail: map[string]any{"client": clientID, "scopes": fromJSON(scopes), "refresh_tokens_revoked": n1, "access_tokens_revoked": n2}})
		return err
	})
	if err != nil && !errors.Is(err, ErrNoConsent) {
		return fmt.Errorf("oidc: withdraw consent: %w", err)
	}
	return err
}
