package outcome

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/portico-gov/portico/internal/platform"
)

// Scope narrows the measures: one agency, one service, or both; "" for
// every one (the whole jurisdiction).
type Scope struct {
	Agency  string
	Service string
}

// Query asks for the measures of a scope over a range of days, grouped by
// period.
type Query struct {
	Scope
	Range
	Period Period
}

// Figures are the measures of some days: the counters, the decision-time
// histogram and the cost of the months wholly inside those days.
type Figures struct {
	Counts
	Decisions Histogram
	// CostCents is the cost of the (agency, service, months) that have a
	// cost model and lie wholly in the days; CostTransactions is their
	// transactions.
	CostCents, CostTransactions int64
	CostMonths                  int // how many (agency, service, month) had a cost
}

// CostPerTransaction is the cost of the months with a cost model divided
// by those months' transactions; no data when there is none.
func (f Figures) CostPerTransaction() Money {
	if f.CostMonths == 0 {
		return Money{}
	}
	return CostPerTransaction(f.CostCents, f.CostTransactions)
}

// MedianHours is the median time to decision (the upper bound of its
// histogram bucket, in hours).
func (f Figures) MedianHours() (int, bool) { return f.Decisions.Percentile(0.5) }

// P90Hours is the 90th percentile of the time to decision.
func (f Figures) P90Hours() (int, bool) { return f.Decisions.Percentile(0.9) }

// PeriodFigures are the figures of one period of a report.
type PeriodFigures struct {
	Start, End Day // both included; clipped to the report's range
	Figures
}

// Report is the measures of a query: the whole range and each period.
type Report struct {
	Query
	Total   Figures
	Periods []PeriodFigures
}

// Report computes q's measures from the pre-aggregated rows. It reads no
// personal data and checks no actor: the figures are public
// (/performance); the console checks MayRead first (AgencyReport).
func (s *Service) Report(ctx context.Context, q Query) (Report, error) {
	if err := q.Range.Check(); err != nil {
		return Report{}, err
	}
	if q.Period == "" {
		q.Period = PeriodMonth
	}
	where, args := q.where()
	days := map[Day]Counts{}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT day, `+sums(columns)+` FROM outcome_daily WHERE `+where+` GROUP BY day`, args...)
	if err != nil {
		return Report{}, fmt.Errorf("outcome: report: %w", err)
	}
	err = scanRows(rows, func(r *sql.Rows) error {
		var d string
		var c Counts
		dst := []any{&d}
		for _, f := range c.fields() {
			dst = append(dst, f)
		}
		if err := r.Scan(dst...); err != nil {
			return err
		}
		days[Day(d)] = c
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("outcome: report: %w", err)
	}
	hist := map[Day]Histogram{}
	rows, err = s.db.Read().QueryContext(ctx, `SELECT day, hours, SUM(decisions) FROM outcome_decision_times WHERE `+where+` GROUP BY day, hours`, args...)
	if err != nil {
		return Report{}, fmt.Errorf("outcome: report: %w", err)
	}
	err = scanRows(rows, func(r *sql.Rows) error {
		var d string
		var h int
		var n int64
		if err := r.Scan(&d, &h, &n); err != nil {
			return err
		}
		if hist[Day(d)] == nil {
			hist[Day(d)] = Histogram{}
		}
		hist[Day(d)][h] += n
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("outcome: report: %w", err)
	}
	costs, err := s.costs(ctx, q)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Query: q, Total: sum(days, hist, costs, q.From, q.To)}
	for start := q.Period.Start(q.From); start <= q.To; start = q.Period.Next(start) {
		from, to := start, q.Period.Next(start).AddDays(-1)
		if from < q.From {
			from = q.From
		}
		if to > q.To {
			to = q.To
		}
		rep.Periods = append(rep.Periods, PeriodFigures{Start: from, End: to, Figures: sum(days, hist, costs, from, to)})
	}
	return rep, nil
}

// AgencyReport is Report for the console: by must be allowed to read the
// agency's measures (every agency's, for a query of all of them).
func (s *Service) AgencyReport(ctx context.Context, by platform.Actor, q Query) (Report, error) {
	if q.Agency == "" && !by.PlatformAdmin {
		return Report{}, platform.Errorf(platform.CodeForbidden, "only platform administrators see every agency")
	}
	if err := MayRead(by, q.Agency); err != nil {
		return Report{}, err
	}
	return s.Report(ctx, q)
}

// where is the report's filter on day, agency and service ($1, $2, …):
// the jurisdiction and an agency as a whole read their roll-up rows (one
// per day), a service its own rows.
func (q Query) where() (string, []any) {
	conds := []string{"day >= $1", "day <= $2"}
	args := []any{string(q.From), string(q.To)}
	agency, service := q.Agency, q.Service
	if agency == "" && service == "" {
		agency = All
	}
	if service == "" {
		service = All
	}
	if agency != "" {
		args = append(args, agency)
		conds = append(conds, fmt.Sprintf("agency_id = $%d", len(args)))
	} else {
		conds = append(conds, "agency_id <> '*'")
	}
	args = append(args, service)
	conds = append(conds, fmt.Sprintf("service_id = $%d", len(args)))
	return strings.Join(conds, " AND "), args
}

func sums(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = "COALESCE(SUM(" + c + "), 0)"
	}
	return strings.Join(out, ", ")
}

func scanRows(rows *sql.Rows, fn func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// monthCost is the cost of one (agency, service, month) and that month's
// transactions of the service.
type monthCost struct {
	month        string
	cents        int64
	transactions int64
}

// costs reads the cost models of the months the query touches, each with
// its service's transactions in that month (outcome_monthly, by primary
// key): a few rows per service and month, never the days.
func (s *Service) costs(ctx context.Context, q Query) ([]monthCost, error) {
	args := []any{q.From.Month(), q.To.Month()}
	conds := []string{"c.month >= $1", "c.month <= $2"}
	if q.Agency != "" {
		args = append(args, q.Agency)
		conds = append(conds, fmt.Sprintf("c.agency_id = $%d", len(args)))
	}
	if q.Service != "" {
		args = append(args, q.Service)
		conds = append(conds, fmt.Sprintf("c.service_id = $%d", len(args)))
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT c.month, c.amount, COALESCE(m.transactions, 0) FROM outcome_costs c
		LEFT JOIN outcome_monthly m ON m.agency_id = c.agency_id AND m.service_id = c.service_id AND m.month = c.month
		WHERE `+strings.Join(conds, " AND "), args...)
	if err != nil {
		return nil, fmt.Errorf("outcome: costs: %w", err)
	}
	var out []monthCost
	err = scanRows(rows, func(r *sql.Rows) error {
		var m monthCost
		if err := r.Scan(&m.month, &m.cents, &m.transactions); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outcome: costs: %w", err)
	}
	return out, nil
}

