// Package financeweb is the payment block's staff console (issue 12):
// an agency's payments (/console/payments), one payment with its
// history, what it paid for, refunds and ledger postings and the refund
// form (/console/payments/{id}), and the daily reconciliation and
// remittance reports with their CSV downloads
// (/console/payments/reports). The payment block decides who sees and
// refunds what (payment.MayReadFinance, payment.MayRefund) and audits
// every read; the pages only arrange what they are given.
package financeweb

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Payments is what the pages need of the payment block.
type Payments interface {
	List(ctx context.Context, actor platform.Actor, f payment.Filter) (payment.Listed, error)
	View(ctx context.Context, actor platform.Actor, id string) (payment.Detail, error)
	Reconcile(ctx context.Context, actor platform.Actor, agency string, day time.Time, loc *time.Location) (payment.Reconciliation, error)
	Remit(ctx context.Context, actor platform.Actor, agency string, first, last time.Time, loc *time.Location) (payment.Remittance, error)
}

// Agencies is what the pages need of the tenancy block: agency names, and
// every agency for a platform administrator's choice.
type Agencies interface {
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Cases finds the case a case_payment checkout item paid for (its
// source is the case_payments id), for the link to the case page (which
// decides and audits who sees the case).
type Cases interface {
	CaseOfPayment(ctx context.Context, casePaymentID string) (caseID, reference string, err error)
}

// RefundFunc refunds amount (minor units) of agency's payment paymentID
// for actor, with reason; expectedAvailable is what the page said could
// still be refunded, so a refund made meanwhile by someone else is
// refused rather than doubled. It is payment.Service.Refund's signature
// (adapted to return only its error).
type RefundFunc func(ctx context.Context, actor platform.Actor, agency, paymentID string, amount, expectedAvailable int64, reason string) error

// Deps are the page's dependencies. Refund may be nil while the refund
// core is not wired: the detail page then says refunds are not
// available instead of showing the form.
type Deps struct {
	Payments Payments
	Agencies Agencies
	Cases    Cases
	Refund   RefundFunc
	// Zone is the jurisdiction's time zone: typed dates and report days
	// are calendar days there.
	Zone  func(ctx context.Context) *time.Location
	Clock platform.Clock // "today" on the reports page
	Auth  *identityweb.Handlers
	// Staff names the agency's staff who refunded (nil: their ids show).
	Staff Staff
}

// Staff is the identity block: an agency's staff, to name who refunded.
type Staff interface {
	AgencyMembers(ctx context.Context, agencyID string) ([]identity.AgencyMember, error)
}

type handlers struct {
	web *web.Server
	Deps
}

// Register adds the finance console's pages.
func Register(s *web.Server, d Deps) error {
	if err := platform.Required("financeweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "payments", Missing: d.Payments == nil},
		platform.Dep{Name: "agencies", Missing: d.Agencies == nil},
		platform.Dep{Name: "cases", Missing: d.Cases == nil},
		platform.Dep{Name: "zone", Missing: d.Zone == nil},
		platform.Dep{Name: "clock", Missing: d.Clock == nil},
		platform.Dep{Name: "identity pages", Missing: d.Auth == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, Deps: d}
	staff := func(*http.Request, *identity.Account) bool { return true } // the block decides
	s.Handle("GET /console/payments", d.Auth.RequireStaff(staff, h.list))
	s.Handle("GET /console/payments/{id}", d.Auth.RequireStaff(staff, h.detail))
	s.Handle("POST /console/payments/{id}/refund", d.Auth.RequireStaff(staff, h.refund))
	s.Handle("GET /console/payments/reports", d.Auth.RequireStaff(staff, h.reports))
	s.Handle("GET /console/payments/reports/reconciliation.csv", d.Auth.RequireStaff(staff, h.reconciliationCSV))
	s.Handle("GET /console/payments/reports/remittance.csv", d.Auth.RequireStaff(staff, h.remittanceCSV))
	return nil
}

// fail answers a refusal: forbidden for staff of the agency without the
// finance role, not found for everyone else (web.Server.StaffError).
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.web.StaffError(w, r, err)
}

// agencyChoice is one agency the viewer may choose.
type agencyChoice struct {
	ID, Name string
	Selected bool
}

// choices lists the agencies actor may read, in name order, marking
// chosen; chosen "" picks the first. It returns the chosen id, or a
// forbidden error when actor may read no agency's payments.
func (h *handlers) choices(r *http.Request, actor platform.Actor, chosen string) ([]agencyChoice, string, error) {
	ctx := r.Context()
	ids, all := payment.FinanceAgencies(actor)
	lang := web.Lang(r)
	var out []agencyChoice
	if all {
		ags, err := h.Agencies.Agencies(ctx, "")
		if err != nil {
			return nil, "", err
		}
		for _, a := range ags {
			out = append(out, agencyChoice{ID: a.ID, Name: agencyName(a, lang)})
		}
	} else {
		for _, id := range ids {
			a, err := h.Agencies.Agency(ctx, id)
			if err != nil {
				return nil, "", err
			}
			out = append(out, agencyChoice{ID: a.ID, Name: agencyName(a, lang)})
		}
	}
	if len(out) == 0 {
		return nil, "", platform.Errorf(platform.CodeForbidden, "you see no agency's payments")
	}
	slices.SortFunc(out, func(a, b agencyChoice) int { return strings.Compare(a.Name, b.Name) })
	if chosen == "" {
		chosen = out[0].ID
	}
	found := false
	for i := range out {
		if out[i].ID == chosen {
			out[i].Selected, found = true, true
		}
	}
	if !found {
		// An agency the viewer may not read (or that does not exist): the
		// block gives the same answer for both.
		return nil, "", payment.MayReadFinance(actor, chosen)
	}
	return out, chosen, nil
}

func agencyName(a tenancy.Agency, lang i18n.Lang) string {
	if lang == i18n.Spanish && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}

// listView is the payments page's data.
type listView struct {
	Agencies  []agencyChoice
	Agency    string
	From, To  i18n.DateInput
	FromError string // a catalogue key for the date's problem
	FromPart  string
	ToError   string
	ToPart    string
	Status    string
	Statuses  []payment.Status
	Reference string
	Email     string
	Payments  []payment.Payment
	Next      string // the URL of the next page, "" on the last
	First     string // the URL of the first page, "" when on it
	Filtered  bool
}

// V gives back what was typed, for the "input" template.
func (v listView) V(name string) string {
	switch name {
	case "reference":
		return v.Reference
	case "email":
		return v.Email
	}
	return ""
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	q := r.URL.Query()
	ags, agency, err := h.choices(r, actor, q.Get("agency"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	loc := h.Zone(ctx)
	v := listView{Agencies: ags, Agency: agency, Statuses: payment.Statuses(),
		From: web.DateInputFrom(q, "from"), To: web.DateInputFrom(q, "to"),
		Status: q.Get("status"), Reference: strings.TrimSpace(q.Get("reference")), Email: strings.TrimSpace(q.Get("email"))}
	f := payment.Filter{Agency: agency, Status: payment.Status(v.Status), Reference: v.Reference, Email: v.Email, After: q.Get("after")}
	var errs []web.FieldError
	p := h.web.Renderer().NewPage(r, nil)
	if !v.From.Empty() {
		iso, prob := i18n.ParseDate(v.From)
		if prob != nil {
			v.FromError, v.FromPart = prob.Key, prob.Part
			errs = append(errs, web.FieldError{Field: p.FirstDateInput("from", prob.Part), Message: p.T(prob.Key, p.T("finance.filter.from"))})
		} else {
			f.From = localDay(iso, loc)
		}
	}
	if !v.To.Empty() {
		iso, prob := i18n.ParseDate(v.To)
		if prob != nil {
			v.ToError, v.ToPart = prob.Key, prob.Part
			errs = append(errs, web.FieldError{Field: p.FirstDateInput("to", prob.Part), Message: p.T(prob.Key, p.T("finance.filter.to"))})
		} else {
			f.To = localDay(iso, loc).AddDate(0, 0, 1) // the whole last day
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		v.ToError = "finance.filter.range"
		errs = append(errs, web.FieldError{Field: p.FirstDateInput("to", ""), Message: p.T("finance.filter.range")})
	}
	if v.Status != "" && !payment.Status(v.Status).Valid() {
		errs = append(errs, web.FieldError{Field: "status", Message: p.T("finance.filter.status.invalid")})
	}
	if !utf8.ValidString(v.Reference) || len(v.Reference) > payment.MaxReference {
		errs = append(errs, web.FieldError{Field: "reference", Message: p.T("finance.filter.reference.invalid")})
	}
	if len(v.Email) > payment.MaxEmail {
		errs = append(errs, web.FieldError{Field: "email", Message: p.T("finance.filter.email.invalid")})
	}
	v.Filtered = !v.From.Empty() || !v.To.Empty() || v.Status != "" || v.Reference != "" || v.Email != ""
	status := http.StatusOK
	if len(errs) > 0 {
		// Keep what was typed and list nothing: a filter that cannot be
		// read must not look like one that matched nothing.
		status = http.StatusUnprocessableEntity
	} else {
		page, err := h.Payments.List(ctx, actor, f)
		if platform.ErrorCode(err) == platform.CodeInvalid {
			// A stale or tampered page cursor: start again from the top.
			status = http.StatusUnprocessableEntity
			errs = append(errs, web.FieldError{Field: "payments", Message: p.T("finance.list.stale")})
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
		v.Payments = page.Payments
		if page.Next != "" {
			nq := cloneQuery(q)
			nq.Set("agency", agency)
			nq.Set("after", page.Next)
			v.Next = "/console/payments?" + nq.Encode()
		}
		if f.After != "" {
			fq := cloneQuery(q)
			fq.Del("after")
			v.First = "/console/payments?" + fq.Encode()
		}
	}
	pg := h.web.Renderer().NewPage(r, v)
	pg.Errors = errs
	h.web.Page(w, r, status, "finance_payments", pg)
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		if k == "lang" {
			continue
		}
		out[k] = slices.Clone(vs)
	}
	return out
}

// localDay is midnight at the start of ISO date iso in loc.
func localDay(iso string, loc *time.Location) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, iso, loc)
	if err != nil {
		return time.Time{}
	}
	return t
}

// itemView is a checkout item with the case it paid for.
type itemView struct {
	payment.Item
	CaseID, CaseRef string
}

// CardName is the card's brand as people write it ("Visa", "American
// Express"); "" when the provider did not say.
func (v detailView) CardName() string { return receipt.Brand(v.CardBrand) }

// detailView is the payment page's data.
type detailView struct {
	payment.Detail
	AgencyName string
	Items      []itemView
	CanRefund  bool // the viewer may refund and something is left
	RefundsOn  bool // the refund core is wired
	Lines      []lineView
	// JustRefunded: the page follows a refund; it says so.
	JustRefunded bool
	Form         refundForm
	// names are the agency's staff by account id.
	names map[string]string
}

// By is who asked for a refund, as a person reads it: the staff
// member's name for "staff:ID" when known, else the actor as recorded
// (an agency system's key, the platform).
func (v detailView) By(actor string) string {
	if id, ok := strings.CutPrefix(actor, string(platform.ActorStaff)+":"); ok {
		if n := v.names[id]; n != "" {
			return n
		}
	}
	return actor
}

// lineView is a ledger line with its debit or credit, for the table.
type lineView struct {
	payment.PostingLine
	Debit, Credit int64
}

// refundForm is what was typed into the refund form.
type refundForm struct {
	Kind     string // full or partial
	Amount   string
	Reason   string
	Expected int64 // what was available when the form was shown
}

// V gives back what was typed, for the "input" template.
func (v detailView) V(name string) string {
	switch name {
	case "amount":
		return v.Form.Amount
	case "reason":
		return v.Form.Reason
	}
	return ""
}

func (h *handlers) detail(w http.ResponseWriter, r *http.Request) {
	h.showDetail(w, r, http.StatusOK, refundForm{Kind: "full"}, nil)
}

func (h *handlers) showDetail(w http.ResponseWriter, r *http.Request, status int, form refundForm, errs []web.FieldError) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	d, err := h.Payments.View(ctx, actor, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := detailView{Detail: d, Form: form, RefundsOn: h.Refund != nil, JustRefunded: r.URL.Query().Get("refunded") == "1" && status == http.StatusOK,
		names: map[string]string{}}
	if h.Staff != nil && len(d.Refunds) > 0 {
		if ms, err := h.Staff.AgencyMembers(ctx, d.Payment.Agency); err == nil { // names are a courtesy: ids still show
			for _, m := range ms {
				v.names[m.AccountID] = m.LegalName
			}
		}
	}
	for _, l := range d.Postings {
		lv := lineView{PostingLine: l}
		if l.Amount > 0 {
			lv.Debit = l.Amount
		} else {
			lv.Credit = -l.Amount
		}
		v.Lines = append(v.Lines, lv)
	}
	if a, err := h.Agencies.Agency(ctx, d.Agency); err == nil {
		v.AgencyName = agencyName(a, web.Lang(r))
	} else {
		v.AgencyName = d.Agency
	}
	v.CanRefund = h.Refund != nil && d.Available > 0 && payment.MayRefund(actor, d.Agency) == nil
	if v.Form.Expected == 0 {
		v.Form.Expected = d.Available
	}
	for _, it := range d.Items {
		iv := itemView{Item: it}
		if it.Kind == payment.ItemCasePayment && it.Source != "" {
			if id, ref, err := h.Cases.CaseOfPayment(ctx, it.Source); err == nil {
				iv.CaseID, iv.CaseRef = id, ref
			} else if platform.ErrorCode(err) != platform.CodeNotFound {
				h.web.Error(w, r, err)
				return
			}
		}
		v.Items = append(v.Items, iv)
	}
	p := h.web.Renderer().NewPage(r, v)
	p.Errors = errs
	h.web.Page(w, r, status, "finance_payment", p)
}

// confirmView is the refund confirmation page's data.
type confirmView struct {
	Payment payment.Detail
	Amount  int64
	Form    refundForm
}

// refund reads the refund form. The first post (confirm absent) checks
// the amount and reason and shows what is about to happen; the second
// (confirm=yes, the same fields carried along) refunds and goes back to
// the payment. A mistake shows the payment again with the form as typed.
func (h *handlers) refund(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	id := r.PathValue("id")
	d, err := h.Payments.View(ctx, actor, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.Refund == nil {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	if err := payment.MayRefund(actor, d.Agency); err != nil {
		h.fail(w, r, err)
		return
	}
	form := refundForm{Kind: r.PostFormValue("kind"), Amount: strings.TrimSpace(r.PostFormValue("amount")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	form.Expected, _ = strconv.ParseInt(r.PostFormValue("expected"), 10, 64)
	p := h.web.Renderer().NewPage(r, nil)
	var errs []web.FieldError
	var amount int64
	switch form.Kind {
	case "full":
		amount = form.Expected
	case "partial":
		a, err := ParseDollars(form.Amount)
		switch {
		case err != nil:
			errs = append(errs, web.FieldError{Field: "amount", Message: p.T("finance.refund.amount.invalid")})
		case a < 1:
			errs = append(errs, web.FieldError{Field: "amount", Message: p.T("finance.refund.amount.zero")})
		case a > d.Available:
			errs = append(errs, web.FieldError{Field: "amount", Message: p.T("finance.refund.amount.over", p.Money(d.Available, d.Currency))})
		}
		amount = a
	default:
		errs = append(errs, web.FieldError{Field: "kind-full", Message: p.T("finance.refund.kind.required")})
	}
	switch {
	case form.Reason == "":
		errs = append(errs, web.FieldError{Field: "reason", Message: p.T("finance.refund.reason.required")})
	case utf8.RuneCountInString(form.Reason) > MaxReason:
		errs = append(errs, web.FieldError{Field: "reason", Message: p.T("finance.refund.reason.long", MaxReason)})
	}
	if len(errs) == 0 && (form.Expected != d.Available || amount > d.Available || amount < 1) {
		// Someone refunded (part of) it since the form was shown.
		form.Expected = d.Available
		errs = append(errs, web.FieldError{Field: "kind-full", Message: p.T("finance.refund.changed", p.Money(d.Available, d.Currency))})
	}
	if len(errs) > 0 {
		h.showDetail(w, r, http.StatusUnprocessableEntity, form, errs)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		h.web.Page(w, r, http.StatusOK, "finance_refund_confirm", h.web.Renderer().NewPage(r, confirmView{Payment: d, Amount: amount, Form: form}))
		return
	}
	err = h.Refund(ctx, actor, d.Agency, d.ID, amount, form.Expected, form.Reason)
	switch platform.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/console/payments/"+url.PathEscape(d.ID)+"?refunded=1", http.StatusSeeOther)
	case platform.CodeForbidden, platform.CodeNotFound, platform.CodeUnauthorized:
		h.fail(w, r, err)
	case platform.CodeInvalid, platform.CodeConflict:
		// Someone refunded meanwhile (GOV.UK Pay's P0604, or P0603 when
		// nothing is left): show the payment as it is now, with why.
		form.Expected = 0 // read again below
		key := "finance.refund.refused"
		var rp *payment.RefundProblem
		if errors.As(err, &rp) && rp.Code != "P0602" {
			key = "finance.refund.changed.now"
		}
		h.showDetail(w, r, http.StatusConflict, form, []web.FieldError{{Field: "kind-full", Message: p.T(key)}})
	default:
		if errors.Is(err, payment.ErrProviderUnavailable) {
			h.showDetail(w, r, http.StatusServiceUnavailable, form, []web.FieldError{{Field: "kind-full", Message: p.T("finance.refund.unavailable")}})
			return
		}
		h.web.Error(w, r, err)
	}
}

// MaxReason is the longest refund reason, in characters.
const MaxReason = 500

// ParseDollars reads an amount typed by staff ("12", "12.5", "12.50",
// "$1,234.56") as cents. It is a parser of outside input: it never
// panics and refuses anything else, including more than two decimals
// and amounts past payment.MaxAmount.
func ParseDollars(s string) (int64, error) {
	bad := platform.Invalid("amount", "enter an amount in dollars, like 12.50")
	s = strings.NewReplacer("$", "", ",", "", " ", "").Replace(strings.TrimSpace(s))
	if s == "" || s == "." {
		return 0, bad
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(whole) > 9 || len(frac) > 2 {
		return 0, bad
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, bad
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	cents := w*100 + f
	if cents > payment.MaxAmount {
		return 0, bad
	}
	return cents, nil
}
