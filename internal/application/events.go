package application

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/portico-gov/portico/internal/events"
)

// Event types of the applying block: the start and every end of an
// application, so that outcomes (completion rate, digital take-up) are
// counted from the event log rather than by scanning applications. They
// carry no personal data: the application, its service and version, and
// for a submission its case reference and fee.
const (
	// EventStarted: a person started a draft (Start made one).
	EventStarted = "gov.portico.application.started"
	// EventIneligible: the service told a person they are not eligible
	// before a draft was made. An end point where the service did its
	// job: it counts as completed, not as a drop-out.
	EventIneligible = "gov.portico.application.ineligible"
	// EventSubmitted: a draft became a submission and its case opened.
	EventSubmitted = "gov.portico.application.submitted"
	// EventWithdrawn: the person withdrew their draft.
	EventWithdrawn = "gov.portico.application.withdrawn"
	// EventExpired: a draft expired unchanged (a drop-out).
	EventExpired = "gov.portico.application.expired"
)

// EventTypes lists the block's event types.
func EventTypes() []string {
	return []string{EventStarted, EventIneligible, EventSubmitted, EventWithdrawn, EventExpired}
}

// eventData is what the block's events carry.
type eventData struct {
	ApplicationID string `json:"application_id,omitempty"`
	Service       string `json:"service"`
	Version       int    `json:"version"`
	Channel       string `json:"channel"`
	Reference     string `json:"reference,omitempty"`
	FeeAmount     *int64 `json:"fee_amount,omitempty"`
	FeeCurrency   string `json:"fee_currency,omitempty"`
}

// emit appends an event of the block in tx (nothing without a bus).
func (s *Service) emit(ctx context.Context, tx *sql.Tx, typ, agency string, d eventData) error {
	if s.cfg.Bus == nil {
		return nil
	}
	d.Channel = "online"
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	subject := "service:" + d.Service
	if d.ApplicationID != "" {
		subject = "application:" + d.ApplicationID
	}
	return s.cfg.Bus.Emit(ctx, tx, events.Event{Source: "/portico/application", Type: typ, Subject: subject, AgencyID: agency, Data: b})
}
