// Package notify is the notification block: it sends the messages Portico
// and its agencies send to people by email over SMTP, by SMS through an
// SMSProvider and to the citizen's in-app inbox, from agencies' versioned
// templates (English and Spanish), and posts signed delivery receipts to
// agencies. Its GOV.UK Notify-compatible API is the notifyapi sub-package
// (see docs/notify.md).
//
// Contract: SendEmail is called inside the transaction of the change that
// causes the message. It stores the notification (status "created") and its
// delivery job in that transaction, so a message is sent if and only if the
// change commits, and never before the commit (the transactional outbox of
// ADR 3). A River worker then hands the message to the SMTP server with
// go-mail and records the outcome with GOV.UK Notify's statuses:
//
//	created → sending → delivered
//	                  → temporary-failure → (retried) … → delivered
//	                                                     → technical-failure (retries exhausted, or no SMTP server configured)
//	                  → permanent-failure (the server refused the recipient or the message with a 5xx reply; never retried)
//
// Delivery is at least once. Every attempt of one notification carries the
// same Message-ID (<notification-id@sender-domain>), so the rare duplicate
// (the process died after the SMTP server accepted the message but before
// "delivered" was recorded) is recognisable downstream.
package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"golang.org/x/text/language"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/groupcommit"
)

// Channel is how a notification reaches a person.
type Channel string

// Channels: email over SMTP, SMS through an SMSProvider, and the in-app
// inbox (a row the citizen reads on /inbox).
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelInApp Channel = "inapp"
)

// Status is where a notification is in its delivery, in GOV.UK Notify's
// vocabulary.
type Status string

// Statuses. Delivered, PermanentFailure and TechnicalFailure are final;
// TemporaryFailure means a retry is scheduled (Notify uses it as a final
// status for an inbox that stayed full; here it is the state between
// attempts, and a message whose retries run out ends as TechnicalFailure).
const (
	StatusCreated          Status = "created"
	StatusSending          Status = "sending"
	StatusDelivered        Status = "delivered"
	StatusPermanentFailure Status = "permanent-failure"
	StatusTemporaryFailure Status = "temporary-failure"
	StatusTechnicalFailure Status = "technical-failure"
)

// Final reports whether no further delivery attempt will change s.
func (s Status) Final() bool {
	return s == StatusDelivered || s == StatusPermanentFailure || s == StatusTechnicalFailure
}

// Limits on what SendEmail accepts. They are far above any message Portico
// composes and well below what SMTP servers refuse (commonly 10–25 MB).
const (
	MaxAddressBytes   = 254 // RFC 5321 path limit
	MaxSubjectBytes   = 500
	MaxTextBytes      = 256 << 10
	MaxHTMLBytes      = 512 << 10
	MaxReferenceBytes = 255
	MaxAgencyIDBytes  = 64
)

// Email is one message to one address.
type Email struct {
	To       string // a bare address, "ada@example.com" (no display name)
	Subject  string // one line
	Text     string // the plain-text body; always sent
	HTML     string // optional HTML alternative; sent as multipart/alternative with Text
	Lang     string // BCP 47 tag of the message's language, for Content-Language; default "en"
	Critical bool   // security messages (sign-in codes, account changes): sent ahead of other mail
	// AgencyID is the agency on whose behalf the message is sent; "" for
	// the platform itself.
	AgencyID string
	// Reference is the caller's own identifier for the message (for
	// example the account or case it concerns), stored for lookups.
	Reference string
}

