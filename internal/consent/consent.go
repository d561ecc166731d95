// Package consent is the block that records a person's consent to share
// personal data with a plug-in, and shows them who has used their data
// (issue 11, "Consent and the once-only principle"; ADR 35).
//
// A consent is given by one person (an account) to one agency's service
// to share named data with one plug-in, for a purpose (derived from the
// service's name: "to apply for Vehicle registration renewal"), until a
// date (Config.Validity, DefaultValidity: one year), and can be withdrawn
// at any time. The data are the union of the data that the service's
// latest published version's uses of that plug-in carry
// (manifest.PluginUses): the person agrees once to what the service will
// send, not call by call. What the person was shown (names, purpose, in
// both languages) is stored with the consent.
//
// The gateway asks Covers before every call for a person that carries
// personal data; a withdrawal takes effect at once because Covers reads
// the table each time.
//
// Policy (methods take the acting platform.Actor): only a signed-in
// citizen gives, lists and withdraws their own consents and reads who
// used their data (History); anyone else is refused (unauthorized when
// anonymous, forbidden otherwise), and another person's consent is not
// found. Give and Withdraw change the row, append an audit entry and emit
// gov.portico.consent.given / gov.portico.consent.withdrawn in one
// transaction; the events carry no account id (plug-ins receive them by
// webhook), only the plug-in's pairwise subject for the person.
// Table: consents (migration 00027).
package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/storage"
)

// Event types the block emits (plug-ins may subscribe to them).
const (
	EventGiven     = "gov.portico.consent.given"
	EventWithdrawn = "gov.portico.consent.withdrawn"
)

// DefaultValidity is how long a consent lasts when Config.Validity is
// not set: one year from the day it is given (or renewed).
const DefaultValidity = 365 * 24 * time.Hour

// Services is what the block needs of the catalog (*catalog.Service as
// it is): the latest published version of a service.
type Services interface {
	Latest(ctx context.Context, id string) (catalog.Published, error)
}

// Plugins is what the block needs of the plug-in registry
// (*plugin.Service as it is).
type Plugins interface {
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
}

// Config tunes the block.
type Config struct {
	// Validity is how long a consent lasts (default DefaultValidity).
	Validity time.Duration
	// Subject gives a plug-in's pairwise subject for an account (the
	// gateway's, gateway.PairwiseSubject), put in the events instead of
	// the account id. nil: the events carry no subject.
	Subject func(pluginID, accountID string) string
}

// Service is the consent block.
type Service struct {
	db       *storage.DB
	log      *audit.Log
	bus      *events.Bus
	clock    platform.Clock
	services Services
	plugins  Plugins
	cfg      Config
}

// New returns the block; every dependency is required.
func New(db *storage.DB, log *audit.Log, bus *events.Bus, clock platform.Clock, services Services, plugins Plugins, cfg Config) (*Service, error) {
	if err := platform.Required("consent", platform.Dep{Name: "database", Missing: db == nil}, platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "event bus", Missing: bus == nil}, platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "services", Missing: services == nil}, platform.Dep{Name: "plug-ins", Missing: plugins == nil}); err != nil {
		return nil, err
	}
	if cfg.Validity <= 0 {
		cfg.Validity = DefaultValidity
	}
	return &Service{db: db, log: log, bus: bus, clock: clock, services: services, plugins: plugins, cfg: cfg}, nil
}

// Text is text in English and Spanish.
type Text struct {
	EN string `json:"en"`
	ES string `json:"es"`
}

