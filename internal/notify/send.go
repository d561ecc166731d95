package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/groupcommit"
)

// Message is a message made from an agency's template, for Send.
type Message struct {
	TemplateID      string
	TemplateVersion int // 0: the latest
	// Channel is email, sms or inapp. An email template can go to any
	// channel (sms and the inbox get its text); an sms template to sms or
	// the inbox.
	Channel Channel
	// To is the email address (email) or phone number (sms). The inbox
	// needs AccountID instead.
	To string
	// AccountID is the citizen the message is for, if known: required for
	// the inbox, and it shows the message to them there.
	AccountID       string
	Personalisation Personalisation
	Lang            string // "es" uses the template's Spanish version when it has one
	Reference       string
	Critical        bool
	// AgencyID, when set, must own the template (the API sets it to the
	// key's agency).
	AgencyID string
	// APIKeyID and KeyType are set by the API: test keys deliver nothing
	// and report delivered; team keys send only to the agency's staff.
	APIKeyID string
	KeyType  KeyType
	// UnsubscribeURL (email only) is sent as List-Unsubscribe: an https
	// address. From the API it is the agency's one-click URL.
	UnsubscribeURL string
}

// Errors Send returns, for the API to report in Notify's words.
var (
	ErrTemplateNotFound = errors.New("template not found")
	ErrTeamRecipient    = errors.New("a team API key sends only to the agency's staff")
)

// TemplateMismatchError is a template of one type sent on another channel.
type TemplateMismatchError struct {
	Template TemplateType
	Channel  Channel
}

func (e *TemplateMismatchError) Error() string {
	return fmt.Sprintf("%s template is not suitable for %s notification", e.Template, e.Channel)
}

// Send renders m's template and stores the notification and its delivery
// job in tx, like SendEmail: nothing is sent unless tx commits. It returns
// the notification as stored.
func (s *Service) Send(ctx context.Context, tx *sql.Tx, m Message) (Notification, error) {
	n, err := s.prepare(ctx, m)
	if err != nil {
		return n, err
	}
	return n, s.store(ctx, tx, &n)
}

// Submit is Send in a transaction of its own, for a message that changes
// no other state (the Notify API's sends). Concurrent Submits share one
// transaction (group commit, internal/storage/groupcommit): Submit
// returns the notification only once it and its delivery job are
// committed; an error means it was not acknowledged. Everything that can
// refuse the message (template, recipient, personalisation, team key) is
// checked before it joins a transaction, so one caller's mistake never
// touches another's send.
func (s *Service) Submit(ctx context.Context, m Message) (Notification, error) {
	n, err := s.prepare(ctx, m)
	if err != nil {
		return n, err
	}
	if err := s.sends.Do(ctx, &n); err != nil {
		return Notification{}, err
	}
	return n, nil
}

// storeBatch stores Submit's notifications in tx: the rows, then the
// delivery jobs of the whole batch in one insert. River parses and plans
// its insert statement on every call (on SQLite, about a third of the
// CPU of a send when each notification made its own), so the batch pays
// for it once. On PostgreSQL, where every statement is a round trip to
// the server, the rows go in multi-row INSERTs too (insertRows); on
// SQLite each row is one call of a prepared statement.
func (s *Service) storeBatch(ctx context.Context, tx *sql.Tx, batch []*Notification) error {
	params := make([]river.InsertManyParams, 0, len(batch))
	if s.db.Dialect == storage.Postgres {
		if err := s.insertRows(ctx, tx, batch); err != nil {
			return err
		}
		for _, n := range batch {
			job, err := s.afterInsert(ctx, tx, n)
			if err != nil {
				return err
			}
			if job.Args != nil {
				params = append(params, job)
			}
		}
	} else {
		for _, n := range batch {
			job, err := s.insertNotification(ctx, tx, n)
			if err != nil {
				return err
			}
			if job.Args != nil {
				params = append(params, job)
			}
		}
	}
	if len(params) == 0 {
		return nil
	}
	// The fast insert does not read the jobs back: nothing here needs
	// them, and delivery jobs are not unique.
	if _, err := s.jobs.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("notify: enqueue deliveries: %w", err)
	}
	return nil
}

// rowsPerInsert bounds a multi-row notification INSERT on PostgreSQL
// (20 parameters a row; one statement text per row count).
const rowsPerInsert = 32

