package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/storage"
)

// SendTextsToAccounts is SendTextToAccount for many messages in tx, each
// on the channels its citizen chose, with the emails' delivery held back
// until Flush. It costs a fixed number of statements however many
// messages there are (ADR 76): the preferences of every account in one
// read, the notifications in one INSERT on PostgreSQL, each agency's
// callback address read once, the SMS deliveries and inbox receipts in
// one job insert. What is stored is what SendTextToAccount stores for
// each message, in the same transaction.
//
// ids[i] is ms[i]'s first notification (as SendTextToAccount returns it);
// errs[i] is why ms[i] was refused (an invalid address or text), in which
// case nothing of it is stored. err is a database error: tx must then be
// rolled back.
func (b *Batch) SendTextsToAccounts(ctx context.Context, tx *sql.Tx, ms []AccountText) (ids []string, errs []error, err error) {
	s := b.s
	ids, errs = make([]string, len(ms)), make([]error, len(ms))
	accounts := make([]string, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.AccountID] {
			seen[m.AccountID] = true
			accounts = append(accounts, m.AccountID)
		}
	}
	prefs, err := s.preferencesOf(ctx, tx, accounts)
	if err != nil {
		return nil, nil, err
	}
	ns := make([]*Notification, 0, 2*len(ms))
	for i, m := range ms {
		p, ok := prefs[m.AccountID]
		if !ok {
			p = Preferences{AccountID: m.AccountID, Email: true, InApp: true}
		}
		first := len(ns)
		if p.Email && m.Email != "" {
			n, err := Email{To: m.Email, Subject: m.Subject, Text: m.Text, Lang: m.Lang, AgencyID: m.AgencyID, Reference: m.Reference}.normalize()
			if err != nil {
				errs[i] = err
				continue
			}
			ns = append(ns, &n)
		}
		if p.SMS && p.Phone != "" {
			ns = append(ns, &Notification{AgencyID: m.AgencyID, Channel: ChannelSMS, Recipient: p.Phone, BodyText: smsBody(m), Lang: m.Lang,
				Reference: m.Reference, Status: StatusCreated, AccountID: m.AccountID})
		}
		// Every message to a citizen is kept in their inbox.
		ns = append(ns, &Notification{AgencyID: m.AgencyID, Channel: ChannelInApp, Recipient: m.AccountID, Subject: m.Subject, BodyText: m.Text,
			Lang: m.Lang, Reference: m.Reference, Status: StatusCreated, AccountID: m.AccountID})
		for _, n := range ns[first:] {
			s.newRow(n) // its id, time and first status
		}
		ids[i] = ns[first].ID
	}
	if err := s.insertMany(ctx, tx, ns); err != nil {
		return nil, nil, err
	}
	var params []river.InsertManyParams
	hasURL := map[string]bool{}
	for _, n := range ns {
		switch {
		case n.Channel == ChannelEmail && !n.Critical:
			b.ids = append(b.ids, n.ID)
		case n.Channel == ChannelSMS:
			params = append(params, river.InsertManyParams{Args: DeliverSMSArgs{NotificationID: n.ID}, InsertOpts: &river.InsertOpts{Priority: 2}})
		case n.immediate() && n.AgencyID != "":
			ok, known := hasURL[n.AgencyID]
			if !known {
				var u string
				err := s.db.QueryRowHot(ctx, tx, `SELECT callback_url FROM notify_services WHERE agency_id = $1`, n.AgencyID).Scan(&u)
				if err != nil && !errors.Is(err, sql.ErrNoRows) { // a failed read must not drop the receipt
					return nil, nil, fmt.Errorf("notify: callback url: %w", err)
				}
				ok = u != ""
				hasURL[n.AgencyID] = ok
			}
			if ok {
				params = append(params, river.InsertManyParams{Args: CallbackArgs{NotificationID: n.ID},
					InsertOpts: &river.InsertOpts{MaxAttempts: CallbackAttempts, Priority: 3}})
			}
		}
	}
	if len(params) > 0 {
		if _, err := s.jobs.InsertManyFastTx(ctx, tx, params); err != nil {
			return nil, nil, fmt.Errorf("notify: enqueue deliveries: %w", err)
		}
	}
	return ids, errs, nil
}

// smsBody is the SMS made from m: its subject and text, cut to
// maxSMSText bytes on a character boundary.
func smsBody(m AccountText) string {
	body := m.Subject + "\n" + m.Text
	if len(body) > maxSMSText {
		body = body[:maxSMSText]
		for !utf8.ValidString(body) {
			body = body[:len(body)-1]
		}
	}
	return body
}

