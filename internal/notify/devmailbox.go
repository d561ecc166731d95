package notify

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// DevMailbox is the development mailbox: an SMTP server on the loopback
// interface that accepts every message for every recipient and stores it
// in the dev_mailbox table, where the /dev/mailbox pages show it. `portico
// demo` points the email sender at it, so demo emails really travel over
// SMTP and a person can read them (and follow the links in them) in the
// browser.
//
// It must never run in production: it accepts mail from any local process
// for anyone and shows it to anyone who can reach the site.
type DevMailbox struct {
	db     *storage.DB
	clock  platform.Clock
	logger *slog.Logger
	server *smtp.Server
	ln     net.Listener
	served chan struct{}
}

// MaxDevMailboxMessageBytes is the largest message the mailbox accepts.
const MaxDevMailboxMessageBytes = 4 << 20

// StartDevMailbox starts the mailbox's SMTP server on 127.0.0.1 at a port
// the system chooses (see SMTPURL). Close stops it.
func StartDevMailbox(db *storage.DB, clock platform.Clock, logger *slog.Logger) (*DevMailbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("notify: development mailbox: %w", err)
	}
	m := &DevMailbox{db: db, clock: clock, logger: logger.With("component", "dev-mailbox"), ln: ln, served: make(chan struct{})}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{box: m}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.MaxMessageBytes = MaxDevMailboxMessageBytes
	s.MaxRecipients = 100
	s.ErrorLog = smtpLog{m.logger}
	m.server = s
	go func() {
		defer close(m.served)
		_ = s.Serve(ln) // returns when Close closes the listener
	}()
	return m, nil
}

// Addr is the host:port the SMTP server listens on.
func (m *DevMailbox) Addr() string { return m.ln.Addr().String() }

// SMTPURL is the URL to send to the mailbox with (see ParseSMTPURL).
func (m *DevMailbox) SMTPURL() string { return "smtp://" + m.Addr() + "?tls=none" }