// Notification is a stored message and its delivery state.
type Notification struct {
	ID          string    `json:"id"`
	AgencyID    string    `json:"agency_id"`
	Channel     Channel   `json:"channel"`
	Recipient   string    `json:"recipient"`
	Subject     string    `json:"subject"`
	BodyText    string    `json:"body_text"`
	BodyHTML    string    `json:"body_html,omitempty"`
	Lang        string    `json:"lang"`
	Critical    bool      `json:"critical"`
	Reference   string    `json:"reference,omitempty"`
	Status      Status    `json:"status"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	SentAt      time.Time `json:"sent_at,omitzero"`      // zero until the SMTP server accepted it
	CompletedAt time.Time `json:"completed_at,omitzero"` // zero until the status is final

	TemplateID      string    `json:"template_id,omitempty"`      // "" unless sent from a template
	TemplateVersion int       `json:"template_version,omitempty"` // the version used
	APIKeyID        string    `json:"api_key_id,omitempty"`       // "" unless sent through the API
	KeyType         KeyType   `json:"key_type,omitempty"`         // the API key's type
	AccountID       string    `json:"account_id,omitempty"`       // the citizen, for the inbox and preferences
	ProviderRef     string    `json:"provider_ref,omitempty"`     // the SMS provider's message id
	ReadAt          time.Time `json:"read_at,omitzero"`           // inbox messages: when the citizen opened it
	// UnsubscribeURL is sent as List-Unsubscribe (email only); with
	// APIKeyID set it is the agency's one-click URL (RFC 8058).
	UnsubscribeURL string `json:"unsubscribe_url,omitempty"`
}

// Config tells the service where and how to send email.
type Config struct {
	// SMTPURL is the server mail is handed to (see ParseSMTPURL). Empty
	// means none is configured: deliveries then end as technical-failure
	// with "no SMTP server configured" instead of being dropped silently.
	SMTPURL string
	// From is the sender, "Name <address>" or a bare address. Required.
	From string
	// Timeout bounds connecting and each SMTP command. Default 30 seconds.
	Timeout time.Duration
	// SMTPConnections bounds the connections kept open to the SMTP server;
	// each carries many messages. Default 8.
	SMTPConnections int
	// EmailBatch is the most emails one batch delivery job carries
	// (Batch, ADR 71). Default DefaultEmailBatch (100), at most 1,000.
	EmailBatch int

	// SMS is the text message provider (see ParseSMSURL); nil means none:
	// text messages then end as technical-failure.
	SMS SMSProvider
	// Secrets seals API key secrets and callback tokens. Required for the
	// API and callbacks.
	Secrets *secrets.Box
	// TeamMembers returns the email addresses a team API key of the agency
	// may send to (its staff). Nil means none.
	TeamMembers func(ctx context.Context, agencyID string) ([]string, error)
	// CallbackClient posts delivery receipts; default an http.Client with a
	// 30-second timeout. AllowHTTPCallbacks also allows http:// callback
	// URLs (tests and development; production callbacks must be https).
	CallbackClient     *http.Client
	AllowHTTPCallbacks bool
	// PublicURL returns the site's public URL, for the List-Unsubscribe
	// link of agencies' messages to citizens (their preferences page).
	PublicURL func() string
	// Audit records every read of a person's inbox and every message
	// marked read, in the reader's name. Required for the inbox: without
	// it Inbox and MarkRead fail rather than read unaudited.
	Audit *audit.Log
}

// Service stores and sends notifications.
type Service struct {
	db     *storage.DB
	clock  platform.Clock
	logger *slog.Logger
	jobs   *jobs.Inserter
	audit  *audit.Log // reads of inboxes (Config.Audit)
	// unreadableKeys holds the ids of API keys reported as unreadable by
	// this process (reportUnreadableKey), so each is reported once.
	unreadableKeys sync.Map
	// openedKeys holds the opened secrets of API keys by key id, with
	// the sealed text each came from (openKey): a key is opened again
	// only if its sealed text changed, or by requests that meet it for
	// the first time together (each opens it; the last one's entry stays).
	openedKeys sync.Map
	// templates keeps the template versions read (Template).
	templates templateCache

	target     *SMTPTarget // nil: no SMTP server configured
	smtp       *smtpPool   // connections to target; nil when target is
	from       *mail.Address
	fromHeader string // as configured, for the From header
	msgDomain  string // right-hand side of Message-IDs
	timeout    time.Duration
	emailBatch int // Config.EmailBatch

	sms            SMSProvider
	box            *secrets.Box
	teamMembers    func(ctx context.Context, agencyID string) ([]string, error)
	callbackClient *http.Client
	allowHTTPCB    bool
	publicURL      func() string

	// sends commits Submit's notifications, many to a transaction
	// (send.go).
	sends *groupcommit.Committer[*Notification]
}

// New checks cfg and returns the service, registering its delivery workers
// in reg. It enqueues deliveries with ins (insert-only, made before the
// blocks); the working client built from reg runs them. A nil db, ins,
// reg or clock is refused with an error naming it.
func New(db *storage.DB, ins *jobs.Inserter, reg *jobs.Registry, clock platform.Clock, cfg Config, logger *slog.Logger) (*Service, error) {
	if err := platform.Required("notify",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "job inserter", Missing: ins == nil},
		platform.Dep{Name: "job registry", Missing: reg == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, jobs: ins, clock: clock, logger: logger.With("component", "notify"), timeout: cfg.Timeout,
		sms: cfg.SMS, box: cfg.Secrets, teamMembers: cfg.TeamMembers, callbackClient: cfg.CallbackClient, allowHTTPCB: cfg.AllowHTTPCallbacks, publicURL: cfg.PublicURL}
	if s.callbackClient == nil {
		s.callbackClient = &http.Client{Timeout: 30 * time.Second,
			// A receipt goes to the URL the agency set, never where a
			// redirect points (which could be inside our network).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	s.emailBatch = cfg.EmailBatch
	if s.emailBatch <= 0 {
		s.emailBatch = DefaultEmailBatch
	}
	if s.emailBatch > 1000 {
		return nil, fmt.Errorf("notify: an email batch of %d is more than 1,000", s.emailBatch)
	}
	if cfg.SMTPURL != "" {
		t, err := ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, err
		}
		s.target = &t
		if s.smtp, err = newSMTPPool(t, s.timeout, cfg.SMTPConnections); err != nil {
			return nil, err
		}
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: sender address %q is not an email address: %v", cfg.From, err)
	}
	s.from, s.fromHeader = from, cfg.From
	s.audit = cfg.Audit
	s.msgDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	jobs.Register(reg, &deliveryWorker{svc: s})
	jobs.Register(reg, &batchDeliveryWorker{svc: s})
	jobs.Register(reg, &smsWorker{svc: s})
	jobs.Register(reg, &callbackWorker{svc: s})
	s.sends = groupcommit.New(db, s.storeBatch, groupcommit.Options{Name: "notify: send"})
	return s, nil
}

// Close ends the open SMTP connections (QUIT). Deliveries after Close
// fail and are retried by the job queue.
func (s *Service) Close() {
	if s.smtp != nil {
		s.smtp.close()
	}
}

// From returns the sender's bare address.
func (s *Service) From() string { return s.from.Address }

// CountSince counts the notifications agencyID sent through the API with
// live or team keys since t (for daily limits).
func (s *Service) CountSince(ctx context.Context, agencyID string, t time.Time) (int, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE agency_id = $1 AND api_key_id <> '' AND key_type <> $2 AND created_at >= $3`,
		agencyID, KeyTest, t.UTC()).Scan(&n)
	return n, err
}

