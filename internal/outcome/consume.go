package outcome

import (
	"context"
	"database/sql"
	"encoding/json"
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
		var d struct {
			Amount int64 `json:"amount"`
		}
		if json.Unmarshal(e.Data, &d) != nil {
			return nil
		}
		if e.Type == "gov.portico.payment.failed" {
			return s.add(ctx, tx, day, e.AgencyID, "", map[string]int64{"payments_failed": 1})
		}
		return s.add(ctx, tx, day, e.AgencyID, "", map[string]int64{"payments_succeeded": 1, "paid_minor": d.Amount})

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
		_, err := tx.ExecContext(ctx, `INSERT INTO outcome_costs (agency_id, service_id, month, amount, currency) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (agency_id, service_id, month) DO UPDATE SET amount = excluded.amount, currency = excluded.currency`,
			c.Agency, c.Service, c.Month, c.Cents, c.Currency)
		if err != nil {
			return fmt.Errorf("outcome: cost: %w", err)
		}
		return nil

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
	for _, key := range [][2]string{{c.AgencyID, c.ServiceID}, {c.AgencyID, All}, {All, All}} {
		_, err = tx.ExecContext(ctx, `INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions) VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (day, agency_id, service_id, hours) DO UPDATE SET decisions = outcome_decision_times.decisions + 1`,
			string(day), key[0], key[1], Bucket(closed.Sub(c.OpenedAt)))
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

// add adds delta to the counters of (day, agency, service) and to the
// running totals, in tx.
func (s *Service) add(ctx context.Context, tx *sql.Tx, day Day, agency, service string, delta map[string]int64) error {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcome_monthly (agency_id, service_id, month, transactions) VALUES ($1, $2, $3, $4)
			ON CONFLICT (agency_id, service_id, month) DO UPDATE SET transactions = outcome_monthly.transactions + excluded.transactions`,
			agency, service, day.Month(), n); err != nil {
			return fmt.Errorf("outcome: count: %w", err)
		}
	}
	// The row of the service, and the agency's and the jurisdiction's
	// roll-ups (All), so a report of an agency or of everything reads one
	// row per day; the running totals only per service.
	type target struct{ table, keys, day, agency, service string }
	targets := []target{
		{"outcome_daily", "day, agency_id, service_id", string(day), agency, service},
		{"outcome_daily", "day, agency_id, service_id", string(day), agency, All},
		{"outcome_daily", "day, agency_id, service_id", string(day), All, All},
		{"outcome_totals", "agency_id, service_id", "", agency, service},
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
