package plugin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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
func (s *Service) Allowed(ctx context.Context, agency, service, pluginID, operation string, data []string) error {
	// Every plug-in call asks: its three queries use prepared statements.
	why, err := s.decide(ctx, s.db.HotRead(), agency, service, pluginID, operation, data)
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