// preferencesOf reads the preferences of accounts in tx, in one
// statement; an account without a row is absent (the defaults apply).
func (s *Service) preferencesOf(ctx context.Context, tx *sql.Tx, accounts []string) (map[string]Preferences, error) {
	out := make(map[string]Preferences, len(accounts))
	if len(accounts) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT account_id, email, sms, inapp, phone, lang, updated_at FROM notify_preferences WHERE `+
		s.db.AnyOf("account_id", 1), s.db.ListArg(accounts))
	if err != nil {
		return nil, fmt.Errorf("notify: preferences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Preferences
		var updated sql.NullTime
		if err := rows.Scan(&p.AccountID, &p.Email, &p.SMS, &p.InApp, &p.Phone, &p.Lang, &updated); err != nil {
			return nil, fmt.Errorf("notify: preferences: %w", err)
		}
		p.InApp = true
		if updated.Valid {
			p.UpdatedAt = updated.Time.UTC()
		}
		out[p.AccountID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: preferences: %w", err)
	}
	return out, nil
}

// Languages is Language for many accounts, in one read: fallback[id] is
// the account's own language.
func (s *Service) Languages(ctx context.Context, fallback map[string]string) (map[string]string, error) {
	accounts := make([]string, 0, len(fallback))
	for id := range fallback {
		accounts = append(accounts, id)
	}
	out := make(map[string]string, len(fallback))
	if len(accounts) == 0 {
		return out, nil
	}
	prefs := map[string]string{}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT account_id, lang FROM notify_preferences WHERE `+s.db.AnyOf("account_id", 1), s.db.ListArg(accounts))
	if err != nil {
		return nil, fmt.Errorf("notify: languages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, lang string
		if err := rows.Scan(&id, &lang); err != nil {
			return nil, fmt.Errorf("notify: languages: %w", err)
		}
		prefs[id] = lang
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: languages: %w", err)
	}
	for id, fb := range fallback {
		out[id] = chooseLanguage(prefs[id], fb)
	}
	return out, nil
}

// chooseLanguage is the language to write in: the one chosen for
// messages, else the account's if Spanish, else English.
func chooseLanguage(chosen, fallback string) string {
	switch {
	case chosen == "en" || chosen == "es":
		return chosen
	case fallback == "es":
		return "es"
	}
	return "en"
}

// qInsertNotificationArrays inserts many notifications in one statement
// on PostgreSQL from one array per column: its text does not depend on
// how many rows there are (a multi-row VALUES list is a new statement for
// each row count). sent_at and completed_at are the creation time for
// what is final when stored (newRow), else NULL.
const qInsertNotificationArrays = `
INSERT INTO notifications (id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference, status, attempts, last_error, created_at,
	sent_at, completed_at, template_id, template_version, api_key_id, key_type, account_id, unsubscribe_url)
SELECT id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference, status, 0, '', created_at,
	CASE WHEN final THEN created_at END, CASE WHEN final THEN created_at END, template_id, template_version, api_key_id, key_type, account_id, unsubscribe_url
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[], $10::text[],
	$11::text[], $12::timestamptz[], $13::boolean[], $14::text[], $15::integer[], $16::text[], $17::text[], $18::text[], $19::text[])
	AS u(id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference,
	status, created_at, final, template_id, template_version, api_key_id, key_type, account_id, unsubscribe_url)`

// insertMany inserts ns (given their rows by newRow) in tx: on PostgreSQL
// in one statement, on SQLite one prepared INSERT each (a call into the
// process, not a round trip).
func (s *Service) insertMany(ctx context.Context, tx *sql.Tx, ns []*Notification) error {
	if len(ns) == 0 {
		return nil
	}
	if s.db.Dialect != storage.Postgres {
		for _, n := range ns {
			var sentAt, completedAt any
			if n.immediate() {
				sentAt, completedAt = n.CreatedAt, n.CreatedAt
			}
			if _, err := s.db.ExecHot(ctx, tx, qInsertNotification, n.ID, n.AgencyID, n.Channel, n.Recipient, n.Subject, n.BodyText, n.BodyHTML,
				n.Lang, n.Critical, n.Reference, n.Status, n.CreatedAt, sentAt, completedAt, n.TemplateID, n.TemplateVersion, n.APIKeyID,
				n.KeyType, n.AccountID, n.UnsubscribeURL); err != nil {
				return fmt.Errorf("notify: store %s: %w", n.Channel, err)
			}
		}
		return nil
	}
	k := len(ns)
	var (
		id, agency, channel, recipient, subject, text, html, lang, reference, status = make([]string, k), make([]string, k), make([]string, k),
			make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		templateID, apiKey, keyType, account, unsubscribe = make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		critical, final                                   = make([]bool, k), make([]bool, k)
		created                                           = make([]time.Time, k)
		version                                           = make([]int32, k)
	)
	for i, n := range ns {
		id[i], agency[i], channel[i], recipient[i], subject[i] = n.ID, n.AgencyID, string(n.Channel), n.Recipient, n.Subject
		text[i], html[i], lang[i], critical[i], reference[i] = n.BodyText, n.BodyHTML, n.Lang, n.Critical, n.Reference
		status[i], created[i], final[i], templateID[i], version[i] = string(n.Status), n.CreatedAt, n.immediate(), n.TemplateID, int32(n.TemplateVersion)
		apiKey[i], keyType[i], account[i], unsubscribe[i] = n.APIKeyID, string(n.KeyType), n.AccountID, n.UnsubscribeURL
	}
	if _, err := tx.ExecContext(ctx, qInsertNotificationArrays, id, agency, channel, recipient, subject, text, html, lang, critical, reference,
		status, created, final, templateID, version, apiKey, keyType, account, unsubscribe); err != nil {
		return fmt.Errorf("notify: store notifications: %w", err)
	}
	return nil
}
