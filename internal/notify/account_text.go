package notify

import (
	"context"
	"database/sql"
)

// AccountText is a platform message that is not a template (a reminder the
// reminder block words itself) to a citizen on the channels they chose.
type AccountText struct {
	AccountID string
	Email     string // the account's email address
	Subject   string // one line; the SMS and the inbox lead with it
	Text      string
	Lang      string
	AgencyID  string // "" for the platform
	Reference string
}

// maxSMSText bounds an SMS made from a text: six concatenated GSM parts.
const maxSMSText = 918

// SendTextToAccount sends m in tx to the citizen's inbox on this site,
// always, and on each other channel they chose: email (as SendEmail) and
// SMS to their number. It returns the first notification's id.
func (s *Service) SendTextToAccount(ctx context.Context, tx *sql.Tx, m AccountText) (string, error) {
	return s.sendTextToAccount(ctx, tx, m, nil)
}

// sendTextToAccount is SendTextToAccount; with b set, the email's delivery
// job is left to b.Flush.
func (s *Service) sendTextToAccount(ctx context.Context, tx *sql.Tx, m AccountText, b *Batch) (string, error) {
	p, err := s.preferences(ctx, hotTx{s.db, tx}, m.AccountID)
	if err != nil {
		return "", err
	}
	var first string
	note := func(id string) {
		if first == "" {
			first = id
		}
	}
	if p.Email && m.Email != "" {
		id, err := s.sendEmail(ctx, tx, Email{To: m.Email, Subject: m.Subject, Text: m.Text, Lang: m.Lang, AgencyID: m.AgencyID, Reference: m.Reference}, b)
		if err != nil {
			return "", err
		}
		note(id)
	}
	if p.SMS && p.Phone != "" {
		n := Notification{AgencyID: m.AgencyID, Channel: ChannelSMS, Recipient: p.Phone, BodyText: smsBody(m), Lang: m.Lang,
			Reference: m.Reference, Status: StatusCreated, AccountID: m.AccountID}
		if err := s.store(ctx, tx, &n); err != nil {
			return "", err
		}
		note(n.ID)
	}
	// Every message to a citizen is kept in their inbox.
	n := Notification{AgencyID: m.AgencyID, Channel: ChannelInApp, Recipient: m.AccountID, Subject: m.Subject, BodyText: m.Text,
		Lang: m.Lang, Reference: m.Reference, Status: StatusCreated, AccountID: m.AccountID}
	if err := s.store(ctx, tx, &n); err != nil {
		return "", err
	}
	note(n.ID)
	return first, nil
}
