package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// SMS is one text message to hand to a provider.
type SMS struct {
	ID   string // the notification id, for the provider's idempotency where it has one
	To   string // E.164
	Body string
}

// SMSProvider sends text messages. SendSMS returns the provider's id for
// the message. An error wrapped in PermanentError is not retried.
type SMSProvider interface {
	SendSMS(ctx context.Context, m SMS) (providerRef string, err error)
	String() string // for logs; never the credentials
}

// PermanentError is a provider's refusal that a retry cannot fix (a bad
// number, a blocked recipient).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// ErrNoSMS is the failure recorded when no SMS provider is configured.
var ErrNoSMS = errors.New("no SMS provider configured (set --sms-url or PORTICO_SMS_URL)")

// ParseSMSURL returns the provider an SMS URL names:
//
//	twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15555550100
//	twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?messaging_service=MGxxxx
//	twilio+http://SID:TOKEN@127.0.0.1:8080?from=…   (clear text: tests and local fakes only)
//
// The host is where Twilio's Messages API is (api.twilio.com in
// production).
func ParseSMSURL(raw string) (SMSProvider, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("SMS URL: %v", errors.Unwrap(err))
	}
	scheme := "https"
	switch u.Scheme {
	case "twilio":
	case "twilio+http":
		scheme = "http"
	default:
		return nil, fmt.Errorf("SMS URL scheme %q is not supported (want twilio://)", u.Scheme)
	}
	pw, _ := u.User.Password()
	if u.User == nil || u.User.Username() == "" || pw == "" {
		return nil, errors.New("SMS URL needs the account SID and auth token as user:password")
	}
	if u.Host == "" {
		return nil, errors.New("SMS URL needs a host (api.twilio.com)")
	}
	q := u.Query()
	t := &Twilio{BaseURL: scheme + "://" + u.Host, AccountSID: u.User.Username(), AuthToken: pw, From: q.Get("from"), MessagingServiceSID: q.Get("messaging_service")}
	if t.From == "" && t.MessagingServiceSID == "" {
		return nil, errors.New("SMS URL needs from=+1… (the sending number) or messaging_service=MG…")
	}
	return t, nil
}

// Twilio sends through Twilio's Programmable Messaging REST API:
// POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded
// To, From (or MessagingServiceSid) and Body, with HTTP basic
// authentication (account SID, auth token). A 201 reply carries the
// message's sid; 4xx replies other than 429 are permanent refusals.
type Twilio struct {
	BaseURL             string
	AccountSID          string
	AuthToken           string
	From                string
	MessagingServiceSID string
	Client              *http.Client // default: 30-second timeout
}

func (t *Twilio) String() string { return "twilio " + t.BaseURL + " account " + t.AccountSID }

// SendSMS implements SMSProvider.
func (t *Twilio) SendSMS(ctx context.Context, m SMS) (string, error) {
	form := url.Values{"To": {m.To}, "Body": {m.Body}}
	if t.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.MessagingServiceSID)
	} else {
		form.Set("From", t.From)
	}
	endpoint := t.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var reply struct {
		SID     string `json:"sid"`
		Status  string `json:"status"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &reply)
	switch {
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
		if reply.SID == "" {
			return "", errors.New("twilio: reply without a message sid")
		}
		return reply.SID, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusUnauthorized:
		return "", &PermanentError{fmt.Errorf("twilio: %d error %d: %s", resp.StatusCode, reply.Code, reply.Message)}
	default:
		return "", fmt.Errorf("twilio: %d error %d: %s", resp.StatusCode, reply.Code, reply.Message)
	}
}

// DevSMS is the development SMS provider: it keeps every text message in
// the dev_sms table for the development mailbox page. Never in production.
type DevSMS struct {
	DB    *storage.DB
	Clock platform.Clock
}

func (d *DevSMS) String() string { return "development SMS inbox" }

// SendSMS implements SMSProvider.
func (d *DevSMS) SendSMS(ctx context.Context, m SMS) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	_, err := d.DB.Write().ExecContext(ctx, `INSERT INTO dev_sms (id, received_at, sender, recipient, body) VALUES ($1, $2, $3, $4, $5)`,
		id, d.Clock.Now().UTC(), "Portico", m.To, m.Body)
	return id, err
}

// DevText is a text message the development provider kept.
type DevText struct {
	ID         string
	ReceivedAt time.Time
	To         string
	Body       string
}

// Texts returns the newest text messages the development provider kept.
func (d *DevSMS) Texts(ctx context.Context, limit int) ([]DevText, error) {
	rows, err := d.DB.Read().QueryContext(ctx, `SELECT id, received_at, recipient, body FROM dev_sms ORDER BY id DESC LIMIT `+fmt.Sprint(max(1, min(limit, 500))))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DevText{}
	for rows.Next() {
		var t DevText
		if err := rows.Scan(&t.ID, &t.ReceivedAt, &t.To, &t.Body); err != nil {
			return nil, err
		}
		t.ReceivedAt = t.ReceivedAt.UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}