// insertRows inserts batch (given ids, times and statuses by newRow) in
// multi-row INSERTs of up to rowsPerInsert rows: on PostgreSQL one round
// trip for up to 32 sends instead of one each.
func (s *Service) insertRows(ctx context.Context, tx *sql.Tx, batch []*Notification) error {
	for rows := range slices.Chunk(batch, rowsPerInsert) {
		var q strings.Builder
		q.WriteString(qInsertNotificationHead)
		args := make([]any, 0, len(rows)*20)
		for i, n := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for j := range 20 {
				if j > 0 {
					q.WriteString(", ")
				}
				if j == 11 {
					q.WriteString("0, '', ") // attempts, last_error
				}
				q.WriteString("$" + strconv.Itoa(len(args)+j+1))
			}
			q.WriteString(")")
			args = append(args, s.newRow(n)...)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("notify: store %s: %w", rows[0].Channel, err)
		}
	}
	return nil
}

// prepare renders m's template and checks everything Send checks before it
// writes: the notification to store, without its id.
func (s *Service) prepare(ctx context.Context, m Message) (Notification, error) {
	t, err := s.Template(ctx, m.TemplateID, m.TemplateVersion)
	if err != nil && platform.ErrorCode(err) != platform.CodeNotFound {
		// The database, not the caller: the caller may try again (503).
		return Notification{}, err
	}
	if err != nil || (m.AgencyID != "" && t.AgencyID != m.AgencyID) {
		return Notification{}, ErrTemplateNotFound
	}
	switch {
	case m.Channel == ChannelEmail && t.Type != TemplateEmail:
		return Notification{}, &TemplateMismatchError{t.Type, m.Channel}
	case m.Channel == ChannelSMS && t.Type != TemplateSMS:
		return Notification{}, &TemplateMismatchError{t.Type, m.Channel}
	case m.Channel != ChannelEmail && m.Channel != ChannelSMS && m.Channel != ChannelInApp:
		return Notification{}, platform.Invalid("channel", fmt.Sprintf("The channel %q must be email, sms or inapp", m.Channel))
	}
	// The recipient is checked before the template is filled in, so a bad
	// address is reported first, as Notify does.
	recipient := m.AccountID
	switch m.Channel {
	case ChannelEmail:
		recipient, err = checkAddress(m.To)
	case ChannelSMS:
		recipient, err = NormalizePhone(m.To)
	case ChannelInApp:
		if m.AccountID == "" {
			err = platform.Invalid("account_id", "An inbox message needs the citizen's account")
		}
	}
	if err != nil {
		return Notification{}, err
	}
	r, err := t.Render(m.Lang, m.Personalisation)
	if err != nil {
		return Notification{}, err
	}
	n := Notification{
		AgencyID: t.AgencyID, Channel: m.Channel, Subject: r.Subject, BodyText: r.Text, BodyHTML: r.HTML, Lang: r.Lang,
		Critical: m.Critical, Reference: m.Reference, Status: StatusCreated, TemplateID: t.ID, TemplateVersion: t.Version,
		APIKeyID: m.APIKeyID, KeyType: m.KeyType, AccountID: m.AccountID,
	}
	if err := checkText("reference", m.Reference, 1000, false); err != nil {
		return n, err
	}
	if m.UnsubscribeURL != "" && m.Channel == ChannelEmail {
		u, err := url.Parse(m.UnsubscribeURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(m.UnsubscribeURL) > 2000 || strings.ContainsAny(m.UnsubscribeURL, " <>\r\n") {
			return n, platform.Invalid("unsubscribe_url", "The unsubscribe link must be an https:// address")
		}
		n.UnsubscribeURL = m.UnsubscribeURL
	}
	n.Recipient = recipient
	switch m.Channel {
	case ChannelEmail:
		e := Email{To: recipient, Subject: r.Subject, Text: r.Text, HTML: r.HTML}
		if _, err := e.normalize(); err != nil {
			return n, err
		}
	case ChannelSMS:
		n.Subject, n.BodyHTML = "", ""
	case ChannelInApp:
		if n.Subject == "" {
			n.Subject = t.Name
		}
		n.BodyHTML = ""
	}
	if m.KeyType == KeyTeam {
		ok, err := s.isTeamMember(ctx, t.AgencyID, n)
		if err != nil {
			return n, err
		}
		if !ok {
			return n, ErrTeamRecipient
		}
	}
	return n, nil
}

func (s *Service) isTeamMember(ctx context.Context, agencyID string, n Notification) (bool, error) {
	if n.Channel != ChannelEmail || s.teamMembers == nil {
		return false, nil
	}
	members, err := s.teamMembers(ctx, agencyID)
	if err != nil {
		return false, fmt.Errorf("notify: team members: %w", err)
	}
	return slices.ContainsFunc(members, func(e string) bool { return strings.EqualFold(e, n.Recipient) }), nil
}

// store inserts n and schedules what happens next: a delivery job for email
// and SMS; for the inbox and test keys, which deliver nothing, the final
// status at once (and the delivery receipt). It sets n's id, creation time
// and status, each time it is called (a group commit that failed stores
// its notifications again, each alone).
func (s *Service) store(ctx context.Context, tx *sql.Tx, n *Notification) error {
	job, err := s.insertNotification(ctx, tx, n)
	if err != nil || job.Args == nil {
		return err
	}
	if err := jobs.Enqueue(ctx, s.jobs, tx, job.Args, job.InsertOpts); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// qInsertNotification stores one notification; it runs on every send, so
// it is a hot statement (prepared once on SQLite).
const qInsertNotification = qInsertNotificationHead + `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, '', $12, $13, $14, $15, $16, $17, $18, $19, $20)`

// qInsertNotificationHead is the INSERT before its VALUES rows: 20
// parameters a row, with attempts 0 and an empty last_error between the
// 11th and the 12th (newRow's order).
const qInsertNotificationHead = `
		INSERT INTO notifications (id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference, status, attempts, last_error, created_at,
			sent_at, completed_at, template_id, template_version, api_key_id, key_type, account_id, unsubscribe_url)
		VALUES `

// newRow gives n its id, creation time and first status (what delivers
// nothing, the inbox and test keys, is delivered at once) and returns the
// 20 parameters of its row, in qInsertNotification's order.
func (s *Service) newRow(n *Notification) []any {
	n.ID = uuid.Must(uuid.NewV7()).String()
	n.CreatedAt = s.clock.Now().UTC().Truncate(time.Microsecond)
	var sentAt, completedAt any
	if n.immediate() {
		n.Status, n.SentAt, n.CompletedAt = StatusDelivered, n.CreatedAt, n.CreatedAt
		sentAt, completedAt = n.CreatedAt, n.CreatedAt
	}
	return []any{n.ID, n.AgencyID, n.Channel, n.Recipient, n.Subject, n.BodyText, n.BodyHTML, n.Lang, n.Critical, n.Reference, n.Status, n.CreatedAt,
		sentAt, completedAt, n.TemplateID, n.TemplateVersion, n.APIKeyID, n.KeyType, n.AccountID, n.UnsubscribeURL}
}

// immediate reports whether n delivers nothing (the inbox, a test key)
// and so is final when stored.
func (n *Notification) immediate() bool { return n.Channel == ChannelInApp || n.KeyType == KeyTest }

// insertNotification is store without the delivery job's insert: it
// inserts n (and, for what delivers nothing, enqueues the receipt) and
// returns the delivery job to insert in the same tx (Args nil: none).
func (s *Service) insertNotification(ctx context.Context, tx *sql.Tx, n *Notification) (river.InsertManyParams, error) {
	if _, err := s.db.ExecHot(ctx, tx, qInsertNotification, s.newRow(n)...); err != nil {
		return river.InsertManyParams{}, fmt.Errorf("notify: store %s: %w", n.Channel, err)
	}
	return s.afterInsert(ctx, tx, n)
}

// afterInsert is what follows n's insert in tx: for what delivers
// nothing, the receipt is enqueued; otherwise the delivery job to insert
// is returned (Args nil: none).
func (s *Service) afterInsert(ctx context.Context, tx *sql.Tx, n *Notification) (river.InsertManyParams, error) {
	if n.immediate() {
		return river.InsertManyParams{}, s.enqueueCallback(ctx, tx, n.ID, n.AgencyID)
	}
	opts := &river.InsertOpts{Priority: 2}
	if n.Critical {
		opts.Priority = 1
	}
	var args river.JobArgs = DeliverEmailArgs{NotificationID: n.ID}
	if n.Channel == ChannelSMS {
		args = DeliverSMSArgs{NotificationID: n.ID}
	}
	return river.InsertManyParams{Args: args, InsertOpts: opts}, nil
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// NormalizePhone returns number in E.164 form (+15555550123). Spaces,
// dots, hyphens and brackets are ignored; ten digits, or eleven starting
// with 1, are taken as a US number.
func NormalizePhone(number string) (string, error) {
	d := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '(', ')', '\t':
			return -1
		}
		return r
	}, strings.TrimSpace(number))
	switch {
	case len(d) == 10 && !strings.HasPrefix(d, "+"):
		d = "+1" + d
	case len(d) == 11 && strings.HasPrefix(d, "1"):
		d = "+" + d
	case strings.HasPrefix(d, "00"):
		d = "+" + d[2:]
	}
	if !phonePattern.MatchString(d) {
		return "", platform.Invalid("phone_number", "Enter a phone number in the correct format, like 555 555 0123 or +1 555 555 0123")
	}
	return d, nil
}

