package outcome

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/events"
)

// Consumer is the events consumer that keeps the measures. It counts each
// event once (events.Once): a repeated delivery changes nothing. An event
// it cannot read (a malformed survey answer) is skipped rather than
// holding up every measure behind it.
func (s *Service) Consumer() events.Consumer {
	return events.Consumer{
		Name: ConsumerName,
		Types: []string{
			"gov.portico.application.started", "gov.portico.application.ineligible",
			"gov.portico.application.submitted", "gov.portico.application.withdrawn",
			"gov.portico.application.expired",
			"gov.portico.case.opened", "gov.portico.case.transitioned", "gov.portico.case.overdue",
			"gov.portico.case.info_requested", "gov.portico.case.closed",
			"gov.portico.payment.succeeded", "gov.portico.payment.failed",
			EventSatisfactionAnswered, EventOfflineRecorded, EventCostEntered,
			EventObligationSet, EventObligationClosed,
		},
		Handle: s.handle,
	}
}

// handle counts one event.
func (s *Service) handle(ctx context.Context, e events.Event) error {
	loc := s.Zone(ctx)
	return events.Once(ctx, s.db, ConsumerName, e.ID, s.clock.Now().UTC(), func(tx *sql.Tx) error {
		return s.count(ctx, tx, loc, e)
	})
}

// caseData is what casework's events carry: the case itself for
// "opened", {"case": …, "detail": …} for the others.
type caseData struct {
	ID        string     `json:"id"`
	AgencyID  string     `json:"agency_id"`
	ServiceID string     `json:"service_id"`
	SLADueAt  *time.Time `json:"sla_due_at"`
	OpenedAt  time.Time  `json:"opened_at"`
	ClosedAt  *time.Time `json:"closed_at"`
}

