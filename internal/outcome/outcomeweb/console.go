package outcomeweb

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// dashboardView is the console dashboard's data.
type dashboardView struct {
	Agencies []choice
	Agency   string
	Services []choice
	Service  string
	Filter   filterView
	Figures  Figures
	CSV      string // the download of the same figures
	Admin    bool   // a platform administrator: link to every agency side by side
	Costs    bool   // may enter costs
}

// dashboardQuery reads and authorizes the dashboard's filter.
func (h *handlers) dashboardQuery(r *http.Request, p *web.Page) (dashboardView, outcome.Query, []web.FieldError, error) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	qv := r.URL.Query()
	ags, agency, err := h.agencyChoices(r, actor, qv.Get("agency"), true)
	if err != nil {
		return dashboardView{}, outcome.Query{}, nil, err
	}
	service := qv.Get("service")
	svcs, err := h.serviceChoices(r, agency, service, true)
	if err != nil {
		return dashboardView{}, outcome.Query{}, nil, err
	}
	q, fv, errs := pageFilter(p, qv, h.Outcomes.Today(ctx))
	q.Agency, q.Service = agency, service
	v := dashboardView{Agencies: ags, Agency: agency, Services: svcs, Service: service, Filter: fv,
		Admin: actor.Kind == platform.ActorStaff && actor.PlatformAdmin, Costs: agency != "" && outcome.MayEnterCost(actor, agency) == nil}
	return v, q, errs, nil
}

func (h *handlers) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	v, q, errs, err := h.dashboardQuery(r, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rep, err := h.Outcomes.AgencyReport(ctx, platform.ActorFrom(ctx), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Figures = Build(p.Format(), rep, Console)
	if err := render(&v.Figures); err != nil {
		h.web.Error(w, r, err)
		return
	}
	csvq := url.Values{"agency": {q.Agency}, "level": {q.Level}, "service": {q.Service}, "period": {string(q.Period)}, "from": {string(q.From)}, "to": {string(q.To)}}
	v.CSV = "/console/outcomes.csv?" + filterQuery(csvq, "agency", "level", "service", "period", "from", "to")
	p.Data, p.Errors = v, errs
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.web.Page(w, r, status, "outcomes", p)
}

// CSVHeader is the dashboard download's columns: every raw counter of
// each period, and the measures worked out from them ("" with no data).
var CSVHeader = []string{"period_start", "period_end", "started", "not_eligible", "submitted", "withdrawn", "expired",
	"paper", "phone", "counter", "transactions", "decisions", "decisions_with_sla", "decisions_in_sla", "info_requests",
	"payments_succeeded", "payments_failed", "satisfaction_1", "satisfaction_2", "satisfaction_3", "satisfaction_4", "satisfaction_5",
	"obligations_due", "obligations_on_time", "digital_take_up", "completion_rate", "user_satisfaction", "cost_per_transaction",
	"sla_adherence", "info_requests_per_case", "on_time", "median_decision_hours", "p90_decision_hours"}

// CSVRows are a report's periods as CSVHeader's columns.
func CSVRows(rep outcome.Report) [][]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	ratio := func(r outcome.Ratio) string {
		if !r.Valid() {
			return ""
		}
		return strconv.FormatFloat(r.Value(), 'f', 4, 64)
	}
	hrs := func(h int, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.Itoa(h)
	}
	var rows [][]string
	for _, p := range rep.Periods {
		cost := ""
		if m := p.CostPerTransaction(); m.Valid {
			cost = strconv.FormatFloat(float64(m.Cents)/100, 'f', 2, 64)
		}
		med, okm := p.MedianHours()
		p90, ok9 := p.P90Hours()
		rows = append(rows, []string{string(p.Start), string(p.End), n(p.Started), n(p.Ineligible), n(p.Submitted), n(p.Withdrawn), n(p.Expired),
			n(p.Paper), n(p.Phone), n(p.Counter), n(p.Transactions()), n(p.Decided), n(p.DecidedWithSLA), n(p.DecidedInSLA), n(p.InfoRequests),
			n(p.PaymentsSucceeded), n(p.PaymentsFailed), n(p.Satisfaction[0]), n(p.Satisfaction[1]), n(p.Satisfaction[2]), n(p.Satisfaction[3]), n(p.Satisfaction[4]),
			n(p.ObligationsDue), n(p.ObligationsOnTime), ratio(p.DigitalTakeUp()), ratio(p.CompletionRate()), ratio(p.UserSatisfaction()), cost,
			ratio(p.SLAAdherence()), ratio(p.InfoRequestsPerCase()), ratio(p.OnTime()), hrs(med, okm), hrs(p90, ok9)})
	}
	return rows
}

// dashboardCSV serves the dashboard's figures per period. Its filter is
// machine-written (from/to as YYYY-MM-DD), as the dashboard links it.
func (h *handlers) dashboardCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	qv := r.URL.Query()
	q, err := ParseQuery(qv, h.Outcomes.Today(ctx))
	if err != nil {
		h.web.ErrorPage(w, r, http.StatusBadRequest)
		return
	}
	q.Agency, q.Service = qv.Get("agency"), qv.Get("service")
	rep, err := h.Outcomes.AgencyReport(ctx, actor, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := "outcomes"
	for _, part := range []string{q.Agency, q.Level, q.Service} {
		if part != "" && serviceRE.MatchString(part) {
			name += "-" + part
		}
	}
	web.WriteCSV(w, r, h.web.Logger(), name+"-"+string(q.From)+"-to-"+string(q.To)+".csv", CSVHeader, CSVRows(rep))
}

// agenciesView is every agency side by side.
type agenciesView struct {
	Filter filterView
	Range  string
	Rows   []agencyRow
	Cols   []string
}

type agencyRow struct {
	ID, Name string
	Cells    []string
}

func (h *handlers) agencies(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	p := h.web.Renderer().NewPage(r, nil)
	q, fv, errs := pageFilter(p, r.URL.Query(), h.Outcomes.Today(ctx))
	side, err := h.Outcomes.ByAgency(ctx, actor, q.Range)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := p.Format()
	v := agenciesView{Filter: fv, Range: f.T("outcome.range", day(f, q.From), day(f, q.To))}
	for _, k := range []string{"kpi.takeup", "kpi.completion", "kpi.satisfaction", "kpi.median", "kpi.sla", "volume.transactions"} {
		v.Cols = append(v.Cols, p.T("outcome."+k))
	}
	nodata := func(s string) string {
		if s == "" {
			return p.T("outcome.nodata")
		}
		return s
	}
	for _, a := range side {
		name := a.Agency
		if ag, err := h.Agencies.Agency(ctx, a.Agency); err == nil {
			name = agencyName(ag, p.Lang)
		}
		med, ok := a.MedianHours()
		v.Rows = append(v.Rows, agencyRow{ID: a.Agency, Name: name, Cells: []string{
			nodata(pct(f, a.DigitalTakeUp())), nodata(pct(f, a.CompletionRate())), nodata(pct(f, a.UserSatisfaction())),
			nodata(hours(f, med, ok)), nodata(pct(f, a.SLAAdherence())), count(f, a.Transactions()),
		}})
	}
	p.Data, p.Errors = v, errs
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.web.Page(w, r, status, "outcomes_agencies", p)
}