// AccountMessage is a template message to a citizen on the channels they
// chose.
type AccountMessage struct {
	AccountID       string
	Email           string // the account's email address
	TemplateID      string
	Personalisation Personalisation
	Reference       string
	// Critical messages go by email whatever the citizen chose, as well
	// as to their inbox.
	Critical bool
}

// SendToAccount sends m to the citizen's inbox on this site, always, and
// on each other channel they chose (by default email), in their language,
// inside tx. A template's own type limits the channels: an sms template
// does not go by email.
func (s *Service) SendToAccount(ctx context.Context, tx *sql.Tx, m AccountMessage) ([]Notification, error) {
	p, err := s.preferences(ctx, hotTx{s.db, tx}, m.AccountID)
	if err != nil {
		return nil, err
	}
	t, err := s.Template(ctx, m.TemplateID, 0)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil, ErrTemplateNotFound
	} else if err != nil {
		return nil, err
	}
	var out []Notification
	unsubscribe := ""
	if !m.Critical && s.publicURL != nil && strings.HasPrefix(s.publicURL(), "https://") {
		// Citizens stop an agency's emails on their preferences page.
		unsubscribe = strings.TrimRight(s.publicURL(), "/") + "/account/notifications"
	}
	send := func(ch Channel, to string) error {
		n, err := s.Send(ctx, tx, Message{TemplateID: t.ID, TemplateVersion: t.Version, Channel: ch, To: to, AccountID: m.AccountID,
			Personalisation: m.Personalisation, Lang: p.Lang, Reference: m.Reference, Critical: m.Critical, UnsubscribeURL: unsubscribe})
		if err == nil {
			out = append(out, n)
		}
		return err
	}
	if t.Type == TemplateEmail && (p.Email || m.Critical) && m.Email != "" {
		if err := send(ChannelEmail, m.Email); err != nil {
			return nil, err
		}
	}
	if t.Type == TemplateSMS && p.SMS && p.Phone != "" {
		if err := send(ChannelSMS, p.Phone); err != nil {
			return nil, err
		}
	}
	// Every message to a citizen is kept in their inbox.
	if err := send(ChannelInApp, ""); err != nil {
		return nil, err
	}
	return out, nil
}

