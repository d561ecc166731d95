package app

import (
	"context"
	"database/sql"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"

	_ "gocloud.dev/blob/s3blob" // s3:// attachment buckets (ADR: attachments in blob storage)

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
)

// newApplications builds the applying block (a.Casework must exist),
// opens the attachments bucket and registers the draft sweep.
func (a *App) newApplications(ctx context.Context, reg *jobs.Registry) error {
	files, err := application.OpenFiles(ctx, a.Config.Attachments)
	if err != nil {
		return err
	}
	a.files = files
	// The block queues file deletions from the moment it exists, so it
	// gets an insert-only client now; the working client, built once every
	// block has registered its workers, runs them.
	inserter, err := jobs.New(a.DB, nil, jobs.Config{})
	if err != nil {
		return err
	}
	a.Applications = application.New(application.Config{
		DB: a.DB, Audit: a.Audit, Clock: a.Clock, Services: a.Catalog, Cases: a.Casework, Files: files, Jobs: inserter,
		Mailer: applicationMailer{a.Notify}, Contacts: contacts{a}, PublicURL: a.Config.PublicURL, Obligations: draftObligations{a},
		Zone: a.Tenancy.Zone,
	})
	jobs.Register(reg, &application.SweepWorker{Service: a.Applications})
	jobs.Register(reg, &application.DeleteFilesWorker{Service: a.Applications})
	return nil
}

// applicationMailer lets the applying block queue email in the
// notification block's outbox without importing it.
type applicationMailer struct{ n *notify.Service }

func (m applicationMailer) SendEmail(ctx context.Context, tx *sql.Tx, e application.Email) error {
	_, err := m.n.SendEmail(ctx, tx, notify.Email{To: e.To, Subject: e.Subject, Text: e.Text, Lang: e.Lang, AgencyID: e.AgencyID, Reference: e.Reference})
	return err
}

// contacts looks up where to email an applicant. It reads a.Identity when
// called, since the identity block is built after the applying block.
type contacts struct{ a *App }

func (c contacts) Contact(ctx context.Context, accountID string) (string, string, error) {
	acct, err := c.a.Identity.Account(ctx, accountID)
	if err != nil {
		return "", "", err
	}
	return acct.Email, acct.Lang, nil
}

// draftObligations lists drafts in the person's "Coming up" and calendar
// through the reminder block (read when called: it is built first, but
// keep the pattern of the other adapters). The applying block sends its
// own expiry reminder, so the obligation carries none.
type draftObligations struct{ a *App }

func (o draftObligations) DraftDue(ctx context.Context, tx *sql.Tx, d application.DraftDue) error {
	_, err := o.a.Reminders.Set(ctx, tx, reminder.Obligation{
		AccountID: d.AccountID, AgencyID: d.AgencyID, Kind: reminder.KindDraft, Source: "draft:" + d.AppID,
		Title: reminder.Text{EN: i18n.Messages().T(i18n.English, "apply.reminder.finish", d.Service.EN),
			ES: i18n.Messages().T(i18n.Spanish, "apply.reminder.finish", d.Service.ES)},
		// The draft is due on the day it expires in the jurisdiction's zone.
		URL: "/apply/" + d.AppID, Due: reminder.DateOf(d.Expires.In(o.a.Reminders.Location())), Schedule: reminder.NoReminders,
	})
	return err
}

func (o draftObligations) DraftClosed(ctx context.Context, tx *sql.Tx, accountID, appID string, submitted bool) error {
	end := o.a.Reminders.Cancel
	if submitted {
		end = o.a.Reminders.Complete
	}
	err := end(ctx, tx, accountID, "draft:"+appID)
	if platform.ErrorCode(err) == platform.CodeNotFound { // a draft from before obligations
		return nil
	}
	return err
}
