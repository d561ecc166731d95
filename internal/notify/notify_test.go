package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

const testFrom = "State of Example <no-reply@portico.test>"

type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(50 * time.Millisecond) }

// harness is the notification block with its own River client, as the app
// wires it, sending to smtpURL.
type harness struct {
	db     *storage.DB
	svc    *notify.Service
	client *jobs.Client   // the working client, started by start
	ins    *jobs.Inserter // what the service enqueues with
}

func newHarness(t *testing.T, db *storage.DB, clock platform.Clock, smtpURL string, maxAttempts int) *harness {
	t.Helper()
	return newHarnessWith(t, db, clock, smtpURL, jobs.Config{MaxAttempts: maxAttempts})
}

// newHarnessWith is newHarness with more of the queue's settings.
func newHarnessWith(t *testing.T, db *storage.DB, clock platform.Clock, smtpURL string, cfg jobs.Config) *harness {
	t.Helper()
	return newHarnessConfig(t, db, clock, notify.Config{SMTPURL: smtpURL}, cfg)
}

// newHarnessConfig is newHarness with the block's and the queue's settings.
func newHarnessConfig(t *testing.T, db *storage.DB, clock platform.Clock, ncfg notify.Config, cfg jobs.Config) *harness {
	t.Helper()
	reg := jobs.NewRegistry()
	ncfg.From, ncfg.Timeout = testFrom, 5*time.Second
	if ncfg.Secrets == nil {
		box, err := secrets.New(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		ncfg.Secrets = box
	}
	if ncfg.Audit == nil {
		ncfg.Audit = audit.New(db, clock, nil)
	}
	ins, err := jobs.NewInserter(db, cfg) // MaxAttempts is set when a job is inserted
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.New(db, ins, reg, clock, ncfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Work, cfg.FetchPollInterval, cfg.RetryPolicy = true, 100*time.Millisecond, fastRetry{}
	client, err := jobs.New(db, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{db: db, svc: svc, client: client, ins: ins}
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stop(t) })
}

func (h *harness) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.client.Stop(ctx)
}

// send stores e in a committed transaction and returns its id.
func (h *harness) send(t *testing.T, e notify.Email) string {
	t.Helper()
	var id string
	err := h.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		id, err = h.svc.SendEmail(context.Background(), tx, e)
		return err
	})
	if err != nil {
		t.Fatalf("SendEmail(%s): %v", e.To, err)
	}
	return id
}

func (h *harness) get(t *testing.T, id string) notify.Notification {
	t.Helper()
	n, err := h.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFinal waits until notification id reaches a final status.
func (h *harness) waitFinal(t *testing.T, id string) notify.Notification {
	t.Helper()
	var n notify.Notification
	eventually(t, "notification "+id+" to reach a final status", func() bool {
		n = h.get(t, id)
		return n.Status.Final()
	})
	return n
}

// jobStates returns the River state of every delivery job, by notification id.
func (h *harness) jobStates(t *testing.T) map[string][]rivertype.JobState {
	t.Helper()
	res, err := h.client.JobList(context.Background(), river.NewJobListParams().Kinds(notify.DeliverEmailArgs{}.Kind()).First(10000))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]rivertype.JobState{}
	for _, j := range res.Jobs {
		var a notify.DeliverEmailArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		out[a.NotificationID] = append(out[a.NotificationID], j.State)
	}
	return out
}

