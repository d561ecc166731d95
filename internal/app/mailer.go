package app

import (
	"context"
	"database/sql"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/notify"
)

// identityMailer lets the identity block send its emails through the
// notification block's outbox without either importing the other.
type identityMailer struct{ n *notify.Service }

func (m identityMailer) SendEmail(ctx context.Context, tx *sql.Tx, msg identity.Message) error {
	_, err := m.n.SendEmail(ctx, tx, notify.Email{To: msg.To, Subject: msg.Subject, Text: msg.Text, Lang: msg.Lang, Critical: msg.Critical})
	return err
}
