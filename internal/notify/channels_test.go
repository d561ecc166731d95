package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func (h *harness) sendMsg(t *testing.T, m notify.Message) (notify.Notification, error) {
	t.Helper()
	var n notify.Notification
	err := h.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		n, err = h.svc.Send(context.Background(), tx, m)
		return err
	})
	return n, err
}

func mustTemplate(t *testing.T, svc *notify.Service, in notify.TemplateInput) notify.Template {
	t.Helper()
	tpl, err := svc.CreateTemplate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestTemplateVersions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, platform.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), "", 1)
		v1 := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal", Subject: "Renew ((plate))",
			Body: "Dear ((name)),\n\nRenew by ((date)).", SubjectES: "Renueve ((plate))", BodyES: "Estimado/a ((name)):\n\nRenueve antes del ((date))."})
		if v1.Version != 1 {
			t.Fatalf("version %d", v1.Version)
		}
		v2, err := h.svc.UpdateTemplate(ctx, v1.ID, notify.TemplateInput{Name: "Renewal", Subject: "Time to renew ((plate))", Body: "Hi ((name))"})
		if err != nil || v2.Version != 2 || v2.AgencyID != "dmv" {
			t.Fatalf("update: %+v, %v", v2, err)
		}
		old, err := h.svc.Template(ctx, v1.ID, 1)
		if err != nil || old.Subject != "Renew ((plate))" || old.BodyES == "" {
			t.Fatalf("version 1 changed: %+v %v", old, err)
		}
		latest, _ := h.svc.Template(ctx, v1.ID, 0)
		if latest.Version != 2 || latest.Body != "Hi ((name))" {
			t.Fatalf("latest %+v", latest)
		}
		if _, err := h.svc.Template(ctx, v1.ID, 3); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("version 3: %v", err)
		}
		r, err := old.Render("es", notify.Personalisation{"name": "Ana", "plate": "ABC-123", "date": "1 de abril"})
		if err != nil || r.Lang != "es" || r.Subject != "Renueve ABC-123" || !strings.Contains(r.HTML, "<p>Renueve antes del 1 de abril.</p>") {
			t.Fatalf("render es: %+v %v", r, err)
		}
		if _, err := old.Render("en", notify.Personalisation{"name": "Ana"}); err == nil || err.Error() != "Missing personalisation: plate, date" {
			t.Fatalf("missing: %v", err)
		}
		mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Code", Body: "Your code is ((code))"})
		mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "tax", Type: notify.TemplateSMS, Name: "Other", Body: "x"})
		all, _ := h.svc.Templates(ctx, "dmv", "")
		sms, _ := h.svc.Templates(ctx, "dmv", notify.TemplateSMS)
		if len(all) != 2 || len(sms) != 1 || sms[0].Name != "Code" {
			t.Fatalf("lists: %d %d", len(all), len(sms))
		}
		for _, bad := range []notify.TemplateInput{
			{AgencyID: "dmv", Type: "letter", Name: "x", Body: "x"},
			{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "x", Body: "x"},                    // no subject
			{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "x", Subject: "s", Body: "x"},        // sms subject
			{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "", Body: "x"},                       // no name
			{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "x", Body: strings.Repeat("a", 919)}, // too long
		} {
			if _, err := h.svc.CreateTemplate(ctx, bad); platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("%+v: %v", bad, err)
			}
		}
	})
}

