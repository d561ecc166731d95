package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// keyPrefix starts every Open311 API key, so a secret scanner (and a
// person) can tell what it is.
const keyPrefix = "o311_"

// Key is an agency's Open311 API key: an app that may create requests for
// the agency's services. The key itself is shown once; only its SHA-256 is
// kept (256 random bits leave nothing to guess, as payments API keys).
type Key struct {
	ID        string    `json:"id"`
	Agency    string    `json:"agency"`
	Name      string    `json:"name"`
	Hint      string    `json:"hint"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// mayManageKeys: the agency's administrators, platform administrators and
// the operator.
func mayManageKeys(by platform.Actor, agency string) error {
	switch {
	case by.Kind == platform.ActorOperator || by.Kind == platform.ActorSystem || (by.Kind == platform.ActorStaff && by.PlatformAdmin):
		return nil
	case by.HasRole(agency, "agency_admin"):
		return nil
	case !by.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "Sign in to manage Open311 API keys.")
	}
	return platform.Errorf(platform.CodeForbidden, "Only the agency's administrators may manage its Open311 API keys.")
}

// CreateKey makes a key for agency (which the caller has checked exists)
// and returns it with the key string, shown only this once.
func (s *Service) CreateKey(ctx context.Context, by platform.Actor, agency, name string) (Key, string, error) {
	agency = strings.TrimSpace(agency)
	if agency == "" {
		return Key{}, "", platform.Invalid("agency", "Name the agency the key is for (--agency).")
	}
	if err := mayManageKeys(by, agency); err != nil {
		return Key{}, "", err
	}
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n") || utf8.RuneCountInString(name) > 100 {
		return Key{}, "", platform.Invalid("name", "The key's name must be one line of at most 100 characters.")
	}
	secret := keyPrefix + randomToken()
	k := Key{ID: uuid.NewString(), Agency: agency, Name: name, Hint: secret[:len(keyPrefix)+4] + "…",
		CreatedBy: by.String(), CreatedAt: s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if k.Name == "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM open311_keys WHERE agency_id = $1`, agency).Scan(&n); err != nil {
				return err
			}
			k.Name = fmt.Sprintf("Key %d", n+1)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO open311_keys (id, agency_id, name, secret_hash, hint, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.Agency, k.Name, hash(secret), k.Hint, k.CreatedBy, k.CreatedAt); err != nil {
			return err
		}
		_, err := s.cfg.Audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "open311.key.create", Subject: "open311-key:" + k.ID, AgencyID: agency,
			Detail: map[string]any{"name": k.Name}})
		return err
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("report: create key: %w", err)
	}
	return k, secret, nil
}

// Keys returns an agency's keys, newest first, revoked ones included.
func (s *Service) Keys(ctx context.Context, by platform.Actor, agency string) ([]Key, error) {
	if err := mayManageKeys(by, agency); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, agency_id, name, hint, created_by, created_at, revoked_at FROM open311_keys
		WHERE agency_id = $1 ORDER BY created_at DESC, id`, agency)
	if err != nil {
		return nil, fmt.Errorf("report: keys: %w", err)
	}
	defer rows.Close()
	out := []Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func scanKey(r interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var revoked sql.NullTime
	if err := r.Scan(&k.ID, &k.Agency, &k.Name, &k.Hint, &k.CreatedBy, &k.CreatedAt, &revoked); err != nil {
		return Key{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked.Valid {
		k.RevokedAt = revoked.Time.UTC()
	}
	return k, nil
}

// RevokeKey revokes an agency's key at once. A key already revoked, or
// another agency's, is not found.
func (s *Service) RevokeKey(ctx context.Context, by platform.Actor, agency, id string) error {
	if err := mayManageKeys(by, agency); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE open311_keys SET revoked_at = $1 WHERE id = $2 AND agency_id = $3 AND revoked_at IS NULL`,
			s.cfg.Clock.Now().UTC(), id, agency)
		if err != nil {
			return fmt.Errorf("report: revoke key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "The agency %q has no active Open311 API key %q.", agency, id)
		}
		_, err = s.cfg.Audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "open311.key.revoke", Subject: "open311-key:" + id, AgencyID: agency})
		return err
	})
}

// ErrNoKey is an api_key that is no active key.
var ErrNoKey = errors.New("report: no such api_key")

// Authenticate returns the active key whose string is key, or ErrNoKey.
func (s *Service) Authenticate(ctx context.Context, key string) (Key, error) {
	if !strings.HasPrefix(key, keyPrefix) || len(key) > 200 {
		return Key{}, ErrNoKey
	}
	k, err := scanKey(s.db.Read().QueryRowContext(ctx, `SELECT id, agency_id, name, hint, created_by, created_at, revoked_at FROM open311_keys WHERE secret_hash = $1`, hash(key)))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, ErrNoKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("report: api_key: %w", err)
	}
	if !k.RevokedAt.IsZero() {
		return Key{}, ErrNoKey
	}
	return k, nil
}