// waitJob waits until notification id's only delivery job is in state.
func (h *harness) waitJob(t *testing.T, id string, state rivertype.JobState) {
	t.Helper()
	eventually(t, "delivery job of "+id+" to be "+string(state), func() bool {
		s := h.jobStates(t)[id]
		return len(s) == 1 && s[0] == state
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestSendEmailValidation(t *testing.T) {
	valid := notify.Email{To: "ada@example.com", Subject: "Your code", Text: "Your code is 123456."}
	with := func(f func(e *notify.Email)) notify.Email {
		e := valid
		f(&e)
		return e
	}
	tests := []struct {
		name  string
		email notify.Email
		field string // "" means valid
	}{
		{"minimal", valid, ""},
		{"everything", with(func(e *notify.Email) {
			e.HTML, e.Lang, e.Critical, e.AgencyID, e.Reference = "<p>Your code</p>", "es-MX", true, "example-dmv", "account:42"
		}), ""},
		{"internationalised address", with(func(e *notify.Email) { e.To = "josé@ejemplo.example" }), ""},
		{"surrounding spaces trimmed", with(func(e *notify.Email) { e.To = "  ada@example.com " }), ""},
		{"no recipient", with(func(e *notify.Email) { e.To = "" }), "to"},
		{"not an address", with(func(e *notify.Email) { e.To = "ada" }), "to"},
		{"two at signs", with(func(e *notify.Email) { e.To = "ada@@example.com" }), "to"},
		{"display name", with(func(e *notify.Email) { e.To = "Ada <ada@example.com>" }), "to"},
		{"two recipients", with(func(e *notify.Email) { e.To = "ada@example.com, bob@example.com" }), "to"},
		{"header injection in address", with(func(e *notify.Email) { e.To = "ada@example.com\r\nBcc: eve@example.com" }), "to"},
		{"address too long", with(func(e *notify.Email) { e.To = strings.Repeat("a", 250) + "@example.com" }), "to"},
		{"no subject", with(func(e *notify.Email) { e.Subject = "  " }), "subject"},
		{"subject with newline", with(func(e *notify.Email) { e.Subject = "Hi\r\nBcc: eve@example.com" }), "subject"},
		{"subject too long", with(func(e *notify.Email) { e.Subject = strings.Repeat("x", notify.MaxSubjectBytes+1) }), "subject"},
		{"subject not UTF-8", with(func(e *notify.Email) { e.Subject = "caf\xe9" }), "subject"},
		{"no text", with(func(e *notify.Email) { e.Text = "" }), "text"},
		{"text too large", with(func(e *notify.Email) { e.Text = strings.Repeat("x", notify.MaxTextBytes+1) }), "text"},
		{"text with NUL", with(func(e *notify.Email) { e.Text = "a\x00b" }), "text"},
		{"html too large", with(func(e *notify.Email) { e.HTML = strings.Repeat("x", notify.MaxHTMLBytes+1) }), "html"},
		{"bad language", with(func(e *notify.Email) { e.Lang = "not a language" }), "lang"},
		{"reference too long", with(func(e *notify.Email) { e.Reference = strings.Repeat("r", 256) }), "reference"},
		{"agency id too long", with(func(e *notify.Email) { e.AgencyID = strings.Repeat("a", 65) }), "agency_id"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, platform.SystemClock{}, "", 1)
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var id string
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					var err error
					id, err = h.svc.SendEmail(ctx, tx, tt.email)
					return err
				})
				if tt.field == "" {
					if err != nil {
						t.Fatalf("valid email refused: %v", err)
					}
					n := h.get(t, id)
					if n.Status != notify.StatusCreated || n.Channel != notify.ChannelEmail || n.Recipient != strings.TrimSpace(tt.email.To) {
						t.Fatalf("stored %+v", n)
					}
					return
				}
				var pe *platform.Error
				if !errors.As(err, &pe) || pe.Code != platform.CodeInvalid || pe.Field != tt.field {
					t.Fatalf("err = %v, want invalid %s", err, tt.field)
				}
				if id != "" {
					t.Fatalf("refused email got id %q", id)
				}
			})
		}
		// Nothing refused was stored or enqueued.
		var rows int
		if err := db.Read().QueryRow(`SELECT COUNT(*) FROM notifications`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := 4; rows != want {
			t.Fatalf("%d notifications stored, want %d (the valid ones)", rows, want)
		}
		if jobs := h.jobStates(t); len(jobs) != 4 {
			t.Fatalf("%d delivery jobs, want 4", len(jobs))
		}
	})
}

func TestSendEmailStoresFields(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		h := newHarness(t, db, clock, "", 1)
		id := h.send(t, notify.Email{To: "ada@example.com", Subject: "Asunto", Text: "Hola", HTML: "<p>Hola</p>", Lang: "es", Critical: true, AgencyID: "example-dmv", Reference: "case:7"})
		got := h.get(t, id)
		want := notify.Notification{
			ID: id, AgencyID: "example-dmv", Channel: notify.ChannelEmail, Recipient: "ada@example.com", Subject: "Asunto",
			BodyText: "Hola", BodyHTML: "<p>Hola</p>", Lang: "es", Critical: true, Reference: "case:7",
			Status: notify.StatusCreated, CreatedAt: clock.Now(),
		}
		if got != want {
			t.Fatalf("Get = %+v\nwant %+v", got, want)
		}
		if _, err := h.svc.Get(context.Background(), "nope"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("Get(unknown) = %v, want not found", err)
		}
	})
}