func TestSendFromTemplate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		srv := startTestServer(t)
		h := newHarness(t, db, platform.SystemClock{}, srv.URL(), 3)
		h.start(t)
		tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Hello", Subject: "Hello ((name))",
			Body: "Visit https://example.gov/((path))", SubjectES: "Hola ((name))", BodyES: "Visite https://example.gov/((path))"})
		n, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ana@example.com", Lang: "es",
			Personalisation: notify.Personalisation{"name": "Ana", "path": "renew"}, Reference: "case-1"})
		if err != nil {
			t.Fatal(err)
		}
		n = h.waitFinal(t, n.ID)
		if n.Status != notify.StatusDelivered || n.TemplateID != tpl.ID || n.TemplateVersion != 1 || n.Lang != "es" || n.Subject != "Hola Ana" {
			t.Fatalf("%+v", n)
		}
		parts := readParts(t, srv.Received()[0])
		if !strings.Contains(parts["text/html"], `<a href="https://example.gov/renew">`) {
			t.Fatalf("html part %q", parts["text/html"])
		}
		// An agency's one-click unsubscribe link becomes RFC 8058 headers.
		n, err = h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ben@example.com", APIKeyID: "k",
			UnsubscribeURL: "https://dmv.example.gov/unsubscribe?u=1", Personalisation: notify.Personalisation{"name": "Ben", "path": "x"}})
		if err != nil {
			t.Fatal(err)
		}
		h.waitFinal(t, n.ID)
		hdr := srv.Received()[1].Msg.Header
		if hdr.Get("List-Unsubscribe") != "<https://dmv.example.gov/unsubscribe?u=1>" || hdr.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Fatalf("unsubscribe headers %q %q", hdr.Get("List-Unsubscribe"), hdr.Get("List-Unsubscribe-Post"))
		}
		if srv.Received()[0].Msg.Header.Get("List-Unsubscribe") != "" {
			t.Fatal("List-Unsubscribe on a message without a link")
		}
		if _, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ben@example.com", UnsubscribeURL: "javascript:alert(1)",
			Personalisation: notify.Personalisation{"name": "Ben", "path": "x"}}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("bad unsubscribe URL: %v", err)
		}
		// The wrong channel, a missing value, another agency's template.
		if _, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelSMS, To: "+15555550100", Personalisation: notify.Personalisation{"name": "x", "path": "y"}}); err == nil || err.Error() != "email template is not suitable for sms notification" {
			t.Fatalf("mismatch: %v", err)
		}
		var me *notify.MissingError
		if _, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "a@example.com"}); !errors.As(err, &me) {
			t.Fatalf("missing: %v", err)
		}
		if _, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, AgencyID: "tax", Channel: notify.ChannelEmail, To: "a@example.com"}); !errors.Is(err, notify.ErrTemplateNotFound) {
			t.Fatalf("other agency: %v", err)
		}
		// A template that cannot be read (the database away) is not a
		// template that does not exist: the API answers 503, not 400.
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		err = h.db.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := h.svc.Send(gone, tx, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "a@example.com", Personalisation: notify.Personalisation{"name": "x", "path": "y"}})
			return err
		})
		if err == nil || errors.Is(err, notify.ErrTemplateNotFound) {
			t.Fatalf("template unreadable: %v, want the database's error", err)
		}
	})
}

// twilioFake checks each request exactly as Twilio documents its Messages
// resource and answers as Twilio does.
type twilioFake struct {
	t      *testing.T
	mu     sync.Mutex
	forms  []url.Values
	status int // reply status; 201 by default
}

func (f *twilioFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	switch {
	case r.Method != http.MethodPost, r.URL.Path != "/2010-04-01/Accounts/ACtest123/Messages.json":
		f.t.Errorf("request %s %s", r.Method, r.URL.Path)
	case !ok || user != "ACtest123" || pass != "tok3n":
		f.t.Errorf("basic auth %q %q", user, pass)
	case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		f.t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	_ = r.ParseForm()
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	status := f.status
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch status {
	case 0, http.StatusCreated:
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"account_sid":"ACtest123","api_version":"2010-04-01","body":"`+r.PostForm.Get("Body")+`","sid":"SM1234567890abcdef1234567890abcdef","status":"queued","to":"`+r.PostForm.Get("To")+`"}`)
	default:
		w.WriteHeader(status)
		io.WriteString(w, `{"code":21211,"message":"The 'To' number is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`)
	}
}

func TestSMSThroughTwilio(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fake := &twilioFake{t: t}
		ts := httptest.NewServer(fake)
		defer ts.Close()
		p, err := notify.ParseSMSURL("twilio+http://ACtest123:tok3n@" + strings.TrimPrefix(ts.URL, "http://") + "?from=%2B15555550100")
		if err != nil {
			t.Fatal(err)
		}
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMS: p}, jobs.Config{MaxAttempts: 3})
		h.start(t)
		tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Code", Body: "Your code is ((code))"})
		n, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelSMS, To: "(555) 555-0199", Personalisation: notify.Personalisation{"code": "123456"}})
		if err != nil {
			t.Fatal(err)
		}
		n = h.waitFinal(t, n.ID)
		if n.Status != notify.StatusDelivered || n.Recipient != "+15555550199" || n.ProviderRef != "SM1234567890abcdef1234567890abcdef" {
			t.Fatalf("%+v", n)
		}
		fake.mu.Lock()
		f := fake.forms[0]
		fake.mu.Unlock()
		if f.Get("To") != "+15555550199" || f.Get("From") != "+15555550100" || f.Get("Body") != "Your code is 123456" || len(f) != 3 {
			t.Fatalf("form %v", f)
		}
		fake.mu.Lock()
		fake.status = http.StatusBadRequest
		fake.mu.Unlock()
		n, _ = h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelSMS, To: "+15555550198", Personalisation: notify.Personalisation{"code": "1"}})
		if n = h.waitFinal(t, n.ID); n.Status != notify.StatusPermanentFailure || !strings.Contains(n.LastError, "21211") {
			t.Fatalf("refused: %+v", n)
		}
		fake.mu.Lock()
		fake.status = http.StatusServiceUnavailable
		fake.mu.Unlock()
		n, _ = h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelSMS, To: "+15555550197", Personalisation: notify.Personalisation{"code": "1"}})
		if n = h.waitFinal(t, n.ID); n.Status != notify.StatusTechnicalFailure || n.Attempts != 3 {
			t.Fatalf("unavailable: %+v", n)
		}
	})
}

