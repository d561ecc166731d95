// Package catalog is the block that stores published service manifests.
// Publishing validates a manifest (package manifest) against the database,
// resolves its extend, and stores the result as a new immutable version;
// later code (the catalog pages, applications, case work) reads versions
// through Service and Latest. An application keeps the version it was
// started on, so a version, once published, never changes.
package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// Tenancy is what the catalog needs of the tenancy block.
type Tenancy interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
	Jurisdictions(ctx context.Context) ([]tenancy.Jurisdiction, error)
}

// Published is one stored version of a service.
type Published struct {
	ID          string             `json:"id"`
	Version     int                `json:"version"`
	AgencyID    string             `json:"agency_id"`
	PublishedAt time.Time          `json:"published_at"`
	PublishedBy string             `json:"published_by"`
	Manifest    *manifest.Manifest `json:"manifest,omitempty"`
	// JSON is the resolved manifest as stored.
	JSON json.RawMessage `json:"-"`
	// Source is the YAML text as published (before extend was resolved).
	Source string `json:"-"`
}

// ProblemsError is returned by Publish when the manifest is invalid. Its
// code is platform.CodeInvalid; Problems lists every problem found.
type ProblemsError struct {
	Err      *platform.Error
	Problems []manifest.Problem
}

func (e *ProblemsError) Error() string { return e.Err.Error() }

// Unwrap lets errors.As find the platform error.
func (e *ProblemsError) Unwrap() error { return e.Err }

// Service is the catalog block.
type Service struct {
	db      *storage.DB
	audit   *audit.Log
	clock   platform.Clock
	tenancy Tenancy
	// plugins checks the plug-in operations a manifest uses against the
	// registry (nil: a manifest that uses one is refused).
	plugins manifest.PluginRefs
	// runtimes are the compiled service versions, shared with the form
	// engine and the workflow.
	runtimes *runtimes
	// changes counts what this process changed that the front door
	// shows (publishes, counted submissions); see Changes.
	changes atomic.Uint64
}

// Option configures the catalog beyond its required dependencies.
type Option func(*Service)

// WithPlugins has publishing and validation check every plug-in operation
// a manifest uses against the plug-in registry (the operation exists, the
// agency enabled the plug-in, approved the data and granted the service
// access). Without it such a manifest is refused.
func WithPlugins(refs manifest.PluginRefs) Option { return func(s *Service) { s.plugins = refs } }

// ChecksPlugins reports whether the catalog was given the plug-in
// registry (WithPlugins), without which it refuses manifests that use
// plug-in operations.
func (s *Service) ChecksPlugins() bool { return s.plugins != nil }

