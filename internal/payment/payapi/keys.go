package payapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Key prefixes: GOV.UK Pay's keys start api_test_ and api_live_, so an
// agency (and a secret scanner) can tell at a glance what a key can do.
const (
	prefixTest = "api_test_"
	prefixLive = "api_live_"
)

// Key is an agency's API key for /v1/payments. The key itself is shown
// once, when it is made; Portico keeps only its SHA-256.
type Key struct {
	ID        string    `json:"id"`
	Agency    string    `json:"agency"`
	Name      string    `json:"name"`
	Live      bool      `json:"live"`
	Hint      string    `json:"hint"` // the key's first characters, to tell keys apart
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Mode is "live" or "test".
func (k Key) Mode() string {
	if k.Live {
		return "live"
	}
	return "test"
}

// Keys stores API keys.
type Keys struct {
	db    *storage.DB
	audit *audit.Log
	clock platform.Clock
}

// NewKeys returns the key store. Every argument is required.
func NewKeys(db *storage.DB, log *audit.Log, clock platform.Clock) (*Keys, error) {
	if err := platform.Required("payapi keys",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	return &Keys{db: db, audit: log, clock: clock}, nil
}

// hashKey is how keys are stored: they carry 256 random bits, so SHA-256
// is enough (nothing to guess), and a slow password hash would cap
// requests per second. It is the OIDC client secrets' approach.
func hashKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// Create makes a key for agency (which the caller has checked exists) and
// returns it with the key string, shown only this once. name defaults to
// "Key N"; actor is who asked (audited).
func (s *Keys) Create(ctx context.Context, actor platform.Actor, agency, name string, live bool) (Key, string, error) {
	agency = strings.TrimSpace(agency)
	if agency == "" {
		return Key{}, "", platform.Invalid("agency", "Name the agency the key is for (--agency)")
	}
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n") || utf8.RuneCountInString(name) > 100 {
		return Key{}, "", platform.Invalid("name", "The key's name must be one line of at most 100 characters")
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	secret := prefixTest
	if live {
		secret = prefixLive
	}
	secret += base64.RawURLEncoding.EncodeToString(b[:])
	k := Key{ID: uuid.NewString(), Agency: agency, Name: name, Live: live, Hint: secret[:len(prefixTest)+4] + "…",
		CreatedBy: actor.String(), CreatedAt: s.clock.Now().UTC().Truncate(time.Microsecond)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if k.Name == "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_api_keys WHERE agency_id = $1`, agency).Scan(&n); err != nil {
				return fmt.Errorf("payapi: keys: %w", err)
			}
			k.Name = fmt.Sprintf("Key %d", n+1)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO payment_api_keys (id, agency_id, name, live, secret_hash, hint, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Agency, k.Name, k.Live, hashKey(secret), k.Hint, k.CreatedBy, k.CreatedAt); err != nil {
			return fmt.Errorf("payapi: create key: %w", err)
		}
		_, err := s.audit.Append(ctx, tx, audit.Record{Action: "payment.key.create", Subject: "payment-key:" + k.ID, AgencyID: agency,
			Detail: map[string]any{"actor": k.CreatedBy, "name": k.Name, "live": k.Live}})
		return err
	})
	if err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// List returns agency's keys, newest first, revoked ones included.
func (s *Keys) List(ctx context.Context, agency string) ([]Key, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, agency_id, name, live, hint, created_by, created_at, revoked_at FROM payment_api_keys
		WHERE agency_id = $1 ORDER BY created_at DESC, id`, agency)
	if err != nil {
		return nil, fmt.Errorf("payapi: keys: %w", err)
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
	if err := r.Scan(&k.ID, &k.Agency, &k.Name, &k.Live, &k.Hint, &k.CreatedBy, &k.CreatedAt, &revoked); err != nil {
		return Key{}, fmt.Errorf("payapi: keys: %w", err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked.Valid {
		k.RevokedAt = revoked.Time.UTC()
	}
	return k, nil
}

// Revoke revokes agency's key id at once: requests with it are refused
// from then on. A key already revoked, or another agency's, is
// CodeNotFound.
func (s *Keys) Revoke(ctx context.Context, actor platform.Actor, agency, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE payment_api_keys SET revoked_at = $1 WHERE id = $2 AND agency_id = $3 AND revoked_at IS NULL`,
			s.clock.Now().UTC(), id, agency)
		if err != nil {
			return fmt.Errorf("payapi: revoke key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "the agency %q has no active payments API key %q", agency, id)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "payment.key.revoke", Subject: "payment-key:" + id, AgencyID: agency,
			Detail: map[string]any{"actor": actor.String()}})
		return err
	})
}

// errNoKey is a bearer token that is no active key.
var errNoKey = errors.New("payapi: no such key")

// Authenticate returns the active key whose string is token, or errNoKey.
func (s *Keys) Authenticate(ctx context.Context, token string) (Key, error) {
	if !strings.HasPrefix(token, prefixTest) && !strings.HasPrefix(token, prefixLive) {
		return Key{}, errNoKey
	}
	k, err := scanKey(s.db.Read().QueryRowContext(ctx, `SELECT id, agency_id, name, live, hint, created_by, created_at, revoked_at FROM payment_api_keys
		WHERE secret_hash = $1`, hashKey(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, errNoKey
	}
	if err != nil {
		return Key{}, err
	}
	if !k.RevokedAt.IsZero() {
		return Key{}, errNoKey
	}
	return k, nil
}

// PurgeBatch is how many Idempotency-Key records one purge deletes at
// most per statement.
const PurgeBatch = 1000

// PurgeIdempotency deletes Idempotency-Key records older than
// IdempotencyWindow (they are no longer consulted), a batch at a time so
// no statement holds the table long, and returns how many it deleted.
func (s *Keys) PurgeIdempotency(ctx context.Context) (int64, error) {
	cutoff := s.clock.Now().UTC().Add(-IdempotencyWindow)
	var total int64
	for {
		res, err := s.db.Write().ExecContext(ctx, `DELETE FROM payment_idempotency WHERE (key_id, idem_key) IN
			(SELECT key_id, idem_key FROM payment_idempotency WHERE created_at <= $1 ORDER BY created_at LIMIT $2)`, cutoff, PurgeBatch)
		if err != nil {
			return total, fmt.Errorf("payapi: purge idempotency keys: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < PurgeBatch {
			return total, nil
		}
	}
}

// PurgeArgs is the hourly job that forgets old Idempotency-Key records.
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return "payapi.purge_idempotency" }

// PurgeWorker runs PurgeIdempotency.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	Keys *Keys
}

// Work implements river.Worker.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, err := w.Keys.PurgeIdempotency(ctx)
	return err
}
