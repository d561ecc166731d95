package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func startMailbox(t *testing.T, db *storage.DB, clock platform.Clock) *notify.DevMailbox {
	t.Helper()
	box, err := notify.StartDevMailbox(db, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := box.Close(); err != nil {
			t.Errorf("close mailbox: %v", err)
		}
	})
	return box
}

// sendRaw hands raw to the SMTP server at addr with go-smtp's client, in
// clear text (the mailbox listens on loopback only and offers no STARTTLS).
func sendRaw(t *testing.T, addr, from string, to []string, raw string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, to, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestDevMailboxStoresWhatItReceives sends raw messages of the shapes mail
// comes in to the mailbox over SMTP (go-smtp's client) and checks what it
// extracted and stored.
func TestDevMailboxStoresWhatItReceives(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	tests := []struct {
		name      string
		to        []string
		raw       string
		subject   string
		text      string
		html      string
		messageID string
	}{
		{
			name: "plain text, quoted-printable, encoded subject",
			to:   []string{"ana@example.com"},
			raw: crlf(`From: no-reply@portico.test
To: ana@example.com
Subject: =?UTF-8?q?Confirme_su_correo_electr=C3=B3nico?=
Message-ID: <one@portico.test>
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Abra este enlace: https://portico.example/confirmar?t=3Dabc
Gracias =E2=80=94 el equipo
`),
			subject: "Confirme su correo electrónico", messageID: "<one@portico.test>",
			text: "Abra este enlace: https://portico.example/confirmar?t=abc\nGracias — el equipo\n",
		},
		{
			name: "alternative: quoted-printable text, base64 HTML",
			to:   []string{"ada@example.com", "bob@example.com"},
			raw: crlf(`From: no-reply@portico.test
Subject: Both
Message-ID: <two@portico.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=BOUND

--BOUND
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Hello =
Ada
--BOUND
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PHA+SGVsbG8gPGI+QWRhPC9iPjwvcD4=
--BOUND--
`),
			subject: "Both", messageID: "<two@portico.test>", text: "Hello Ada", html: "<p>Hello <b>Ada</b></p>",
		},
		{
			name: "mixed with a text attachment: the attachment is not the body",
			to:   []string{"ada@example.com"},
			raw: crlf(`Subject: With attachment
Content-Type: multipart/mixed; boundary=OUTER

--OUTER
Content-Type: text/plain; charset=UTF-8
Content-Disposition: attachment; filename=notes.txt

attached notes
--OUTER
Content-Type: multipart/alternative; boundary=INNER

--INNER
Content-Type: text/plain

the body
--INNER--
--OUTER--
`),
			subject: "With attachment", text: "the body",
		},
		{
			name:    "no MIME headers at all",
			to:      []string{"ada@example.com"},
			raw:     crlf("Subject: Bare\n\njust text\n"),
			subject: "Bare", text: "just text\n",
		},
		{
			name:    "Latin-1 bytes and NUL are stored, made valid",
			to:      []string{"ada@example.com"},
			raw:     crlf("Subject: caf\xe9\n\nna\xefve \x00 text\n"),
			subject: "caf\uFFFD", text: "na\uFFFDve \uFFFD text\n",
		},
		{
			name: "not a message: kept raw",
			to:   []string{"ada@example.com"},
			raw:  crlf("this line is not a header\n\nbody\n"),
		},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		box := startMailbox(t, db, clock)
		if !strings.HasPrefix(box.SMTPURL(), "smtp://127.0.0.1:") {
			t.Fatalf("SMTPURL = %q", box.SMTPURL())
		}
		if _, err := notify.ParseSMTPURL(box.SMTPURL()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clock.Advance(time.Minute)
				sendRaw(t, box.Addr(), "sender@portico.test", tt.to, tt.raw)
				list, err := box.Messages(ctx, 1)
				if err != nil || len(list) != 1 {
					t.Fatalf("Messages = %v, %v", list, err)
				}
				m, err := box.Message(ctx, list[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				want := notify.MailboxMessage{
					ID: list[0].ID, ReceivedAt: clock.Now(), From: "sender@portico.test", To: strings.Join(tt.to, ", "),
					Subject: tt.subject, MessageID: tt.messageID, Text: tt.text, HTML: tt.html, Raw: m.Raw,
				}
				if m != want {
					t.Fatalf("stored\n %+v\nwant\n %+v", m, want)
				}
				if !strings.HasPrefix(m.Raw, strings.ToValidUTF8(tt.raw[:10], "\uFFFD")) {
					t.Fatalf("raw = %q", m.Raw)
				}
			})
		}
		list, err := box.Messages(ctx, 0)
		if err != nil || len(list) != len(tests) {
			t.Fatalf("Messages = %d, %v", len(list), err)
		}
		for i := 1; i < len(list); i++ {
			if list[i].ReceivedAt.After(list[i-1].ReceivedAt) {
				t.Fatalf("messages not newest first: %v then %v", list[i-1].ReceivedAt, list[i].ReceivedAt)
			}
		}
		if _, err := box.Message(ctx, "no-such-id"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("Message(unknown) = %v, want not found", err)
		}
	})
}

// TestDevMailboxReceivesNotifications is the demo's path: the notification
// service sends through River and go-mail to the mailbox, which stores the
// message with its headers decoded.
func TestDevMailboxReceivesNotifications(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		box := startMailbox(t, db, clock)
		h := newHarness(t, db, clock, box.SMTPURL(), 5)
		h.start(t)
		id := h.send(t, notify.Email{To: "ana@example.com", Subject: "Su código: 123456", Text: "Su código es 123456.", HTML: "<p>Su código es <b>123456</b>.</p>", Lang: "es"})
		if n := h.waitFinal(t, id); n.Status != notify.StatusDelivered {
			t.Fatalf("status %s: %s", n.Status, n.LastError)
		}
		list, err := box.Messages(context.Background(), 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("Messages = %v, %v", list, err)
		}
		m, err := box.Message(context.Background(), list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "Su código: 123456" || m.Text != "Su código es 123456." || m.HTML != "<p>Su código es <b>123456</b>.</p>" ||
			m.MessageID != "<"+h.svc.MessageID(id)+">" || m.To != "ana@example.com" || m.From != "no-reply@portico.test" {
			t.Fatalf("stored %+v", m)
		}
		got := map[string]string{}
		for _, hd := range m.Headers() {
			got[hd.Name] = hd.Value
		}
		want := map[string]string{
			"From": `"State of Example" <no-reply@portico.test>`, "To": "<ana@example.com>", "Subject": "Su código: 123456",
			"Date": "Tue, 24 Nov 2026 12:00:00 +0000", "Message-ID": "<" + h.svc.MessageID(id) + ">", "Content-Language": "es",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("header %s = %q, want %q", k, got[k], v)
			}
		}
	})
}
