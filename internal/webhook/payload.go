package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
)

// cloudEvent is the structured-mode CloudEvents 1.0 body a plug-in gets.
type cloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	Agency          string    `json:"porticoagency,omitempty"`
	Data            any       `json:"data,omitempty"`
}

// CaseData is the data of every gov.portico.case.* event a plug-in gets:
// the case without who works on it or who applied (the applicant is the
// plug-in's pairwise subject, as in its call tokens), and the few facts
// of the event in Detail, by type (caseDetail). The log's own event data
// (the whole case and the event's detail) never leaves Portico.
type CaseData struct {
	Case struct {
		ID             string     `json:"id"`
		Reference      string     `json:"reference"`
		Service        string     `json:"service"`
		ServiceVersion int        `json:"service_version"`
		State          string     `json:"state"`
		Overdue        bool       `json:"overdue"`
		WaitingOn      string     `json:"waiting_on,omitempty"`
		OpenedAt       time.Time  `json:"opened_at"`
		ClosedAt       *time.Time `json:"closed_at,omitempty"`
	} `json:"case"`
	// Person is the applicant's pairwise subject for this plug-in.
	Person string         `json:"person,omitempty"`
	Detail map[string]any `json:"detail"`
}

// caseDetail lists, per case event type, the keys of the event's detail a
// plug-in gets (docs/plugins.md, "Events"). Messages, notes, staff and
// amounts' payers are never among them.
var caseDetail = map[string][]string{
	"gov.portico.case.opened":            nil,
	"gov.portico.case.transitioned":      {"transition", "from", "to"},
	"gov.portico.case.closed":            nil,
	"gov.portico.case.assigned":          nil, // who is not said; "assigned" is
	"gov.portico.case.info_requested":    nil,
	"gov.portico.case.info_received":     nil,
	"gov.portico.case.messaged":          nil,
	"gov.portico.case.overdue":           {"due"},
	"gov.portico.case.staff_notified":    nil,
	"gov.portico.case.payment_requested": {"amount", "currency", "due"},
	"gov.portico.case.payment_recorded":  {"amount"},
	"gov.portico.case.document_issued":   {"document", "valid_until"},
	"gov.portico.case.reminder_set":      {"reminder", "due"},
}

// logCase is the case as casework writes it into the log's event data.
type logCase struct {
	ID             string     `json:"id"`
	Reference      string     `json:"reference"`
	ServiceID      string     `json:"service_id"`
	ServiceVersion int        `json:"service_version"`
	AccountID      string     `json:"account_id"`
	State          string     `json:"state"`
	Overdue        bool       `json:"overdue"`
	WaitingOn      string     `json:"waiting_on"`
	OpenedAt       time.Time  `json:"opened_at"`
	ClosedAt       *time.Time `json:"closed_at"`
}

// body is the CloudEvent sent to pluginID for e.
func (s *Service) body(pluginID string, e events.Event) ([]byte, error) {
	ce := cloudEvent{SpecVersion: events.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		Time: e.Time.UTC(), Agency: e.AgencyID}
	if strings.HasPrefix(e.Type, "gov.portico.case.") && len(e.Data) > 0 {
		data, err := s.caseData(pluginID, e)
		if err != nil {
			return nil, err
		}
		ce.Data, ce.DataContentType = data, "application/json"
	}
	// The applying block's events carry no personal data (the application,
	// its service and version, a submission's reference and fee): as
	// they are.
	if strings.HasPrefix(e.Type, "gov.portico.application.") && len(e.Data) > 0 {
		ce.Data, ce.DataContentType = json.RawMessage(e.Data), "application/json"
	}
	// A consent event goes only to the plug-in it names (FanOut), and the
	// consent block writes it for that plug-in: its pairwise subject for
	// the person, never the account id.
	if strings.HasPrefix(e.Type, consentPrefix) && len(e.Data) > 0 {
		ce.Data, ce.DataContentType = json.RawMessage(e.Data), "application/json"
	}
	// Events of other types carry their attributes only, until their
	// payload is designed and documented.
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("webhook: event %s: %w", e.ID, err)
	}
	return b, nil
}

const consentPrefix = "gov.portico.consent."

// consentPlugin is the plug-in a consent event is about ("" for events of
// other types: every subscriber); ok is false for a consent event that
// names none. A person's consent to share data with one plug-in is none
// of another plug-in's business, even one the same agency enabled.
func consentPlugin(e events.Event) (plugin string, ok bool) {
	if !strings.HasPrefix(e.Type, consentPrefix) {
		return "", true
	}
	var d struct {
		Plugin string `json:"plugin"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Plugin == "" {
		return "", false
	}
	return d.Plugin, true
}

func (s *Service) caseData(pluginID string, e events.Event) (*CaseData, error) {
	// casework writes either the case itself (opened) or {case, detail}.
	var wrapped struct {
		Case   *logCase       `json:"case"`
		Detail map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(e.Data, &wrapped); err != nil {
		return nil, fmt.Errorf("webhook: event %s: data: %w", e.ID, err)
	}
	c := wrapped.Case
	if c == nil {
		c = new(logCase)
		if err := json.Unmarshal(e.Data, c); err != nil {
			return nil, fmt.Errorf("webhook: event %s: data: %w", e.ID, err)
		}
	}
	var out CaseData
	out.Case.ID, out.Case.Reference, out.Case.Service, out.Case.ServiceVersion = c.ID, c.Reference, c.ServiceID, c.ServiceVersion
	out.Case.State, out.Case.Overdue, out.Case.WaitingOn, out.Case.OpenedAt = c.State, c.Overdue, c.WaitingOn, c.OpenedAt.UTC()
	if c.ClosedAt != nil {
		t := c.ClosedAt.UTC()
		out.Case.ClosedAt = &t
	}
	if c.AccountID != "" {
		out.Person = gateway.PairwiseSubject(s.box, pluginID, c.AccountID)
	}
	out.Detail = map[string]any{}
	for _, k := range caseDetail[e.Type] {
		if v, ok := wrapped.Detail[k]; ok {
			out.Detail[k] = v
		}
	}
	if e.Type == "gov.portico.case.assigned" {
		to, _ := wrapped.Detail["to"].(string)
		out.Detail["assigned"] = to != ""
	}
	return &out, nil
}
