// Package payweb is the citizen's side of online payments (issue 12):
// the Pay page (/pay: everything a signed-in person owes across agencies,
// paid in one checkout), the hand-off to the provider
// (/pay/checkouts/{id}), the return page that reads the provider's truth
// and settles (/pay/checkouts/{id}/return), and the built-in sandbox
// provider's clearly labelled test payment page (/pay/sandbox/{ref}).
//
// The pages compose blocks through the small interfaces below; each block
// authorises and audits its own reads (casework's Owing, reminder's List,
// payment's ViewCheckout).
package payweb

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Payments is the payment block.
type Payments interface {
	Open(ctx context.Context, actor platform.Actor, o payment.OpenCheckout) (payment.Checkout, error)
	ViewCheckout(ctx context.Context, actor platform.Actor, id string) (payment.Checkout, error)
	Begin(ctx context.Context, actor platform.Actor, id, returnURL, description string) (payment.Checkout, error)
	Settle(ctx context.Context, actor platform.Actor, id string, o payment.Outcome) (payment.Checkout, error)
	Provider(name string) (payment.Provider, error)
	Get(ctx context.Context, agency, id string) (payment.Payment, error)
	ClaimsOf(ctx context.Context, account string) ([]payment.Claim, error)
}

// Sandbox is the built-in test provider's page side (*payment.Sandbox).
type Sandbox interface {
	Charge(ctx context.Context, ref string) (payment.SandboxCharge, error)
	Pay(ctx context.Context, ref string, card payment.Card) (payment.SandboxCharge, map[string]string, error)
	Authenticate(ctx context.Context, ref string, approve bool) (payment.SandboxCharge, error)
	Abandon(ctx context.Context, ref string) (payment.SandboxCharge, error)
}

// Cases is the casework block: the unpaid fees of the person's open
// cases (audited there).
type Cases interface {
	Owing(ctx context.Context, by platform.Actor) ([]casework.Owed, error)
}

// Obligations is the reminder block: the person's open obligations, of
// which those with an amount are payable (audited there).
type Obligations interface {
	List(ctx context.Context, by platform.Actor, all bool) ([]reminder.Obligation, error)
}

// Agencies names agencies (public facts).
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Auth is the one "signed in" rule (*identityweb.Handlers).
type Auth interface {
	RequireSignedIn(fn http.HandlerFunc) http.Handler
}

// Deps are what the pages need. All are required.
type Deps struct {
	Payments    Payments
	Sandbox     Sandbox
	Cases       Cases
	Obligations Obligations
	Agencies    Agencies
	Auth        Auth
	// PublicURL is the site's public base URL ("" in tests that serve
	// no public URL: return pages are then given as paths).
	PublicURL func() string
	// Provider is the provider people pay with: the live one when the
	// operator configured it (stripe), else the sandbox ("" = sandbox).
	// Payments through the sandbox are test payments; through any other
	// provider, live ones.
	Provider string
	// SurveyService names the service a paid checkout was for, so the
	// result page can offer the satisfaction survey about it ("" when
	// there is none to ask about). Optional: nil offers no survey.
	SurveyService func(ctx context.Context, c payment.Checkout) string
}

type pages struct {
	web *web.Server
	Deps
}

