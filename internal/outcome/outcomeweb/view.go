package outcomeweb

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/outcome"
)

// Words is what the views need to write figures in the reader's
// language: i18n.Formatter.
type Words interface {
	T(key string, args ...any) string
	N(key string, n int64, args ...any) string
	Day(year int, month time.Month, day int) string
	MoneyOf(minor int64, code string) string
	Lang() i18n.Lang
}

// KPI is one headline figure: its name, its value as written ("" with
// no data) and how it was worked out ("3 of 8 transactions").
type KPI struct {
	Key    string // the measure's catalogue key suffix, also an id
	Name   string
	Value  string
	Detail string
}

// Table is a chart's data, for the table that follows it.
type Table struct {
	Caption string
	Columns []string
	Rows    [][]string // the first cell is the period (a row header)
}

// Figure is one chart with its table.
type Figure struct {
	Heading string
	Chart   Chart
	SVG     template.HTML
	Table   Table
}

// Figures is everything a page shows of a report.
type Figures struct {
	Range    string // "March 1, 2026 to March 31, 2026"
	KPIs     []KPI
	Volumes  []KPI
	Levels   []KPI // satisfaction answers per level
	Charts   []Figure
	Section  template.HTML // the charts and tables, rendered
	NoData   string
	Services []ServiceLink
	// Headings of the volumes and the satisfaction table.
	VolumesHeading, LevelsCaption, LevelsAnswer, LevelsCount string
}

// ServiceLink is a service with measures, for the jurisdiction's page.
type ServiceLink struct {
	ID, Title string
}

// pct writes a ratio as a percentage in the language, "" with no data.
func pct(w Words, r outcome.Ratio) string {
	if !r.Valid() {
		return ""
	}
	return w.T("outcome.percent", decimal(w, r.Percent()))
}

// decimal writes v with at most one decimal, as the language writes
// numbers (CLDR through x/text, as money is).
func decimal(w Words, v float64) string {
	return message.NewPrinter(w.Lang().Tag()).Sprint(number.Decimal(v, number.MaxFractionDigits(1)))
}

// count writes a whole number with the language's grouping.
func count(w Words, n int64) string {
	return message.NewPrinter(w.Lang().Tag()).Sprint(number.Decimal(n))
}

// hours writes a time to decision bound ("within 4 hours", "within 3 days").
func hours(w Words, h int, ok bool) string {
	if !ok {
		return ""
	}
	if h < 48 {
		return w.N("outcome.within.hours", int64(h))
	}
	return w.N("outcome.within.days", int64(h/24))
}

func of(w Words, r outcome.Ratio, what string) string {
	if !r.Valid() {
		return ""
	}
	return w.T("outcome.of."+what, count(w, r.Num), count(w, r.Den))
}

// day writes a calendar day in the language ("March 2, 2026").
func day(w Words, d outcome.Day) string {
	t := d.Time()
	return w.Day(t.Year(), t.Month(), t.Day())
}

// periodName is a period's name in a table: "March 2026", "week of
// March 2, 2026", "March 2, 2026".
func periodName(w Words, p outcome.Period, pf outcome.PeriodFigures) string {
	t := pf.Start.Time()
	switch p {
	case outcome.PeriodMonth:
		return w.T("outcome.period.month", w.T("date.month."+strconv.Itoa(int(t.Month()))), t.Year())
	case outcome.PeriodWeek:
		return w.T("outcome.period.week", day(w, pf.Start))
	}
	return day(w, pf.Start)
}

// periodLabel is the short label under a bar: "Mar" or "3/2".
func periodLabel(w Words, p outcome.Period, pf outcome.PeriodFigures) string {
	t := pf.Start.Time()
	if p == outcome.PeriodMonth {
		name := []rune(w.T("date.month." + strconv.Itoa(int(t.Month()))))
		if len(name) > 3 {
			name = name[:3]
		}
		return string(name)
	}
	return fmt.Sprintf("%d/%d", int(t.Month()), t.Day())
}

// Detail says which figures a view shows: the public page shows the four
// KPIs, volumes and trends; the console adds the operational measures.
type Detail int

// The two levels of detail.
const (
	Public Detail = iota
	Console
)