// sum adds up the days from..to, and the costs of the months wholly
// inside them.
func sum(days map[Day]Counts, hist map[Day]Histogram, costs []monthCost, from, to Day) Figures {
	f := Figures{Decisions: Histogram{}}
	for d := from; d <= to; d = d.AddDays(1) {
		if c, ok := days[d]; ok {
			f.Add(c)
		}
		if h, ok := hist[d]; ok {
			f.Decisions.Add(h)
		}
	}
	for _, m := range costs {
		first := Day(m.month + "-01")
		last := PeriodMonth.Next(first).AddDays(-1)
		if first < from || last > to {
			continue
		}
		f.CostCents += m.cents
		f.CostTransactions += m.transactions
		f.CostMonths++
	}
	return f
}

// AgencyFigures are one agency's figures, for the side-by-side view.
type AgencyFigures struct {
	Agency string
	Figures
}

// ByAgency is every agency's figures over r, side by side: for platform
// administrators only.
func (s *Service) ByAgency(ctx context.Context, by platform.Actor, r Range) ([]AgencyFigures, error) {
	if !(by.Kind == platform.ActorStaff && by.PlatformAdmin) {
		if !by.SignedIn() {
			return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
		}
		return nil, platform.Errorf(platform.CodeForbidden, "only platform administrators see every agency")
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT agency_id, `+sums(columns)+` FROM outcome_daily WHERE day >= $1 AND day <= $2 AND service_id = '*' AND agency_id <> '*' GROUP BY agency_id ORDER BY agency_id`, string(r.From), string(r.To))
	if err != nil {
		return nil, fmt.Errorf("outcome: by agency: %w", err)
	}
	var out []AgencyFigures
	err = scanRows(rows, func(rs *sql.Rows) error {
		var a AgencyFigures
		dst := []any{&a.Agency}
		for _, f := range a.fields() {
			dst = append(dst, f)
		}
		if err := rs.Scan(dst...); err != nil {
			return err
		}
		a.Decisions = Histogram{}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outcome: by agency: %w", err)
	}
	idx := map[string]int{}
	for i, a := range out {
		idx[a.Agency] = i
	}
	rows, err = s.db.Read().QueryContext(ctx, `SELECT agency_id, hours, SUM(decisions) FROM outcome_decision_times WHERE day >= $1 AND day <= $2 AND service_id = '*' AND agency_id <> '*' GROUP BY agency_id, hours`, string(r.From), string(r.To))
	if err != nil {
		return nil, fmt.Errorf("outcome: by agency: %w", err)
	}
	err = scanRows(rows, func(rs *sql.Rows) error {
		var ag string
		var h int
		var n int64
		if err := rs.Scan(&ag, &h, &n); err != nil {
			return err
		}
		if i, ok := idx[ag]; ok {
			out[i].Decisions[h] += n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outcome: by agency: %w", err)
	}
	return out, nil
}

// Services lists the services that have measures in scope's agency (every
// agency for ""), in name order.
func (s *Service) Services(ctx context.Context, agency string) ([]string, error) {
	q := `SELECT DISTINCT service_id FROM outcome_totals WHERE service_id <> ''`
	var args []any
	if agency != "" {
		q += ` AND agency_id = $1`
		args = append(args, agency)
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY service_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("outcome: services: %w", err)
	}
	var out []string
	err = scanRows(rows, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}
