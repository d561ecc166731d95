// Package eventfeed is the block behind GET /api/v1/events: an agency's
// systems read their agency's events from the log, in order, a page at a
// time, with the client-credentials grant (docs/api.md, "Events").
//
// Contract:
//   - Only an OAuth client acting as itself (platform.ActorClient) that
//     belongs to an agency reads, and it reads only events whose
//     porticoagency is that agency. There is no platform-wide reader over
//     HTTP: a client registered without an agency is refused, and events of
//     no agency are never served (platform-wide consumers read the NATS
//     stream, which the operator controls).
//   - Events come in log order, after the caller's cursor; the page's Next
//     is the cursor to pass next (unchanged when the page is empty), so a
//     reader can page forever without missing or repeating an event.
//   - Each event's data is projected for the agency (Project): what the
//     agency's own case API shows, never the applicant's account id; types
//     the feed does not describe keep only their attributes.
//   - A read that returns events is audited (events.read, subject the
//     client, with the positions read); an empty poll reveals nothing and
//     is not.
package eventfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Clients tells the feed which agency an OAuth client belongs to (the
// OpenID Provider's registry, adapted by internal/app). A disabled or
// unknown client is an error; a client of no agency returns "".
type Clients interface {
	ClientAgency(ctx context.Context, clientID string) (string, error)
}

// Entry is one event as an agency's system sees it: the CloudEvents
// attributes, the projected data and the event's position in the log.
type Entry struct {
	Position        int64
	ID              string
	Source          string
	Type            string
	Subject         string // "" when the type is not described
	Time            time.Time
	SpecVersion     string
	DataContentType string
	AgencyID        string
	Data            json.RawMessage // nil when there is none to show
}

// Page is one read: events after the cursor and the cursor to pass next.
type Page struct {
	Events []Entry
	Next   int64
}

// Feed is the block.
type Feed struct {
	db      *storage.DB
	audit   *audit.Log
	clients Clients
}

// New returns the feed over db's event log.
func New(db *storage.DB, log *audit.Log, clients Clients) (*Feed, error) {
	if err := platform.Required("eventfeed",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clients", Missing: clients == nil}); err != nil {
		return nil, err
	}
	return &Feed{db: db, audit: log, clients: clients}, nil
}

// Read returns up to limit events of the calling client's agency after
// position after. Errors: forbidden (not a client acting as itself, or a
// client of no agency), invalid (a negative cursor, a limit outside
// 1..MaxLimit).
func (f *Feed) Read(ctx context.Context, actor platform.Actor, after int64, limit int) (Page, error) {
	if actor.Kind != platform.ActorClient || actor.ID == "" || actor.Client != "" {
		return Page{}, platform.Errorf(platform.CodeForbidden, "the events feed is for an agency system's own client-credentials token, not a person's")
	}
	if after < 0 {
		return Page{}, platform.Invalid("after", "after must be a position from 0")
	}
	if limit < 1 || limit > MaxLimit {
		return Page{}, platform.Invalid("limit", fmt.Sprintf("limit must be from 1 to %d", MaxLimit))
	}
	agency, err := f.clients.ClientAgency(ctx, actor.ID)
	if err != nil {
		return Page{}, err
	}
	if agency == "" {
		return Page{}, platform.Errorf(platform.CodeForbidden, "this client belongs to no agency; only an agency's system clients read events (register one with portico oidc client add --agency)")
	}
	evs, err := events.ReadAgency(ctx, f.db, agency, after, limit)
	if err != nil {
		return Page{}, err
	}
	page := Page{Events: make([]Entry, 0, len(evs)), Next: after}
	for _, e := range evs {
		page.Events = append(page.Events, Project(e))
		page.Next = e.Position
	}
	if len(evs) > 0 {
		if _, err := f.audit.Write(ctx, audit.Record{Action: "events.read", Subject: "client:" + actor.ID, AgencyID: agency,
			Detail: map[string]any{"after": after, "limit": limit, "count": len(evs), "first": evs[0].Position, "last": page.Next}}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

// CaseTypes is the prefix of the casework block's event types, whose data
// the feed describes.
const CaseTypes = "gov.portico.case."

// ApplicationTypes is the prefix of the applying block's event types,
// shown as they are.
const ApplicationTypes = "gov.portico.application."

// caseFields are the fields of a case an agency's system sees in an event:
// those of its own case API (GET /api/v1/cases/{id}) and the fee. Not the
// applicant's account id, nor anything added to the case later until it is
// reviewed and listed here.
var caseFields = []string{"id", "reference", "agency_id", "service_id", "service_version", "state", "state_entered_at",
	"sla_due_at", "overdue", "waiting_on", "assignee", "opened_at", "updated_at", "closed_at", "fee"}

// Project is e as an agency's system may see it. Case events
// (gov.portico.case.*) keep their subject ("case:ID") and their data with
// the case reduced to caseFields: case.opened's data is the case;
// every other case event's is {"case": …, "detail": …}, the detail being
// what the case's timeline shows the agency (a transition's from/to, an
// assignment's staff ids, a payment's amount, a document's title; text
// people wrote is never in it, only its length). Application events
// (gov.portico.application.*) keep their subject and data, which name no
// person. Any other type keeps only its attributes: no subject, no data.
func Project(e events.Event) Entry {
	out := Entry{Position: e.Position, ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time.UTC(), SpecVersion: e.SpecVersion,
		AgencyID: e.AgencyID}
	if strings.HasPrefix(e.Type, ApplicationTypes) {
		// The applying block's events carry no personal data (the
		// application, its service and version, a submission's reference
		// and fee): as they are.
		out.Subject = e.Subject
		if len(e.Data) > 0 && json.Valid(e.Data) {
			out.Data, out.DataContentType = json.RawMessage(e.Data), "application/json"
		}
		return out
	}
	if !strings.HasPrefix(e.Type, CaseTypes) {
		return out
	}
	out.Subject = e.Subject
	if len(e.Data) == 0 {
		return out
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &top); err != nil {
		return out // not an object: nothing described to show
	}
	var data any
	if c, ok := top["case"]; ok {
		proj := map[string]any{}
		if cs, ok := caseOf(c); ok {
			proj["case"] = cs
		}
		if d, ok := top["detail"]; ok {
			proj["detail"] = d
		}
		data = proj
	} else {
		cs, ok := caseOf(e.Data)
		if !ok {
			return out
		}
		data = cs
	}
	b, err := json.Marshal(data)
	if err != nil {
		return out
	}
	out.Data, out.DataContentType = b, "application/json"
	return out
}

// caseOf reduces a case object to caseFields.
func caseOf(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil || c == nil {
		return nil, false
	}
	out := make(map[string]json.RawMessage, len(caseFields))
	for _, k := range caseFields {
		if v, ok := c[k]; ok {
			out[k] = v
		}
	}
	return out, true
}
