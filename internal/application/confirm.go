package application

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
)

// recipient is who a submission's confirmation goes to, looked up before
// the submitting transaction: their address, the language to write in,
// and the agency's name in it.
type recipient struct {
	email, lang, agency string
}

// confirmationRecipient looks up where and how to confirm app's
// submission.
func (s *Service) confirmationRecipient(ctx context.Context, app *Application) (recipient, error) {
	email, lang, err := s.cfg.Contacts.Contact(ctx, app.AccountID)
	if err != nil {
		return recipient{}, fmt.Errorf("application: confirmation: contact: %w", err)
	}
	ag, err := s.cfg.Agencies.Agency(ctx, app.AgencyID)
	if err != nil {
		return recipient{}, fmt.Errorf("application: confirmation: agency %s: %w", app.AgencyID, err)
	}
	r := recipient{email: email, lang: "en", agency: ag.Name}
	if lang == "es" {
		r.lang = "es"
		if ag.NameES != "" {
			r.agency = ag.NameES
		}
	}
	return r, nil
}

// ConfirmationReference is the notification reference of the message
// that confirms application appID was sent.
func ConfirmationReference(appID string) string { return "application:" + appID + "/confirmation" }

// confirmation is the message that tells the applicant their application
// was sent: the reference, what happens next (from the workflow's
// initial state: who acts, its SLA, a payment it asks for), the fee and
// how to pay it, and a link to the application. It is written in the
// person's language with dates in the jurisdiction's zone (loc).
func confirmation(to recipient, f *Form, app *Application, c casework.Case, fee *manifest.Charge, now time.Time, publicURL string, loc *time.Location) Email {
	l := i18n.Lang(to.lang)
	title := f.Manifest.Title.EN
	if l == i18n.Spanish {
		title = f.Manifest.Title.ES
	}
	m := i18n.Messages().For(l, loc)
	var b strings.Builder
	para := func(lines ...string) {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		for _, line := range lines {
			b.WriteString(line + "\n")
		}
	}
	para(m.T("apply.confirm.hello"))
	para(m.T("apply.confirm.received", title, m.Date(now), to.agency))
	para(m.T("apply.confirm.reference", c.Reference, to.agency))

	wf := f.Manifest.Workflow
	initial := wf.States[wf.Initial]
	var payDue *time.Time
	asksPayment := false
	for _, a := range initial.OnEnter {
		if a.RequestPayment == nil {
			continue
		}
		asksPayment = true
		if a.RequestPayment.Due != "" {
			if d, err := manifest.ParseDuration(a.RequestPayment.Due); err == nil {
				t := now.Add(d)
				payDue = &t
			}
		}
	}
	automatic, byPeople := false, false
	for _, t := range wf.Transitions {
		if t.From != wf.Initial {
			continue
		}
		if slices.Contains(t.By, "system") {
			automatic = true
		}
		if slices.Contains(t.By, "plugin") || slices.ContainsFunc(t.By, func(r string) bool { return slices.Contains(manifest.StaffRoles, r) }) {
			byPeople = true
		}
	}
	next := []string{m.T("apply.confirm.next.title")}
	switch {
	case automatic && fee != nil && asksPayment:
		next = append(next, m.T("apply.confirm.next.auto.paid"))
	case automatic && !byPeople:
		next = append(next, m.T("apply.confirm.next.auto"))
	case c.SLADueAt != nil:
		next = append(next, m.T("apply.confirm.next.review.sla", to.agency, m.Date(*c.SLADueAt)))
	default:
		next = append(next, m.T("apply.confirm.next.review", to.agency))
	}
	next = append(next, m.T("apply.confirm.next.news"))
	para(next...)

	if fee != nil {
		amount := m.MoneyOf(fee.Amount, fee.Currency)
		var line string
		switch {
		case asksPayment && payDue != nil:
			line = m.T("apply.confirm.fee.counter.due", amount, to.agency, m.Date(*payDue))
		case asksPayment:
			line = m.T("apply.confirm.fee.counter", amount, to.agency)
		default:
			line = m.T("apply.confirm.fee.later", amount)
		}
		para(m.T("apply.confirm.fee.title"), line)
	}
	para(m.T("apply.confirm.link"), strings.TrimRight(publicURL, "/")+"/applications/"+app.ID)
	return Email{To: to.email, AccountID: app.AccountID, Lang: string(l), AgencyID: app.AgencyID, Reference: ConfirmationReference(app.ID),
		Subject: m.T("apply.confirm.subject", title, c.Reference), Text: b.String()}
}
