package plugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Plugin is a registered plug-in as the catalogue shows it.
type Plugin struct {
	ID            string        `json:"id"`
	Revision      int           `json:"revision"`
	Version       string        `json:"version,omitempty"`
	Name          Text          `json:"name"`
	Provider      Provider      `json:"provider"`
	BaseURL       string        `json:"base_url"`
	Operations    []Operation   `json:"operations"`
	Data          []string      `json:"data"`
	Events        []string      `json:"events"`
	Webhook       string        `json:"webhook,omitempty"`
	OpenAPISHA256 string        `json:"openapi_sha256"`
	RegisteredAt  time.Time     `json:"registered_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	Enablements   []Enablement  `json:"enablements"`
	Access        []AccessRight `json:"access,omitempty"`
	// Manifest is the stored manifest, OpenAPI its OpenAPI document.
	Manifest *Manifest `json:"-"`
	OpenAPI  []byte    `json:"-"`
}

// Enablement is one agency's use of a plug-in and the data it approved.
type Enablement struct {
	Plugin     string     `json:"plugin"`
	Agency     string     `json:"agency"`
	Status     string     `json:"status"`
	Data       []string   `json:"data"`
	ApprovedAt time.Time  `json:"approved_at"`
	ApprovedBy string     `json:"approved_by"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// AccessRight lets an agency's service (or AllServices) call one
// operation of a plug-in, carrying Data.
type AccessRight struct {
	Agency    string    `json:"agency"`
	Service   string    `json:"service"`
	Plugin    string    `json:"plugin"`
	Operation string    `json:"operation"`
	Data      []string  `json:"data"`
	GrantedAt time.Time `json:"granted_at"`
	GrantedBy string    `json:"granted_by"`
}

// Registered is the result of a registration. WebhookSecret is set only
// when the plug-in was registered for the first time: it is shown once.
type Registered struct {
	Plugin
	WebhookSecret string `json:"webhook_secret,omitempty"`
	Replaced      bool   `json:"replaced"`
	// DataAdded lists data the new version asks for that the previous
	// one did not; NeedApproval the agencies whose enablement now waits
	// for them to approve it again.
	DataAdded    []string `json:"data_added"`
	NeedApproval []string `json:"need_approval"`
}

// ProblemsError is a manifest that did not validate.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	return fmt.Sprintf("invalid: the plug-in manifest has %d problem(s)", len(e.Problems))
}

// Unwrap gives the error its code.
func (e *ProblemsError) Unwrap() error {
	return platform.Errorf(platform.CodeInvalid, "the plug-in manifest has %d problem(s); nothing was registered", len(e.Problems))
}

// newWebhookSecret returns a Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes.
func newWebhookSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("plugin: webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:]), nil
}

func sealContext(id string) string { return "plugin-webhook:" + id }

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with string slices and manifests
	}
	return string(b)
}

func listOf(s string) []string {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil {
		return []string{}
	}
	return out
}

// normalize sorts and dedupes a list of data or operations.
func normalize(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// agencyExists reads the agencies table (tenancy's) in tx: a plug-in's
// provider and an enabling agency must exist.
func agencyExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM agencies WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return platform.Invalid("agency", fmt.Sprintf("agency %q does not exist", id))
	}
	return err
}

// Validate checks a manifest as Register would, without registering it.
func (s *Service) Validate(ctx context.Context, file string, src []byte, load Loader) (*Checked, []Problem) {
	return Validate(ctx, file, src, Options{Load: load, EventTypes: s.cfg.EventTypes})
}

