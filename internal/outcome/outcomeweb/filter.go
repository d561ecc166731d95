package outcomeweb

import (
	"net/url"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// DefaultRange is the range a report covers when none is asked for: the
// last twelve months, weeks or thirty days up to today.
func DefaultRange(p outcome.Period, today outcome.Day) outcome.Range {
	switch p {
	case outcome.PeriodWeek:
		return outcome.Range{From: p.Start(today).AddDays(-7 * 11), To: today}
	case outcome.PeriodDay:
		return outcome.Range{From: today.AddDays(-29), To: today}
	}
	first := p.Start(today).Time().AddDate(0, -11, 0)
	return outcome.Range{From: outcome.DayOf(first), To: today}
}

// ParseQuery reads the JSON API's filter: period (day, week or month),
// level (state, county, city or town: that level of government's
// agencies), from and to (YYYY-MM-DD, both or neither). It is a parser of
// outside input: it never panics, and refuses what it cannot read with an
// invalid error naming the parameter.
func ParseQuery(q url.Values, today outcome.Day) (outcome.Query, error) {
	p, err := outcome.ParsePeriod(q.Get("period"))
	if err != nil {
		return outcome.Query{}, err
	}
	level := q.Get("level")
	if level != "" && !outcome.ValidLevel(level) {
		return outcome.Query{}, platform.Invalid("level", "level must be state, county, city or town")
	}
	from, to := q.Get("from"), q.Get("to")
	if from == "" && to == "" {
		return outcome.Query{Scope: outcome.Scope{Level: level}, Range: DefaultRange(p, today), Period: p}, nil
	}
	var r outcome.Range
	if r.From, err = outcome.ParseDay(from); err != nil {
		return outcome.Query{}, platform.Invalid("from", "from must be a day written YYYY-MM-DD")
	}
	if r.To, err = outcome.ParseDay(to); err != nil {
		return outcome.Query{}, platform.Invalid("to", "to must be a day written YYYY-MM-DD")
	}
	if err := r.Check(); err != nil {
		return outcome.Query{}, err
	}
	return outcome.Query{Scope: outcome.Scope{Level: level}, Range: r, Period: p}, nil
}

// filterView is the period filter of a page: what was typed, kept after
// an error.
type filterView struct {
	Periods        []string // the choices, in the select's order
	Period         string
	Levels         []string // "" (every level), then outcome.Levels
	Level          string
	From, To       i18n.DateInput
	FromKey, ToKey string // catalogue keys of the dates' problems
	FromPart       string
	ToPart         string
}

// pageFilter reads a page's filter: period, and from/to typed as
// month/day/year boxes (the memorable-date pattern). With problems it
// returns the default range and the errors for the summary; the typed
// values stay in the view.
func pageFilter(p *web.Page, q url.Values, today outcome.Day) (outcome.Query, filterView, []web.FieldError) {
	v := filterView{Periods: []string{"month", "week", "day"}, Period: q.Get("period"), From: web.DateInputFrom(q, "from"), To: web.DateInputFrom(q, "to"),
		Levels: append([]string{""}, outcome.Levels()...), Level: q.Get("level")}
	var errs []web.FieldError
	if v.Level != "" && !outcome.ValidLevel(v.Level) {
		v.Level = ""
		errs = append(errs, web.FieldError{Field: "level", Message: p.T("outcome.error.level")})
	}
	period, err := outcome.ParsePeriod(v.Period)
	if err != nil {
		period = outcome.PeriodMonth
		errs = append(errs, web.FieldError{Field: "period", Message: p.T("outcome.error.period")})
	}
	v.Period = string(period)
	rng := DefaultRange(period, today)
	if v.From.Empty() && v.To.Empty() {
		v.From, v.To = i18n.DateInputOf(string(rng.From)), i18n.DateInputOf(string(rng.To))
		return outcome.Query{Scope: outcome.Scope{Level: v.Level}, Range: rng, Period: period}, v, errs
	}
	typed := outcome.Range{}
	if iso, prob := i18n.ParseDate(v.From); prob != nil {
		v.FromKey, v.FromPart = prob.Key, prob.Part
		errs = append(errs, web.FieldError{Field: p.FirstDateInput("from", prob.Part), Message: p.T(prob.Key, p.T("outcome.filter.from"))})
	} else {
		typed.From = outcome.Day(iso)
	}
	if iso, prob := i18n.ParseDate(v.To); prob != nil {
		v.ToKey, v.ToPart = prob.Key, prob.Part
		errs = append(errs, web.FieldError{Field: p.FirstDateInput("to", prob.Part), Message: p.T(prob.Key, p.T("outcome.filter.to"))})
	} else {
		typed.To = outcome.Day(iso)
	}
	if typed.From != "" && typed.To != "" {
		if err := typed.Check(); err != nil {
			field := "from-month"
			key := "outcome.error.range.long"
			if typed.To < typed.From {
				field, key = "to-month", "outcome.error.range.backwards"
			}
			v.ToKey = key
			errs = append(errs, web.FieldError{Field: field, Message: p.T(key, outcome.MaxDays)})
		} else if len(errs) == 0 {
			rng = typed
		}
	}
	return outcome.Query{Scope: outcome.Scope{Level: v.Level}, Range: rng, Period: period}, v, errs
}