// Build turns a report into what a page shows, in w's language.
func Build(w Words, rep outcome.Report, detail Detail) Figures {
	t := rep.Total
	f := Figures{NoData: w.T("outcome.nodata"), Range: w.T("outcome.range", day(w, rep.From), day(w, rep.To)),
		VolumesHeading: w.T("outcome.volumes"), LevelsCaption: w.T("outcome.levels.caption"),
		LevelsAnswer: w.T("outcome.levels.answer"), LevelsCount: w.T("outcome.levels.count")}
	cost := ""
	if m := t.CostPerTransaction(); m.Valid {
		cost = w.MoneyOf(m.Cents, "USD")
	}
	f.KPIs = []KPI{
		{Key: "takeup", Value: pct(w, t.DigitalTakeUp()), Detail: of(w, t.DigitalTakeUp(), "transactions")},
		{Key: "completion", Value: pct(w, t.CompletionRate()), Detail: of(w, t.CompletionRate(), "started")},
		{Key: "satisfaction", Value: pct(w, t.UserSatisfaction()), Detail: of(w, t.UserSatisfaction(), "respondents")},
		{Key: "cost", Value: cost, Detail: costDetail(w, t)},
	}
	med, okMed := t.MedianHours()
	p90, okP90 := t.P90Hours()
	f.KPIs = append(f.KPIs,
		KPI{Key: "median", Value: hours(w, med, okMed), Detail: decisions(w, t)},
		KPI{Key: "p90", Value: hours(w, p90, okP90), Detail: decisions(w, t)})
	if detail == Console {
		info := ""
		if r := t.InfoRequestsPerCase(); r.Valid() {
			info = message.NewPrinter(w.Lang().Tag()).Sprint(number.Decimal(r.Value(), number.MaxFractionDigits(2)))
		}
		f.KPIs = append(f.KPIs,
			KPI{Key: "sla", Value: pct(w, t.SLAAdherence()), Detail: of(w, t.SLAAdherence(), "decisions")},
			KPI{Key: "info", Value: info, Detail: of(w, t.InfoRequestsPerCase(), "cases")},
			KPI{Key: "ontime", Value: pct(w, t.OnTime()), Detail: of(w, t.OnTime(), "obligations")},
			KPI{Key: "ontime.reminded", Value: pct(w, t.OnTimeReminded()), Detail: of(w, t.OnTimeReminded(), "obligations")},
			KPI{Key: "ontime.unreminded", Value: pct(w, t.OnTimeNotReminded()), Detail: of(w, t.OnTimeNotReminded(), "obligations")},
		)
	}
	for i := range f.KPIs {
		f.KPIs[i].Name = w.T("outcome.kpi." + f.KPIs[i].Key)
	}
	f.Volumes = []KPI{
		{Key: "transactions", Value: count(w, t.Transactions())},
		{Key: "digital", Value: count(w, t.Completed())},
		{Key: "paper", Value: count(w, t.Paper)},
		{Key: "phone", Value: count(w, t.Phone)},
		{Key: "counter", Value: count(w, t.Counter)},
		{Key: "started", Value: count(w, t.Started+t.Ineligible)},
		{Key: "ineligible", Value: count(w, t.Ineligible)},
		{Key: "dropped", Value: count(w, t.Withdrawn+t.Expired)},
		{Key: "decided", Value: count(w, t.Decided)},
		{Key: "payments", Value: count(w, t.PaymentsSucceeded)},
		{Key: "payments.failed", Value: count(w, t.PaymentsFailed)},
	}
	for i := range f.Volumes {
		f.Volumes[i].Name = w.T("outcome.volume." + f.Volumes[i].Key)
	}
	for i := 4; i >= 0; i-- {
		f.Levels = append(f.Levels, KPI{Key: strconv.Itoa(i + 1), Name: w.T("outcome.level." + strconv.Itoa(i+1)), Value: count(w, t.Satisfaction[i])})
	}
	f.Levels = append(f.Levels, KPI{Key: "respondents", Name: w.T("outcome.level.respondents"), Value: count(w, t.Respondents())})
	f.Charts = charts(w, rep, detail)
	return f
}

func costDetail(w Words, t outcome.Figures) string {
	if !t.CostPerTransaction().Valid {
		return w.T("outcome.cost.none")
	}
	return w.T("outcome.of.cost", w.MoneyOf(t.CostCents, "USD"), count(w, t.CostTransactions))
}

func decisions(w Words, t outcome.Figures) string {
	n := t.Decisions.Total()
	if n == 0 {
		return ""
	}
	return w.N("outcome.decisions", n)
}

// ratioSeries is one ratio measure's trend.
type ratioSeries struct {
	key string
	get func(outcome.Figures) outcome.Ratio
	of  string
}

