package outcomeweb

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// The public pages change as events arrive; five minutes of caching is
// fresh enough and spares the database a crowd. Pages are "private" (the
// layout names a signed-in reader); the JSON has nothing personal.
const (
	cachePage = "private, max-age=300"
	cacheJSON = "public, max-age=300"
)

// publicView is the data of /performance and /performance/{service}.
type publicView struct {
	Service  string // "" for the whole jurisdiction
	Title    string
	Figures  Figures
	Filter   filterView
	Services []ServiceLink
	JSON     string // the same figures as JSON
	// ByLevel is the measures of each level of government (when the page
	// is not narrowed to one level), with its column headings.
	ByLevel   []agencyRow
	LevelCols []string
}

var serviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

func (h *handlers) performance(w http.ResponseWriter, r *http.Request) {
	h.public(w, r, "")
}

func (h *handlers) servicePerformance(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("service")
	if strings.HasSuffix(id, ".json") {
		h.serviceJSON(w, r, strings.TrimSuffix(id, ".json"))
		return
	}
	h.public(w, r, id)
}

// known reports whether service is one the catalog publishes or one with
// measures; anything else is not found.
func (h *handlers) known(r *http.Request, service string) (bool, error) {
	if !serviceRE.MatchString(service) {
		return false, nil
	}
	if _, err := h.Services.Latest(r.Context(), service); err == nil {
		return true, nil
	} else if platform.ErrorCode(err) != platform.CodeNotFound {
		return false, err
	}
	ids, err := h.Outcomes.Services(r.Context(), "")
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if id == service {
			return true, nil
		}
	}
	return false, nil
}

func (h *handlers) public(w http.ResponseWriter, r *http.Request, service string) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	if service != "" {
		ok, err := h.known(r, service)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		if !ok {
			h.web.ErrorPage(w, r, http.StatusNotFound)
			return
		}
	}
	q, fv, errs := pageFilter(p, r.URL.Query(), h.Outcomes.Today(ctx))
	q.Service = service
	rep, err := h.Outcomes.Report(ctx, q)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v := publicView{Service: service, Filter: fv, Figures: Build(p.Format(), rep, Public)}
	if err := render(&v.Figures); err != nil {
		h.web.Error(w, r, err)
		return
	}
	if q.Level == "" {
		levels, err := h.Outcomes.ByLevel(ctx, q.Range, service)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		v.LevelCols, v.ByLevel = levelTable(p.Format(), levels, r.URL.Query())
	}
	if service == "" {
		v.Title = p.T("outcome.public.title")
		v.JSON = "/performance.json"
		ids, err := h.Outcomes.Services(ctx, "")
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		titles, err := h.titles(ctx, "", p.Lang)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, id := range ids {
			v.Services = append(v.Services, ServiceLink{ID: id, Title: titleOr(titles, id)})
		}
	} else {
		v.Title = h.title(ctx, service, p.Lang)
		v.JSON = "/performance/" + service + ".json"
	}
	p.Data = v
	p.Errors = errs
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	w.Header().Set("Cache-Control", cachePage)
	h.web.Page(w, r, status, "performance", p)
}

func (h *handlers) performanceJSON(w http.ResponseWriter, r *http.Request) {
	h.serviceJSON(w, r, "")
}

func (h *handlers) serviceJSON(w http.ResponseWriter, r *http.Request, service string) {
	ctx := r.Context()
	if service != "" {
		ok, err := h.known(r, service)
		if err != nil {
			web.WriteProblem(w, r, h.web.Logger(), err)
			return
		}
		if !ok {
			web.WriteProblem(w, r, h.web.Logger(), platform.Errorf(platform.CodeNotFound, "no service %q", service))
			return
		}
	}
	q, err := ParseQuery(r.URL.Query(), h.Outcomes.Today(ctx))
	if err != nil {
		web.WriteProblem(w, r, h.web.Logger(), err)
		return
	}
	q.Service = service
	rep, err := h.Outcomes.Report(ctx, q)
	if err != nil {
		web.WriteProblem(w, r, h.web.Logger(), err)
		return
	}
	doc := ReportJSON(rep)
	if q.Level == "" {
		levels, err := h.Outcomes.ByLevel(ctx, q.Range, service)
		if err != nil {
			web.WriteProblem(w, r, h.web.Logger(), err)
			return
		}
		doc.ByLevel = []LevelJSON{}
		for _, l := range levels {
			doc.ByLevel = append(doc.ByLevel, LevelJSON{Level: l.Agency, FiguresJSON: figuresJSON(l.Figures)})
		}
	}
	w.Header().Set("Cache-Control", cacheJSON)
	web.WriteJSON(w, http.StatusOK, doc)
}

// LevelJSON is one level of government's figures over the whole range.
type LevelJSON struct {
	Level string `json:"level"`
	FiguresJSON
}