// SMTP returns where mail is sent, or nil when no server is configured.
func (s *Service) SMTP() *SMTPTarget { return s.target }

// SendEmail validates e, stores it as a notification with status "created"
// and enqueues its delivery, all in tx. Nothing is sent unless tx commits.
// Invalid input returns a *platform.Error with CodeInvalid naming the field
// (to, subject, text, html, lang, agency_id, reference).
func (s *Service) SendEmail(ctx context.Context, tx *sql.Tx, e Email) (id string, err error) {
	return s.sendEmail(ctx, tx, e, nil)
}

// sendEmail is SendEmail; with b set, a non-critical email's delivery job
// is left to b.Flush (a batch delivery job).
func (s *Service) sendEmail(ctx context.Context, tx *sql.Tx, e Email, b *Batch) (id string, err error) {
	n, err := e.normalize()
	if err != nil {
		return "", err
	}
	n.ID = uuid.Must(uuid.NewV7()).String()
	n.CreatedAt = s.clock.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.db.ExecHot(ctx, tx, `
		INSERT INTO notifications (id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference, status, attempts, last_error, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, '', $12)`,
		n.ID, n.AgencyID, ChannelEmail, n.Recipient, n.Subject, n.BodyText, n.BodyHTML, n.Lang, n.Critical, n.Reference, StatusCreated, n.CreatedAt); err != nil {
		return "", fmt.Errorf("notify: store email: %w", err)
	}
	if b != nil && !n.Critical {
		b.ids = append(b.ids, n.ID)
		return n.ID, nil
	}
	opts := &river.InsertOpts{Priority: 2}
	if n.Critical {
		opts.Priority = 1 // River runs priority 1 first: sign-in codes overtake bulk mail
	}
	if err := jobs.Enqueue(ctx, s.jobs, tx, DeliverEmailArgs{NotificationID: n.ID}, opts); err != nil {
		return "", fmt.Errorf("notify: %w", err)
	}
	return n.ID, nil
}

// normalize checks e and returns the notification it describes.
func (e Email) normalize() (Notification, error) {
	n := Notification{
		Channel: ChannelEmail, Subject: e.Subject, BodyText: e.Text, BodyHTML: e.HTML,
		Critical: e.Critical, AgencyID: e.AgencyID, Reference: e.Reference, Status: StatusCreated,
	}
	addr, err := checkAddress(e.To)
	if err != nil {
		return n, err
	}
	n.Recipient = addr

	if err := checkText("subject", e.Subject, MaxSubjectBytes, true); err != nil {
		return n, err
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		return n, platform.Invalid("subject", "The subject must be a single line")
	}
	if err := checkText("text", e.Text, MaxTextBytes, true); err != nil {
		return n, err
	}
	if err := checkText("html", e.HTML, MaxHTMLBytes, false); err != nil {
		return n, err
	}
	if err := checkText("reference", e.Reference, MaxReferenceBytes, false); err != nil {
		return n, err
	}
	if err := checkText("agency_id", e.AgencyID, MaxAgencyIDBytes, false); err != nil {
		return n, err
	}
	n.Lang = "en"
	if e.Lang != "" {
		tag, err := language.Parse(e.Lang)
		if err != nil || len(e.Lang) > 35 {
			return n, platform.Invalid("lang", fmt.Sprintf("The language %q is not a language tag like en or es", e.Lang))
		}
		n.Lang = tag.String()
	}
	return n, nil
}