func charts(w Words, rep outcome.Report, detail Detail) []Figure {
	series := []ratioSeries{
		{"takeup", func(f outcome.Figures) outcome.Ratio { return f.DigitalTakeUp() }, "transactions"},
		{"completion", func(f outcome.Figures) outcome.Ratio { return f.CompletionRate() }, "started"},
		{"satisfaction", func(f outcome.Figures) outcome.Ratio { return f.UserSatisfaction() }, "respondents"},
	}
	if detail == Console {
		series = append(series,
			ratioSeries{"sla", func(f outcome.Figures) outcome.Ratio { return f.SLAAdherence() }, "decisions"},
			ratioSeries{"ontime", func(f outcome.Figures) outcome.Ratio { return f.OnTime() }, "obligations"})
	}
	period := w.T("outcome.col.period")
	var out []Figure
	for _, s := range series {
		name := w.T("outcome.kpi." + s.key)
		c := Chart{ID: "chart-" + strings.ReplaceAll(s.key, ".", "-"), Title: w.T("outcome.chart.title", name), Max: 100, NoData: w.T("outcome.nodata")}
		tb := Table{Caption: w.T("outcome.table.caption", name), Columns: []string{period, name, w.T("outcome.col.basis")}}
		var valid []string
		for _, p := range rep.Periods {
			r := s.get(p.Figures)
			pt := Point{Label: periodLabel(w, rep.Period, p), Valid: r.Valid(), Value: r.Percent(), Text: pct(w, r)}
			c.Points = append(c.Points, pt)
			v := pct(w, r)
			if v == "" {
				v = w.T("outcome.nodata")
			} else {
				valid = append(valid, periodName(w, rep.Period, p)+": "+v)
			}
			tb.Rows = append(tb.Rows, []string{periodName(w, rep.Period, p), v, of(w, r, s.of)})
		}
		c.Desc = describe(w, valid, len(rep.Periods))
		out = append(out, Figure{Heading: c.Title, Chart: c, SVG: c.SVG(), Table: tb})
	}
	// Volumes: transactions by channel per period.
	c := Chart{ID: "chart-transactions", Title: w.T("outcome.chart.transactions"), NoData: w.T("outcome.nodata")}
	tb := Table{Caption: w.T("outcome.table.caption", w.T("outcome.volume.transactions")), Columns: []string{period,
		w.T("outcome.volume.transactions"), w.T("outcome.volume.digital"), w.T("outcome.volume.paper"), w.T("outcome.volume.phone"), w.T("outcome.volume.counter")}}
	var valid []string
	for _, p := range rep.Periods {
		n := p.Transactions()
		c.Points = append(c.Points, Point{Label: periodLabel(w, rep.Period, p), Value: float64(n), Text: count(w, n), Valid: true})
		valid = append(valid, periodName(w, rep.Period, p)+": "+count(w, n))
		tb.Rows = append(tb.Rows, []string{periodName(w, rep.Period, p), count(w, n), count(w, p.Completed()), count(w, p.Paper), count(w, p.Phone), count(w, p.Counter)})
	}
	c.Desc = describe(w, valid, len(rep.Periods))
	out = append(out, Figure{Heading: c.Title, Chart: c, SVG: c.SVG(), Table: tb})
	// Time to decision: the median per period, with the 90th percentile.
	c = Chart{ID: "chart-decisions", Title: w.T("outcome.chart.decisions"), NoData: w.T("outcome.nodata")}
	tb = Table{Caption: w.T("outcome.table.caption", w.T("outcome.kpi.median")), Columns: []string{period, w.T("outcome.kpi.median"), w.T("outcome.kpi.p90"), w.T("outcome.volume.decided")}}
	valid = nil
	for _, p := range rep.Periods {
		med, ok := p.MedianHours()
		p90, ok90 := p.P90Hours()
		pt := Point{Label: periodLabel(w, rep.Period, p), Value: float64(med), Valid: ok, Text: hours(w, med, ok)}
		c.Points = append(c.Points, pt)
		m, n := hours(w, med, ok), hours(w, p90, ok90)
		if m == "" {
			m, n = w.T("outcome.nodata"), w.T("outcome.nodata")
		} else {
			valid = append(valid, periodName(w, rep.Period, p)+": "+m)
		}
		tb.Rows = append(tb.Rows, []string{periodName(w, rep.Period, p), m, n, count(w, p.Decisions.Total())})
	}
	c.Desc = describe(w, valid, len(rep.Periods))
	out = append(out, Figure{Heading: c.Title, Chart: c, SVG: c.SVG(), Table: tb})
	return out
}

// describe is a chart's description: the first and last periods with
// data, or that there is none; the table has every figure.
func describe(w Words, valid []string, periods int) string {
	switch len(valid) {
	case 0:
		return w.T("outcome.chart.desc.none")
	case 1:
		return w.T("outcome.chart.desc.one", valid[0], periods)
	}
	return w.T("outcome.chart.desc", valid[0], valid[len(valid)-1], len(valid), periods)
}

//go:embed templates/part_figures.html
var partFS embed.FS

var partTmpl = template.Must(template.ParseFS(partFS, "templates/part_figures.html"))

// render writes the figures' charts and tables (shared by the public page
// and the console).
func render(f *Figures) error {
	var buf bytes.Buffer
	if err := partTmpl.ExecuteTemplate(&buf, "figures", f); err != nil {
		return fmt.Errorf("outcomeweb: figures: %w", err)
	}
	f.Section = template.HTML(buf.String()) //nolint:gosec // html/template escaped it
	return nil
}
