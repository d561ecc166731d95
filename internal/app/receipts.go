package app

import (
	"context"
	"database/sql"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
)

// newReceipts builds the payment block's receipts (a.Payments, a.Identity,
// a.Notify and a.Tenancy must exist); it subscribes the consumer that
// sends a receipt when a checkout succeeds.
func (a *App) newReceipts() (err error) {
	a.Receipts, err = receipt.New(receipt.Config{
		DB: a.DB, Audit: a.Audit, Bus: a.Bus, Payments: a.Payments, Clock: a.Clock,
		Agencies: receiptAgencies{a.Tenancy}, Contacts: receiptContacts{a.Identity, a.Notify}, Mailer: receiptMailer{a.Notify},
		PublicURL: func() string { return a.Config.PublicURL }, Zone: a.Tenancy.Zone,
	})
	return err
}

// receiptAgencies names agencies on receipts, from the tenancy block.
type receiptAgencies struct{ t *tenancy.Service }

func (r receiptAgencies) AgencyName(ctx context.Context, id string) (receipt.Text, error) {
	ag, err := r.t.Agency(ctx, id)
	if err != nil {
		return receipt.Text{}, err
	}
	return receipt.Text{EN: ag.Name, ES: ag.NameES}, nil
}

// receiptContacts gives the receipts an account's email address and the
// language it reads messages in (the one chosen for messages, else the
// account's). A closed or unknown account gets its receipt in the inbox
// only, in English.
type receiptContacts struct {
	id     *identity.Service
	notify *notify.Service
}

func (c receiptContacts) Contact(ctx context.Context, accountID string) (receipt.Contact, error) {
	acc, err := c.id.Account(ctx, accountID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return receipt.Contact{Lang: "en"}, nil
	}
	if err != nil {
		return receipt.Contact{}, err
	}
	lang, err := c.notify.Language(ctx, nil, acc.ID, acc.Lang)
	if err != nil {
		return receipt.Contact{}, err
	}
	if acc.Disabled {
		return receipt.Contact{Lang: lang}, nil
	}
	return receipt.Contact{Email: acc.Email, Lang: lang}, nil
}

// receiptMailer sends a receipt as every message to a citizen goes: to
// their inbox always, and by the channels they chose (email, SMS).
type receiptMailer struct{ n *notify.Service }

func (m receiptMailer) MailReceipt(ctx context.Context, tx *sql.Tx, msg receipt.Message) (string, error) {
	return m.n.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: msg.AccountID, Email: msg.Email, Subject: msg.Subject, Text: msg.Text,
		Lang: msg.Lang, Reference: msg.Reference})
}