// In returns the text in lang (English when lang is not Spanish).
func (t Text) In(lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// Statuses of a consent.
const (
	StatusActive    = "active"
	StatusExpired   = "expired"
	StatusWithdrawn = "withdrawn"
)

// Consent is one consent, with what the person was shown.
type Consent struct {
	ID          string     `json:"id"`
	Account     string     `json:"-"`
	Agency      string     `json:"agency"`
	Service     string     `json:"service"`
	Plugin      string     `json:"plugin"`
	Data        []string   `json:"data"`
	ServiceName Text       `json:"service_name"`
	PluginName  Text       `json:"plugin_name"`
	Provider    Provider   `json:"provider"`
	Purpose     Text       `json:"purpose"`
	GivenAt     time.Time  `json:"given_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
	// State is Status at the time the consent was read.
	State string `json:"status"`
}

// Provider is who offers the plug-in: an agency (its id) or a private
// provider (its name).
type Provider struct {
	Agency string `json:"agency,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Status is the consent's status at now.
func (c Consent) Status(now time.Time) string {
	switch {
	case c.WithdrawnAt != nil:
		return StatusWithdrawn
	case !now.Before(c.ExpiresAt):
		return StatusExpired
	}
	return StatusActive
}

// Covers reports whether c covers every datum of data.
func (c Consent) Covers(data []string) bool {
	for _, d := range data {
		if !slices.Contains(c.Data, d) {
			return false
		}
	}
	return true
}

// Offer is what the consent screen asks a person to agree to: a consent
// as it would be given now.
type Offer struct {
	Consent
	// Existing is the person's active consent for the same service and
	// plug-in, if any (giving again renews it).
	Existing *Consent
	// Fills: some use of the plug-in that carries data fills in or checks
	// the form (a prefill, a check, choices, the fee); otherwise the
	// data is only for what the plug-in does for the person after they
	// send the application (a workflow call_plugin, such as booking an
	// appointment in their name). The consent screen says which.
	Fills bool
}

// mayAct: only a signed-in citizen acts on consents, their own.
func mayAct(a platform.Actor) error {
	switch {
	case a.Kind == platform.ActorCitizen && a.ID != "":
		return nil
	case a.Kind == platform.ActorAnonymous || a.ID == "":
		return platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	return platform.Errorf(platform.CodeForbidden, "only the person themselves gives, reads or withdraws their consents")
}

// Offer works out what actor would agree to by consenting that service
// shares data with plugin: the plug-in's name and provider, the data the
// service's uses of it carry, the purpose and until when. A service or
// plug-in that does not exist, or a service that does not use the
// plug-in, is not found.
func (s *Service) Offer(ctx context.Context, actor platform.Actor, serviceID, pluginID string) (Offer, error) {
	if err := mayAct(actor); err != nil {
		return Offer{}, err
	}
	if serviceID == "" || pluginID == "" {
		return Offer{}, platform.Errorf(platform.CodeInvalid, "name the service and the plug-in")
	}
	svc, err := s.services.Latest(ctx, serviceID)
	if err != nil {
		return Offer{}, err
	}
	data, ok := manifest.PluginData(svc.Manifest)[pluginID]
	if !ok {
		return Offer{}, platform.Errorf(platform.CodeNotFound, "service %s does not use plug-in %s", serviceID, pluginID)
	}
	sys := platform.Actor{Kind: platform.ActorSystem, ID: "consent"}
	p, err := s.plugins.Get(platform.WithActor(ctx, sys), sys, pluginID)
	if err != nil {
		return Offer{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	title := Text{EN: svc.Manifest.Title.EN, ES: svc.Manifest.Title.ES}
	m := i18n.Messages()
	// The purpose says what the data is for in the service's own terms: a
	// booking service books the person's appointment.
	purpose := "consent.purpose"
	if svc.Manifest.Kind == manifest.KindBook {
		purpose = "consent.purpose.book"
	}
	o := Offer{Consent: Consent{
		Account: actor.ID, Agency: svc.AgencyID, Service: svc.ID, Plugin: p.ID, Data: data,
		ServiceName: title, PluginName: Text{EN: p.Name.EN, ES: p.Name.ES},
		Provider: Provider{Agency: p.Provider.Agency, Name: p.Provider.Name},
		Purpose:  Text{EN: m.T(i18n.Lang("en"), purpose, title.EN), ES: m.T(i18n.Lang("es"), purpose, title.In("es"))},
		GivenAt:  now, ExpiresAt: now.Add(s.cfg.Validity),
	}}
	cs, err := s.list(ctx, s.db.Read(), `account_id = $1 AND plugin_id = $2 AND agency_id = $3 AND service_id = $4 AND withdrawn_at IS NULL`,
		actor.ID, p.ID, svc.AgencyID, svc.ID)
	if err != nil {
		return Offer{}, err
	}
	for i := range cs {
		if cs[i].Status(now) == StatusActive {
			o.Existing = &cs[i]
		}
	}
	for _, u := range manifest.PluginUses(svc.Manifest) {
		o.Fills = o.Fills || (u.Plugin == pluginID && u.Kind != manifest.UseAction && len(u.Data) > 0)
	}
	return o, nil
}

// Give records actor's consent that service shares its data with
// plugin, as Offer describes it. An active consent for the same service
// and plug-in is renewed (its data, names and purpose are those of now,
// and it lasts Validity from now); an expired one stays as history.
func (s *Service) Give(ctx context.Context, actor platform.Actor, serviceID, pluginID string) (Consent, error) {
	o, err := s.Offer(ctx, actor, serviceID, pluginID)
	if err != nil {
		return Consent{}, err
	}
	c := o.Consent
	ctx = platform.WithActor(ctx, actor)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		renewed := false
		old, err := s.list(ctx, tx, `account_id = $1 AND plugin_id = $2 AND agency_id = $3 AND service_id = $4 AND withdrawn_at IS NULL`,
			c.Account, c.Plugin, c.Agency, c.Service)
		if err != nil {
			return err
		}
		for _, o := range old {
			if o.Status(c.GivenAt) == StatusActive {
				c.ID, renewed = o.ID, true
				_, err = tx.ExecContext(ctx, `UPDATE consents SET data = $1, service_name = $2, service_name_es = $3, plugin_name = $4, plugin_name_es = $5,
					provider_agency = $6, provider_name = $7, purpose = $8, purpose_es = $9, given_at = $10, expires_at = $11 WHERE id = $12`,
					strings.Join(c.Data, ","), c.ServiceName.EN, c.ServiceName.ES, c.PluginName.EN, c.PluginName.ES,
					c.Provider.Agency, c.Provider.Name, c.Purpose.EN, c.Purpose.ES, c.GivenAt, c.ExpiresAt, c.ID)
				if err != nil {
					return err
				}
				break
			}
		}
		if !renewed {
			c.ID = uuid.Must(uuid.NewV7()).String()
			_, err = tx.ExecContext(ctx, `INSERT INTO consents (id, account_id, agency_id, service_id, plugin_id, data, service_name, service_name_es,
				plugin_name, plugin_name_es, provider_agency, provider_name, purpose, purpose_es, given_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				c.ID, c.Account, c.Agency, c.Service, c.Plugin, strings.Join(c.Data, ","), c.ServiceName.EN, c.ServiceName.ES,
				c.PluginName.EN, c.PluginName.ES, c.Provider.Agency, c.Provider.Name, c.Purpose.EN, c.Purpose.ES, c.GivenAt, c.ExpiresAt)
			if err != nil {
				return err
			}
		}
		if _, err := s.log.Append(ctx, tx, audit.Record{Action: "consent.give", Subject: "consent:" + c.ID, AgencyID: c.Agency, Person: c.Account,
			Detail: map[string]any{"service": c.Service, "plugin": c.Plugin, "data": c.Data, "expires_at": c.ExpiresAt, "renewed": renewed}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventGiven, c, map[string]any{"given_at": c.GivenAt, "expires_at": c.ExpiresAt})
	})
	if err != nil {
		return Consent{}, fmt.Errorf("consent: give: %w", err)
	}
	return c, nil
}

// emit emits typ for c: the consent, agency, service, plug-in and data,
// the plug-in's pairwise subject for the person, never the account id.
func (s *Service) emit(ctx context.Context, tx *sql.Tx, typ string, c Consent, extra map[string]any) error {
	data := map[string]any{"consent": c.ID, "agency": c.Agency, "service": c.Service, "plugin": c.Plugin, "data": c.Data}
	if s.cfg.Subject != nil {
		data["subject"] = s.cfg.Subject(c.Plugin, c.Account)
	}
	for k, v := range extra {
		data[k] = v
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/consent", Type: typ, Subject: "consent:" + c.ID, AgencyID: c.Agency, Data: b})
}

// Withdraw withdraws actor's consent id at once: the next gateway call
// it covered is refused. Withdrawing a consent already withdrawn changes
// nothing; another person's consent is not found.
func (s *Service) Withdraw(ctx context.Context, actor platform.Actor, id string) (Consent, error) {
	if err := mayAct(actor); err != nil {
		return Consent{}, err
	}
	if !platform.IsUUID(id) {
		return Consent{}, platform.Errorf(platform.CodeNotFound, "no such consent")
	}
	ctx = platform.WithActor(ctx, actor)
	var c Consent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		cs, err := s.list(ctx, tx, `id = $1 AND account_id = $2`, id, actor.ID)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return platform.Errorf(platform.CodeNotFound, "no such consent")
		}
		c = cs[0]
		if c.WithdrawnAt != nil {
			return nil
		}
		now := s.clock.Now().UTC().Truncate(time.Microsecond)
		c.WithdrawnAt = &now
		if _, err := tx.ExecContext(ctx, `UPDATE consents SET withdrawn_at = $1 WHERE id = $2 AND withdrawn_at IS NULL`, now, c.ID); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, audit.Record{Action: "consent.withdraw", Subject: "consent:" + c.ID, AgencyID: c.Agency, Person: c.Account,
			Detail: map[string]any{"service": c.Service, "plugin": c.Plugin, "data": c.Data}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventWithdrawn, c, map[string]any{"withdrawn_at": now})
	})
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return Consent{}, err
		}
		return Consent{}, fmt.Errorf("consent: withdraw: %w", err)
	}
	return c, nil
}

// List returns actor's consents, every status, newest first, and audits
// the read (consent.list).
func (s *Service) List(ctx context.Context, actor platform.Actor) ([]Consent, error) {
	if err := mayAct(actor); err != nil {
		return nil, err
	}
	cs, err := s.list(ctx, s.db.Read(), `account_id = $1`, actor.ID)
	if err != nil {
		return nil, err
	}
	if _, err := s.log.Write(platform.WithActor(ctx, actor), audit.Record{Action: "consent.list", Subject: "account:" + actor.ID,
		Detail: map[string]any{"count": len(cs)}}); err != nil {
		return nil, err
	}
	return cs, nil
}

// HistoryPage is one page of who used a person's data.
type HistoryPage struct {
	Entries []audit.Entry
	// Next is the cursor of the following (older) page; 0 when there is none.
	Next int64
}

// HistoryPageSize is how many uses a page of History shows.
const HistoryPageSize = 25

// History returns the uses and reads of actor's data by others (plug-in
// calls for them, staff reading their case or application, their own
// consents given and withdrawn), newest first, HistoryPageSize at a time
// from before (0: the newest), from the audit log (audit.Log.ForPerson),
// and audits the read (consent.history.read).
func (s *Service) History(ctx context.Context, actor platform.Actor, before int64) (HistoryPage, error) {
	if err := mayAct(actor); err != nil {
		return HistoryPage{}, err
	}
	if before < 0 {
		return HistoryPage{}, platform.Invalid("before", "the page cursor is a positive number")
	}
	es, err := s.log.ForPerson(ctx, actor.ID, before, HistoryPageSize+1)
	if err != nil {
		return HistoryPage{}, err
	}
	var p HistoryPage
	if len(es) > HistoryPageSize {
		es = es[:HistoryPageSize]
		p.Next = es[len(es)-1].Seq
	}
	p.Entries = es
	if _, err := s.log.Write(platform.WithActor(ctx, actor), audit.Record{Action: "consent.history.read", Subject: "account:" + actor.ID,
		Detail: map[string]any{"before": before, "shown": len(es)}}); err != nil {
		return HistoryPage{}, err
	}
	return p, nil
}

// Covers reports whether an active (not withdrawn, not expired) consent
// of accountID for agency's service and plugin covers every datum in data
// (empty data: true, nothing personal is carried). The gateway asks it
// before every call for a person, so its query is a hot statement
// (prepared once, storage.DB.HotRead); it is not audited here (the gateway
// audits the call or its refusal).
func (s *Service) Covers(ctx context.Context, accountID, agency, service, plugin string, data []string) (bool, error) {
	if len(data) == 0 {
		return true, nil
	}
	if accountID == "" {
		return false, nil
	}
	now := s.clock.Now().UTC()
	rows, err := s.db.HotRead().QueryContext(ctx, `SELECT data FROM consents WHERE account_id = $1 AND plugin_id = $2 AND agency_id = $3 AND service_id = $4
		AND withdrawn_at IS NULL AND expires_at > $5`, accountID, plugin, agency, service, now)
	if err != nil {
		return false, fmt.Errorf("consent: covers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return false, fmt.Errorf("consent: covers: %w", err)
		}
		if (Consent{Data: splitData(d)}).Covers(data) {
			return true, nil
		}
	}
	return false, rows.Err()
}

func splitData(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const columns = `SELECT id, account_id, agency_id, service_id, plugin_id, data, service_name, service_name_es, plugin_name, plugin_name_es,
	provider_agency, provider_name, purpose, purpose_es, given_at, expires_at, withdrawn_at FROM consents WHERE `

func (s *Service) list(ctx context.Context, q querier, where string, args ...any) ([]Consent, error) {
	rows, err := q.QueryContext(ctx, columns+where+` ORDER BY given_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("consent: list: %w", err)
	}
	defer rows.Close()
	now := s.clock.Now()
	var out []Consent
	for rows.Next() {
		var c Consent
		var data string
		var withdrawn sql.NullTime
		if err := rows.Scan(&c.ID, &c.Account, &c.Agency, &c.Service, &c.Plugin, &data, &c.ServiceName.EN, &c.ServiceName.ES,
			&c.PluginName.EN, &c.PluginName.ES, &c.Provider.Agency, &c.Provider.Name, &c.Purpose.EN, &c.Purpose.ES,
			&c.GivenAt, &c.ExpiresAt, &withdrawn); err != nil {
			return nil, fmt.Errorf("consent: list: %w", err)
		}
		c.Data = splitData(data)
		c.GivenAt, c.ExpiresAt = c.GivenAt.UTC(), c.ExpiresAt.UTC()
		if withdrawn.Valid {
			t := withdrawn.Time.UTC()
			c.WithdrawnAt = &t
		}
		c.State = c.Status(now)
		out = append(out, c)
	}
	return out, rows.Err()
}