// checkAddress checks one bare email address.
func checkAddress(to string) (string, error) {
	to = strings.TrimSpace(to)
	switch {
	case to == "":
		return "", platform.Invalid("to", "Enter the recipient's email address")
	case len(to) > MaxAddressBytes:
		return "", platform.Invalid("to", fmt.Sprintf("The email address must be at most %d characters", MaxAddressBytes))
	}
	addr, err := mail.ParseAddress(to)
	if err != nil || addr.Name != "" || addr.Address != to || !strings.Contains(addr.Address, "@") {
		return "", platform.Invalid("to", "Enter an email address in the correct format, like name@example.com")
	}
	return addr.Address, nil
}

// checkText enforces the rules every stored text shares: valid UTF-8 (both
// engines store it; PostgreSQL rejects anything else), no NUL, a size cap.
func checkText(field, v string, maxBytes int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return platform.Invalid(field, fmt.Sprintf("The %s must not be empty", field))
	case len(v) > maxBytes:
		return platform.Invalid(field, fmt.Sprintf("The %s must be at most %d bytes", field, maxBytes))
	case !utf8.ValidString(v):
		return platform.Invalid(field, fmt.Sprintf("The %s must be valid UTF-8 text", field))
	case strings.ContainsRune(v, 0):
		return platform.Invalid(field, fmt.Sprintf("The %s must not contain NUL characters", field))
	}
	return nil
}

const notificationColumns = `id, agency_id, channel, recipient, subject, body_text, body_html, lang, critical, reference, status, attempts, last_error, created_at, sent_at, completed_at,
	template_id, template_version, api_key_id, key_type, account_id, provider_ref, read_at, unsubscribe_url`

type scanner interface{ Scan(dest ...any) error }

func scanNotification(row scanner) (Notification, error) {
	var n Notification
	var sent, completed, read sql.NullTime
	err := row.Scan(&n.ID, &n.AgencyID, &n.Channel, &n.Recipient, &n.Subject, &n.BodyText, &n.BodyHTML, &n.Lang,
		&n.Critical, &n.Reference, &n.Status, &n.Attempts, &n.LastError, &n.CreatedAt, &sent, &completed,
		&n.TemplateID, &n.TemplateVersion, &n.APIKeyID, &n.KeyType, &n.AccountID, &n.ProviderRef, &read, &n.UnsubscribeURL)
	if read.Valid {
		n.ReadAt = read.Time.UTC()
	}
	n.CreatedAt = n.CreatedAt.UTC()
	if sent.Valid {
		n.SentAt = sent.Time.UTC()
	}
	if completed.Valid {
		n.CompletedAt = completed.Time.UTC()
	}
	return n, err
}

// Get returns the notification with id, or a CodeNotFound error.
func (s *Service) Get(ctx context.Context, id string) (Notification, error) {
	n, err := scanNotification(s.db.Read().QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, platform.Errorf(platform.CodeNotFound, "notification %q does not exist", id)
	}
	if err != nil {
		return n, fmt.Errorf("notify: get %s: %w", id, err)
	}
	return n, nil
}

// Filter narrows List. Empty fields match everything.
type Filter struct {
	AgencyID  string // one agency's messages ("" matches every agency and the platform)
	Recipient string // exact address
	Status    Status
	Statuses  []Status // any of these (with Status, too)
	Reference string
	Channel   Channel // one channel ("" = all)
	// OnlyKeyType and NotKeyType select by the API key type that sent it.
	OnlyKeyType KeyType
	NotKeyType  KeyType
	// Before lists only notifications created before this one (by id, which
	// is time-ordered), for paging.
	Before string
	Limit  int // default 50, at most 500
}

// List returns notifications matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Notification, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.AgencyID != "" {
		add("agency_id = $%d", f.AgencyID)
	}
	if f.Recipient != "" {
		add("recipient = $%d", f.Recipient)
	}
	if f.Status != "" {
		add("status = $%d", string(f.Status))
	}
	if f.Reference != "" {
		add("reference = $%d", f.Reference)
	}
	if f.Channel != "" {
		add("channel = $%d", string(f.Channel))
	}
	if len(f.Statuses) > 0 {
		var ors []string
		for _, st := range f.Statuses {
			args = append(args, string(st))
			ors = append(ors, fmt.Sprintf("status = $%d", len(args)))
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if f.OnlyKeyType != "" {
		add("key_type = $%d", string(f.OnlyKeyType))
	}
	if f.NotKeyType != "" {
		add("key_type <> $%d", string(f.NotKeyType))
	}
	if f.Before != "" {
		add("id < $%d", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := `SELECT ` + notificationColumns + ` FROM notifications`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notify: list: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