// Document is the JSON of a report: the same figures as the page. A
// measure without data is null, never 0 or 1.
type Document struct {
	Service string         `json:"service,omitempty"` // absent: the whole jurisdiction
	Level   string         `json:"level,omitempty"`   // absent: every level of government
	From    outcome.Day    `json:"from"`
	To      outcome.Day    `json:"to"`
	Period  outcome.Period `json:"period"`
	Total   FiguresJSON    `json:"total"`
	Periods []PeriodJSON   `json:"periods"`
	// ByLevel is the same figures per level of government over the
	// whole range, when the document is not of one level.
	ByLevel []LevelJSON `json:"by_level,omitempty"`
}

// PeriodJSON is one period's figures.
type PeriodJSON struct {
	Start outcome.Day `json:"start"`
	End   outcome.Day `json:"end"`
	FiguresJSON
}

// RatioJSON is a measure with its basis; Value is null without data.
type RatioJSON struct {
	Value       *float64 `json:"value"`
	Numerator   int64    `json:"numerator"`
	Denominator int64    `json:"denominator"`
}

// FiguresJSON are the published figures of some days.
type FiguresJSON struct {
	DigitalTakeUp      RatioJSON `json:"digital_take_up"`
	CompletionRate     RatioJSON `json:"completion_rate"`
	UserSatisfaction   RatioJSON `json:"user_satisfaction"`
	CostPerTransaction *int64    `json:"cost_per_transaction_cents"`
	Currency           string    `json:"currency"`
	// Satisfaction answers per level, 1 (very dissatisfied) to 5 (very
	// satisfied).
	SatisfactionLevels [5]int64 `json:"satisfaction_levels"`
	Transactions       struct {
		Total   int64 `json:"total"`
		Digital int64 `json:"digital"`
		Paper   int64 `json:"paper"`
		Phone   int64 `json:"phone"`
		Counter int64 `json:"counter"`
	} `json:"transactions"`
	Started             int64 `json:"started"`
	Ineligible          int64 `json:"not_eligible"`
	DroppedOut          int64 `json:"dropped_out"`
	Decisions           int64 `json:"decisions"`
	MedianDecisionHours *int  `json:"median_decision_hours"`
	P90DecisionHours    *int  `json:"p90_decision_hours"`
}

func ratioJSON(r outcome.Ratio) RatioJSON {
	out := RatioJSON{Numerator: r.Num, Denominator: r.Den}
	if r.Valid() {
		v := r.Value()
		out.Value = &v
	}
	return out
}

func figuresJSON(f outcome.Figures) FiguresJSON {
	out := FiguresJSON{
		DigitalTakeUp: ratioJSON(f.DigitalTakeUp()), CompletionRate: ratioJSON(f.CompletionRate()),
		UserSatisfaction: ratioJSON(f.UserSatisfaction()), Currency: "USD", SatisfactionLevels: f.Satisfaction,
		Started: f.Started + f.Ineligible, Ineligible: f.Ineligible, DroppedOut: f.Withdrawn + f.Expired, Decisions: f.Decided,
	}
	if m := f.CostPerTransaction(); m.Valid {
		out.CostPerTransaction = &m.Cents
	}
	out.Transactions.Total, out.Transactions.Digital = f.Transactions(), f.Completed()
	out.Transactions.Paper, out.Transactions.Phone, out.Transactions.Counter = f.Paper, f.Phone, f.Counter
	if h, ok := f.MedianHours(); ok {
		out.MedianDecisionHours = &h
	}
	if h, ok := f.P90Hours(); ok {
		out.P90DecisionHours = &h
	}
	return out
}

// ReportJSON is the published document of a report.
func ReportJSON(rep outcome.Report) Document {
	d := Document{Service: rep.Service, Level: rep.Level, From: rep.From, To: rep.To, Period: rep.Period, Total: figuresJSON(rep.Total), Periods: []PeriodJSON{}}
	for _, p := range rep.Periods {
		d.Periods = append(d.Periods, PeriodJSON{Start: p.Start, End: p.End, FiguresJSON: figuresJSON(p.Figures)})
	}
	return d
}

// levelTable is the public page's table of each level of government:
// the four KPIs and the transactions, linked to the page of that level.
func levelTable(w Words, levels []outcome.AgencyFigures, link url.Values) ([]string, []agencyRow) {
	cols := []string{w.T("outcome.kpi.takeup"), w.T("outcome.kpi.completion"), w.T("outcome.kpi.satisfaction"), w.T("outcome.kpi.cost"), w.T("outcome.volume.transactions")}
	nodata := func(s string) string {
		if s == "" {
			return w.T("outcome.nodata")
		}
		return s
	}
	var rows []agencyRow
	for _, l := range levels {
		cost := ""
		if m := l.CostPerTransaction(); m.Valid {
			cost = w.MoneyOf(m.Cents, "USD")
		}
		link.Set("level", l.Agency)
		rows = append(rows, agencyRow{ID: "?" + link.Encode(), Name: w.T("outcome.gov." + l.Agency), Cells: []string{
			nodata(pct(w, l.DigitalTakeUp())), nodata(pct(w, l.CompletionRate())), nodata(pct(w, l.UserSatisfaction())),
			nodata(cost), count(w, l.Transactions()),
		}})
	}
	return cols, rows
}
