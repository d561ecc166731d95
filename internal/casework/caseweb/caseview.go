package caseweb

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web"
)

type answerPage struct {
	Title  string
	Fields []answerField
}

type answerField struct {
	Label, Value string
	Attachment   bool
	URL          string // the download of an attachment
	RawID        string // the attachment's id, as the answer holds it
}

type transitionView struct {
	ID, Label string
	Blocked   []string
}

type entryView struct {
	When, Who, Kind, Text, Body string
	Internal                    bool
	// Link and LinkText: a link under the entry (an online payment's
	// receipt, for the person who paid).
	Link, LinkText string
	at             time.Time // orders entries from different sources
}

type paymentView struct {
	Amount, Requested, Due, Paid, Ref string
	// Receipt says when it was paid and the receipt number recorded at
	// the counter ("Paid $10.00 on March 27, 2021 — receipt 12345").
	Receipt string
}

// applicantView is who applied, for staff of the case's agency.
type applicantView struct {
	Name, Email, Phone, DateOfBirth, Lang string
	Address, Mailing                      []string
}

type documentView struct {
	Title, Issued, ValidUntil string
}

// pluginCallView is a plug-in call staff must know about: one being
// tried again (Waiting) or one that failed for good (Retry: its id,
// offered to staff who may work the case).
type pluginCallView struct {
	ID       int64
	Text     string
	Waiting  bool
	CanRetry bool
}

// appointmentView is the appointment a workflow booked, for the
// applicant (manifest.Appointment over the case's recorded values).
type appointmentView struct {
	When, Place string
	Start       string // ISO, for <time datetime>
}

type caseView struct {
	Case casework.Case
	// PluginFailures (staff, open cases) say which plug-in calls of the
	// workflow gave no usable answer: what they were to do is undone.
	PluginFailures []string
	// PluginCalls (staff) are the calls being tried again and those that
	// failed for good (with Retry), open or closed case alike.
	PluginCalls []pluginCallView
	// Appointment (the applicant) is what the workflow booked.
	Appointment *appointmentView
	Agency      string // the agency's name
	Applicant   *applicantView
	Service     string
	State       string
	SLA, SLAKey string
	Due         string
	Opened      string
	Assignee    string
	Waiting     string
	Answers     []answerPage
	Timeline    []entryView
	Payments    []paymentView
	Receipts    []string // a sentence for each payment received
	Documents   []documentView
	Outstanding string // the amount due, "" when nothing is due
	PayOnline   bool   // the citizen may pay what is due online, at /pay
	Transitions []transitionView
	Members     []option
	CanWork     bool
	CanPay      bool
	Closed      bool
	Done        string // the flash message of the last change
	Values      map[string]string
	Next        string // citizen page: what happens next
}

// V returns a typed value, for forms kept after an error.
func (v caseView) V(name string) string { return v.Values[name] }

// doneKeys are the flash messages a change may redirect with.
var doneKeys = []string{"assign", "transition", "request", "note", "message", "payment", "respond", "retry"}