// Register adds the pages to s:
//
//	GET  /pay                                   what the signed-in person owes, to choose from
//	POST /pay                                   open a checkout of the chosen items
//	GET  /pay/checkouts/{id}                    begin it at the provider and go to its page
//	GET  /pay/checkouts/{id}/return             the provider's truth, settled: paid, declined, cancelled or processing
//	GET  /pay/sandbox/{ref}                     the sandbox's test payment page (card, then authentication)
//	POST /pay/sandbox/{ref}                     submit a test card
//	POST /pay/sandbox/{ref}/authenticate        answer the test authentication step
//	POST /pay/sandbox/{ref}/cancel              the payer cancels (P0030)
func Register(s *web.Server, d Deps) error {
	if err := platform.Required("payweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "payments", Missing: d.Payments == nil},
		platform.Dep{Name: "sandbox", Missing: d.Sandbox == nil},
		platform.Dep{Name: "cases", Missing: d.Cases == nil},
		platform.Dep{Name: "obligations", Missing: d.Obligations == nil},
		platform.Dep{Name: "agencies", Missing: d.Agencies == nil},
		platform.Dep{Name: "auth", Missing: d.Auth == nil},
		platform.Dep{Name: "public URL", Missing: d.PublicURL == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &pages{web: s, Deps: d}
	s.Handle("GET /pay", d.Auth.RequireSignedIn(p.payPage))
	s.Handle("POST /pay", d.Auth.RequireSignedIn(p.open))
	s.HandleFunc("GET /pay/checkouts/{id}", p.begin)
	s.HandleFunc("GET /pay/checkouts/{id}/return", p.returned)
	s.HandleFunc("GET /pay/sandbox/{ref}", p.sandboxPage)
	s.HandleFunc("POST /pay/sandbox/{ref}", p.sandboxPay)
	s.HandleFunc("POST /pay/sandbox/{ref}/authenticate", p.sandboxAuthenticate)
	s.HandleFunc("POST /pay/sandbox/{ref}/cancel", p.sandboxCancel)
	return nil
}

// fail answers an error: a checkout page asked for by someone not signed
// in is sent to sign in (and back), as every signed-in page is.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	if platform.ErrorCode(err) == platform.CodeUnauthorized {
		p.Auth.RequireSignedIn(func(w http.ResponseWriter, r *http.Request) { p.web.ErrorPage(w, r, http.StatusNotFound) }).ServeHTTP(w, r)
		return
	}
	p.web.Error(w, r, err)
}

// owedItem is one thing the person may pay, as the Pay page lists it.
type owedItem struct {
	Key       string // kind:source, the checkbox's value
	ID        string // the checkbox's id
	Item      payment.Item
	Title     string
	Reference string
	Amount    string
	Due       string
	DueISO    string
	Busy      string // the checkout paying it now ("" when none)
	Paid      bool   // paid; the agency's record catches up shortly
	Checked   bool
}

// agencyGroup is one agency's items with their total.
type agencyGroup struct {
	ID, Name string
	Items    []owedItem
	Total    string
	minor    int64
}

type payView struct {
	Groups   []agencyGroup
	Total    string
	Payable  int // items that can be chosen
	Currency string
}

