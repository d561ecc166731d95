package outcomeweb

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/casework/caseweb"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// formView is the data of the offline-record and cost forms: the choices
// and what was typed, kept after an error.
type formView struct {
	Agencies []choice
	Agency   string
	Services []choice
	Channels []choice
	Months   []choice
	Day      i18n.DateInput
	DayKey   string
	DayPart  string
	Values   map[string]string
	Done     string // the confirmation after a record, already translated
}

// V gives back what was typed, for the "input" template.
func (v formView) V(name string) string { return v.Values[name] }

// form prepares a form for the agency chosen in the query or form.
func (h *handlers) form(r *http.Request, p *web.Page, agency, service string) (formView, error) {
	actor := platform.ActorFrom(r.Context())
	ags, agency, err := h.agencyChoices(r, actor, agency, false)
	if err != nil {
		return formView{}, err
	}
	if err := outcome.MayRecord(actor, agency); err != nil {
		return formView{}, err
	}
	svcs, err := h.serviceChoices(r, agency, service, false)
	if err != nil {
		return formView{}, err
	}
	return formView{Agencies: ags, Agency: agency, Services: svcs, Values: map[string]string{}}, nil
}

func (h *handlers) offlineForm(w http.ResponseWriter, r *http.Request) {
	p := h.web.Renderer().NewPage(r, nil)
	v, err := h.form(r, p, r.URL.Query().Get("agency"), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Channels = channelChoices(p, "")
	v.Day = i18n.DateInputOf(string(h.Outcomes.Today(r.Context())))
	if r.URL.Query().Get("recorded") != "" {
		v.Done = p.T("outcome.offline.done")
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "outcomes_offline", p)
}

func channelChoices(p *web.Page, chosen string) []choice {
	var out []choice
	for _, c := range outcome.Channels() {
		out = append(out, choice{ID: c, Name: p.T("outcome.volume." + c), Selected: c == chosen})
	}
	return out
}

// fieldOf maps the block's field names to the form's input ids.
var fieldOf = map[string]string{"service": "service", "channel": "channel-paper", "day": "day-month", "transactions": "transactions", "month": "month", "amount": "amount"}

// problem turns the block's invalid error into a field error (its
// message is a catalogue key).
func problem(p *web.Page, err error) (web.FieldError, bool) {
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Code != platform.CodeInvalid {
		return web.FieldError{}, false
	}
	id := fieldOf[pe.Field]
	if id == "" {
		id = pe.Field
	}
	return web.FieldError{Field: id, Message: p.T(pe.Message)}, true
}

func (h *handlers) recordOffline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	f := postForm(r)
	v, err := h.form(r, p, f.Get("agency"), f.Get("service"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Channels = channelChoices(p, f.Get("channel"))
	v.Day = web.DateInputFrom(f, "day")
	v.Values["transactions"] = f.Get("transactions")
	rec := outcome.OfflineRecord{Agency: v.Agency, Service: f.Get("service"), Channel: f.Get("channel")}
	var errs []web.FieldError
	if iso, prob := i18n.ParseDate(v.Day); prob != nil {
		v.DayKey, v.DayPart = prob.Key, prob.Part
		errs = append(errs, web.FieldError{Field: p.FirstDateInput("day", prob.Part), Message: p.T(prob.Key, p.T("outcome.offline.day"))})
	} else {
		rec.Day = outcome.Day(iso)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(f.Get("transactions")), ",", ""), 10, 64)
	if err != nil {
		errs = append(errs, web.FieldError{Field: "transactions", Message: p.T("outcome.error.transactions")})
	}
	rec.Transactions = n
	if len(errs) == 0 {
		_, err = h.Outcomes.RecordOffline(ctx, platform.ActorFrom(ctx), rec)
		if fe, ok := problem(p, err); ok {
			errs = append(errs, fe)
			if fe.Field == "day-month" {
				v.DayKey = "outcome.error.day.future"
			}
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		p.Data, p.Errors = v, errs
		h.web.Page(w, r, http.StatusUnprocessableEntity, "outcomes_offline", p)
		return
	}
	http.Redirect(w, r, "/console/outcomes/offline?"+url.Values{"agency": {v.Agency}, "recorded": {"1"}}.Encode(), http.StatusSeeOther)
}

func monthChoices(p *web.Page, chosen string) []choice {
	var out []choice
	for m := 1; m <= 12; m++ {
		id := strconv.Itoa(m)
		out = append(out, choice{ID: id, Name: p.T("date.month." + id), Selected: id == chosen})
	}
	return out
}

func (h *handlers) costForm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	v, err := h.form(r, p, r.URL.Query().Get("agency"), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := outcome.MayEnterCost(platform.ActorFrom(ctx), v.Agency); err != nil {
		h.fail(w, r, err)
		return
	}
	// The month just ended is the one usually entered.
	last := outcome.PeriodMonth.Start(h.Outcomes.Today(ctx)).AddDays(-1).Time()
	v.Months = monthChoices(p, strconv.Itoa(int(last.Month())))
	v.Values["year"] = strconv.Itoa(last.Year())
	if r.URL.Query().Get("entered") != "" {
		v.Done = p.T("outcome.cost.done")
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "outcomes_cost", p)
}

func (h *handlers) enterCost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	f := postForm(r)
	v, err := h.form(r, p, f.Get("agency"), f.Get("service"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Months = monthChoices(p, f.Get("month"))
	v.Values["year"], v.Values["amount"] = f.Get("year"), f.Get("amount")
	c := outcome.Cost{Agency: v.Agency, Service: f.Get("service"), Currency: "USD"}
	var errs []web.FieldError
	m, errM := strconv.Atoi(f.Get("month"))
	y, errY := strconv.Atoi(strings.TrimSpace(f.Get("year")))
	if errM != nil || m < 1 || m > 12 || errY != nil || y < 2000 || y > 2200 {
		errs = append(errs, web.FieldError{Field: "year", Message: p.T("outcome.error.month")})
	} else {
		c.Month = strconv.Itoa(y) + "-" + twoDigits(m)
	}
	cents, err := caseweb.ParseMoney(f.Get("amount"))
	if err != nil {
		errs = append(errs, web.FieldError{Field: "amount", Message: p.T("outcome.error.amount")})
	}
	c.Cents = cents
	if len(errs) == 0 {
		_, err = h.Outcomes.EnterCost(ctx, platform.ActorFrom(ctx), c)
		if fe, ok := problem(p, err); ok {
			errs = append(errs, fe)
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		p.Data, p.Errors = v, errs
		h.web.Page(w, r, http.StatusUnprocessableEntity, "outcomes_cost", p)
		return
	}
	http.Redirect(w, r, "/console/outcomes/costs?"+url.Values{"agency": {v.Agency}, "entered": {"1"}}.Encode(), http.StatusSeeOther)
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// postForm is the request's parsed form body (empty when it cannot be
// read: every field then fails validation, with the page's errors).
func postForm(r *http.Request) url.Values {
	if err := r.ParseForm(); err != nil {
		return url.Values{}
	}
	return r.PostForm
}