// buildView assembles what both case pages show; staff also see internal
// timeline entries and who applied (applicant, which the caller read with
// the block's audited ViewApplicant; the zero Applicant for the citizen).
func (h *Handlers) buildView(ctx context.Context, p *web.Page, c casework.Case, staff bool, applicant casework.Applicant) (caseView, error) {
	lg := string(p.Lang)
	v := caseView{Case: c, Service: c.ServiceID, State: c.State, Due: when(p, c.SLADueAt), Opened: when(p, &c.OpenedAt),
		Waiting: p.T("case.waiting." + c.WaitingOn), Closed: c.ClosedAt != nil}
	v.Agency = AgencyName(ctx, h.agencies, p, c.AgencyID)
	v.SLAKey = casework.SLAStatus(c, h.cases.Now())
	v.SLA = p.T("case.sla." + v.SLAKey)
	wf, err := h.cases.Workflow(ctx, c)
	if err != nil {
		return v, err
	}
	m := wf.Manifest
	v.Service = tr(m.Title, lg)
	if st, ok := m.Workflow.States[c.State]; ok {
		v.State = tr(st.Title, lg)
	}
	if staff {
		names := h.memberNames(ctx, []string{c.AgencyID})
		v.Assignee = names[c.Assignee]
		if v.Assignee == "" && c.Assignee != "" {
			v.Assignee = c.Assignee
		}
		v.Applicant = newApplicantView(p, applicant)
	}
	answers, err := h.cases.Answers(ctx, c.ID)
	if err != nil {
		return v, err
	}
	v.Answers = answerPages(p.Format(), wf.Runtime(), answers)
	if err := h.linkFiles(ctx, p, c, staff, v.Answers); err != nil {
		return v, err
	}
	entries, err := h.cases.Timeline(ctx, c.ID, staff)
	if err != nil {
		return v, err
	}
	if err := h.cases.NameActors(ctx, c, entries, applicant); err != nil {
		return v, err
	}
	for _, e := range entries {
		v.Timeline = append(v.Timeline, entryView{When: when(p, &e.At), Who: WhoLabel(p, e.By, staff, v.Agency), Kind: e.Kind,
			Text: EntryText(p, m, e), Body: e.Body, Internal: e.Internal, at: e.At})
		// A failed call is told from its row (pluginCalls), which a retry
		// makes pending again; an answer that said no only here.
		if staff && c.ClosedAt == nil && e.Action() == "call_plugin" && NoStatus(e) > 0 {
			v.PluginFailures = append(v.PluginFailures, p.T("case.plugin.failed.body", e.Str("plugin"), e.Str("operation")))
		}
	}
	pays, err := h.cases.Payments(ctx, c.ID)
	if err != nil {
		return v, err
	}
	var due int64
	for _, x := range pays {
		pv := paymentView{Amount: p.Money(x.Amount, x.Currency), Requested: when(p, &x.RequestedAt), Due: when(p, x.DueAt), Paid: when(p, x.PaidAt), Ref: x.PaidRef}
		if x.PaidAt != nil {
			paid := p.Money(x.PaidAmount, x.Currency)
			if x.PaidRef != "" {
				pv.Receipt = p.T("case.payments.receipt", paid, p.Date(*x.PaidAt), x.PaidRef)
			} else {
				pv.Receipt = p.T("case.payments.noreceipt", paid, p.Date(*x.PaidAt))
			}
		}
		v.Payments = append(v.Payments, pv)
		if pv.Receipt != "" {
			v.Receipts = append(v.Receipts, pv.Receipt)
		}
		if x.PaidAt == nil {
			due += x.Amount
			v.Outstanding = p.Money(due, x.Currency)
		}
	}
	if err := h.onlinePayments(ctx, p, c, staff, applicant, pays, &v); err != nil {
		return v, err
	}
	docs, err := h.cases.Documents(ctx, c.ID)
	if err != nil {
		return v, err
	}
	for _, d := range docs {
		v.Documents = append(v.Documents, documentView{Title: tr(m.Documents[d.Document].Title, lg), Issued: when(p, &d.IssuedAt), ValidUntil: when(p, d.ValidUntil)})
	}
	return v, nil
}