// Close stops the SMTP server, dropping any connection in progress.
func (m *DevMailbox) Close() error {
	err := m.server.Close()
	// Server.Close closes only the listeners Serve has registered, which
	// it may not have done yet: close ours too, or Serve never returns.
	_ = m.ln.Close()
	<-m.served
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

type smtpLog struct{ l *slog.Logger }

func (s smtpLog) Printf(format string, v ...any) { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s smtpLog) Println(v ...any)               { s.l.Warn(strings.TrimSpace(fmt.Sprintln(v...))) }

// mailboxSession is one SMTP conversation: it accepts any sender and any
// recipient and stores each message when its DATA ends.
type mailboxSession struct {
	box  *DevMailbox
	from string
	to   []string
}

func (s *mailboxSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailboxSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // too large, or the connection broke: go-smtp answers
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.box.store(ctx, s.from, s.to, raw); err != nil {
		s.box.logger.Error("cannot store message", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mailbox storage failed; try again later"}
	}
	return nil
}

func (s *mailboxSession) Reset()        { s.from, s.to = "", nil }
func (s *mailboxSession) Logout() error { return nil }

// MailboxMessage is one message the development mailbox received.
type MailboxMessage struct {
	ID         string
	ReceivedAt time.Time
	From       string // SMTP envelope sender (MAIL FROM)
	To         string // SMTP envelope recipients (RCPT TO), comma-separated
	Subject    string // decoded
	MessageID  string // the Message-ID header, with its angle brackets
	Text       string // the text/plain part, decoded ("" if none)
	HTML       string // the text/html part, decoded ("" if none); never render it unsandboxed
	Raw        string // the message as received
}

// Header is one header line of a message, decoded for display.
type Header struct {
	Name, Value string
}

// DisplayHeaders are the headers the mailbox page shows, in order.
var DisplayHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "Content-Language"}

// Headers returns m's DisplayHeaders that are present, decoded.
func (m MailboxMessage) Headers() []Header {
	msg, err := mail.ReadMessage(strings.NewReader(m.Raw))
	if err != nil {
		return nil
	}
	var out []Header
	for _, name := range DisplayHeaders {
		if v := msg.Header.Get(name); v != "" {
			out = append(out, Header{Name: name, Value: decodeHeader(v)})
		}
	}
	return out
}

func (m *DevMailbox) store(ctx context.Context, from string, to []string, raw []byte) (string, error) {
	p := parseMessage(raw)
	id := uuid.Must(uuid.NewV7()).String()
	_, err := m.db.Write().ExecContext(ctx, `
		INSERT INTO dev_mailbox (id, received_at, mail_from, rcpt_to, subject, text_body, html_body, raw, message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id, m.clock.Now().UTC().Truncate(time.Microsecond), clean(from), clean(strings.Join(to, ", ")),
		p.subject, p.text, p.html, clean(string(raw)), p.messageID)
	if err != nil {
		return "", fmt.Errorf("notify: store mailbox message: %w", err)
	}
	return id, nil
}

// Messages returns the newest limit messages, newest first, without their
// bodies.
func (m *DevMailbox) Messages(ctx context.Context, limit int) ([]MailboxMessage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := m.db.Read().QueryContext(ctx, `
		SELECT id, received_at, mail_from, rcpt_to, subject, message_id FROM dev_mailbox
		ORDER BY received_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: mailbox: %w", err)
	}
	defer rows.Close()
	out := []MailboxMessage{}
	for rows.Next() {
		var msg MailboxMessage
		if err := rows.Scan(&msg.ID, &msg.ReceivedAt, &msg.From, &msg.To, &msg.Subject, &msg.MessageID); err != nil {
			return nil, fmt.Errorf("notify: mailbox: %w", err)
		}
		msg.ReceivedAt = msg.ReceivedAt.UTC()
		out = append(out, msg)
	}
	return out, rows.Err()
}

// Message returns the message with id, or a CodeNotFound error.
func (m *DevMailbox) Message(ctx context.Context, id string) (MailboxMessage, error) {
	var msg MailboxMessage
	if _, err := platform.ParseUUID("message in the development mailbox", id); err != nil {
		return msg, err
	}
	err := m.db.Read().QueryRowContext(ctx, `
		SELECT id, received_at, mail_from, rcpt_to, subject, message_id, text_body, html_body, raw
		FROM dev_mailbox WHERE id = $1`, id).
		Scan(&msg.ID, &msg.ReceivedAt, &msg.From, &msg.To, &msg.Subject, &msg.MessageID, &msg.Text, &msg.HTML, &msg.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return msg, platform.Errorf(platform.CodeNotFound, "no message %q in the development mailbox", id)
	}
	if err != nil {
		return msg, fmt.Errorf("notify: mailbox message %s: %w", id, err)
	}
	msg.ReceivedAt = msg.ReceivedAt.UTC()
	return msg, nil
}

// parsed is what the mailbox extracts from a raw message.
type parsed struct {
	subject, messageID, text, html string
}

// parseMessage extracts the subject, Message-ID and the first text/plain
// and text/html parts of raw, decoding MIME encoded words, quoted-printable
// and base64. It never fails: what it cannot parse stays only in raw.
func parseMessage(raw []byte) parsed {
	var p parsed
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return p
	}
	p.subject = clean(decodeHeader(msg.Header.Get("Subject")))
	p.messageID = clean(strings.TrimSpace(msg.Header.Get("Message-ID")))
	p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body, 0)
	return p
}

// walk visits one MIME entity, recursing into multiparts (to a small depth:
// real mail nests two or three levels).
func (p *parsed) walk(contentType, cte, disposition string, body io.Reader, depth int) {
	if depth > 5 {
		return
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		mediaType = "text/plain" // RFC 2045 default
	}
	if d, _, _ := mime.ParseMediaType(disposition); d == "attachment" {
		return
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part, depth+1)
		}
	case mediaType == "text/plain" && p.text == "":
		p.text = readDecoded(cte, body)
	case mediaType == "text/html" && p.html == "":
		p.html = readDecoded(cte, body)
	}
}

// readDecoded reads a part's body, undoing its Content-Transfer-Encoding.
// Text is kept as UTF-8 (what Portico sends); other charsets are not
// converted, only made valid.
func readDecoded(cte string, r io.Reader) string {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(io.LimitReader(r, MaxDevMailboxMessageBytes))
	return clean(strings.ReplaceAll(string(b), "\r\n", "\n"))
}

func decodeHeader(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// clean makes s storable on both engines: valid UTF-8 without NUL.
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
