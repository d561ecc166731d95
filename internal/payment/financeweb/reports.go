package financeweb

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// RemittanceDays is how many days, ending on the chosen day, the reports
// page shows in its remittance table.
const RemittanceDays = 7

// reportsView is the reports page's data.
type reportsView struct {
	Agencies       []agencyChoice
	Agency         string
	Day            i18n.DateInput
	DayError       string
	DayPart        string
	Chosen         time.Time // noon of the chosen day in the zone, for the page's dates
	Reconciliation *payment.Reconciliation
	Remittance     *payment.Remittance
	ReconcileCSV   string
	RemitCSV       string
	RemittanceDays int
}

// usDate writes the calendar date iso (YYYY-MM-DD) as the reports' query
// parameters take it: MM/DD/YYYY.
func usDate(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%02d/%02d/%04d", int(t.Month()), t.Day(), t.Year())
}

// ParseUSDate reads a report's day query parameter, MM/DD/YYYY (leading
// zeros optional), as an ISO date, through the one date parser
// (i18n.ParseDate). It is a parser of outside input and never panics.
func ParseUSDate(s string) (string, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) != 3 {
		return "", platform.Invalid("day", "write the day as MM/DD/YYYY, like 12/05/2026")
	}
	iso, prob := i18n.ParseDate(i18n.DateInput{Month: parts[0], Day: parts[1], Year: parts[2]})
	if prob != nil {
		return "", platform.Invalid("day", fmt.Sprintf("%q is not a real day: write it as MM/DD/YYYY, like 12/05/2026", s))
	}
	return iso, nil
}