// Preferences is how a citizen wants to hear from government. Every
// message to a citizen is kept in their inbox whatever they choose: InApp
// is always true (the column stays for the record of older choices).
type Preferences struct {
	AccountID string    `json:"account_id"`
	Email     bool      `json:"email"`
	SMS       bool      `json:"sms"`
	InApp     bool      `json:"inapp"`
	Phone     string    `json:"phone,omitempty"` // E.164
	Lang      string    `json:"lang,omitempty"`  // en or es; "" = English
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Preferences returns accountID's choices; by default email and the inbox.
func (s *Service) Preferences(ctx context.Context, accountID string) (Preferences, error) {
	return s.preferences(ctx, s.db.HotRead(), accountID)
}

// hotTx reads through tx with the hot statement cache (storage.ExecHot):
// a bulk send reads each citizen's preferences once per message.
type hotTx struct {
	db *storage.DB
	tx *sql.Tx
}

func (h hotTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return h.db.QueryRowHot(ctx, h.tx, query, args...)
}

// queryer is a pool or a transaction. A send inside a caller's
// transaction reads through that transaction: asking the pool for a
// second connection while holding one can wait forever on PostgreSQL
// when every connection is held by such a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Service) preferences(ctx context.Context, q queryer, accountID string) (Preferences, error) {
	p := Preferences{AccountID: accountID}
	var updated sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT email, sms, inapp, phone, lang, updated_at FROM notify_preferences WHERE account_id = $1`, accountID).
		Scan(&p.Email, &p.SMS, &p.InApp, &p.Phone, &p.Lang, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		p.Email, p.InApp = true, true
		return p, nil
	}
	p.InApp = true
	if updated.Valid {
		p.UpdatedAt = updated.Time.UTC()
	}
	if err != nil {
		return p, fmt.Errorf("notify: preferences: %w", err)
	}
	return p, nil
}

// SetPreferences stores p. The inbox is always on (InApp is set), so
// turning email and SMS off leaves the inbox alone; SMS needs a phone
// number; the language is en or es.
func (s *Service) SetPreferences(ctx context.Context, p Preferences) (Preferences, error) {
	p.InApp = true
	if p.SMS || strings.TrimSpace(p.Phone) != "" {
		phone, err := NormalizePhone(p.Phone)
		if err != nil {
			return p, platform.Invalid("phone", "notify.prefs.error.phone")
		}
		p.Phone = phone
	}
	if p.Lang != "" && p.Lang != "en" && p.Lang != "es" {
		return p, platform.Invalid("lang", "notify.prefs.error.lang")
	}
	p.UpdatedAt = s.clock.Now().UTC().Truncate(time.Microsecond)
	_, err := s.db.Write().ExecContext(ctx, `INSERT INTO notify_preferences (account_id, email, sms, inapp, phone, lang, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, sms = excluded.sms, inapp = excluded.inapp, phone = excluded.phone, lang = excluded.lang, updated_at = excluded.updated_at`,
		p.AccountID, p.Email, p.SMS, p.InApp, p.Phone, p.Lang, p.UpdatedAt)
	if err != nil {
		return p, fmt.Errorf("notify: set preferences: %w", err)
	}
	return p, nil
}

// Inbox returns the in-app messages of by, newest first, and audits the
// read ("notify.inbox.read", in by's name). An inbox is its owner's alone:
// there is no way to name another person's, so the only refusal is to
// someone not signed in (CodeUnauthorized).
func (s *Service) Inbox(ctx context.Context, by platform.Actor, limit int) ([]Notification, error) {
	if !by.SignedIn() {
		return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE account_id = $1 AND channel = $2 ORDER BY id DESC LIMIT `+fmt.Sprint(limit),
		by.ID, ChannelInApp)
	if err != nil {
		return nil, fmt.Errorf("notify: inbox: %w", err)
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notify: inbox: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: inbox: %w", err)
	}
	if err := s.auditWrite(ctx, by, nil, audit.Record{Action: "notify.inbox.read", Subject: "account:" + by.ID, Detail: map[string]int{"messages": len(out)}}); err != nil {
		return nil, err
	}
	return out, nil
}

