package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AccountActive reports whether the account exists and is not disabled,
// with one indexed read. The OpenID Provider (internal/oidc) asks it on
// every refresh-token grant, where loading the whole account would cost
// three queries for a yes or no.
func (s *Service) AccountActive(ctx context.Context, id string) (bool, error) {
	var disabled sql.NullTime
	err := s.db.ReadRowHot(ctx, `SELECT disabled_at FROM accounts WHERE id = $1`, id).Scan(&disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("identity: account active: %w", err)
	}
	return !disabled.Valid, nil
}