func (h *handlers) reports(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	q := r.URL.Query()
	ags, agency, err := h.choices(r, actor, q.Get("agency"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	loc := h.Zone(ctx)
	v := reportsView{Agencies: ags, Agency: agency, Day: web.DateInputFrom(q, "day"), RemittanceDays: RemittanceDays}
	status := http.StatusOK
	var errs []web.FieldError
	p := h.web.Renderer().NewPage(r, nil)
	var iso string
	if v.Day.Empty() {
		iso = h.Clock.Now().In(loc).Format(time.DateOnly)
		v.Day = i18n.DateInputOf(iso)
	} else if got, prob := i18n.ParseDate(v.Day); prob != nil {
		v.DayError, v.DayPart = prob.Key, prob.Part
		status = http.StatusUnprocessableEntity
		errs = append(errs, web.FieldError{Field: p.FirstDateInput("day", prob.Part), Message: p.T(prob.Key, p.T("finance.reports.day"))})
	} else {
		iso = got
	}
	if iso != "" {
		day := localDay(iso, loc)
		v.Chosen = day.Add(12 * time.Hour)
		rec, err := h.Payments.Reconcile(ctx, actor, agency, day, loc)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		first := day.AddDate(0, 0, -(RemittanceDays - 1))
		rem, err := h.Payments.Remit(ctx, actor, agency, first, day, loc)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		v.Reconciliation, v.Remittance = &rec, &rem
		v.ReconcileCSV = "/console/payments/reports/reconciliation.csv?" + url.Values{"agency": {agency}, "day": {usDate(iso)}}.Encode()
		v.RemitCSV = "/console/payments/reports/remittance.csv?" + url.Values{"agency": {agency}, "from": {usDate(rem.From)}, "to": {usDate(rem.To)}}.Encode()
	}
	pg := h.web.Renderer().NewPage(r, v)
	pg.Errors = errs
	h.web.Page(w, r, status, "finance_reports", pg)
}

// csvAgency reads and authorizes the agency of a CSV download: the
// block's refusal, or the agency.
func (h *handlers) csvAgency(r *http.Request) (string, error) {
	agency := r.URL.Query().Get("agency")
	if agency == "" {
		return "", platform.Invalid("agency", "name the agency: ?agency=ID")
	}
	if err := payment.MayReadFinance(platform.ActorFrom(r.Context()), agency); err != nil {
		return "", err
	}
	return agency, nil
}

// csvFail answers a CSV download's mistake with the error page for its
// status (a refusal as the pages answer it).
func (h *handlers) csvFail(w http.ResponseWriter, r *http.Request, err error) {
	if platform.ErrorCode(err) == platform.CodeInvalid {
		h.web.Error(w, r, err)
		return
	}
	h.fail(w, r, err)
}

// decimal writes minor units of currency as a plain decimal number
// ("12.50", "-3.00"), the way a spreadsheet reads an amount.
func decimal(minor int64, currency string) string {
	m := platform.Money{Minor: minor, Currency: currency}
	scale := m.Scale()
	sign := ""
	abs := minor
	if minor < 0 {
		sign, abs = "-", -minor
	}
	s := strconv.FormatInt(abs, 10)
	if scale == 0 {
		return sign + s
	}
	for len(s) <= scale {
		s = "0" + s
	}
	return sign + s[:len(s)-scale] + "." + s[len(s)-scale:]
}

// ReconciliationHeader is the reconciliation CSV's header row.
var ReconciliationHeader = []string{"agency", "day", "kind", "payment_id", "reference", "provider", "provider_reference", "payment_status", "amount", "currency", "posted_at"}

// ReconciliationRows writes rec as CSV rows: one per charge and refund,
// then one total row per currency (kind "total", amount the day's net:
// charges less refunds). Times are RFC 3339 in loc.
func ReconciliationRows(rec payment.Reconciliation, loc *time.Location) [][]string {
	var rows [][]string
	for _, m := range rec.Movements {
		amount := m.Amount
		if m.Kind == payment.KindRefund {
			amount = -amount
		}
		rows = append(rows, []string{rec.Agency, rec.Day, m.Kind, m.PaymentID, m.Reference, m.Provider, m.ProviderRef, string(m.Status),
			decimal(amount, m.Currency), m.Currency, m.At.In(loc).Format(time.RFC3339)})
	}
	for _, t := range rec.Totals {
		rows = append(rows, []string{rec.Agency, rec.Day, "total", "", "", "", "", "", decimal(t.Net, t.Currency), t.Currency, ""})
	}
	return rows
}

// RemittanceHeader is the remittance CSV's header row.
var RemittanceHeader = []string{"agency", "day", "currency", "charges", "charge_count", "refunds", "refund_count", "net"}

// RemittanceRows writes rem as CSV rows: one per day and currency that
// moved money, then the range's total per currency (day "total").
func RemittanceRows(rem payment.Remittance) [][]string {
	var rows [][]string
	row := func(day string, t payment.DayTotal) []string {
		return []string{rem.Agency, day, t.Currency, decimal(t.Charges, t.Currency), strconv.FormatInt(t.ChargeCount, 10),
			decimal(t.Refunds, t.Currency), strconv.FormatInt(t.RefundCount, 10), decimal(t.Net, t.Currency)}
	}
	for _, t := range rem.Days {
		rows = append(rows, row(t.Day, t))
	}
	for _, t := range rem.Totals {
		rows = append(rows, row("total", t))
	}
	return rows
}

func (h *handlers) reconciliationCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	agency, err := h.csvAgency(r)
	if err != nil {
		h.csvFail(w, r, err)
		return
	}
	iso, err := ParseUSDate(r.URL.Query().Get("day"))
	if err != nil {
		h.csvFail(w, r, err)
		return
	}
	loc := h.Zone(ctx)
	rec, err := h.Payments.Reconcile(ctx, platform.ActorFrom(ctx), agency, localDay(iso, loc), loc)
	if err != nil {
		h.csvFail(w, r, err)
		return
	}
	web.WriteCSV(w, r, h.web.Logger(), "reconciliation-"+agency+"-"+iso+".csv", ReconciliationHeader, ReconciliationRows(rec, loc))
}

func (h *handlers) remittanceCSV(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	agency, err := h.csvAgency(r)
	if err != nil {
		h.csvFail(w, r, err)
		return
	}
	q := r.URL.Query()
	from, err := ParseUSDate(q.Get("from"))
	if err != nil {
		h.csvFail(w, r, platform.Invalid("from", platform.ErrorMessage(err)))
		return
	}
	to, err := ParseUSDate(q.Get("to"))
	if err != nil {
		h.csvFail(w, r, platform.Invalid("to", platform.ErrorMessage(err)))
		return
	}
	loc := h.Zone(ctx)
	rem, err := h.Payments.Remit(ctx, platform.ActorFrom(ctx), agency, localDay(from, loc), localDay(to, loc), loc)
	if err != nil {
		h.csvFail(w, r, err)
		return
	}
	web.WriteCSV(w, r, h.web.Logger(), "remittance-"+agency+"-"+from+"-to-"+to+".csv", RemittanceHeader, RemittanceRows(rem))
}
