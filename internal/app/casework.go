package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/web"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/notify"
)

// caseCitizens tells workflow guards who the applicant is, from their
// account, built as every block builds it (manifest.PersonOf): age from
// the date of birth, language, and where they live.
type caseCitizens struct {
	id    *identity.Service
	clock interface{ Now() time.Time }
}

func (c caseCitizens) Person(ctx context.Context, accountID string) (manifest.Person, error) {
	a, err := c.id.Account(ctx, accountID)
	if err != nil {
		return manifest.Person{}, err
	}
	f := manifest.Facts{DateOfBirth: a.DateOfBirth, Language: a.Lang, ZIP: a.Residential.ZIP}
	js, err := c.id.Jurisdictions(ctx, a)
	if err != nil {
		return manifest.Person{}, err
	}
	for _, j := range js {
		f.Jurisdictions = append(f.Jurisdictions, j.ID)
	}
	p, _ := manifest.PersonOf(f, c.clock.Now())
	return p, nil
}

// caseMailer tells applicants about their cases through the notification
// outbox: in their inbox on this site always, and by the channels they
// chose (email, SMS), in their language, with a link to their case page
// (publicURL is final: the listener is open before the blocks are built).
type caseMailer struct {
	id        *identity.Service
	notify    *notify.Service
	publicURL string
}

func (m caseMailer) MailCitizen(ctx context.Context, tx *sql.Tx, mail casework.Mail) error {
	acct, err := m.id.Account(ctx, mail.AccountID)
	if err != nil {
		return fmt.Errorf("case mail: %w", err)
	}
	code, err := m.notify.Language(ctx, tx, acct.ID, acct.Lang)
	if err != nil {
		return fmt.Errorf("case mail: %w", err)
	}
	subject, body := mail.Subject.EN, mail.Body.EN
	lang := i18n.English
	if code == "es" {
		subject, body, lang = mail.Subject.ES, mail.Body.ES, i18n.Spanish
	}
	if !strings.Contains(subject, mail.Reference) {
		subject += " (" + mail.Reference + ")"
	}
	text := caseMailText(lang, m.publicURL, body, mail)
	_, err = m.notify.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: acct.ID, Email: acct.Email, Subject: subject, Text: text,
		Lang: string(lang), AgencyID: mail.AgencyID, Reference: "case:" + mail.CaseID})
	return err
}

// caseMailText is the text of a message about a case: the body, the link
// to the case page and, once the case is decided (an end point of the
// transaction, ADR 56), the link to the satisfaction survey about its
// service.
func caseMailText(lang i18n.Lang, publicURL, body string, mail casework.Mail) string {
	base := strings.TrimRight(publicURL, "/")
	text := body + "\n\n" + i18n.Messages().T(lang, "casework.mail.see") + ":\n" + base + "/applications/" + mail.CaseID + "\n"
	if mail.Decided && mail.ServiceID != "" {
		text += "\n" + i18n.Messages().T(lang, "satisfaction.mail.survey") + "\n" + base + web.SurveyURL("decided", mail.ServiceID) + "\n"
	}
	return text
}

// caseObligations hands casework's obligations (renewals a manifest sets,
// requests for more information) to the reminder block, in the case
// change's transaction.
type caseObligations struct{ r *reminder.Service }

func (o caseObligations) Set(ctx context.Context, tx *sql.Tx, ob casework.Obligation) error {
	var sched reminder.Schedule
	for _, b := range ob.RemindBefore {
		sched = append(sched, -b)
	}
	_, err := o.r.Set(ctx, tx, reminder.Obligation{
		AccountID: ob.AccountID, AgencyID: ob.AgencyID, Kind: ob.Kind, Source: ob.Source,
		Title: reminder.Text{EN: ob.Title.EN, ES: ob.Title.ES}, URL: ob.URL, Amount: ob.Amount, Reference: ob.Reference,
		// A due instant becomes the calendar day it falls on in the
		// jurisdiction's zone, due until that day ends there.
		Due: reminder.DateOf(ob.Due.In(o.r.Location())), Schedule: sched,
	})
	return err
}

// Complete marks an obligation done; one that was never recorded (a
// request made before reminders existed) is not an error.
func (o caseObligations) Complete(ctx context.Context, tx *sql.Tx, accountID, source string) error {
	err := o.r.Complete(ctx, tx, accountID, source)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil
	}
	return err
}

