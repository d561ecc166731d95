package outcome

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
)

// OfflineRecord is a number of transactions of a service that staff did on
// paper, by phone or at the counter on a day.
type OfflineRecord struct {
	ID           string `json:"id"`
	Agency       string `json:"agency"`
	Service      string `json:"service"`
	Channel      string `json:"channel"`
	Day          Day    `json:"day"`
	Transactions int64  `json:"transactions"`
}

// Cost is an agency's whole cost of providing a service (every channel:
// staff, IT, accommodation, postage, overheads) for a month, in cents.
type Cost struct {
	ID       string `json:"id"`
	Agency   string `json:"agency"`
	Service  string `json:"service"`
	Month    string `json:"month"` // YYYY-MM
	Cents    int64  `json:"cents"`
	Currency string `json:"currency"`
}

// MaxTransactions bounds one record: more than this in a day is a typing
// mistake, not a count.
const MaxTransactions = 1_000_000

// MaxCostCents bounds a month's cost (ten billion dollars).
const MaxCostCents = 1_000_000_000_000

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

func validChannel(c string) error {
	for _, ch := range Channels() {
		if c == ch {
			return nil
		}
	}
	return platform.Invalid("channel", "outcome.error.channel")
}

// RecordOffline stores staff's record of offline transactions, audits it
// and emits EventOfflineRecorded in one transaction. Field errors carry
// message keys of the catalogues ("outcome.error.…").
func (s *Service) RecordOffline(ctx context.Context, by platform.Actor, r OfflineRecord) (OfflineRecord, error) {
	if err := MayRecord(by, r.Agency); err != nil {
		return OfflineRecord{}, err
	}
	r.Service = strings.TrimSpace(r.Service)
	if !slugRE.MatchString(r.Service) {
		return OfflineRecord{}, platform.Invalid("service", "outcome.error.service")
	}
	if err := validChannel(r.Channel); err != nil {
		return OfflineRecord{}, err
	}
	if r.Day == "" {
		return OfflineRecord{}, platform.Invalid("day", "outcome.error.day")
	}
	if r.Day > s.Today(ctx) {
		return OfflineRecord{}, platform.Invalid("day", "outcome.error.day.future")
	}
	if r.Transactions < 1 || r.Transactions > MaxTransactions {
		return OfflineRecord{}, platform.Invalid("transactions", "outcome.error.transactions")
	}
	r.ID = uuid.Must(uuid.NewV7()).String()
	now := s.clock.Now().UTC()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_assisted (id, agency_id, service_id, channel, day, transactions, recorded_by, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ID, r.Agency, r.Service, r.Channel, string(r.Day), r.Transactions, by.String(), now); err != nil {
			return fmt.Errorf("outcome: record: %w", err)
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "outcome.offline_record", Subject: "outcome_offline:" + r.ID, AgencyID: r.Agency,
			Detail: map[string]any{"service": r.Service, "channel": r.Channel, "day": r.Day, "transactions": r.Transactions}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventOfflineRecorded, r.Agency, "outcome_offline:"+r.ID, r)
	})
	if err != nil {
		return OfflineRecord{}, err
	}
	return r, nil
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// EnterCost stores an agency's cost of a service for a month (the latest
// entry counts), audits it and emits EventCostEntered in one transaction.
func (s *Service) EnterCost(ctx context.Context, by platform.Actor, c Cost) (Cost, error) {
	if err := MayEnterCost(by, c.Agency); err != nil {
		return Cost{}, err
	}
	c.Service = strings.TrimSpace(c.Service)
	if !slugRE.MatchString(c.Service) {
		return Cost{}, platform.Invalid("service", "outcome.error.service")
	}
	if !monthRE.MatchString(c.Month) {
		return Cost{}, platform.Invalid("month", "outcome.error.month")
	}
	if c.Cents < 0 || c.Cents > MaxCostCents {
		return Cost{}, platform.Invalid("amount", "outcome.error.amount")
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if c.Currency != "USD" {
		return Cost{}, platform.Invalid("amount", "outcome.error.currency")
	}
	c.ID = uuid.Must(uuid.NewV7()).String()
	now := s.clock.Now().UTC()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_cost_entries (id, agency_id, service_id, month, amount, currency, entered_by, entered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.Agency, c.Service, c.Month, c.Cents, c.Currency, by.String(), now); err != nil {
			return fmt.Errorf("outcome: cost: %w", err)
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "outcome.cost_entered", Subject: "outcome_cost:" + c.ID, AgencyID: c.Agency,
			Detail: map[string]any{"service": c.Service, "month": c.Month, "cents": c.Cents, "currency": c.Currency}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventCostEntered, c.Agency, "outcome_cost:"+c.ID, c)
	})
	if err != nil {
		return Cost{}, err
	}
	return c, nil
}

func (s *Service) emit(ctx context.Context, tx *sql.Tx, typ, agency, subject string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/outcome", Type: typ, Subject: subject, AgencyID: agency, Data: data})
}