func TestParseSMSURL(t *testing.T) {
	for raw, want := range map[string]string{
		"twilio://AC1:tok@api.twilio.com?from=%2B15555550100":   "",
		"twilio://AC1:tok@api.twilio.com?messaging_service=MG1": "",
		"http://AC1:tok@api.twilio.com?from=1":                  "not supported",
		"twilio://api.twilio.com?from=1":                        "account SID",
		"twilio://AC1:tok@api.twilio.com":                       "from=",
	} {
		_, err := notify.ParseSMSURL(raw)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	if _, err := notify.NormalizePhone("12"); err == nil {
		t.Error("short number accepted")
	}
}

// receiver is an agency's callback endpoint.
type receiver struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	fail int // answer 500 this many times first
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs, rc.body = append(rc.reqs, r), append(rc.body, b)
	if rc.fail > 0 {
		rc.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.reqs) }

func TestDeliveryCallbacks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		srv := startTestServer(t)
		rc := &receiver{fail: 1}
		ts := httptest.NewServer(rc)
		defer ts.Close()
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{SMTPURL: srv.URL(), AllowHTTPCallbacks: true}, jobs.Config{MaxAttempts: 3})
		h.start(t)
		strict := newHarness(t, db, platform.SystemClock{}, "", 1)
		for _, u := range []string{"http://cases.example.gov/r", "https://localhost/r", "https://127.0.0.1/r", "https://10.0.0.8/r", "https://u:p@cases.example.gov/r"} {
			if err := strict.svc.SetCallback(ctx, "dmv", u, "s3cret-bearer-token"); platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("callback %s accepted: %v", u, err)
			}
		}
		if err := h.svc.SetCallback(ctx, "dmv", ts.URL+"/receipts", "short"); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("short token: %v", err)
		}
		if err := h.svc.SetCallback(ctx, "dmv", ts.URL+"/receipts", "s3cret-bearer-token"); err != nil {
			t.Fatal(err)
		}
		tpl := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Hi", Subject: "Hi", Body: "Hello"})
		n, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ana@example.com", Reference: "ref-1"})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the receipt (after one refusal)", func() bool { return rc.count() == 2 })
		n = h.get(t, n.ID)
		rc.mu.Lock()
		req, body := rc.reqs[1], rc.body[1]
		rc.mu.Unlock()
		if req.Header.Get("Authorization") != "Bearer s3cret-bearer-token" || req.Header.Get("Content-Type") != "application/json" || req.URL.Path != "/receipts" {
			t.Fatalf("headers %v", req.Header)
		}
		sig := req.Header.Get("X-Portico-Signature")
		ts0, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		var tsv int64
		_ = json.Unmarshal([]byte(ts0), &tsv)
		if sig != notify.SignCallback("s3cret-bearer-token", tsv, body) {
			t.Fatalf("signature %q does not verify", sig)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"id": n.ID, "reference": "ref-1", "to": "ana@example.com", "status": "delivered", "notification_type": "email",
			"template_id": tpl.ID, "template_version": float64(1), "created_at": notify.NotifyTime(n.CreatedAt),
			"completed_at": notify.NotifyTime(n.CompletedAt), "sent_at": notify.NotifyTime(n.SentAt)}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("fields %v", got)
		}
		// A test key's notification is delivered at once and receipted.
		n2, err := h.sendMsg(t, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelEmail, To: "ana@example.com", KeyType: notify.KeyTest})
		if err != nil || n2.Status != notify.StatusDelivered {
			t.Fatalf("test key: %+v %v", n2, err)
		}
		eventually(t, "the test key's receipt", func() bool { return rc.count() == 3 })
		if len(srv.Received()) != 1 {
			t.Fatalf("a test key's message was sent")
		}
	})
}

func TestInboxPreferencesAndTeamKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := func(context.Context, string) ([]string, error) { return []string{"Dana@example.gov"}, nil }
		public := func() string { return "https://portico.example.gov" }
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{TeamMembers: team, PublicURL: public}, jobs.Config{MaxAttempts: 1})
		p, err := h.svc.Preferences(ctx, "acct-1")
		if err != nil || !p.Email || p.SMS || !p.InApp {
			t.Fatalf("defaults %+v %v", p, err)
		}
		email := mustTemplate(t, h.svc, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Due", Subject: "Due soon", Body: "Pay by ((date))",
			SubjectES: "Vence pronto", BodyES: "Pague antes del ((date))"})
		send := func(critical bool) []notify.Notification {
			var out []notify.Notification
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				out, err = h.svc.SendToAccount(ctx, tx, notify.AccountMessage{AccountID: "acct-1", Email: "ana@example.com", TemplateID: email.ID,
					Personalisation: notify.Personalisation{"date": "May 1"}, Critical: critical})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := send(false); len(got) != 2 || got[0].Channel != notify.ChannelEmail || got[1].Channel != notify.ChannelInApp || got[1].Status != notify.StatusDelivered ||
			got[0].UnsubscribeURL != "https://portico.example.gov/account/notifications" {
			t.Fatalf("default channels %+v", got)
		}
		// Email and SMS off: the inbox still keeps every message.
		if p, err := h.svc.SetPreferences(ctx, notify.Preferences{AccountID: "acct-1"}); err != nil || !p.InApp {
			t.Fatalf("inbox only: %+v %v", p, err)
		}
		if _, err := h.svc.SetPreferences(ctx, notify.Preferences{AccountID: "acct-1", SMS: true, Phone: "12"}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("bad phone: %v", err)
		}
		if _, err := h.svc.SetPreferences(ctx, notify.Preferences{AccountID: "acct-1", Lang: "es"}); err != nil {
			t.Fatal(err)
		}
		got := send(false)
		if len(got) != 1 || got[0].Channel != notify.ChannelInApp || got[0].Subject != "Vence pronto" || got[0].BodyText != "Pague antes del May 1" {
			t.Fatalf("inbox only, in Spanish: %+v", got)
		}
		if got := send(true); len(got) != 2 || got[0].Channel != notify.ChannelEmail || got[0].UnsubscribeURL != "" {
			t.Fatalf("critical goes by email: %+v", got)
		}
		inbox, err := h.svc.Inbox(ctx, citizen("acct-1"), 0)
		if err != nil || len(inbox) != 3 || !inbox[0].ReadAt.IsZero() {
			t.Fatalf("inbox %d %v", len(inbox), err)
		}
		if err := h.svc.MarkRead(ctx, citizen("acct-2"), inbox[0].ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("someone else's: %v", err)
		}
		if err := h.svc.MarkRead(ctx, citizen("acct-1"), inbox[0].ID); err != nil {
			t.Fatal(err)
		}
		if n := h.get(t, inbox[0].ID); n.ReadAt.IsZero() {
			t.Fatal("not marked read")
		}
		// Team keys reach only the agency's staff.
		if _, err := h.sendMsg(t, notify.Message{TemplateID: email.ID, Channel: notify.ChannelEmail, To: "ana@example.com", KeyType: notify.KeyTeam, Personalisation: notify.Personalisation{"date": "x"}}); !errors.Is(err, notify.ErrTeamRecipient) {
			t.Fatalf("team key to a citizen: %v", err)
		}
		if _, err := h.sendMsg(t, notify.Message{TemplateID: email.ID, Channel: notify.ChannelEmail, To: "dana@example.gov", KeyType: notify.KeyTeam, Personalisation: notify.Personalisation{"date": "x"}}); err != nil {
			t.Fatalf("team key to staff: %v", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, platform.SystemClock{}, "", 1)
		k, str, err := h.svc.CreateAPIKey(ctx, "dmv", "my key", notify.KeyTeam)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(str, "my key-"+k.ServiceID+"-") || len(str) != len("my key-")+73 {
			t.Fatalf("key string %q", str)
		}
		if _, _, err := h.svc.CreateAPIKey(ctx, "dmv", "k", "gold"); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("bad type: %v", err)
		}
		keys, err := h.svc.ServiceKeys(ctx, k.ServiceID)
		if err != nil || len(keys) != 1 || keys[0].Secret != str[len(str)-36:] || keys[0].Type != notify.KeyTeam {
			t.Fatalf("%+v %v", keys, err)
		}
		var stored string
		db.Read().QueryRowContext(ctx, `SELECT secret FROM notify_api_keys`).Scan(&stored)
		if strings.Contains(stored, keys[0].Secret) {
			t.Fatal("secret stored in clear")
		}
		if err := h.svc.RevokeAPIKey(ctx, "tax", k.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("another agency revoked it: %v", err)
		}
		if err := h.svc.RevokeAPIKey(ctx, "dmv", k.ID); err != nil {
			t.Fatal(err)
		}
		list, _ := h.svc.APIKeys(ctx, "dmv")
		if len(list) != 1 || list[0].RevokedAt.IsZero() {
			t.Fatalf("%+v", list)
		}
	})
}

