package oidc

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
)

// Purging expired rows.
//
// Authorization requests, codes, access-token rows and refresh tokens are
// useless once expired: the JWTs they back carry their own exp, and an
// expired refresh token or code is refused whether or not its row exists.
// Used refresh tokens are kept until they expire, not when used, because
// reuse detection needs them. The job deletes rows PurgeGrace after they
// expired (so replicas with skewed clocks agree they are dead), in batches
// so no transaction holds SQLite's writer for long. oidc_tokens has no index
// on expires_at on purpose (every index is written on every grant); the
// oldest rows, which are the expired ones, come first in a table scan.

// PurgeGrace is how long after expiry a row is kept.
const PurgeGrace = time.Hour

// purgeBatch bounds the rows one statement deletes.
const purgeBatch = 1000

// PurgeReport counts what Purge deleted, per table.
type PurgeReport struct {
	AuthRequests  int64 `json:"auth_requests"`
	Codes         int64 `json:"codes"`
	AccessTokens  int64 `json:"access_tokens"`
	RefreshTokens int64 `json:"refresh_tokens"`
}

func (r PurgeReport) total() int64 {
	return r.AuthRequests + r.Codes + r.AccessTokens + r.RefreshTokens
}

// Purge deletes every OpenID Provider row that expired more than
// PurgeGrace ago and, when it deleted anything, audits the counts
// (oidc.purge).
func (s *Service) Purge(ctx context.Context) (PurgeReport, error) {
	cutoff := s.clock.Now().UTC().Add(-PurgeGrace)
	var rep PurgeReport
	// Codes before their authorization requests, which they reference.
	steps := []struct {
		n     *int64
		query string
	}{
		{&rep.Codes, `DELETE FROM oidc_codes WHERE code_hash IN (SELECT code_hash FROM oidc_codes WHERE expires_at < $1 LIMIT $2)`},
		{&rep.AuthRequests, `DELETE FROM oidc_auth_requests WHERE id IN (SELECT a.id FROM oidc_auth_requests a WHERE a.expires_at < $1
			AND NOT EXISTS (SELECT 1 FROM oidc_codes c WHERE c.auth_request_id = a.id) LIMIT $2)`},
		{&rep.AccessTokens, `DELETE FROM oidc_tokens WHERE id IN (SELECT id FROM oidc_tokens WHERE expires_at < $1 LIMIT $2)`},
		{&rep.RefreshTokens, `DELETE FROM oidc_refresh_tokens WHERE token_hash IN (SELECT token_hash FROM oidc_refresh_tokens
			WHERE expires_at < $1 LIMIT $2)`},
	}
	for _, st := range steps {
		for {
			res, err := s.db.Write().ExecContext(ctx, st.query, cutoff, purgeBatch)
			if err != nil {
				return rep, fmt.Errorf("oidc: purge: %w", err)
			}
			n, _ := res.RowsAffected()
			*st.n += n
			if n < purgeBatch {
				break
			}
		}
	}
	if rep.total() > 0 {
		if _, err := s.audit.Write(ctx, audit.Record{Action: "oidc.purge", Subject: "oidc", Detail: rep}); err != nil {
			return rep, fmt.Errorf("oidc: purge: %w", err)
		}
	}
	return rep, nil
}

// PurgeArgs is the periodic job that purges expired rows.
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return "oidc.purge" }

// PurgeWorker runs PurgeArgs. Service may be set after the worker is
// registered (internal/app builds the job registry before the blocks), but
// before jobs start.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	Service *Service
}

// Work purges expired rows.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	if w.Service == nil {
		return fmt.Errorf("oidc: purge: no service")
	}
	_, err := w.Service.Purge(ctx)
	return err
}
