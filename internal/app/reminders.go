package app

import (
	"context"
	"database/sql"
	"time"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/tenancy"
)

// reminderMailer lets the reminder block send through the notification
// block's outbox without either importing the other. A reminder goes on
// the channels the citizen chose (email, SMS, inbox); without an account
// it is an email.
type reminderMailer struct{ n *notify.Service }

func (m reminderMailer) SendEmail(ctx context.Context, tx *sql.Tx, msg reminder.Message) (string, error) {
	if msg.AccountID == "" {
		return m.n.SendEmail(ctx, tx, notify.Email{To: msg.To, Subject: msg.Subject, Text: msg.Text, Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference})
	}
	return m.n.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: msg.AccountID, Email: msg.To, Subject: msg.Subject, Text: msg.Text,
		Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference})
}

// Batch implements reminder.BatchMailer: a send job's reminders are
// delivered by batch jobs (ADR 71).
func (m reminderMailer) Batch() reminder.MailBatch { return reminderMailBatch{m.n.Batch()} }

type reminderMailBatch struct{ b *notify.Batch }

func (m reminderMailBatch) SendEmail(ctx context.Context, tx *sql.Tx, msg reminder.Message) (string, error) {
	if msg.AccountID == "" {
		return m.b.SendEmail(ctx, tx, notify.Email{To: msg.To, Subject: msg.Subject, Text: msg.Text, Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference})
	}
	return m.b.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: msg.AccountID, Email: msg.To, Subject: msg.Subject, Text: msg.Text,
		Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference})
}

// SendEmails implements reminder.ManyMailBatch: a send job's messages
// are stored in a fixed number of statements (ADR 76).
func (m reminderMailBatch) SendEmails(ctx context.Context, tx *sql.Tx, msgs []reminder.Message) ([]string, []error, error) {
	texts := make([]notify.AccountText, len(msgs))
	for i, msg := range msgs {
		texts[i] = notify.AccountText{AccountID: msg.AccountID, Email: msg.To, Subject: msg.Subject, Text: msg.Text,
			Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference}
	}
	return m.b.SendTextsToAccounts(ctx, tx, texts)
}

func (m reminderMailBatch) Flush(ctx context.Context, tx *sql.Tx) error { return m.b.Flush(ctx, tx) }

// reminderDirectory gives the reminder block an account's email address
// from the identity block and the language to write in (the one chosen
// for messages, else the account's).
type reminderDirectory struct {
	id     *identity.Service
	notify *notify.Service
}

func (d reminderDirectory) Contact(ctx context.Context, accountID string) (reminder.Contact, error) {
	acc, err := d.id.Account(ctx, accountID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return reminder.Contact{}, reminder.ErrNoContact
	}
	if err != nil {
		return reminder.Contact{}, err
	}
	if acc.Disabled || acc.Email == "" {
		return reminder.Contact{}, reminder.ErrNoContact
	}
	lang, err := d.notify.Language(ctx, nil, acc.ID, acc.Lang)
	if err != nil {
		return reminder.Contact{}, err
	}
	return reminder.Contact{Email: acc.Email, Lang: lang}, nil
}

// Contacts implements reminder.ManyDirectory: Contact for a send job's
// accounts in two reads (the accounts, then their chosen languages)
// instead of four per account.
func (d reminderDirectory) Contacts(ctx context.Context, accountIDs []string) (map[string]reminder.Contact, error) {
	accs, err := d.id.Contacts(ctx, accountIDs)
	if err != nil {
		return nil, err
	}
	fallback := make(map[string]string, len(accs))
	for id, a := range accs {
		if !a.Disabled && a.Email != "" {
			fallback[id] = a.Lang
		}
	}
	langs, err := d.notify.Languages(ctx, fallback)
	if err != nil {
		return nil, err
	}
	out := make(map[string]reminder.Contact, len(langs))
	for id, lang := range langs {
		out[id] = reminder.Contact{Email: accs[id].Email, Lang: lang}
	}
	return out, nil
}

// counters tells the reminder block's calendar where an agency is paid
// in person, from the tenancy block's contact details.
type counters struct{ t *tenancy.Service }

func (c counters) Counter(ctx context.Context, agencyID string) (reminder.Counter, error) {
	a, err := c.t.Agency(ctx, agencyID)
	if err != nil {
		return reminder.Counter{}, err
	}
	return reminder.Counter{Name: reminder.Text{EN: a.Name, ES: a.NameES}, Address: a.Contact.AddressLines(), Phone: a.Contact.Phone,
		Hours: reminder.Text{EN: a.Contact.Hours, ES: a.Contact.HoursES}}, nil
}

// appointments gives the calendar feed a person's booked appointments
// from the casework block (created after the reminder block, so read from
// the App when asked).
type appointments struct{ a *App }

func (x appointments) AppointmentsOf(ctx context.Context, accountID string, since time.Time) ([]reminder.Appointment, error) {
	if x.a.Casework == nil {
		return nil, nil
	}
	booked, err := x.a.Casework.AppointmentsOf(ctx, accountID, since)
	if err != nil {
		return nil, err
	}
	out := make([]reminder.Appointment, len(booked))
	for i, b := range booked {
		out[i] = reminder.Appointment{ID: b.CaseID, Service: reminder.Text{EN: b.Service.EN, ES: b.Service.ES}, Reference: b.Reference,
			Start: b.Start, End: b.End, Place: reminder.Text{EN: b.Place.EN, ES: b.Place.ES}, URL: "/applications/" + b.CaseID, UpdatedAt: b.UpdatedAt}
	}
	return out, nil
}

// importDirectory gives an obligations import the people, agencies and
// agency-system clients it names, from the identity, tenancy and OpenID
// Provider blocks. A person is a citizen's account, by the email they
// sign in with or by account id; a disabled account or a staff account
// owes nothing through an import.
type importDirectory struct {
	id      *identity.Service
	tenancy *tenancy.Service
	clients feedClients
}

func (d importDirectory) Person(ctx context.Context, person string) (string, error) {
	var acc *identity.Account
	var err error
	if platform.IsUUID(person) {
		acc, err = d.id.Account(ctx, person)
	} else {
		acc, err = d.id.AccountByEmail(ctx, person)
		if platform.ErrorCode(err) == platform.CodeInvalid { // not an email address: nobody
			err = platform.Errorf(platform.CodeNotFound, "no such person")
		}
	}
	if err != nil {
		return "", err
	}
	if acc.Disabled || acc.Kind != identity.Citizen {
		return "", platform.Errorf(platform.CodeNotFound, "no such person")
	}
	return acc.ID, nil
}

func (d importDirectory) AgencyExists(ctx context.Context, agency string) (bool, error) {
	_, err := d.tenancy.Agency(ctx, agency)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return false, nil
	}
	return err == nil, err
}

func (d importDirectory) ClientAgency(ctx context.Context, clientID string) (string, error) {
	return d.clients.ClientAgency(ctx, clientID)
}

// ObligationImportDirectory is what an obligations import looks people,
// agencies and clients up in, for a command that builds its own importer
// (another batch size).
func (a *App) ObligationImportDirectory() reminder.ImportDirectory {
	return importDirectory{a.Identity, a.Tenancy, feedClients{a.OIDC}}
}
