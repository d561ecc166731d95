package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// The front door: life events and the most used services.

// IsLifeEvent reports whether id is one of manifest.LifeEvents.
func IsLifeEvent(id string) bool { return slices.Contains(manifest.LifeEvents, id) }

// LifeEventServices returns the latest version of every service whose
// manifest names the life event, ordered by id. An unknown life event is
// CodeNotFound.
func (s *Service) LifeEventServices(ctx context.Context, event string) ([]Published, error) {
	if !IsLifeEvent(event) {
		return nil, platform.Errorf(platform.CodeNotFound, "there is no life event %q", event)
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT s.id, s.version, s.agency_id, s.manifest, s.source, s.published_at, s.published_by
		FROM catalog_life_events e
		JOIN catalog_search c ON c.service_id = e.service_id
		JOIN services s ON s.id = c.service_id AND s.version = c.version
		WHERE e.life_event = $1 ORDER BY s.id`, event)
	if err != nil {
		return nil, fmt.Errorf("catalog: life event %s: %w", event, err)
	}
	ps, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: life event %s: %w", event, err)
	}
	return ps, nil
}

// UsageWindow is how far back "most used" counts submissions.
const UsageWindow = 90 * 24 * time.Hour

// usageShards is how many rows one service's submissions of one day are
// spread over, so concurrent submissions of a popular service rarely wait
// on each other's row lock.
const usageShards = 8

// CountSubmission adds one submission of service on the day of at (in
// zone) to the usage counter, in tx: the submitting block's transaction,
// so the count moves exactly when a submission commits.
func (s *Service) CountSubmission(ctx context.Context, tx *sql.Tx, serviceID string, at time.Time, zone *time.Location) error {
	if zone == nil {
		zone = time.UTC
	}
	day := at.In(zone).Format(time.DateOnly)
	_, err := tx.ExecContext(ctx, `INSERT INTO catalog_usage (service_id, day, shard, submissions) VALUES ($1, $2, $3, 1)
		ON CONFLICT (service_id, day, shard) DO UPDATE SET submissions = catalog_usage.submissions + 1`,
		serviceID, day, rand.IntN(usageShards))
	if err != nil {
		return fmt.Errorf("catalog: count submission of %s: %w", serviceID, err)
	}
	s.changes.Add(1)
	return nil
}

// Changes is a number that moves whenever this process publishes a
// service or counts a submission, so a cache of what the front door shows
// (the portal's home page) can tell that it is out of date at once. It
// says nothing of other processes' changes: such a cache must also expire.
// It moves before the counting transaction commits, so a reader may see
// the new number with the old rows; the expiry bounds that too.
func (s *Service) Changes() uint64 { return s.changes.Load() }

// Used is a published service and how many times it was submitted in the
// usage window.
type Used struct {
	Service     Published
	Submissions int
}

// MostUsed returns up to limit published services by submissions in the
// UsageWindow before now (days in zone), most first, then by id. Services
// never submitted in the window are left out: the caller decides what to
// show when there is no data. It reads the counter table only (services ×
// days × shards rows), never the applications.
func (s *Service) MostUsed(ctx context.Context, now time.Time, zone *time.Location, limit int) ([]Used, error) {
	if zone == nil {
		zone = time.UTC
	}
	if limit < 1 {
		return nil, nil
	}
	since := now.In(zone).Add(-UsageWindow).Format(time.DateOnly)
	rows, err := s.db.Read().QueryContext(ctx, `SELECT u.service_id, SUM(u.submissions) AS n FROM catalog_usage u
		JOIN catalog_search c ON c.service_id = u.service_id
		WHERE u.day > $1 GROUP BY u.service_id ORDER BY n DESC, u.service_id LIMIT `+strconv.Itoa(limit), since)
	if err != nil {
		return nil, fmt.Errorf("catalog: most used: %w", err)
	}
	var ids []string
	counts := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: most used: %w", err)
		}
		ids = append(ids, id)
		counts[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: most used: %w", err)
	}
	out := make([]Used, 0, len(ids))
	for _, id := range ids {
		p, err := s.Latest(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("catalog: most used: %w", err)
		}
		out = append(out, Used{Service: p, Submissions: counts[id]})
	}
	return out, nil
}

// LifeEvents returns the life events a manifest may name, in the order the
// front door shows them.
func LifeEvents() []string { return slices.Clone(manifest.LifeEvents) }