// New returns the catalog service. Every argument is required: a nil one
// is refused with an error naming it.
func New(db *storage.DB, log *audit.Log, clock platform.Clock, t Tenancy, opts ...Option) (*Service, error) {
	if err := platform.Required("catalog",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "tenancy", Missing: t == nil}); err != nil {
		return nil, err
	}
	s := &Service{db: db, audit: log, clock: clock, tenancy: t, runtimes: &runtimes{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Validate validates manifests as Publish would for agency (which may be
// "" to accept the agency each manifest names): extend is resolved against
// the other files and then the published catalog, and agencies and
// jurisdictions are checked against the database. Nothing is stored.
func (s *Service) Validate(ctx context.Context, agency string, files []manifest.File) ([]manifest.FileResult, error) {
	return manifest.ValidateFilesWithPlugins(ctx, files, s.base, s.refs(agency), s.plugins)
}

// Publish validates src (read from file) and stores it as a new version of
// its service, owned by agency. Nothing is stored when the manifest has any
// problem (*ProblemsError). Publishing fails with CodeConflict when the
// service id belongs to another agency, or when the version is not greater
// than the latest published one (including the same version again).
func (s *Service) Publish(ctx context.Context, agency, file string, src []byte) (Published, error) {
	return s.PublishWith(ctx, agency, file, src, s.plugins)
}

// PublishWith is Publish that checks the plug-in operations the manifest
// uses against plugins (manifest.Options.Plugins) instead of the
// catalog's own registry (WithPlugins); with nil plugins a manifest that
// uses one is refused.
func (s *Service) PublishWith(ctx context.Context, agency, file string, src []byte, plugins manifest.PluginRefs) (Published, error) {
	res, probs, err := manifest.Validate(ctx, file, src, manifest.Options{Base: s.base, Refs: s.refs(agency), Plugins: plugins})
	if err != nil {
		return Published{}, fmt.Errorf("catalog: publish: %w", err)
	}
	if len(probs) > 0 {
		return Published{}, &ProblemsError{
			Err:      platform.Invalid("manifest", fmt.Sprintf("%s has %d problem(s); nothing was published", file, len(probs))),
			Problems: probs,
		}
	}
	m := res.Manifest
	p := Published{
		ID: m.ID, Version: m.Version, AgencyID: agency, Manifest: m, JSON: res.JSON, Source: string(src),
		PublishedAt: s.clock.Now().UTC(), PublishedBy: platform.ActorFrom(ctx).String(),
	}
	ag, err := s.tenancy.Agency(ctx, agency) // its names go into the search index
	if err != nil {
		return Published{}, fmt.Errorf("catalog: publish: %w", err)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Publishes of one agency queue on its row (a row lock on
		// PostgreSQL; SQLite has one writer), so two versions published at
		// once cannot both pass the "greater than the latest" check.
		if _, err := tx.ExecContext(ctx, `UPDATE agencies SET name = name WHERE id = $1`, agency); err != nil {
			return err
		}
		var owner string
		var latest int
		err := tx.QueryRowContext(ctx, `SELECT agency_id, version FROM services WHERE id = $1 ORDER BY version DESC LIMIT 1`, m.ID).Scan(&owner, &latest)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case owner != agency:
			return platform.Errorf(platform.CodeConflict, "service %q belongs to agency %q; choose another id", m.ID, owner)
		case m.Version == latest:
			return platform.Errorf(platform.CodeConflict, "version %d of service %q is already published; published versions never change, so publish version %d", m.Version, m.ID, latest+1)
		case m.Version < latest:
			return platform.Errorf(platform.CodeConflict, "version %d of service %q is older than the latest published version %d", m.Version, m.ID, latest)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO services (id, version, agency_id, manifest, source, published_at, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.Version, p.AgencyID, string(p.JSON), p.Source, p.PublishedAt, p.PublishedBy)
		if storage.IsUniqueViolation(err) {
			return platform.Errorf(platform.CodeConflict, "version %d of service %q is already published", m.Version, m.ID)
		}
		if err != nil {
			return err
		}
		if err := s.index(ctx, tx, p, ag); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{
			Action: "service.publish", Subject: fmt.Sprintf("service:%s@%d", p.ID, p.Version), AgencyID: agency,
			Detail: map[string]any{"id": p.ID, "version": p.Version, "extend": m.Extend},
		})
		return err
	})
	if err != nil {
		return Published{}, fmt.Errorf("catalog: publish: %w", err)
	}
	s.changes.Add(1)
	return p, nil
}

// Service returns one published version, or a CodeNotFound error.
func (s *Service) Service(ctx context.Context, id string, version int) (Published, error) {
	return s.one(ctx, `WHERE id = $1 AND version = $2`, id, version)
}

// Latest returns the newest published version of a service, or a
// CodeNotFound error.
func (s *Service) Latest(ctx context.Context, id string) (Published, error) {
	return s.one(ctx, `WHERE id = $1 ORDER BY version DESC LIMIT 1`, id)
}

const columns = `SELECT id, version, agency_id, manifest, source, published_at, published_by FROM services `

func (s *Service) one(ctx context.Context, where string, args ...any) (Published, error) {
	rows, err := s.db.Read().QueryContext(ctx, columns+where, args...)
	if err != nil {
		return Published{}, fmt.Errorf("catalog: service %v: %w", args, err)
	}
	ps, err := scan(rows)
	if err != nil {
		return Published{}, fmt.Errorf("catalog: service %v: %w", args, err)
	}
	if len(ps) == 0 {
		if len(args) == 2 {
			return Published{}, platform.Errorf(platform.CodeNotFound, "service %q has no version %v", args[0], args[1])
		}
		return Published{}, platform.Errorf(platform.CodeNotFound, "service %q is not published", args[0])
	}
	return ps[0], nil
}

// List returns the latest version of every service, or of the services
// of one agency, ordered by id.
func (s *Service) List(ctx context.Context, agency string) ([]Published, error) {
	q := columns + `s WHERE version = (SELECT MAX(version) FROM services t WHERE t.id = s.id)`
	var args []any
	if agency != "" {
		q += ` AND agency_id = $1`
		args = append(args, agency)
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: list: %w", err)
	}
	ps, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("catalog: list: %w", err)
	}
	return ps, nil
}

func scan(rows *sql.Rows) ([]Published, error) {
	defer rows.Close()
	out := []Published{}
	for rows.Next() {
		var p Published
		var js string
		if err := rows.Scan(&p.ID, &p.Version, &p.AgencyID, &js, &p.Source, &p.PublishedAt, &p.PublishedBy); err != nil {
			return nil, err
		}
		p.JSON = json.RawMessage(js)
		p.PublishedAt = p.PublishedAt.UTC()
		if err := json.Unmarshal(p.JSON, &p.Manifest); err != nil {
			return nil, fmt.Errorf("stored manifest %s@%d: %w", p.ID, p.Version, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// base resolves extend against the published catalog.
func (s *Service) base(ctx context.Context, id string, version int) ([]byte, error) {
	p, err := s.Service(ctx, id, version)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil, manifest.ErrNoBase
	}
	if err != nil {
		return nil, err
	}
	return p.JSON, nil
}

func (s *Service) refs(agency string) manifest.References { return &refs{s: s, agency: agency} }

// refs checks a manifest's agency and jurisdictions against tenancy.
type refs struct {
	s      *Service
	agency string // the publishing agency; "" accepts the manifest's
	tree   map[string]string
}

func (r *refs) CheckAgency(ctx context.Context, agency string) (string, error) {
	if r.agency != "" && agency != r.agency {
		return fmt.Sprintf("the manifest is for agency %q but is being published for %q", agency, r.agency), nil
	}
	_, err := r.s.tenancy.Agency(ctx, agency)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return fmt.Sprintf("there is no agency %q", agency), nil
	}
	return "", err
}

// CheckJurisdiction accepts the agency's own jurisdiction and those below it.
func (r *refs) CheckJurisdiction(ctx context.Context, agency, jurisdiction string) (string, error) {
	a, err := r.s.tenancy.Agency(ctx, agency)
	if err != nil {
		return "", err
	}
	if r.tree == nil {
		js, err := r.s.tenancy.Jurisdictions(ctx)
		if err != nil {
			return "", err
		}
		r.tree = map[string]string{}
		for _, j := range js {
			r.tree[j.ID] = j.ParentID
		}
	}
	if _, ok := r.tree[jurisdiction]; !ok {
		return fmt.Sprintf("there is no jurisdiction %q", jurisdiction), nil
	}
	var path []string
	for j := jurisdiction; j != ""; j = r.tree[j] {
		if j == a.JurisdictionID {
			return "", nil
		}
		path = append(path, j)
		if len(path) > 100 {
			break
		}
	}
	return fmt.Sprintf("agency %q belongs to %q, which does not include %q (%s)", agency, a.JurisdictionID, jurisdiction, strings.Join(path, " < ")), nil
}
