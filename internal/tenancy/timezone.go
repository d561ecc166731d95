package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// ValidateTimeZone checks an IANA time zone name ("America/Chicago") with
// time.LoadLocation, which reads the zone database embedded in the binary
// (cmd/portico imports time/tzdata). Empty is valid: it means "inherit".
// "Local" is refused because it depends on the machine, not the place.
func ValidateTimeZone(name string) error {
	if name == "" {
		return nil
	}
	if name == "Local" || strings.TrimSpace(name) != name {
		return platform.Invalid("time_zone", fmt.Sprintf("time zone %q must be an IANA name such as America/Chicago", name))
	}
	if _, err := time.LoadLocation(name); err != nil {
		return platform.Invalid("time_zone", fmt.Sprintf("time zone %q must be an IANA name such as America/Chicago", name))
	}
	return nil
}

// SetTimeZone sets (or, with "", clears) the time zone of a jurisdiction.
// Children without their own zone follow it.
func (s *Service) SetTimeZone(ctx context.Context, id, zone string) error {
	zone = strings.TrimSpace(zone)
	if err := ValidateTimeZone(zone); err != nil {
		return err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jurisdictions SET time_zone = $1 WHERE id = $2`, zone, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return platform.Errorf(platform.CodeNotFound, "jurisdiction %q does not exist", id)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "jurisdiction.time_zone", Subject: "jurisdiction:" + id,
			Detail: map[string]string{"time_zone": zone}})
		return err
	})
	if err != nil {
		return fmt.Errorf("tenancy: set time zone: %w", err)
	}
	s.zones.clear()
	return nil
}

// Location is the time zone of jurisdiction id: its own, else the nearest
// ancestor's, else UTC.
func (s *Service) Location(ctx context.Context, id string) (*time.Location, error) {
	if loc, ok := s.zones.get("j:"+id, s.clock.Now()); ok {
		return loc, nil
	}
	seen := map[string]bool{}
	for cur := id; cur != "" && !seen[cur]; {
		seen[cur] = true
		var parent, zone string
		err := s.db.Read().QueryRowContext(ctx, `SELECT COALESCE(parent_id, ''), time_zone FROM jurisdictions WHERE id = $1`, cur).Scan(&parent, &zone)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, platform.Errorf(platform.CodeNotFound, "jurisdiction %q does not exist", cur)
		}
		if err != nil {
			return nil, fmt.Errorf("tenancy: location of %s: %w", id, err)
		}
		if zone != "" {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return nil, fmt.Errorf("tenancy: location of %s: %w", id, err)
			}
			s.zones.put("j:"+id, loc, s.clock.Now())
			return loc, nil
		}
		cur = parent
	}
	s.zones.put("j:"+id, time.UTC, s.clock.Now())
	return time.UTC, nil
}

// AgencyLocation is the time zone of an agency's jurisdiction: the zone of
// its cases' dates and of the due dates it sets.
func (s *Service) AgencyLocation(ctx context.Context, agencyID string) (*time.Location, error) {
	a, err := s.Agency(ctx, agencyID)
	if err != nil {
		return nil, err
	}
	return s.Location(ctx, a.JurisdictionID)
}

// HomeLocation is the zone of the deployment's top jurisdiction (the
// state; the first by id when there are several): the zone of pages that
// belong to no one agency (a citizen's dashboard, inbox, "Coming up").
// With no jurisdictions yet it is UTC.
func (s *Service) HomeLocation(ctx context.Context) (*time.Location, error) {
	if loc, ok := s.zones.get("home", s.clock.Now()); ok {
		return loc, nil
	}
	var id string
	err := s.db.Read().QueryRowContext(ctx, `SELECT id FROM jurisdictions WHERE parent_id IS NULL ORDER BY id LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return time.UTC, nil // not cached: the first state may be created any moment
	}
	if err != nil {
		return nil, fmt.Errorf("tenancy: home location: %w", err)
	}
	loc, err := s.Location(ctx, id)
	if err != nil {
		return nil, err
	}
	s.zones.put("home", loc, s.clock.Now())
	return loc, nil
}

// Zone returns HomeLocation, or UTC when the database cannot say: a page
// still renders (in UTC, labelled as such) rather than failing.
func (s *Service) Zone(ctx context.Context) *time.Location {
	loc, err := s.HomeLocation(ctx)
	if err != nil {
		return time.UTC
	}
	return loc
}

// zoneTTL bounds how long a zone read from the database is reused: pages
// ask on every request, and a zone set from the CLI (another process)
// takes effect within this time.
const zoneTTL = time.Minute

// zoneCache keeps resolved zones for zoneTTL.
type zoneCache struct {
	mu sync.Mutex
	m  map[string]cachedZone
}

type cachedZone struct {
	loc *time.Location
	at  time.Time
}

func (c *zoneCache) get(key string, now time.Time) (*time.Location, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	z, ok := c.m[key]
	if !ok || now.Sub(z.at) > zoneTTL || now.Before(z.at) {
		return nil, false
	}
	return z.loc, true
}

func (c *zoneCache) put(key string, loc *time.Location, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedZone{}
	}
	c.m[key] = cachedZone{loc, now}
}

func (c *zoneCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