func (s *Service) count(ctx context.Context, tx *sql.Tx, loc *time.Location, e events.Event) error {
	day := DayOf(e.Time.In(loc))
	switch {
	case strings.HasPrefix(e.Type, "gov.portico.application."):
		var d struct {
			Service string `json:"service"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Service == "" {
			return nil
		}
		col := strings.TrimPrefix(e.Type, "gov.portico.application.")
		return s.add(ctx, tx, day, e.AgencyID, d.Service, map[string]int64{col: 1})

	case e.Type == "gov.portico.case.opened":
		var c caseData
		if json.Unmarshal(e.Data, &c) != nil || c.ID == "" {
			return nil
		}
		return s.markCase(ctx, tx, c.ID, c.SLADueAt != nil, false)

	case strings.HasPrefix(e.Type, "gov.portico.case."):
		var d struct {
			Case caseData `json:"case"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Case.ID == "" {
			return nil
		}
		c := d.Case
		switch e.Type {
		case "gov.portico.case.transitioned":
			return s.markCase(ctx, tx, c.ID, c.SLADueAt != nil, false)
		case "gov.portico.case.overdue":
			return s.markCase(ctx, tx, c.ID, true, true)
		case "gov.portico.case.info_requested":
			return s.add(ctx, tx, day, c.AgencyID, c.ServiceID, map[string]int64{"info_requests": 1})
		case "gov.portico.case.closed":
			return s.decide(ctx, tx, day, c, e.Time)
		}
		return nil

	case e.Type == "gov.portico.payment.succeeded" || e.Type == "gov.portico.payment.failed":
		return s.payment(ctx, tx, day, e)

	case e.Type == EventSatisfactionAnswered:
		var d struct {
			Service string `json:"service"`
			Agency  string `json:"agency"`
			Score   int    `json:"score"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Score < 1 || d.Score > 5 {
			return nil
		}
		agency := e.AgencyID
		if agency == "" {
			agency = d.Agency
		}
		return s.add(ctx, tx, day, agency, d.Service, map[string]int64{fmt.Sprintf("sat%d", d.Score): 1})

	case e.Type == EventOfflineRecorded:
		var r OfflineRecord
		if json.Unmarshal(e.Data, &r) != nil || r.Transactions < 1 || validChannel(r.Channel) != nil {
			return nil
		}
		return s.add(ctx, tx, r.Day, r.Agency, r.Service, map[string]int64{"offline_" + r.Channel: r.Transactions})

	case e.Type == EventCostEntered:
		var c Cost
		if json.Unmarshal(e.Data, &c) != nil || c.Month == "" {
			return nil
		}
		return s.cost(ctx, tx, c)

	case e.Type == EventObligationSet || e.Type == EventObligationClosed:
		return s.obligation(ctx, tx, e)
	}
	return nil
}

// markCase remembers that an open case has (had) an SLA, or went overdue.
// Flags only ever turn on.
func (s *Service) markCase(ctx context.Context, tx *sql.Tx, id string, sla, overdue bool) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outcome_open_cases (case_id, sla, overdue) VALUES ($1, $2, $3)
		ON CONFLICT (case_id) DO UPDATE SET sla = (outcome_open_cases.sla OR excluded.sla), overdue = (outcome_open_cases.overdue OR excluded.overdue)`,
		id, sla || overdue, overdue)
	if err != nil {
		return fmt.Errorf("outcome: case: %w", err)
	}
	return nil
}

// decide counts a closed case: a decision, whether it kept to its SLA, and
// its time from opening to closing in the histogram.
func (s *Service) decide(ctx context.Context, tx *sql.Tx, day Day, c caseData, at time.Time) error {
	var sla, overdue bool
	err := tx.QueryRowContext(ctx, `SELECT sla, overdue FROM outcome_open_cases WHERE case_id = $1`, c.ID).Scan(&sla, &overdue)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("outcome: decision: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outcome_open_cases WHERE case_id = $1`, c.ID); err != nil {
		return fmt.Errorf("outcome: decision: %w", err)
	}
	delta := map[string]int64{"decided": 1}
	if sla {
		delta["decided_with_sla"] = 1
		if !overdue {
			delta["decided_in_sla"] = 1
		}
	}
	if err := s.add(ctx, tx, day, c.AgencyID, c.ServiceID, delta); err != nil {
		return err
	}
	closed := at
	if c.ClosedAt != nil {
		closed = *c.ClosedAt
	}
	rows, err := s.rows(ctx, c.AgencyID, c.ServiceID)
	if err != nil {
		return err
	}
	for _, k := range rows {
		_, err = tx.ExecContext(ctx, `INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (day, agency_id, service_id, hours) DO UPDATE SET decisions = outcome_decision_times.decisions + 1`,
			string(day), k.agency, k.service, Bucket(closed.Sub(c.OpenedAt)))
		if err != nil {
			return fmt.Errorf("outcome: decision time: %w", err)
		}
	}
	return nil
}

// obligationData is what the reminder block's obligation events carry.
type obligationData struct {
	Agency   string `json:"agency"`
	Kind     string `json:"kind"`
	Due      string `json:"due"`    // YYYY-MM-DD
	Status   string `json:"status"` // closed: done or cancelled
	Reminded bool   `json:"reminded"`
	// OnTime: done on or before the due date.
	OnTime bool `json:"on_time"`
}

// obligation counts an obligation on its due day: one due when it is set;
// taken off again when it is cancelled (it no longer applies); on time
// when it is done by its due date.
func (s *Service) obligation(ctx context.Context, tx *sql.Tx, e events.Event) error {
	var o obligationData
	if json.Unmarshal(e.Data, &o) != nil {
		return nil
	}
	due, err := ParseDay(o.Due)
	if err != nil {
		return nil
	}
	agency := o.Agency
	if agency == "" {
		agency = e.AgencyID
	}
	delta := map[string]int64{}
	switch {
	case e.Type == EventObligationSet:
		delta["obligations_due"] = 1
		if o.Reminded {
			delta["obligations_due_reminded"] = 1
		}
	case o.Status == "cancelled":
		delta["obligations_due"] = -1
		if o.Reminded {
			delta["obligations_due_reminded"] = -1
		}
	case o.Status == "done" && o.OnTime:
		delta["obligations_on_time"] = 1
		if o.Reminded {
			delta["obligations_on_time_reminded"] = 1
		}
	default:
		return nil
	}
	return s.add(ctx, tx, due, agency, "", delta)
}

// All is the agency and service of roll-up rows: an agency's row for
// all its services (agency, All), the jurisdiction's (All, All). No
// agency or service id can be "*".
const All = "*"

// known are the counter columns add may touch (it builds SQL with them).
var known = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range columns {
		m[c] = true
	}
	return m
}()

// key is one row of the aggregates: (agency, service), where either may
// be All and the agency may be a level's roll-up (LevelKey).
type key struct{ agency, service string }

// LevelKey is the agency_id of a level's roll-up rows ("@county"): no
// agency id starts with "@".
func LevelKey(level string) string { return "@" + level }

// rows are the rows a count of (agency, service) goes to: the service's
// own row first, then the roll-ups a report reads as one row per day —
// the agency's (agency, All), the service's across agencies (All,
// service), the level's (@level, service) and (@level, All), and the
// jurisdiction's (All, All). A count for no one service (service "")
// has only the agency's, the level's and the jurisdiction's roll-ups.
func (s *Service) rows(ctx context.Context, agency, service string) ([]key, error) {
	level, err := s.dir.Level(ctx, agency)
	if err != nil {
		return nil, fmt.Errorf("outcome: level of %s: %w", agency, err)
	}
	out := []key{{agency, service}, {agency, All}}
	if service != "" {
		out = append(out, key{All, service})
	}
	if ValidLevel(level) {
		if service != "" {
			out = append(out, key{LevelKey(level), service})
		}
		out = append(out, key{LevelKey(level), All})
	}
	return append(out, key{All, All}), nil
}

// add adds delta to the counters of (day, agency, service), its roll-ups
// and the running totals, in tx.
func (s *Service) add(ctx context.Context, tx *sql.Tx, day Day, agency, service string, delta map[string]int64) error {
	rows, err := s.rows(ctx, agency, service)
	if err != nil {
		return err
	}
	return s.addTo(ctx, tx, day, rows, true, delta)
}

// addTo adds delta to the daily counters of rows and the completed
// transactions to their months, in tx. With own, rows[0] is a service's
// own row (never a roll-up): it alone keeps running totals.
func (s *Service) addTo(ctx context.Context, tx *sql.Tx, day Day, rows []key, own bool, delta map[string]int64) error {
	cols := make([]string, 0, len(delta))
	for _, c := range columns { // a fixed order: the same statement text each time
		if _, ok := delta[c]; ok {
			cols = append(cols, c)
		}
	}
	if len(cols) != len(delta) {
		return fmt.Errorf("outcome: unknown counter in %v", delta)
	}
	if n := delta["submitted"] + delta["ineligible"] + delta["offline_paper"] + delta["offline_phone"] + delta["offline_counter"]; n != 0 {
		if !own {
			return fmt.Errorf("outcome: transactions counted without their service's row")
		}
		if err := s.addMonthly(ctx, tx, day.Month(), rows, n); err != nil {
			return err
		}
	}
	type target struct{ table, keys, day, agency, service string }
	targets := make([]target, 0, len(rows)+1)
	for _, k := range rows {
		targets = append(targets, target{"outcome_daily", "day, agency_id, service_id", string(day), k.agency, k.service})
	}
	if own {
		targets = append(targets, target{"outcome_totals", "agency_id, service_id", "", rows[0].agency, rows[0].service})
	}
	for _, tg := range targets {
		args := []any{tg.agency, tg.service}
		ph := []string{"$1", "$2"}
		if tg.day != "" {
			args = []any{tg.day, tg.agency, tg.service}
			ph = append(ph, "$3")
		}
		sets := make([]string, len(cols))
		for i, c := range cols {
			if !known[c] {
				return fmt.Errorf("outcome: unknown counter %q", c)
			}
			args = append(args, delta[c])
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
			sets[i] = fmt.Sprintf("%s = %s.%s + excluded.%s", c, tg.table, c, c)
		}
		q := fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s`,
			tg.table, tg.keys, strings.Join(cols, ", "), strings.Join(ph, ", "), tg.keys, strings.Join(sets, ", "))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("outcome: count: %w", err)
		}
	}
	return nil
}

// addMonthly adds n completed transactions to rows' month. When the
// service's own month has a cost model, they also count as costed
// transactions in it and in every roll-up, so a roll-up's cost per
// transaction divides its services' costs by exactly those services'
// transactions.
func (s *Service) addMonthly(ctx context.Context, tx *sql.Tx, month string, rows []key, n int64) error {
	var costs int64
	err := tx.QueryRowContext(ctx, `INSERT INTO outcome_monthly (agency_id, service_id, month, transactions) VALUES ($1, $2, $3, $4)
		ON CONFLICT (agency_id, service_id, month) DO UPDATE SET transactions = outcome_monthly.transactions + excluded.transactions,
			costed_transactions = outcome_monthly.costed_transactions + CASE WHEN outcome_monthly.costs > 0 THEN excluded.transactions ELSE 0 END
		RETURNING costs`, rows[0].agency, rows[0].service, month, n).Scan(&costs)
	if err != nil {
		return fmt.Errorf("outcome: month: %w", err)
	}
	var costed int64
	if costs > 0 {
		costed = n
	}
	for _, k := range rows[1:] {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, costed_transactions) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (agency_id, service_id, month) DO UPDATE SET transactions = outcome_monthly.transactions + excluded.transactions,
				costed_transactions = outcome_monthly.costed_transactions + excluded.costed_transactions`,
			k.agency, k.service, month, n, costed); err != nil {
			return fmt.Errorf("outcome: month: %w", err)
		}
	}
	return nil
}