func TestList(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, platform.SystemClock{}, "", 1)
		a := h.send(t, notify.Email{To: "ada@example.com", Subject: "1", Text: "x", AgencyID: "dmv", Reference: "r1"})
		b := h.send(t, notify.Email{To: "bob@example.com", Subject: "2", Text: "x"})
		c := h.send(t, notify.Email{To: "ada@example.com", Subject: "3", Text: "x", AgencyID: "dmv"})
		tests := []struct {
			name   string
			filter notify.Filter
			want   []string
		}{
			{"all, newest first", notify.Filter{}, []string{c, b, a}},
			{"agency", notify.Filter{AgencyID: "dmv"}, []string{c, a}},
			{"recipient", notify.Filter{Recipient: "bob@example.com"}, []string{b}},
			{"reference", notify.Filter{Reference: "r1"}, []string{a}},
			{"status", notify.Filter{Status: notify.StatusCreated}, []string{c, b, a}},
			{"no match", notify.Filter{Status: notify.StatusDelivered}, []string{}},
			{"page", notify.Filter{Limit: 2}, []string{c, b}},
			{"next page", notify.Filter{Limit: 2, Before: b}, []string{a}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := h.svc.List(context.Background(), tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				ids := []string{}
				for _, n := range got {
					ids = append(ids, n.ID)
				}
				if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
					t.Fatalf("List(%+v) = %v, want %v", tt.filter, ids, tt.want)
				}
			})
		}
	})
}

// TestOutbox proves the transactional outbox: an email stored in a
// transaction that rolls back is never sent; one that commits is delivered
// over SMTP with the headers and body it was given.
func TestOutbox(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		h := newHarness(t, db, clock, srv.URL(), 5)
		ctx := context.Background()

		var rolledBack string
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			rolledBack, err = h.svc.SendEmail(ctx, tx, notify.Email{To: "eve@example.com", Subject: "Never", Text: "This change failed."})
			if err != nil {
				return err
			}
			return errors.New("the change failed")
		})
		if err == nil || rolledBack == "" {
			t.Fatalf("expected the change to fail after SendEmail: id %q err %v", rolledBack, err)
		}
		email := notify.Email{
			To: "ada@example.com", Subject: "Confirme su correo electrónico",
			Text: "Hola:\n\nAbra este enlace: https://portico.example/confirm?t=abc\n",
			HTML: `<p>Hola:</p><p><a href="https://portico.example/confirm?t=abc">Confirmar</a></p>`,
			Lang: "es",
		}
		id := h.send(t, email)
		h.start(t)

		n := h.waitFinal(t, id)
		if n.Status != notify.StatusDelivered || n.Attempts != 1 || n.LastError != "" || n.SentAt.IsZero() || n.CompletedAt.IsZero() {
			t.Fatalf("after delivery: %+v", n)
		}
		h.waitJob(t, id, rivertype.JobStateCompleted)
		if _, err := h.svc.Get(ctx, rolledBack); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("rolled-back notification exists: %v", err)
		}
		if jobs := h.jobStates(t); len(jobs) != 1 {
			t.Fatalf("delivery jobs = %v, want only the committed one", jobs)
		}

		got := srv.Received()
		if len(got) != 1 {
			t.Fatalf("server received %d messages, want 1", len(got))
		}
		r := got[0]
		if r.From != "no-reply@portico.test" || strings.Join(r.To, ",") != "ada@example.com" {
			t.Errorf("envelope: MAIL FROM %q RCPT TO %v", r.From, r.To)
		}
		hdr := r.Msg.Header
		subject, _ := new(mime.WordDecoder).DecodeHeader(hdr.Get("Subject"))
		for name, want := range map[string]string{
			"From":             `"State of Example" <no-reply@portico.test>`,
			"To":               "<ada@example.com>",
			"Subject":          email.Subject,
			"Message-ID":       "<" + id + "@portico.test>",
			"Date":             "Tue, 24 Nov 2026 12:00:00 +0000",
			"Content-Language": "es",
			"Auto-Submitted":   "auto-generated",
			"MIME-Version":     "1.0",
		} {
			v := hdr.Get(name)
			if name == "Subject" {
				v = subject
			}
			if v != want {
				t.Errorf("%s: %q, want %q", name, v, want)
			}
		}
		if h.svc.MessageID(id) != id+"@portico.test" {
			t.Errorf("MessageID = %q", h.svc.MessageID(id))
		}
		if hdr.Get("User-Agent") != "" || hdr.Get("X-Mailer") != "" {
			t.Errorf("message advertises its mailer: %q %q", hdr.Get("User-Agent"), hdr.Get("X-Mailer"))
		}
		parts := readParts(t, r)
		if parts["text/plain"] != strings.ReplaceAll(email.Text, "\n", "\r\n") && parts["text/plain"] != email.Text {
			t.Errorf("text part = %q, want %q", parts["text/plain"], email.Text)
		}
		if parts["text/html"] != email.HTML {
			t.Errorf("html part = %q, want %q", parts["text/html"], email.HTML)
		}
	})
}

// readParts returns the decoded body of each part of a multipart/alternative
// message by media type.
func readParts(t *testing.T, r received) map[string]string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(r.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return out
}

// citizen is the signed-in citizen with account id.
func citizen(id string) platform.Actor {
	return platform.Actor{Kind: platform.ActorCitizen, ID: id}
}
