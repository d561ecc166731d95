package outcome

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/portico-gov/portico/internal/platform"
)

// Scope narrows the measures: one agency, one level of government
// (Levels: every agency of a state, county, city or town), one service,
// or a service with either; "" for every one (the whole jurisdiction).
// An agency is narrower than a level: with both, the agency's rows are
// read.
type Scope struct {
	Agency  string
	Level   string
	Service string
}

// key is the aggregate row of the scope: every scope reads one row per
// day, whatever the number of agencies and services (ADR 54, 65).
func (sc Scope) key() key {
	k := key{All, All}
	switch {
	case sc.Agency != "":
		k.agency = sc.Agency
	case sc.Level != "":
		k.agency = LevelKey(sc.Level)
	}
	if sc.Service != "" {
		k.service = sc.Service
	}
	return k
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
	if q.Level != "" && !ValidLevel(q.Level) {
		return Report{}, platform.Invalid("level", "level must be state, county, city or town")
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

// where is the report's filter on day and the scope's row ($1, $2, …):
// a range of one row's days, by primary key.
func (q Query) where() (string, []any) {
	k := q.key()
	return "agency_id = $1 AND service_id = $2 AND day >= $3 AND day <= $4", []any{k.agency, k.service, string(q.From), string(q.To)}
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

// monthCost is the cost of one month of the scope's row: the cost of
// the (agency, service) in it that have a cost model, their transactions
// and how many they are.
type monthCost struct {
	month        string
	cents        int64
	transactions int64
	costs        int
}

// costs reads the scope's months the query touches (outcome_monthly, by
// primary key): one row per month, whatever the number of services.
func (s *Service) costs(ctx context.Context, q Query) ([]monthCost, error) {
	k := q.key()
	rows, err := s.db.Read().QueryContext(ctx, `SELECT month, cost_cents, costed_transactions, costs FROM outcome_monthly
		WHERE agency_id = $1 AND service_id = $2 AND month >= $3 AND month <= $4 AND costs > 0`, k.agency, k.service, q.From.Month(), q.To.Month())
	if err != nil {
		return nil, fmt.Errorf("outcome: costs: %w", err)
	}
	var out []monthCost
	err = scanRows(rows, func(r *sql.Rows) error {
		var m monthCost
		if err := r.Scan(&m.month, &m.cents, &m.transactions, &m.costs); err != nil {
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
		f.CostMonths += m.costs
	}
	return f
}

// AgencyFigures are one agency's (or one level's) figures, for the
// side-by-side views.
type AgencyFigures struct {
	Agency string // the agency id, or for ByLevel the level
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
	// Agencies' roll-ups: not the jurisdiction's ('*') nor the levels'
	// ('@…').
	return s.side(ctx, `service_id = $3 AND agency_id <> '*' AND agency_id NOT LIKE '@%'`, r, All, func(id string) string { return id })
}

// ByLevel is the figures of each level of government over r (of one
// service, or of all for ""), in Levels' order, leaving out levels with
// no rows. The figures are public.
func (s *Service) ByLevel(ctx context.Context, r Range, service string) ([]AgencyFigures, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	if service == "" {
		service = All
	}
	keys := make([]string, 0, 4)
	for _, l := range Levels() {
		keys = append(keys, "'"+LevelKey(l)+"'")
	}
	out, err := s.side(ctx, `service_id = $3 AND agency_id IN (`+strings.Join(keys, ", ")+`)`, r, service, func(id string) string { return strings.TrimPrefix(id, "@") })
	if err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for i, l := range Levels() {
		rank[l] = i
	}
	slices.SortFunc(out, func(a, b AgencyFigures) int { return rank[a.Agency] - rank[b.Agency] })
	return out, nil
}

// side sums the rows that cond selects ($1, $2 the range, $3 the
// service) per agency_id: counters and the decision-time histogram.
func (s *Service) side(ctx context.Context, cond string, r Range, service string, name func(string) string) ([]AgencyFigures, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT agency_id, `+sums(columns)+` FROM outcome_daily WHERE day >= $1 AND day <= $2 AND `+cond+` GROUP BY agency_id ORDER BY agency_id`, string(r.From), string(r.To), service)
	if err != nil {
		return nil, fmt.Errorf("outcome: side by side: %w", err)
	}
	var out []AgencyFigures
	idx := map[string]int{}
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
		idx[a.Agency] = len(out)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outcome: side by side: %w", err)
	}
	rows, err = s.db.Read().QueryContext(ctx, `SELECT agency_id, hours, SUM(decisions) FROM outcome_decision_times WHERE day >= $1 AND day <= $2 AND `+cond+` GROUP BY agency_id, hours`, string(r.From), string(r.To), service)
	if err != nil {
		return nil, fmt.Errorf("outcome: side by side: %w", err)
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
		return nil, fmt.Errorf("outcome: side by side: %w", err)
	}
	for i := range out {
		out[i].Agency = name(out[i].Agency)
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