// Register validates a manifest (reading its OpenAPI document with load)
// and registers it, or replaces the stored manifest of the same id. A
// replacement keeps the webhook secret and the enablements; when the new
// manifest asks for data the previous one did not, every enablement
// needs the agency's approval again. Problems come back as a
// *ProblemsError.
func (s *Service) Register(ctx context.Context, actor platform.Actor, file string, src []byte, load Loader) (*Registered, error) {
	ctx = platform.WithActor(ctx, actor)
	chk, probs := s.Validate(ctx, file, src, load)
	if len(probs) > 0 {
		return nil, &ProblemsError{Problems: probs}
	}
	m := chk.Manifest
	if !canProvide(actor, m.Provider) {
		if m.Provider.Private() {
			return nil, platform.Errorf(platform.CodeForbidden, "only a platform administrator may register a private provider's plug-in")
		}
		return nil, platform.Errorf(platform.CodeForbidden, "only an agency administrator of %s may register its plug-ins", m.Provider.Agency)
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	reg := &Registered{DataAdded: []string{}, NeedApproval: []string{}}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if !m.Provider.Private() {
			if err := agencyExists(ctx, tx, m.Provider.Agency); err != nil {
				return err
			}
		}
		old, err := s.load(ctx, tx, m.ID)
		if err != nil && platform.ErrorCode(err) != platform.CodeNotFound {
			return err
		}
		revision := 1
		if old != nil {
			if !canProvide(actor, old.Provider) {
				return platform.Errorf(platform.CodeForbidden, "plug-in %s is registered by %s; only its provider may register a new version", m.ID, old.Provider)
			}
			revision = old.Revision + 1
			reg.Replaced = true
			reg.DataAdded = minus(m.Data, old.Data)
			res, err := tx.ExecContext(ctx, `UPDATE plugins SET revision = $1, version = $2, name = $3, name_es = $4, provider_agency = $5, provider_name = $6,
				base_url = $7, manifest = $8, openapi = $9, openapi_sha256 = $10, updated_at = $11 WHERE id = $12 AND revision = $13`,
				revision, m.Version, m.Name.EN, m.Name.ES, m.Provider.Agency, m.Provider.Name, m.BaseURL, string(chk.JSON), string(chk.OpenAPI), chk.OpenAPISHA256, now, m.ID, old.Revision)
			if err != nil {
				return fmt.Errorf("plugin: register: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return platform.Errorf(platform.CodeConflict, "plug-in %s was registered again at the same time; try again", m.ID)
			}
			if err := s.reapprove(ctx, tx, m, reg, now); err != nil {
				return err
			}
		} else {
			secret, err := newWebhookSecret()
			if err != nil {
				return err
			}
			sealed, err := s.box.Seal(secret, sealContext(m.ID))
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO plugins (id, revision, version, name, name_es, provider_agency, provider_name, base_url, manifest, openapi, openapi_sha256, webhook_secret, registered_at, updated_at)
				VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
				m.ID, m.Version, m.Name.EN, m.Name.ES, m.Provider.Agency, m.Provider.Name, m.BaseURL, string(chk.JSON), string(chk.OpenAPI), chk.OpenAPISHA256, sealed, now)
			if err != nil {
				if storageConflict(err) {
					return platform.Errorf(platform.CodeConflict, "plug-in %s was registered at the same time; try again", m.ID)
				}
				return fmt.Errorf("plugin: register: %w", err)
			}
			reg.WebhookSecret = secret
		}
		if err := bumpRevision(ctx, tx); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, audit.Record{Action: "plugin.register", Subject: "plugin:" + m.ID, AgencyID: m.Provider.Agency, Detail: map[string]any{
			"revision": revision, "version": m.Version, "provider": m.Provider, "replaced": reg.Replaced, "manifest_sha256": sha(chk.JSON),
			"openapi_sha256": chk.OpenAPISHA256, "data": m.Data, "data_added": reg.DataAdded, "need_approval": reg.NeedApproval,
			"operations": opIDs(m), "events": m.Events, "webhook": m.Webhook, "webhook_secret_issued": reg.WebhookSecret != "",
		}})
		if err != nil {
			return err
		}
		p, err := s.load(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		reg.Plugin = *p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return reg, nil
}

func storageConflict(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unique") || strings.Contains(s, "duplicate key")
}

func opIDs(m *Manifest) []string {
	out := make([]string, len(m.Operations))
	for i, o := range m.Operations {
		out[i] = o.ID
	}
	return out
}

// reapprove adjusts the enablements and access rights of a re-registered
// plug-in: approved data is cut to what the manifest still asks for, and
// when the manifest asks for new data every enablement in use needs the
// agency's approval again.
func (s *Service) reapprove(ctx context.Context, tx *sql.Tx, m *Manifest, reg *Registered, now time.Time) error {
	ens, err := s.enablements(ctx, tx, `plugin_id = $1`, m.ID)
	if err != nil {
		return err
	}
	for _, e := range ens {
		status := e.Status
		if len(reg.DataAdded) > 0 && e.Status == StatusEnabled {
			status = StatusNeedsApproval
			reg.NeedApproval = append(reg.NeedApproval, e.Agency)
		}
		data := intersect(e.Data, m.Data)
		if status == e.Status && len(data) == len(e.Data) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_enablements SET status = $1, data = $2, updated_at = $3 WHERE plugin_id = $4 AND agency_id = $5`,
			status, toJSON(data), now, m.ID, e.Agency); err != nil {
			return fmt.Errorf("plugin: re-approval: %w", err)
		}
		if err := s.trimAccess(ctx, tx, m.ID, e.Agency, data); err != nil {
			return err
		}
	}
	return nil
}

// trimAccess cuts the data of an agency's access rights to a plug-in down
// to approved.
func (s *Service) trimAccess(ctx context.Context, tx *sql.Tx, pluginID, agency string, approved []string) error {
	rights, err := s.access(ctx, tx, `plugin_id = $1 AND agency_id = $2`, pluginID, agency)
	if err != nil {
		return err
	}
	for _, r := range rights {
		d := intersect(r.Data, approved)
		if len(d) == len(r.Data) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_access SET data = $1 WHERE agency_id = $2 AND plugin_id = $3 AND operation = $4 AND service_id = $5`,
			toJSON(d), agency, pluginID, r.Operation, r.Service); err != nil {
			return fmt.Errorf("plugin: access rights: %w", err)
		}
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// load reads a plug-in (without enablements) or CodeNotFound.
func (s *Service) load(ctx context.Context, q querier, id string) (*Plugin, error) {
	var p Plugin
	var manifest, openapi string
	err := q.QueryRowContext(ctx, `SELECT id, revision, manifest, openapi, openapi_sha256, registered_at, updated_at FROM plugins WHERE id = $1`, id).
		Scan(&p.ID, &p.Revision, &manifest, &openapi, &p.OpenAPISHA256, &p.RegisteredAt, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, platform.Errorf(platform.CodeNotFound, "there is no plug-in %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin: read %s: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal([]byte(manifest), &m); err != nil {
		return nil, fmt.Errorf("plugin: stored manifest of %s: %w", id, err)
	}
	p.fill(&m)
	p.OpenAPI = []byte(openapi)
	p.RegisteredAt, p.UpdatedAt = p.RegisteredAt.UTC(), p.UpdatedAt.UTC()
	p.Enablements = []Enablement{}
	return &p, nil
}

func (p *Plugin) fill(m *Manifest) {
	p.Manifest = m
	p.Version, p.Name, p.Provider, p.BaseURL = m.Version, m.Name, m.Provider, m.BaseURL
	p.Operations, p.Data, p.Events, p.Webhook = m.Operations, m.Data, m.Events, m.Webhook
	if p.Data == nil {
		p.Data = []string{}
	}
	if p.Events == nil {
		p.Events = []string{}
	}
}

func (s *Service) enablements(ctx context.Context, q querier, where string, args ...any) ([]Enablement, error) {
	rows, err := q.QueryContext(ctx, `SELECT plugin_id, agency_id, status, data, approved_at, approved_by, disabled_at FROM plugin_enablements WHERE `+where+` ORDER BY plugin_id, agency_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("plugin: enablements: %w", err)
	}
	defer rows.Close()
	out := []Enablement{}
	for rows.Next() {
		var e Enablement
		var data string
		var disabled sql.NullTime
		if err := rows.Scan(&e.Plugin, &e.Agency, &e.Status, &data, &e.ApprovedAt, &e.ApprovedBy, &disabled); err != nil {
			return nil, fmt.Errorf("plugin: enablements: %w", err)
		}
		e.Data = listOf(data)
		e.ApprovedAt = e.ApprovedAt.UTC()
		if disabled.Valid {
			t := disabled.Time.UTC()
			e.DisabledAt = &t
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Service) access(ctx context.Context, q querier, where string, args ...any) ([]AccessRight, error) {
	rows, err := q.QueryContext(ctx, `SELECT agency_id, service_id, plugin_id, operation, data, granted_at, granted_by FROM plugin_access WHERE `+where+` ORDER BY agency_id, plugin_id, operation, service_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("plugin: access rights: %w", err)
	}
	defer rows.Close()
	out := []AccessRight{}
	for rows.Next() {
		var r AccessRight
		var data string
		if err := rows.Scan(&r.Agency, &r.Service, &r.Plugin, &r.Operation, &data, &r.GrantedAt, &r.GrantedBy); err != nil {
			return nil, fmt.Errorf("plugin: access rights: %w", err)
		}
		r.Data = listOf(data)
		r.GrantedAt = r.GrantedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// List returns every registered plug-in with the agencies using it, by id.
func (s *Service) List(ctx context.Context, actor platform.Actor) ([]Plugin, error) {
	if err := canRead(actor); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id FROM plugins ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("plugin: list: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ens, err := s.enablements(ctx, s.db.Read(), `1 = 1`)
	if err != nil {
		return nil, err
	}
	out := []Plugin{}
	for _, id := range ids {
		p, err := s.load(ctx, s.db.Read(), id)
		if err != nil {
			return nil, err
		}
		for _, e := range ens {
			if e.Plugin == id {
				p.Enablements = append(p.Enablements, e)
			}
		}
		out = append(out, *p)
	}
	return out, nil
}

// Get returns a plug-in with its enablements and access rights.
func (s *Service) Get(ctx context.Context, actor platform.Actor, id string) (*Plugin, error) {
	if err := canRead(actor); err != nil {
		return nil, err
	}
	p, err := s.load(ctx, s.db.Read(), id)
	if err != nil {
		return nil, err
	}
	if p.Enablements, err = s.enablements(ctx, s.db.Read(), `plugin_id = $1`, id); err != nil {
		return nil, err
	}
	if p.Access, err = s.access(ctx, s.db.Read(), `plugin_id = $1`, id); err != nil {
		return nil, err
	}
	return p, nil
}

// EnableRequest is an agency enabling a plug-in: the data it approves
// (a subset of what the manifest asks for) and the operations its
// Service (a service id, or AllServices) may call, carrying that data.
type EnableRequest struct {
	Plugin     string
	Agency     string
	Data       []string
	Service    string   // default AllServices
	Operations []string // none: the agency's services may call nothing yet
}

// Enabled is the result of Enable.
type Enabled struct {
	Enablement Enablement    `json:"enablement"`
	Access     []AccessRight `json:"access"`
}

// Enable enables a plug-in for an agency, approving req.Data, and grants
// req.Service the operations listed. Enabling again replaces the
// approval (access rights never carry more than is approved) and adds
// rights.
func (s *Service) Enable(ctx context.Context, actor platform.Actor, req EnableRequest) (*Enabled, error) {
	if !canAdminAgency(actor, req.Agency) {
		return nil, platform.Errorf(platform.CodeForbidden, "only an agency administrator of %s may enable plug-ins for it", req.Agency)
	}
	ctx = platform.WithActor(ctx, actor)
	if req.Service == "" {
		req.Service = AllServices
	}
	if req.Service != AllServices && !slugOK(req.Service) {
		return nil, platform.Invalid("service", fmt.Sprintf("service %q must be a service id or *", req.Service))
	}
	data, ops := normalize(req.Data), normalize(req.Operations)
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var out Enabled
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		p, err := s.load(ctx, tx, req.Plugin)
		if err != nil {
			return err
		}
		if err := agencyExists(ctx, tx, req.Agency); err != nil {
			return err
		}
		for _, d := range data {
			if !slices.Contains(p.Data, d) {
				asks := strings.Join(p.Data, ", ")
				if asks == "" {
					asks = "no personal data"
				}
				return platform.Invalid("data", fmt.Sprintf("plug-in %s does not ask for %q (it asks for %s)", p.ID, d, asks))
			}
		}
		for _, o := range ops {
			if _, ok := p.Manifest.Operation(o); !ok {
				return platform.Invalid("operation", fmt.Sprintf("plug-in %s has no operation %q (it has %s)", p.ID, o, strings.Join(opIDs(p.Manifest), ", ")))
			}
		}
		prev := ""
		if err := tx.QueryRowContext(ctx, `SELECT status FROM plugin_enablements WHERE plugin_id = $1 AND agency_id = $2`, p.ID, req.Agency).Scan(&prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("plugin: enable: %w", err)
		}
		by := actor.String()
		if prev == "" {
			_, err = tx.ExecContext(ctx, `INSERT INTO plugin_enablements (plugin_id, agency_id, status, data, approved_at, approved_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $5)`,
				p.ID, req.Agency, StatusEnabled, toJSON(data), now, by)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE plugin_enablements SET status = $1, data = $2, approved_at = $3, approved_by = $4, disabled_at = NULL, updated_at = $3 WHERE plugin_id = $5 AND agency_id = $6`,
				StatusEnabled, toJSON(data), now, by, p.ID, req.Agency)
		}
		if err != nil {
			return fmt.Errorf("plugin: enable: %w", err)
		}
		if err := s.trimAccess(ctx, tx, p.ID, req.Agency, data); err != nil {
			return err
		}
		for _, o := range ops {
			if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_access WHERE agency_id = $1 AND plugin_id = $2 AND operation = $3 AND service_id = $4`, req.Agency, p.ID, o, req.Service); err != nil {
				return fmt.Errorf("plugin: grant: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_access (agency_id, service_id, plugin_id, operation, data, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				req.Agency, req.Service, p.ID, o, toJSON(data), now, by); err != nil {
				return fmt.Errorf("plugin: grant: %w", err)
			}
		}
		if err := bumpRevision(ctx, tx); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, audit.Record{Action: "plugin.enable", Subject: "plugin:" + p.ID, AgencyID: req.Agency, Detail: map[string]any{
			"data": data, "service": req.Service, "operations": ops, "previous_status": prev, "revision": p.Revision,
		}}); err != nil {
			return err
		}
		ens, err := s.enablements(ctx, tx, `plugin_id = $1 AND agency_id = $2`, p.ID, req.Agency)
		if err != nil || len(ens) != 1 {
			return fmt.Errorf("plugin: enable: read back: %v", err)
		}
		out.Enablement = ens[0]
		out.Access, err = s.access(ctx, tx, `plugin_id = $1 AND agency_id = $2`, p.ID, req.Agency)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Disable stops an agency's use of a plug-in. The enablement and its
// access rights are kept (disabled) as history; Enable turns it on again.
func (s *Service) Disable(ctx context.Context, actor platform.Actor, pluginID, agency string) (*Enablement, error) {
	if !canAdminAgency(actor, agency) {
		return nil, platform.Errorf(platform.CodeForbidden, "only an agency administrator of %s may disable plug-ins for it", agency)
	}
	ctx = platform.WithActor(ctx, actor)
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	var out Enablement
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ens, err := s.enablements(ctx, tx, `plugin_id = $1 AND agency_id = $2`, pluginID, agency)
		if err != nil {
			return err
		}
		if len(ens) == 0 {
			return platform.Errorf(platform.CodeNotFound, "plug-in %q is not enabled for %s", pluginID, agency)
		}
		if ens[0].Status == StatusDisabled {
			out = ens[0]
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_enablements SET status = $1, disabled_at = $2, updated_at = $2 WHERE plugin_id = $3 AND agency_id = $4`,
			StatusDisabled, now, pluginID, agency); err != nil {
			return fmt.Errorf("plugin: disable: %w", err)
		}
		if err := bumpRevision(ctx, tx); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, audit.Record{Action: "plugin.disable", Subject: "plugin:" + pluginID, AgencyID: agency, Detail: map[string]any{
			"previous_status": ens[0].Status,
		}}); err != nil {
			return err
		}
		out = ens[0]
		out.Status, out.DisabledAt = StatusDisabled, &now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Remove deletes a plug-in, its enablements and access rights (their
// history stays in the audit log). While any agency has it enabled (or
// waiting for re-approval) it is refused, unless force is given by a
// platform administrator or the operator.
func (s *Service) Remove(ctx context.Context, actor platform.Actor, pluginID string, force bool) error {
	if force && !isPlatform(actor) {
		return platform.Errorf(platform.CodeForbidden, "only a platform administrator may remove a plug-in that agencies use (--force)")
	}
	ctx = platform.WithActor(ctx, actor)
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		p, err := s.load(ctx, tx, pluginID)
		if err != nil {
			return err
		}
		if !canProvide(actor, p.Provider) {
			return platform.Errorf(platform.CodeForbidden, "plug-in %s is registered by %s; only its provider may remove it", p.ID, p.Provider)
		}
		ens, err := s.enablements(ctx, tx, `plugin_id = $1 AND status <> $2`, p.ID, StatusDisabled)
		if err != nil {
			return err
		}
		var using []string
		for _, e := range ens {
			using = append(using, e.Agency)
		}
		if len(using) > 0 && !force {
			return platform.Errorf(platform.CodeConflict, "plug-in %s is enabled for %s; each agency must disable it first, or a platform administrator removes it with --force", p.ID, strings.Join(using, ", "))
		}
		for _, q := range []string{`DELETE FROM plugin_access WHERE plugin_id = $1`, `DELETE FROM plugin_enablements WHERE plugin_id = $1`, `DELETE FROM plugins WHERE id = $1`} {
			if _, err := tx.ExecContext(ctx, q, p.ID); err != nil {
				return fmt.Errorf("plugin: remove: %w", err)
			}
		}
		if err := bumpRevision(ctx, tx); err != nil {
			return err
		}
		if using == nil {
			using = []string{}
		}
		_, err = s.log.Append(ctx, tx, audit.Record{Action: "plugin.remove", Subject: "plugin:" + p.ID, AgencyID: p.Provider.Agency, Detail: map[string]any{
			"revision": p.Revision, "force": force, "enabled_for": using,
		}})
		return err
	})
}

// WebhookSecret opens the webhook signing secret of a plug-in, for the
// platform's own webhook deliverer (never shown after registration).
func (s *Service) WebhookSecret(ctx context.Context, actor platform.Actor, pluginID string) (string, error) {
	if actor.Kind != platform.ActorSystem {
		return "", platform.Errorf(platform.CodeForbidden, "a webhook secret is shown once, when the plug-in is registered")
	}
	var sealed string
	err := s.db.Read().QueryRowContext(ctx, `SELECT webhook_secret FROM plugins WHERE id = $1`, pluginID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", platform.Errorf(platform.CodeNotFound, "there is no plug-in %q", pluginID)
	}
	if err != nil {
		return "", fmt.Errorf("plugin: webhook secret: %w", err)
	}
	secret, err := s.box.Open(sealed, sealContext(pluginID))
	if err != nil {
		return "", fmt.Errorf("plugin: webhook secret of %s cannot be unsealed (is DATA/keys/secrets.key the one it was sealed with?): %w", pluginID, err)
	}
	return secret, nil
}