// Cancel ends an obligation that no longer applies; one that was never
// recorded is not an error.
func (o caseObligations) Cancel(ctx context.Context, tx *sql.Tx, accountID, source string) error {
	err := o.r.Cancel(ctx, tx, accountID, source)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil
	}
	return err
}

// casePeople names the people on a case for casework's pages: the
// applicant's identity and contact details from their account's profile,
// and an agency's staff with their roles. casework decides who may see
// them and audits it.
type casePeople struct{ id *identity.Service }

func (p casePeople) Applicant(ctx context.Context, accountID string) (casework.Applicant, error) {
	a, err := p.id.Account(ctx, accountID)
	if err != nil {
		return casework.Applicant{}, err
	}
	addr := func(x identity.Address) casework.Address {
		return casework.Address{Line1: x.Line1, Line2: x.Line2, City: x.City, State: x.State, ZIP: x.ZIP}
	}
	return casework.Applicant{AccountID: a.ID, Name: a.LegalName, Email: a.Email, Phone: a.Phone, DateOfBirth: a.DateOfBirth,
		Lang: a.Lang, Residential: addr(a.Residential), Mailing: addr(a.Mailing)}, nil
}

func (p casePeople) AgencyStaff(ctx context.Context, agencyID string) ([]casework.StaffMember, error) {
	ms, err := p.id.AgencyMembers(ctx, agencyID)
	if err != nil {
		return nil, err
	}
	out := make([]casework.StaffMember, 0, len(ms))
	for _, m := range ms {
		sm := casework.StaffMember{AccountID: m.AccountID, Name: m.LegalName}
		for _, r := range m.Roles {
			sm.Roles = append(sm.Roles, string(r))
		}
		out = append(out, sm)
	}
	return out, nil
}

// caseworkDeps is the casework block's wiring on clock, for the app and
// for DemoBlocks.
func (a *App) caseworkDeps(clock platform.Clock) casework.Deps {
	return casework.Deps{Runtimes: a.Catalog,
		Citizens: caseCitizens{a.Identity, clock}, Mailer: caseMailer{a.Identity, a.Notify, a.Config.PublicURL},
		Obligations: caseObligations{a.Reminders}, People: casePeople{a.Identity},
		Plugins: CasePlugins{a.Gateway}, Jobs: a.inserter, Counter: counterClaims{a}, Duplicates: duplicateRefunds{a}}
}

// CasePlugins adapts the plug-in gateway to casework's call_plugin
// actions (casework.PluginCaller): the gateway's failures become
// casework.PluginFailure, retryable unless the gateway refused the call
// or the request was wrong (trying again cannot change either).
type CasePlugins struct{ G *gateway.Gateway }

// CallPlugin implements casework.PluginCaller.
func (p CasePlugins) CallPlugin(ctx context.Context, actor platform.Actor, c casework.PluginCall) (casework.PluginReply, error) {
	res, err := p.G.Call(ctx, actor, gateway.Request{Agency: c.Agency, Service: c.Service, Case: c.Case, Person: c.Person,
		Plugin: c.Plugin, Operation: c.Operation, Path: c.Path, Query: c.Query, Body: c.Body, Data: c.Data, IdempotencyKey: c.IdempotencyKey})
	if err == nil {
		return casework.PluginReply{Status: res.Status, Body: res.Body}, nil
	}
	var ge *gateway.Error
	switch {
	case errors.As(err, &ge):
		return casework.PluginReply{}, &casework.PluginFailure{Outcome: ge.Outcome, Retry: true, Err: err}
	case platform.ErrorCode(err) == platform.CodeForbidden:
		return casework.PluginReply{}, &casework.PluginFailure{Outcome: gateway.OutcomeRefused, Err: err}
	case platform.ErrorCode(err) == platform.CodeInvalid || platform.ErrorCode(err) == platform.CodeNotFound:
		return casework.PluginReply{}, &casework.PluginFailure{Outcome: casework.OutcomeBadRequest, Err: err}
	}
	return casework.PluginReply{}, &casework.PluginFailure{Outcome: gateway.OutcomeError, Retry: true, Err: err}
}