// MarkRead marks inbox message id of by read (opening it in place) and
// audits it ("notify.message.read") in the same transaction. Someone
// else's message is CodeNotFound, exactly like one that does not exist.
func (s *Service) MarkRead(ctx context.Context, by platform.Actor, id string) error {
	if !by.SignedIn() {
		return platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	if _, err := platform.ParseUUID("message", id); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND account_id = $3 AND channel = $4`,
			s.clock.Now().UTC(), id, by.ID, ChannelInApp)
		if err != nil {
			return fmt.Errorf("notify: mark read: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "message %q does not exist", id)
		}
		return s.auditWrite(ctx, by, tx, audit.Record{Action: "notify.message.read", Subject: "notification:" + id})
	})
}

// auditWrite records r in by's name, in tx when given and otherwise in a
// transaction of its own. Without an audit log it fails: the inbox is not
// read unaudited.
func (s *Service) auditWrite(ctx context.Context, by platform.Actor, tx *sql.Tx, r audit.Record) error {
	if s.audit == nil {
		return fmt.Errorf("notify: %s: no audit log configured", r.Action)
	}
	ctx = platform.WithActor(ctx, by)
	var err error
	if tx != nil {
		_, err = s.audit.Append(ctx, tx, r)
	} else {
		_, err = s.audit.Write(ctx, r)
	}
	if err != nil {
		return fmt.Errorf("notify: audit %s: %w", r.Action, err)
	}
	return nil
}

// UnreadCount is how many of by's inbox messages are unread: one COUNT
// over the inbox index (account_id, channel, id), bounded by the person's
// own messages. It reveals no message, so unlike Inbox it is not audited
// (the header shows it on every page).
func (s *Service) UnreadCount(ctx context.Context, by platform.Actor) (int, error) {
	if !by.SignedIn() {
		return 0, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	var n int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND channel = $2 AND read_at IS NULL`,
		by.ID, ChannelInApp).Scan(&n); err != nil {
		return 0, fmt.Errorf("notify: unread: %w", err)
	}
	return n, nil
}

// Language is the language to write to accountID in: the one they chose
// on their notification preferences, else fallback (the account's
// language), else English. Inside a transaction pass it as tx (else nil).
func (s *Service) Language(ctx context.Context, tx *sql.Tx, accountID, fallback string) (string, error) {
	var q queryer = s.db.HotRead()
	if tx != nil {
		q = hotTx{s.db, tx}
	}
	p, err := s.preferences(ctx, q, accountID)
	if err != nil {
		return "", err
	}
	return chooseLanguage(p.Lang, fallback), nil
}

// SubmitStats counts Submit's shared transactions and the sends they
// held (items per batch is how much the group commit saves).
func (s *Service) SubmitStats() groupcommit.Stats { return s.sends.Stats() }
