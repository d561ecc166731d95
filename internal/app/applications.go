package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	_ "gocloud.dev/blob/s3blob" // s3:// attachment buckets (ADR: attachments in blob storage)

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
)

// newApplications opens the attachments bucket and builds the applying
// block (a.Casework, a.Identity, a.Notify and a.Reminders must exist),
// which registers its draft sweep and file deletions in reg.
func (a *App) newApplications(ctx context.Context, ins *jobs.Inserter, reg *jobs.Registry) error {
	files, err := application.OpenFiles(ctx, a.Config.Attachments)
	if err != nil {
		return err
	}
	a.files = files
	a.Applications, err = application.New(a.applicationConfig(a.Clock, a.Casework, ins, reg))
	return err
}

// applicationConfig is the applying block's wiring on clock, for the app
// and for DemoBlocks. a.files must be open.
func (a *App) applicationConfig(clock platform.Clock, cases *casework.Service, ins *jobs.Inserter, reg *jobs.Registry) application.Config {
	return application.Config{
		DB: a.DB, Audit: a.Audit, Clock: clock, Services: a.Catalog, Cases: cases, Files: a.files, Jobs: ins, Registry: reg,
		Mailer: applicationMailer{a.Notify}, Contacts: contacts{a.Identity, a.Notify}, Agencies: a.Tenancy, PublicURL: a.Config.PublicURL,
		Obligations: draftObligations{a.Reminders}, Zone: a.Tenancy.Zone,
		Plugins: formPlugins{a.Gateway},
		Consent: a.Consents,
		Bus:     a.Bus,
	}
}

// formPlugins lets the applying block call plug-ins through the gateway
// without importing it: a call the gateway could not complete becomes
// *application.Unavailable with the gateway's message key and the
// plug-in's providing agency.
type formPlugins struct{ g *gateway.Gateway }

func (p formPlugins) Call(ctx context.Context, actor platform.Actor, c application.PluginCall) (application.PluginReply, error) {
	if p.g == nil {
		return application.PluginReply{}, &application.Unavailable{Plugin: c.Plugin, Key: application.UnavailableKey, Err: errors.New("no gateway")}
	}
	var body []byte
	if c.Request.Body != nil {
		b, err := json.Marshal(c.Request.Body)
		if err != nil {
			return application.PluginReply{}, err
		}
		body = b
	}
	res, err := p.g.Call(ctx, actor, gateway.Request{Agency: c.Agency, Service: c.Service, Person: c.Person, Plugin: c.Plugin, Operation: c.Operation,
		Path: c.Request.Path, Query: c.Request.Query, Body: body, Data: c.Data})
	if err != nil {
		un := &application.Unavailable{Plugin: c.Plugin, Key: gateway.MessageKey(err), Err: err}
		var ge *gateway.Error
		if errors.As(err, &ge) {
			un.Agency = ge.Agency
		}
		return application.PluginReply{}, un
	}
	return application.PluginReply{Status: res.Status, Body: res.Body}, nil
}

// applicationMailer lets the applying block queue its messages in the
// notification block's outbox without importing it. A message to an
// account goes to the person's inbox and the channels they chose.
type applicationMailer struct{ n *notify.Service }

func (m applicationMailer) SendEmail(ctx context.Context, tx *sql.Tx, e application.Email) error {
	if e.AccountID != "" {
		_, err := m.n.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: e.AccountID, Email: e.To, Subject: e.Subject, Text: e.Text,
			Lang: e.Lang, AgencyID: e.AgencyID, Reference: e.Reference})
		return err
	}
	_, err := m.n.SendEmail(ctx, tx, notify.Email{To: e.To, Subject: e.Subject, Text: e.Text, Lang: e.Lang, AgencyID: e.AgencyID, Reference: e.Reference})
	return err
}

// contacts looks up where to email an applicant in the identity block,
// and the language to write in (chosen for messages, else the account's).
type contacts struct {
	id     *identity.Service
	notify *notify.Service
}

func (c contacts) Contact(ctx context.Context, accountID string) (string, string, error) {
	acct, err := c.id.Account(ctx, accountID)
	if err != nil {
		return "", "", err
	}
	lang, err := c.notify.Language(ctx, nil, acct.ID, acct.Lang)
	if err != nil {
		return "", "", err
	}
	return acct.Email, lang, nil
}

// draftObligations lists drafts in the person's "Coming up" and calendar
// through the reminder block. The applying block sends its own expiry
// reminder, so the obligation carries none.
type draftObligations struct{ r *reminder.Service }

func (o draftObligations) DraftDue(ctx context.Context, tx *sql.Tx, d application.DraftDue) error {
	_, err := o.r.Set(ctx, tx, reminder.Obligation{
		AccountID: d.AccountID, AgencyID: d.AgencyID, Kind: reminder.KindDraft, Source: "draft:" + d.AppID,
		Title: reminder.Text{EN: i18n.Messages().T(i18n.English, "apply.reminder.finish", d.Service.EN),
			ES: i18n.Messages().T(i18n.Spanish, "apply.reminder.finish", d.Service.ES)},
		// The draft is due on the day it expires in the jurisdiction's zone.
		URL: "/apply/" + d.AppID, Due: reminder.DateOf(d.Expires.In(o.r.Location())), Schedule: reminder.NoReminders,
	})
	return err
}

func (o draftObligations) DraftClosed(ctx context.Context, tx *sql.Tx, accountID, appID string, submitted bool) error {
	end := o.r.Cancel
	if submitted {
		end = o.r.Complete
	}
	err := end(ctx, tx, accountID, "draft:"+appID)
	if platform.ErrorCode(err) == platform.CodeNotFound { // a draft from before obligations
		return nil
	}
	return err
}