// TestSendTextToAccount: a worded platform message (a reminder) follows
// the citizen's channel choices, like a template message does.
func TestSendTextToAccount(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{}, jobs.Config{MaxAttempts: 1})
		for _, c := range []struct {
			name  string
			prefs *notify.Preferences // nil: the defaults
			want  []notify.Channel
		}{
			{"defaults: email and inbox", nil, []notify.Channel{notify.ChannelEmail, notify.ChannelInApp}},
			{"sms and the inbox", &notify.Preferences{SMS: true, Phone: "555 555 0123"}, []notify.Channel{notify.ChannelSMS, notify.ChannelInApp}},
			{"email turned off: the inbox still", &notify.Preferences{}, []notify.Channel{notify.ChannelInApp}},
			{"everything", &notify.Preferences{Email: true, SMS: true, InApp: true, Phone: "+15555550123"},
				[]notify.Channel{notify.ChannelEmail, notify.ChannelSMS, notify.ChannelInApp}},
		} {
			t.Run(c.name, func(t *testing.T) {
				acct := "acct-" + strings.ReplaceAll(c.name, " ", "-")
				if c.prefs != nil {
					p := *c.prefs
					p.AccountID = acct
					if _, err := h.svc.SetPreferences(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
				ref := "reminder:" + acct
				if err := db.InTx(ctx, func(tx *sql.Tx) error {
					id, err := h.svc.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: acct, Email: "ana@example.com",
						Subject: "Renew your registration", Text: "It is due on 1 May.", Lang: "en", AgencyID: "dmv", Reference: ref})
					if err == nil && id == "" {
						t.Error("no notification id")
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
				got, err := h.svc.List(ctx, notify.Filter{Reference: ref})
				if err != nil {
					t.Fatal(err)
				}
				var channels []notify.Channel
				for i := len(got) - 1; i >= 0; i-- {
					channels = append(channels, got[i].Channel)
					if got[i].Channel == notify.ChannelSMS && got[i].BodyText != "Renew your registration\nIt is due on 1 May." {
						t.Errorf("sms body %q", got[i].BodyText)
					}
				}
				slices.Sort(channels)
				want := slices.Clone(c.want)
				slices.Sort(want)
				if !slices.Equal(channels, want) {
					t.Fatalf("channels %v, want %v", channels, want)
				}
			})
		}
	})
}