// cost applies an agency's cost of a service for a month: the model
// (outcome_costs) and the month's rows. The first cost of a month brings
// the service's transactions of that month into its roll-ups' costed
// transactions; a correction moves only the cost.
func (s *Service) cost(ctx context.Context, tx *sql.Tx, c Cost) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_costs (agency_id, service_id, month, amount, currency) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (agency_id, service_id, month) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
		c.Agency, c.Service, c.Month, c.Cents, c.Currency); err != nil {
		return fmt.Errorf("outcome: cost: %w", err)
	}
	rows, err := s.rows(ctx, c.Agency, c.Service)
	if err != nil {
		return err
	}
	var old, costs, transactions int64
	err = tx.QueryRowContext(ctx, `SELECT cost_cents, costs, transactions FROM outcome_monthly WHERE agency_id = $1 AND service_id = $2 AND month = $3`,
		c.Agency, c.Service, c.Month).Scan(&old, &costs, &transactions)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("outcome: cost: %w", err)
	}
	dCost, dCosts, dCosted := c.Cents-old, int64(0), int64(0)
	if costs == 0 {
		dCosts, dCosted = 1, transactions
	}
	for _, k := range rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_monthly (agency_id, service_id, month, cost_cents, costs, costed_transactions) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (agency_id, service_id, month) DO UPDATE SET cost_cents = outcome_monthly.cost_cents + excluded.cost_cents,
				costs = outcome_monthly.costs + excluded.costs, costed_transactions = outcome_monthly.costed_transactions + excluded.costed_transactions`,
			k.agency, k.service, c.Month, dCost, dCosts, dCosted); err != nil {
			return fmt.Errorf("outcome: cost: %w", err)
		}
	}
	return nil
}

// payment counts a payment that succeeded or failed: once in its
// agency's, level's and the jurisdiction's roll-ups, and in the row of
// each service it paid for (with that service's part of the amount), as
// the payment block's checkout items say.
func (s *Service) payment(ctx context.Context, tx *sql.Tx, day Day, e events.Event) error {
	var d struct {
		PaymentID string `json:"payment_id"`
		Amount    int64  `json:"amount"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return nil
	}
	counter := "payments_succeeded"
	if e.Type == "gov.portico.payment.failed" {
		counter = "payments_failed"
	}
	delta := func(amount int64) map[string]int64 {
		if counter == "payments_failed" {
			return map[string]int64{counter: 1}
		}
		return map[string]int64{counter: 1, "paid_minor": amount}
	}
	var shares []PaymentShare
	if d.PaymentID != "" {
		var err error
		if shares, err = s.dir.PaymentServices(ctx, d.PaymentID); err != nil {
			return fmt.Errorf("outcome: payment %s: %w", d.PaymentID, err)
		}
	}
	// Each service's part, in the order the items came.
	var order []string
	parts := map[string]int64{}
	for _, sh := range shares {
		if _, ok := parts[sh.Service]; !ok {
			order = append(order, sh.Service)
		}
		parts[sh.Service] += sh.Amount
	}
	if len(order) == 0 {
		order, parts[""] = []string{""}, d.Amount
	}
	all, err := s.rows(ctx, e.AgencyID, "")
	if err != nil {
		return err
	}
	// The agency's own row for no service is all[0]; the roll-ups follow.
	rollups := all[1:]
	for _, svc := range order {
		own, err := s.rows(ctx, e.AgencyID, svc)
		if err != nil {
			return err
		}
		// Only the service's own rows: its row, and its rows across
		// agencies and in its level (not the agency's, level's or
		// jurisdiction's, counted once below).
		var rows []key
		for _, k := range own {
			if k.service != All || k == own[0] {
				rows = append(rows, k)
			}
		}
		if err := s.addTo(ctx, tx, day, rows, true, delta(parts[svc])); err != nil {
			return err
		}
	}
	return s.addTo(ctx, tx, day, rollups, false, delta(d.Amount))
}
