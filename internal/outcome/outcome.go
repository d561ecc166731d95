// Package outcome is the block that measures how well services serve
// people (issue 13): the four GOV.UK service KPIs (digital take-up,
// completion rate, user satisfaction, cost per transaction) and time to
// decision, SLA adherence, requests for more information per case and
// on-time compliance with obligations.
//
// Contract:
//   - The measures are computed from the event log by one named consumer
//     ("outcomes"). Each event is counted once (events.Once) into counters
//     per calendar day (in the jurisdiction's zone), agency and service
//     (outcome_daily) and a histogram of decision times per day
//     (outcome_decision_times). Weeks and months are sums of days. Reading
//     a dashboard or /performance sums those rows; it never reads a case,
//     an application or a payment.
//   - Staff record transactions done on paper, by phone or at the counter
//     (RecordOffline) and an agency enters its cost of a service per month
//     (EnterCost): both are authorized (MayRecord, MayEnterCost), audited
//     and emit an event in the same transaction, which the consumer counts
//     like any other.
//   - A measure with no data (a zero denominator) is NoData, never 0% or
//     100%: Ratio.Valid says so and every page shows "no data".
//   - The figures are aggregates without personal data: the public page
//     shows them to anyone.
package outcome

import (
	"context"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Events the block emits and consumes of its own.
const (
	// EventOfflineRecorded: staff recorded transactions done on paper, by
	// phone or at the counter. Data: OfflineRecord.
	EventOfflineRecorded = "gov.portico.outcome.offline_recorded"
	// EventCostEntered: an agency entered its cost of a service for a
	// month. Data: Cost.
	EventCostEntered = "gov.portico.outcome.cost_entered"
)

// EventSatisfactionAnswered is the survey's event (the surveys block emits
// it at every end point): data {"service", "agency", "after", "score"},
// score 1 (very dissatisfied) … 5 (very satisfied).
const EventSatisfactionAnswered = "gov.portico.satisfaction.answered"

// Obligation events (the reminder block emits them): an obligation set
// with a due date, and one closed (done or cancelled).
const (
	EventObligationSet    = "gov.portico.obligation.set"
	EventObligationClosed = "gov.portico.obligation.closed"
)

// ConsumerName keys the consumer's cursor and receipts: never change it.
const ConsumerName = "outcomes"

// Channels of transactions staff record (not digital).
const (
	ChannelPaper   = "paper"
	ChannelPhone   = "phone"
	ChannelCounter = "counter"
)

// Channels lists the offline channels in the order pages show them.
func Channels() []string { return []string{ChannelPaper, ChannelPhone, ChannelCounter} }

// Levels of government an agency's jurisdiction can be (the tenancy
// block's kinds): measures are also rolled up per level, so a report of
// "every county agency" reads one row per day.
const (
	LevelState  = "state"
	LevelCounty = "county"
	LevelCity   = "city"
	LevelTown   = "town"
)

// Levels lists the levels in the order pages show them.
func Levels() []string { return []string{LevelState, LevelCounty, LevelCity, LevelTown} }

// ValidLevel reports whether l is one of Levels.
func ValidLevel(l string) bool {
	for _, v := range Levels() {
		if l == v {
			return true
		}
	}
	return false
}

// PaymentShare is the part of a payment that paid for one service: a
// case's fee counts for the case's service; an amount owed for the
// service that set it. Service "" is a payment for no service (an
// agency's own API payment, an obligation no case set).
type PaymentShare struct {
	Service string
	Amount  int64
}

// Directory is what the consumer asks other blocks about an event, by
// id: the level of government of an agency's jurisdiction ("" when the
// agency is unknown), and which services a payment paid for. It reads
// no personal data.
type Directory interface {
	Level(ctx context.Context, agency string) (string, error)
	PaymentServices(ctx context.Context, paymentID string) ([]PaymentShare, error)
}

// Service is the outcome block.
type Service struct {
	db    *storage.DB
	audit *audit.Log
	bus   *events.Bus
	clock platform.Clock
	zone  func(context.Context) *time.Location
	dir   Directory
}

// New returns the block. zone is the jurisdiction's time zone (a day of
// the measures is a calendar day there); dir answers the consumer's
// questions about agencies and payments. Every argument is required.
func New(db *storage.DB, log *audit.Log, bus *events.Bus, clock platform.Clock, zone func(context.Context) *time.Location, dir Directory) (*Service, error) {
	if err := platform.Required("outcome",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "zone", Missing: zone == nil},
		platform.Dep{Name: "directory", Missing: dir == nil}); err != nil {
		return nil, err
	}
	return &Service{db: db, audit: log, bus: bus, clock: clock, zone: zone, dir: dir}, nil
}

// Zone is the time zone days are counted in.
func (s *Service) Zone(ctx context.Context) *time.Location {
	if loc := s.zone(ctx); loc != nil {
		return loc
	}
	return time.UTC
}

// Today is the current calendar day in the zone.
func (s *Service) Today(ctx context.Context) Day {
	return DayOf(s.clock.Now().In(s.Zone(ctx)))
}