// owed gathers what actor owes: the unpaid fees of their open cases and
// their open obligations with an amount (an obligation that mirrors a
// case's fee, source "case:…", is the fee itself and listed once), each
// marked when a checkout is paying it or has paid it.
func (p *pages) owed(ctx context.Context, r *http.Request, page *web.Page, actor platform.Actor) ([]owedItem, error) {
	lang := string(page.Lang)
	fees, err := p.Cases.Owing(ctx, actor)
	if err != nil {
		return nil, err
	}
	obs, err := p.Obligations.List(ctx, actor, false)
	if err != nil {
		return nil, err
	}
	claims, err := p.Payments.ClaimsOf(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	claimed := map[string]payment.Claim{}
	for _, c := range claims {
		claimed[c.Kind+":"+c.Source] = c
	}
	m := i18n.Messages()
	var out []owedItem
	for _, f := range fees {
		if f.Amount.Minor < 1 {
			continue
		}
		title := f.Service
		if title.ES == "" {
			title.ES = title.EN
		}
		it := owedItem{Key: payment.ItemCasePayment + ":" + strconv.FormatInt(f.PaymentID, 10), Reference: f.Reference,
			Title: page.T("pay.item.fee", pick(lang, title.EN, title.ES)), Amount: page.Format().Money(f.Amount),
			Item: payment.Item{Kind: payment.ItemCasePayment, Source: strconv.FormatInt(f.PaymentID, 10), Agency: f.AgencyID,
				Amount: f.Amount.Minor, Currency: f.Amount.Currency, Reference: f.Reference,
				DescriptionEN: m.T(i18n.English, "pay.item.fee", title.EN) + " (" + f.Reference + ")",
				DescriptionES: m.T(i18n.Spanish, "pay.item.fee", title.ES) + " (" + f.Reference + ")"}}
		if f.DueAt != nil {
			it.Due, it.DueISO = page.Date(*f.DueAt), page.ISO(*f.DueAt)
		}
		out = append(out, it)
	}
	for _, o := range obs {
		if o.Amount == nil || o.Amount.Minor < 1 || o.AgencyID == "" || strings.HasPrefix(o.Source, "case:") {
			continue
		}
		it := owedItem{Key: payment.ItemObligation + ":" + o.ID, Reference: o.Reference, Title: o.Title.In(lang),
			Amount: page.Format().Money(*o.Amount), Due: reminder.FormatDate(lang, o.Due), DueISO: o.Due.String(),
			Item: payment.Item{Kind: payment.ItemObligation, Source: o.ID, Agency: o.AgencyID, Amount: o.Amount.Minor,
				Currency: o.Amount.Currency, Reference: o.Reference, DescriptionEN: o.Title.In("en"), DescriptionES: o.Title.In("es")}}
		if it.Reference != "" {
			it.Item.DescriptionEN += " (" + it.Reference + ")"
			it.Item.DescriptionES += " (" + it.Reference + ")"
		}
		out = append(out, it)
	}
	for i := range out {
		out[i].ID = "item-" + strconv.Itoa(i+1)
		if c, ok := claimed[out[i].Key]; ok {
			if c.Status == payment.Success {
				out[i].Paid = true
			} else {
				out[i].Busy = c.Checkout
			}
		}
	}
	return out, nil
}

func pick(lang, en, es string) string {
	if lang == "es" && es != "" {
		return es
	}
	return en
}

// view groups items by agency (by name), with totals of what can be paid.
func (p *pages) view(ctx context.Context, page *web.Page, items []owedItem) (payView, error) {
	groups := map[string]*agencyGroup{}
	var v payView
	var total int64
	for _, it := range items {
		g := groups[it.Item.Agency]
		if g == nil {
			a, err := p.Agencies.Agency(ctx, it.Item.Agency)
			if err != nil {
				return v, err
			}
			g = &agencyGroup{ID: a.ID, Name: pick(string(page.Lang), a.Name, a.NameES)}
			groups[it.Item.Agency] = g
		}
		g.Items = append(g.Items, it)
		if it.Busy == "" && !it.Paid {
			g.minor += it.Item.Amount
			total += it.Item.Amount
			v.Payable++
			v.Currency = it.Item.Currency
		}
	}
	for _, g := range groups {
		g.Total = page.Money(g.minor, v.Currency)
		v.Groups = append(v.Groups, *g)
	}
	sort.Slice(v.Groups, func(i, j int) bool { return v.Groups[i].Name < v.Groups[j].Name })
	v.Total = page.Money(total, v.Currency)
	return v, nil
}

// payPage shows the Pay page with every payable item ticked, or only
// those named by ?item=KEY (the to-do list's "Pay online" of one item).
// A key that names nothing owed ticks nothing more.
func (p *pages) payPage(w http.ResponseWriter, r *http.Request) {
	var chosen map[string]bool
	if keys := r.URL.Query()["item"]; len(keys) > 0 {
		chosen = map[string]bool{}
		for _, k := range keys {
			chosen[k] = true
		}
	}
	p.renderPay(w, r, http.StatusOK, chosen, "")
}

// renderPay shows the Pay page; chosen (nil: all payable) are the boxes
// ticked, errKey a mistake for the error summary.
func (p *pages) renderPay(w http.ResponseWriter, r *http.Request, status int, chosen map[string]bool, errKey string) {
	ctx := r.Context()
	page := p.web.Renderer().NewPage(r, nil)
	items, err := p.owed(ctx, r, page, platform.ActorFrom(ctx))
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	ticked := 0
	for i := range items {
		items[i].Checked = items[i].Busy == "" && !items[i].Paid && (chosen == nil || chosen[items[i].Key])
		if items[i].Checked {
			ticked++
		}
	}
	if ticked == 0 && errKey == "" && chosen != nil { // a link to something paid since: offer the rest
		for i := range items {
			items[i].Checked = items[i].Busy == "" && !items[i].Paid
		}
	}
	v, err := p.view(ctx, page, items)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	if errKey != "" {
		field := "items"
		for _, g := range v.Groups {
			for _, it := range g.Items {
				if it.Busy == "" && !it.Paid {
					field = it.ID
					break
				}
			}
			if field != "items" {
				break
			}
		}
		page.Errors = append(page.Errors, web.FieldError{Field: field, Message: page.T(errKey)})
	}
	page.Data = v
	p.web.Page(w, r, status, "pay", page)
}

// open opens a checkout of the items ticked, taken from what the person
// owes now (amounts are never read from the form).
func (p *pages) open(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	if err := r.ParseForm(); err != nil {
		p.web.ErrorPage(w, r, http.StatusBadRequest)
		return
	}
	chosen := map[string]bool{}
	for _, k := range r.PostForm["item"] {
		chosen[k] = true
	}
	if len(chosen) == 0 {
		p.renderPay(w, r, http.StatusUnprocessableEntity, chosen, "pay.error.none")
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	items, err := p.owed(ctx, r, page, actor)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	var pay []payment.Item
	for _, it := range items {
		if chosen[it.Key] {
			if it.Busy != "" || it.Paid {
				p.renderPay(w, r, http.StatusConflict, chosen, "pay.error.already")
				return
			}
			pay = append(pay, it.Item)
			delete(chosen, it.Key)
		}
	}
	if len(chosen) > 0 { // no longer owed (paid at the counter, or not theirs)
		p.renderPay(w, r, http.StatusConflict, nil, "pay.error.gone")
		return
	}
	provider := cmp.Or(p.Provider, payment.SandboxName)
	c, err := p.Payments.Open(ctx, actor, payment.OpenCheckout{Account: actor.ID, Language: string(page.Lang), Provider: provider,
		Live: provider != payment.SandboxName, ReturnURL: p.absolute("/pay"), Items: pay})
	switch {
	case errors.Is(err, payment.ErrAlreadyPaying):
		p.renderPay(w, r, http.StatusConflict, nil, "pay.error.already")
		return
	case platform.ErrorCode(err) == platform.CodeInvalid:
		p.renderPay(w, r, http.StatusUnprocessableEntity, chosenOf(pay), "pay.error.toomuch")
		return
	case err != nil:
		p.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/pay/checkouts/"+c.ID, http.StatusSeeOther)
}

func chosenOf(items []payment.Item) map[string]bool {
	out := map[string]bool{}
	for _, it := range items {
		out[it.Kind+":"+it.Source] = true
	}
	return out
}

// absolute is path on the public site (a path when no public URL is set).
func (p *pages) absolute(path string) string {
	base := strings.TrimSuffix(p.PublicURL(), "/")
	if base == "" {
		return path
	}
	return base + path
}

// begin asks the provider for the checkout's charge (once: Begin is
// idempotent) and sends the payer to its page; a finished checkout goes
// to its return page.
func (p *pages) begin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	c, err := p.Payments.ViewCheckout(ctx, actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	ret := "/pay/checkouts/" + c.ID + "/return"
	if c.State.Finished {
		http.Redirect(w, r, ret, http.StatusSeeOther)
		return
	}
	c, err = p.Payments.Begin(ctx, actor, c.ID, p.absolute(ret), p.description(ctx, r, c))
	if errors.Is(err, payment.ErrProviderUnavailable) {
		page := p.web.Renderer().NewPage(r, resultView{Kind: "unavailable", Checkout: c.ID})
		p.web.Page(w, r, http.StatusServiceUnavailable, "pay_result", page)
		return
	}
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	if c.NextURL == "" || c.State.Finished {
		http.Redirect(w, r, ret, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, c.NextURL, http.StatusSeeOther)
}

// description is what the provider's page and the card statement say:
// the agencies paid.
func (p *pages) description(ctx context.Context, r *http.Request, c payment.Checkout) string {
	lang := string(web.Lang(r))
	var names []string
	seen := map[string]bool{}
	for _, it := range c.Items {
		if seen[it.Agency] {
			continue
		}
		seen[it.Agency] = true
		if a, err := p.Agencies.Agency(ctx, it.Agency); err == nil {
			names = append(names, pick(lang, a.Name, a.NameES))
		} else {
			names = append(names, it.Agency)
		}
	}
	d := strings.Join(names, ", ")
	if len(d) > payment.MaxDescription {
		d = d[:payment.MaxDescription]
	}
	return d
}

// resultView is the return page.
type resultView struct {
	Kind     string // success, declined, cancelled, expired, error, processing, unfinished, unavailable
	Checkout string
	Total    string
	Lines    []resultLine
	Card     string // "Visa ending 4242"
	NextURL  string // the provider's page, to finish an unfinished payment
	Survey   string // the service the satisfaction survey asks about, or ""
}

type resultLine struct{ Agency, Description, Amount string }

// returned reads the charge's state from the provider, settles the
// checkout to it and says what happened. An agency's API payment goes
// back to the agency's return_url instead.
func (p *pages) returned(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	c, err := p.Payments.ViewCheckout(ctx, actor, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	unsure := false
	if !c.State.Finished && c.ProviderRef != "" {
		prov, err := p.Payments.Provider(c.Provider)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		o, err := prov.Status(ctx, c.ProviderRef)
		if err != nil {
			unsure = true // never a guess: say it is still processing
		} else if o.Status != c.State.Status {
			settler := actor
			if !settler.SignedIn() {
				settler = platform.Actor{Kind: platform.ActorSystem, ID: "payment.return"}
			}
			settled, err := p.Payments.Settle(ctx, settler, c.ID, o)
			if errors.Is(err, payment.ErrStale) {
				// The sweep or a second tab settled it first: read again.
				settled, err = p.Payments.ViewCheckout(ctx, actor, c.ID)
			}
			if err != nil {
				p.web.Error(w, r, err)
				return
			}
			c = settled
		}
	}
	if len(c.Items) > 0 && c.Items[0].Kind == payment.ItemAPI && (c.State.Finished || c.ProviderRef == "") {
		pay, err := p.Payments.Get(ctx, c.Items[0].Agency, c.Items[0].PaymentID)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		http.Redirect(w, r, pay.ReturnURL, http.StatusSeeOther)
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	v := resultView{Checkout: c.ID, Total: page.Money(c.Amount, c.Currency), NextURL: c.NextURL}
	for _, it := range c.Items {
		name := it.Agency
		if a, err := p.Agencies.Agency(ctx, it.Agency); err == nil {
			name = pick(string(page.Lang), a.Name, a.NameES)
		}
		v.Lines = append(v.Lines, resultLine{Agency: name, Description: pick(string(page.Lang), it.DescriptionEN, it.DescriptionES), Amount: page.Money(it.Amount, it.Currency)})
	}
	if c.LastDigits != "" {
		brand := receipt.Brand(c.CardBrand)
		if brand == "" {
			brand = page.T("pay.brand.card")
		}
		v.Card = page.T("pay.card", brand, c.LastDigits)
	}
	switch {
	case c.State.Status == payment.Success:
		v.Kind = "success"
		if p.SurveyService != nil {
			v.Survey = p.SurveyService(ctx, c)
		}
	case c.State.Status == payment.Failed && c.State.Code == payment.CodeRejected:
		v.Kind = "declined"
	case c.State.Status == payment.Failed && c.State.Code == payment.CodeCancelledByUser, c.State.Status == payment.Cancelled:
		v.Kind = "cancelled"
	case c.State.Status == payment.Failed && c.State.Code == payment.CodeExpired:
		v.Kind = "expired"
	case c.State.Status == payment.Error:
		v.Kind = "error"
	case unsure || c.State.Status == payment.Submitted || c.State.Status == payment.Capturable:
		v.Kind = "processing"
	default: // created or started: the payer left the provider's page unfinished
		v.Kind = "unfinished"
	}
	page.Data = v
	status := http.StatusOK
	p.web.Page(w, r, status, "pay_result", page)
}

// sandboxView is the test payment page.
type sandboxView struct {
	Charge   payment.SandboxCharge
	Amount   string
	Lines    []resultLine
	Values   map[string]string
	Checkout string
}

// V returns what was typed into a field (kept after a mistake).
func (v sandboxView) V(name string) string { return v.Values[name] }

// charge loads charge ref for its payer: the checkout's own rule
// (ViewCheckout) decides who may see it.
func (p *pages) charge(w http.ResponseWriter, r *http.Request) (payment.SandboxCharge, payment.Checkout, bool) {
	ctx := r.Context()
	ch, err := p.Sandbox.Charge(ctx, r.PathValue("ref"))
	if err != nil {
		p.fail(w, r, err)
		return ch, payment.Checkout{}, false
	}
	c, err := p.Payments.ViewCheckout(ctx, platform.ActorFrom(ctx), ch.Checkout)
	if err != nil {
		p.fail(w, r, err)
		return ch, c, false
	}
	return ch, c, true
}

func (p *pages) renderSandbox(w http.ResponseWriter, r *http.Request, status int, ch payment.SandboxCharge, c payment.Checkout, values map[string]string, errs map[string]string) {
	page := p.web.Renderer().NewPage(r, nil)
	v := sandboxView{Charge: ch, Amount: page.Money(ch.Amount, ch.Currency), Values: values, Checkout: c.ID}
	for _, it := range c.Items {
		name := it.Agency
		if a, err := p.Agencies.Agency(r.Context(), it.Agency); err == nil {
			name = pick(string(page.Lang), a.Name, a.NameES)
		}
		v.Lines = append(v.Lines, resultLine{Agency: name, Description: pick(string(page.Lang), it.DescriptionEN, it.DescriptionES), Amount: page.Money(it.Amount, it.Currency)})
	}
	for _, f := range payment.CardFields {
		if key, ok := errs[f]; ok {
			page.Errors = append(page.Errors, web.FieldError{Field: f, Message: page.T(key)})
		}
	}
	page.Data = v
	p.web.Page(w, r, status, "pay_sandbox", page)
}

func (p *pages) sandboxPage(w http.ResponseWriter, r *http.Request) {
	ch, c, ok := p.charge(w, r)
	if !ok {
		return
	}
	if ch.Finished() {
		http.Redirect(w, r, ch.ReturnURL, http.StatusSeeOther)
		return
	}
	p.renderSandbox(w, r, http.StatusOK, ch, c, nil, nil)
}

func (p *pages) sandboxPay(w http.ResponseWriter, r *http.Request) {
	ch, c, ok := p.charge(w, r)
	if !ok {
		return
	}
	card := payment.Card{Number: r.PostFormValue(payment.FieldNumber), ExpiryMonth: r.PostFormValue(payment.FieldExpiryMonth),
		ExpiryYear: r.PostFormValue(payment.FieldExpiryYear), CVC: r.PostFormValue(payment.FieldCVC), Name: r.PostFormValue(payment.FieldName)}
	ch, errs, err := p.Sandbox.Pay(r.Context(), ch.Ref, card)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	if len(errs) > 0 {
		// What was typed is shown again, so the payer corrects only the
		// mistake; the security code is not (as payment pages do).
		values := map[string]string{payment.FieldNumber: card.Number, payment.FieldExpiryMonth: card.ExpiryMonth,
			payment.FieldExpiryYear: card.ExpiryYear, payment.FieldName: card.Name}
		p.renderSandbox(w, r, http.StatusUnprocessableEntity, ch, c, values, errs)
		return
	}
	p.next(w, r, ch)
}

// next sends the payer on: back to Portico once the charge is decided,
// to the authentication step while it waits.
func (p *pages) next(w http.ResponseWriter, r *http.Request, ch payment.SandboxCharge) {
	if ch.Finished() {
		http.Redirect(w, r, ch.ReturnURL, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, payment.SandboxPage(ch.Ref)+langQuery(r), http.StatusSeeOther)
}

func langQuery(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "es" {
		return "?" + url.Values{"lang": {l}}.Encode()
	}
	return ""
}

func (p *pages) sandboxAuthenticate(w http.ResponseWriter, r *http.Request) {
	ch, _, ok := p.charge(w, r)
	if !ok {
		return
	}
	decision := r.PostFormValue("decision")
	if decision != "approve" && decision != "fail" {
		p.web.ErrorPage(w, r, http.StatusBadRequest)
		return
	}
	ch, err := p.Sandbox.Authenticate(r.Context(), ch.Ref, decision == "approve")
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	p.next(w, r, ch)
}

func (p *pages) sandboxCancel(w http.ResponseWriter, r *http.Request) {
	ch, _, ok := p.charge(w, r)
	if !ok {
		return
	}
	ch, err := p.Sandbox.Abandon(r.Context(), ch.Ref)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, ch.ReturnURL, http.StatusSeeOther)
}