// onlinePayments adds to v's timeline each of the agency's payments that
// paid the case's fees (pays) online: for the applicant, its amount and
// reference with a link to the receipt (when they paid it themselves); for
// staff, its amount and payment id, and of the card only its last four
// digits. Entries from both sources are ordered by time.
func (h *Handlers) onlinePayments(ctx context.Context, p *web.Page, c casework.Case, staff bool, applicant casework.Applicant, pays []casework.Payment, v *caseView) error {
	if h.paid == nil || len(pays) == 0 {
		return nil
	}
	ids := make([]string, len(pays))
	for i, x := range pays {
		ids[i] = strconv.FormatInt(x.ID, 10)
	}
	online, err := h.paid.CasePayments(ctx, ids)
	if err != nil || len(online) == 0 {
		return err
	}
	for _, o := range online {
		if o.Agency != c.AgencyID {
			continue // only the case's agency's own payment belongs on its case
		}
		amount := p.Money(o.Amount, o.Currency)
		ev := entryView{When: when(p, &o.PaidAt), Kind: "payment", at: o.PaidAt,
			Who: WhoLabel(p, casework.Who{Kind: casework.ByApplicant, Name: applicant.Name}, staff, v.Agency)}
		switch {
		case staff && o.LastDigits != "":
			ev.Text = p.T("case.entry.paid_online.staff.card", amount, o.PaymentID, o.LastDigits)
		case staff:
			ev.Text = p.T("case.entry.paid_online.staff", amount, o.PaymentID)
		default:
			ev.Text = p.T("case.entry.paid_online", amount, o.Reference)
			if o.Account == c.AccountID {
				ev.Link, ev.LinkText = "/pay/receipts/"+o.CheckoutID, p.T("case.entry.paid_online.receipt")
			}
		}
		v.Timeline = append(v.Timeline, ev)
	}
	sort.SliceStable(v.Timeline, func(i, j int) bool { return v.Timeline[i].at.Before(v.Timeline[j].at) })
	return nil
}

// newApplicantView lays out an applicant's details for the page.
func newApplicantView(p *web.Page, a casework.Applicant) *applicantView {
	v := &applicantView{Name: a.Name, Email: a.Email, Phone: a.Phone, Address: a.Residential.Lines()}
	if !a.Mailing.IsZero() && a.Mailing != a.Residential {
		v.Mailing = a.Mailing.Lines()
	}
	if a.DateOfBirth != "" {
		v.DateOfBirth = p.DateAnswer(a.DateOfBirth)
	}
	switch a.Lang {
	case "en", "es":
		v.Lang = p.T("case.applicant.lang." + a.Lang)
	}
	return v
}

// answerPages lays the answers out as every summary of answers does
// (application.Summarize): pages and questions in the order the form asked
// them, dates, choices, yes/no and addresses written for the reader.
// Answers to pages the manifest no longer has are left out (they cannot
// be labelled).
func answerPages(f i18n.Formatter, rt *manifest.Runtime, answers map[string]map[string]any) []answerPage {
	var out []answerPage
	for _, sec := range application.Summarize(rt, answers, f, application.SummaryOptions{}) {
		ap := answerPage{Title: sec.Title}
		for _, row := range sec.Rows {
			af := answerField{Label: row.Label, Value: strings.Join(row.Lines, "\n")}
			if row.Widget == "file" && row.Answered {
				af.Attachment = true
				af.Value = f.T("case.answers.attachment", attachmentName(row.Value))
				af.RawID, _ = row.Value.(string)
			}
			ap.Fields = append(ap.Fields, af)
		}
		out = append(out, ap)
	}
	return out
}

// attachmentName is the file name an attachment answer carries: the
// applying block stores either a name or an object with one.
func attachmentName(v any) string {
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"name", "filename", "id"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return formatValueRaw(v)
}

func formatValueRaw(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any: // an address: its parts in a stable order
		var keys []string
		for k := range x {
			keys = append(keys, k)
		}
		order := map[string]int{"line1": 0, "street": 0, "line2": 1, "city": 2, "state": 3, "zip": 4}
		sort.SliceStable(keys, func(i, j int) bool {
			oi, iok := order[keys[i]]
			oj, jok := order[keys[j]]
			if iok != jok {
				return iok
			}
			if oi != oj {
				return oi < oj
			}
			return keys[i] < keys[j]
		})
		var parts []string
		for _, k := range keys {
			if s := formatValueRaw(x[k]); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
