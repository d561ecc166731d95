package plugin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// decide says why a call would be refused ("" when it is allowed): the
// plug-in and operation exist, the agency has the plug-in enabled, an
// access right lets the service (or all the agency's services) call the
// operation, and every datum is both approved for the agency and carried
// by that right.
func (s *Service) decide(ctx context.Context, q querier, agency, service, pluginID, operation string, data []string) (string, error) {
	p, err := s.manifest(ctx, q, pluginID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return fmt.Sprintf("there is no plug-in %q", pluginID), nil
	}
	if err != nil {
		return "", err
	}
	if _, ok := p.Operation(operation); !ok {
		return fmt.Sprintf("plug-in %s has no operation %q (it has %s)", p.ID, operation, strings.Join(opIDs(p), ", ")), nil
	}
	for _, d := range data {
		if !slices.Contains(p.Data, d) {
			return fmt.Sprintf("plug-in %s does not ask for %q, so it may not receive it", p.ID, d), nil
		}
	}
	var status, approved string
	err = q.QueryRowContext(ctx, `SELECT status, data FROM plugin_enablements WHERE plugin_id = $1 AND agency_id = $2`, p.ID, agency).Scan(&status, &approved)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Sprintf("plug-in %s is not enabled for %s", p.ID, agency), nil
	}
	if err != nil {
		return "", fmt.Errorf("plugin: check: %w", err)
	}
	switch status {
	case StatusDisabled:
		return fmt.Sprintf("plug-in %s is disabled for %s", p.ID, agency), nil
	case StatusNeedsApproval:
		return fmt.Sprintf("plug-in %s now asks for more data; %s must approve it again", p.ID, agency), nil
	}
	for _, d := range data {
		if !slices.Contains(listOf(approved), d) {
			return fmt.Sprintf("%s has not approved sending %q to plug-in %s", agency, d, p.ID), nil
		}
	}
	rights, err := s.access(ctx, q, `agency_id = $1 AND plugin_id = $2 AND operation = $3 AND service_id IN ($4, $5)`, agency, p.ID, operation, service, AllServices)
	if err != nil {
		return "", err
	}
	if len(rights) == 0 {
		return fmt.Sprintf("no access right lets %s's service %s call %s/%s", agency, service, p.ID, operation), nil
	}
	for _, r := range rights {
		if len(minus(data, r.Data)) == 0 {
			return "", nil
		}
	}
	return fmt.Sprintf("the access right of %s's service %s to %s/%s does not carry %s", agency, service, p.ID, operation, strings.Join(minus(data, rights[0].Data), ", ")), nil
}

// Allowed is the check the gateway makes before it calls a plug-in: may
// agency's service call operation of plug-in, carrying data? Everything
// not explicitly allowed is refused with platform.CodeForbidden, and the
// refusal is audited. (An allowed call is audited by the gateway with
// the exchange itself.)
//
// Every plug-in call asks, so decisions are cached per registry revision
// (migration 00043, ADR 46): one read of the revision, then the cached
// answer for (agency, service, plug-in, operation, data) when the
// revision is the one it was decided at. Every registry change moves the
// revision in its own transaction, so a change counts at the next check
// on every replica. A refusal is audited each time, cached or not.
func (s *Service) Allowed(ctx context.Context, agency, service, pluginID, operation string, data []string) error {
	why, err := s.decideCached(ctx, agency, service, pluginID, operation, data)
	if err != nil {
		return err
	}
	if why == "" {
		return nil
	}
	if data == nil {
		data = []string{}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.log.Append(ctx, tx, audit.Record{Action: "plugin.refuse", Subject: "plugin:" + pluginID, AgencyID: agency, Detail: map[string]any{
			"service": service, "operation": operation, "data": data, "reason": why,
		}})
		return err
	})
	if err != nil {
		return err
	}
	return platform.Errorf(platform.CodeForbidden, "%s", why)
}

// CheckUse says whether a service manifest's use of a plug-in operation
// would be allowed (as Allowed, without auditing): "" when it would,
// otherwise why not. `portico service validate` reports it.
func (s *Service) CheckUse(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	return s.decide(ctx, s.db.Read(), agency, service, pluginID, operation, data)
}

// parsed is a stored manifest's text and what it parses to.
type parsed struct {
	text string
	m    *Manifest
}

// manifest reads plug-in id's stored manifest (not its OpenAPI document)
// in q. Every call reads the text, so a re-registration counts at once on
// every replica; parsing it is done once per text (Service.manifests),
// which is safe because the result depends on the text alone. The
// returned manifest is shared: callers only read it.
func (s *Service) manifest(ctx context.Context, q querier, id string) (*Manifest, error) {
	var text string
	err := q.QueryRowContext(ctx, `SELECT manifest FROM plugins WHERE id = $1`, id).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, platform.Errorf(platform.CodeNotFound, "there is no plug-in %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin: read %s: %w", id, err)
	}
	if c, ok := s.manifests.Load(id); ok && c.(*parsed).text == text {
		return c.(*parsed).m, nil
	}
	var m Manifest
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("plugin: stored manifest of %s: %w", id, err)
	}
	s.manifests.Store(id, &parsed{text: text, m: &m})
	return &m, nil
}

// decisionSet is the access check's answers at one registry revision:
// key (decisionKey) → why ("" for allowed).
type decisionSet struct {
	revision int64
	mu       sync.RWMutex
	why      map[string]string
}

// maxDecisions bounds a decision set. The keys come from published
// service manifests and the registry, not from requests, so a set this
// large means something unexpected: decisions past it are made but not
// kept.
const maxDecisions = 10_000

func decisionKey(agency, service, pluginID, operation string, data []string) string {
	// NUL cannot appear in ids or data names; data is sorted by callers
	// (the gateway sorts it) and the order is part of the key otherwise.
	return agency + "\x00" + service + "\x00" + pluginID + "\x00" + operation + "\x00" + strings.Join(data, "\x00")
}

// revision is the registry's current revision (migration 00043).
func (s *Service) revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.HotRead().QueryRowContext(ctx, `SELECT revision FROM plugin_registry_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("plugin: registry revision: %w", err)
	}
	return rev, nil
}

// bumpRevision moves the registry's revision in tx; every change to
// plugins, plugin_enablements or plugin_access calls it before it
// commits, so no process keeps answering from decisions made before it.
func bumpRevision(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE plugin_registry_revision SET revision = revision + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("plugin: registry revision: %w", err)
	}
	return nil
}

// decideCached is decide, cached per registry revision. The revision is
// read before deciding, so a decision is never filed under a revision
// newer than the state it read: a change committed meanwhile moves the
// revision, and the next check decides again.
func (s *Service) decideCached(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	rev, err := s.revision(ctx)
	if err != nil {
		return "", err
	}
	set := s.decisions.Load()
	if set == nil || set.revision != rev {
		fresh := &decisionSet{revision: rev, why: map[string]string{}}
		if set == nil || set.revision < rev {
			// Another check may have installed the same or a newer
			// revision meanwhile; either is fine to replace or keep.
			s.decisions.CompareAndSwap(set, fresh)
		}
		set = fresh
	}
	key := decisionKey(agency, service, pluginID, operation, data)
	set.mu.RLock()
	why, ok := set.why[key]
	set.mu.RUnlock()
	if ok {
		return why, nil
	}
	why, err = s.decide(ctx, s.db.HotRead(), agency, service, pluginID, operation, data)
	if err != nil {
		return "", err
	}
	set.mu.Lock()
	if len(set.why) < maxDecisions {
		set.why[key] = why
	}
	set.mu.Unlock()
	return why, nil
}
