package reminder

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/portico-gov/portico/internal/events"
)

// Events the block emits when Config.Bus is set, in the transaction of the
// change. They carry no account: the agency, the kind, the due date and
// whether reminders were scheduled, enough to measure on-time compliance
// (the outcome block) without personal data.
const (
	// EventObligationSet: an obligation now falls due on a date (a new
	// one, one reopened, or one moved to another date or schedule).
	EventObligationSet = "gov.portico.obligation.set"
	// EventObligationClosed: an obligation was done (on_time says whether
	// by its due date, in the jurisdiction's zone) or cancelled; also the
	// old date of one that moved (as cancelled).
	EventObligationClosed = "gov.portico.obligation.closed"
)

// obligationEvent is the data of both events.
type obligationEvent struct {
	Agency string `json:"agency"`
	Kind   string `json:"kind"`
	Due    string `json:"due"`
	Status Status `json:"status"`
	// Reminded: the obligation had reminders scheduled before its due
	// date (its schedule was not NoReminders).
	Reminded bool `json:"reminded"`
	OnTime   bool `json:"on_time"`
}

func (s *Service) emitObligation(ctx context.Context, tx *sql.Tx, typ string, o Obligation, onTime bool) error {
	if s.cfg.Bus == nil {
		return nil
	}
	data, err := json.Marshal(obligationEvent{Agency: o.AgencyID, Kind: o.Kind, Due: o.Due.String(), Status: o.Status, Reminded: len(o.Schedule) > 0, OnTime: onTime})
	if err != nil {
		return err
	}
	return s.cfg.Bus.Emit(ctx, tx, events.Event{Source: "/portico/reminder", Type: typ, Subject: "obligation:" + o.ID, AgencyID: o.AgencyID, Data: data})
}

func (s *Service) emitSet(ctx context.Context, tx *sql.Tx, o Obligation) error {
	return s.emitObligation(ctx, tx, EventObligationSet, o, false)
}

// emitMoved tells of an update: an open obligation moved to another due
// date or schedule closes at the old one and is set at the new one; a
// closed one reopened is set again.
func (s *Service) emitMoved(ctx context.Context, tx *sql.Tx, prev, o Obligation) error {
	if prev.Status == StatusOpen {
		if prev.Due == o.Due && (len(prev.Schedule) > 0) == (len(o.Schedule) > 0) && prev.AgencyID == o.AgencyID {
			return nil
		}
		prev.Status = StatusCancelled
		if err := s.emitObligation(ctx, tx, EventObligationClosed, prev, false); err != nil {
			return err
		}
	}
	return s.emitSet(ctx, tx, o)
}

// emitClosed tells that o was done or cancelled today.
func (s *Service) emitClosed(ctx context.Context, tx *sql.Tx, o Obligation) error {
	onTime := o.Status == StatusDone && !o.Due.Before(s.Today())
	return s.emitObligation(ctx, tx, EventObligationClosed, o, onTime)
}
