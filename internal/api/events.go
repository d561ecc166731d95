package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portico-gov/portico/internal/eventfeed"
	"github.com/portico-gov/portico/internal/platform"
)

// FeedEvent is one event of the caller's agency: its CloudEvents 1.0
// attributes (structured-mode JSON, as webhooks and the NATS stream carry
// them), its data as projected for the agency, and its position in the
// log.
type FeedEvent struct {
	Position        int64           `json:"position" jsonschema:"minimum=1"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	SpecVersion     string          `json:"specversion"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Agency          string          `json:"porticoagency"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// EventPage is one read of the events feed.
type EventPage struct {
	Events []FeedEvent `json:"events"`
	// Next is the cursor for the next read (the last event's position;
	// the same cursor when there were none).
	Next int64 `json:"next" jsonschema:"minimum=0"`
}

// Feed is what the events operation needs of the events feed block,
// which decides who reads what and audits the read.
type Feed interface {
	Read(ctx context.Context, actor platform.Actor, after int64, limit int) (eventfeed.Page, error)
}

// Events serves GET /api/v1/events.
type Events struct {
	Feed Feed
}

// Register adds the events operation to a.
func (h *Events) Register(a *API) {
	a.Handle(Op{
		Method: http.MethodGet, Path: "/api/v1/events", ID: "listEvents", Tag: "events", Auth: AgencySystem, Scope: ScopeEvents,
		Summary: "The caller's agency's events, in order, after a cursor",
		Description: "For agency systems that cannot receive webhooks: a client registered for the caller's agency with the " +
			"events.read scope reads, with its own client_credentials token, the events whose porticoagency is that agency, " +
			"in log order, after the cursor `after`. Pass the page's `next` as `after` to read on; an empty page returns the " +
			"same cursor. Case events (gov.portico.case.*) carry the case as the agency's case API shows it, never the " +
			"applicant's account id; other types carry only their attributes. Reads that return events are audited.",
		Params: []Param{
			{Name: "after", In: "query", Type: "integer", Description: "Return events after this position (default 0: from the start)"},
			{Name: "limit", In: "query", Type: "integer", Description: fmt.Sprintf("At most this many events, 1 to %d (default %d)", eventfeed.MaxLimit, eventfeed.DefaultLimit)},
		},
		Response: EventPage{},
	}, h.list)
}

func (h *Events) list(r *http.Request, _ Principal) (any, error) {
	after, limit, err := ParseEventsCursor(r.URL.Query())
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	page, err := h.Feed.Read(ctx, platform.ActorFrom(ctx), after, limit)
	if err != nil {
		return nil, err
	}
	out := EventPage{Events: make([]FeedEvent, 0, len(page.Events)), Next: page.Next}
	for _, e := range page.Events {
		out.Events = append(out.Events, FeedEvent{Position: e.Position, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
			Time: e.Time, SpecVersion: e.SpecVersion, DataContentType: e.DataContentType, Agency: e.AgencyID, Data: e.Data})
	}
	return out, nil
}

// ParseEventsCursor reads `after` (a position from 0; default 0) and
// `limit` (1 to eventfeed.MaxLimit; default eventfeed.DefaultLimit) from a
// query. Each must be plain decimal digits, given at most once; anything
// else is an invalid-input error naming the parameter and what was sent.
func ParseEventsCursor(q url.Values) (after int64, limit int, err error) {
	after, limit = 0, eventfeed.DefaultLimit
	one := func(name string) (string, error) {
		vs := q[name]
		switch len(vs) {
		case 0:
			return "", nil
		case 1:
			return vs[0], nil
		}
		return "", platform.Invalid(name, fmt.Sprintf("give %s once, not %d times", name, len(vs)))
	}
	s, err := one("after")
	if err != nil {
		return 0, 0, err
	}
	if s != "" {
		n, ok := digits(s, 19)
		if !ok {
			return 0, 0, platform.Invalid("after", fmt.Sprintf("after must be a position, a whole number from 0 (the next of the previous page); got %q", clip(s)))
		}
		after = n
	}
	if s, err = one("limit"); err != nil {
		return 0, 0, err
	}
	if s != "" {
		n, ok := digits(s, 4)
		if !ok || n < 1 || n > eventfeed.MaxLimit {
			return 0, 0, platform.Invalid("limit", fmt.Sprintf("limit must be a whole number from 1 to %d; got %q", eventfeed.MaxLimit, clip(s)))
		}
		limit = int(n)
	}
	return after, limit, nil
}

// digits parses s as at most max decimal digits (no sign, no spaces)
// fitting an int64.
func digits(s string, max int) (int64, bool) {
	if s == "" || len(s) > max {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// clip shortens what a client sent for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
