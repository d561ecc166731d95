package notifyapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/notify/notifyapi"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// env is the API over a fresh database, with keys for two agencies.
type env struct {
	t     *testing.T
	db    *storage.DB
	svc   *notify.Service
	srv   *httptest.Server
	clock *platform.FakeClock
	keys  map[string]string // name → key string
}

func newEnv(t *testing.T, db *storage.DB, cfg notifyapi.Config) *env {
	t.Helper()
	return newEnvWith(t, db, cfg, nil, slog.New(slog.DiscardHandler))
}

// newEnvWith is newEnv with the notification block auditing to log (may be
// nil) and logging to logger.
func newEnvWith(t *testing.T, db *storage.DB, cfg notifyapi.Config, log *audit.Log, logger *slog.Logger) *env {
	t.Helper()
	ctx := context.Background()
	clock := platform.NewFakeClock(time.Now())
	box, _ := secrets.New(make([]byte, 32))
	reg := jobs.NewRegistry()
	team := func(context.Context, string) ([]string, error) { return []string{"dana@example.gov"}, nil }
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notify.New(db, ins, reg, clock, notify.Config{From: "no-reply@example.gov", Secrets: box, TeamMembers: team, Audit: log}, logger)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clock = clock
	api := notifyapi.New(svc, db, cfg)
	mux := http.NewServeMux()
	for p, h := range api.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, svc: svc, srv: srv, clock: clock, keys: map[string]string{}}
	for _, k := range []struct {
		agency, name string
		typ          notify.KeyType
	}{{"dmv", "live", notify.KeyLive}, {"dmv", "team", notify.KeyTeam}, {"dmv", "test", notify.KeyTest}, {"tax", "other", notify.KeyLive}, {"dmv", "revoked", notify.KeyLive}} {
		key, str, err := svc.CreateAPIKey(ctx, k.agency, k.name, k.typ)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[k.name] = str
		if k.name == "revoked" {
			if err := svc.RevokeAPIKey(ctx, "dmv", key.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// token makes a token as Notify's client libraries do: the key's last 36
// characters are the secret, the 36 before the last hyphen the service id;
// HS256 over {"iss": service id, "iat": now}.
func token(key string, iat time.Time) string {
	secret := key[len(key)-36:]
	service := key[len(key)-73 : len(key)-37]
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": iat.Unix()})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		panic(err)
	}
	return s
}

func (e *env) do(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+token(e.keys[key], e.clock.Now()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// wantError checks a Notify error body.
func wantError(t *testing.T, status int, body map[string]any, wantStatus int, class, message string) {
	t.Helper()
	errs, _ := body["errors"].([]any)
	if status != wantStatus || body["status_code"] != float64(wantStatus) || len(errs) == 0 {
		t.Fatalf("got %d %v, want %d %s %q", status, body, wantStatus, class, message)
	}
	first := errs[0].(map[string]any)
	if first["error"] != class || first["message"] != message || len(first) != 2 {
		t.Fatalf("got %v, want %s %q", first, class, message)
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestAuthentication(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, notifyapi.Config{})
		live := e.keys["live"]
		service, secret := live[len(live)-73:len(live)-37], live[len(live)-36:]
		now := e.clock.Now()
		sign := func(method jwt.SigningMethod, claims jwt.MapClaims, key any) string {
			s, err := jwt.NewWithClaims(method, claims).SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}
		tests := []struct {
			name, header string
			status       int
			message      string
		}{
			{"no header", "", 401, "Unauthorized: authentication token must be provided"},
			{"basic", "Basic dXNlcjpwYXNz", 401, "Unauthorized: authentication bearer scheme must be used"},
			{"not a jwt", "Bearer nonsense", 403, "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"},
			{"no iss", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iat": now.Unix()}, []byte(secret)), 403, "Invalid token: iss field not provided"},
			{"iss not a uuid", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "dmv", "iat": now.Unix()}, []byte(secret)), 403, "Invalid token: service id is not the right data type"},
			{"unknown service", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "6ce466d0-fd6a-11e5-82f5-e0accb9d11a6", "iat": now.Unix()}, []byte(secret)), 403, "Invalid token: service not found"},
			{"HS512", sign(jwt.SigningMethodHS512, jwt.MapClaims{"iss": service, "iat": now.Unix()}, []byte(secret)), 403, "Invalid token: algorithm used is not HS256"},
			{"wrong secret", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now.Unix()}, []byte("6ce466d0-fd6a-11e5-82f5-e0accb9d11a6")), 403, "Invalid token: API key not found"},
			{"no iat", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service}, []byte(secret)), 403, "Invalid token: API key not found"},
			{"iat 31 s old", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now.Add(-31 * time.Second).Unix()}, []byte(secret)), 403, "Error: Your system clock must be accurate to within 30 seconds"},
			{"iat 31 s ahead", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now.Add(31 * time.Second).Unix()}, []byte(secret)), 403, "Error: Your system clock must be accurate to within 30 seconds"},
			{"extra claim", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now.Unix(), "aud": "x"}, []byte(secret)), 403, "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"},
			{"revoked", "Bearer " + token(e.keys["revoked"], now), 403, "Invalid token: API key revoked"},
			{"iat 29 s old", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now.Add(-29 * time.Second).Unix()}, []byte(secret)), 200, ""},
			{"lower-case scheme", "bearer " + token(live, now), 200, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", e.srv.URL+"/v2/templates", nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]any
				json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if tt.status == 200 {
					if resp.StatusCode != 200 {
						t.Fatalf("%d %v", resp.StatusCode, body)
					}
					return
				}
				wantError(t, resp.StatusCode, body, tt.status, "AuthError", tt.message)
			})
		}
	})
}

func TestSendAndRead(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, notifyapi.Config{})
		email, err := e.svc.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Application received",
			Subject: "Your application ((first_name))", Body: "Dear ((first_name)),\n\nWe received your application on ((application_date)).", CreatedBy: "dana@example.gov",
			SubjectES: "Su solicitud ((first_name))", BodyES: "Estimado/a ((first_name)):\n\nRecibimos su solicitud el ((application_date))."})
		if err != nil {
			t.Fatal(err)
		}
		sms, _ := e.svc.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Code", Body: "Your code is ((code))"})

		// Notify's documented request for POST /v2/notifications/email.
		status, body := e.do("POST", "/v2/notifications/email", "live", map[string]any{
			"email_address":   "sender@something.com",
			"template_id":     email.ID,
			"personalisation": map[string]any{"first_name": "Amala", "application_date": "2018-01-01"},
			"reference":       "STRING",
		})
		if status != 201 {
			t.Fatalf("%d %v", status, body)
		}
		if got := strings.Join(keysOf(body), ","); got != "content,id,reference,scheduled_for,template,uri" {
			t.Fatalf("keys %s", got)
		}
		content := body["content"].(map[string]any)
		if content["subject"] != "Your application Amala" || content["body"] != "Dear Amala,\n\nWe received your application on 2018-01-01." || content["from_email"] != "no-reply@example.gov" {
			t.Fatalf("content %v", content)
		}
		tpl := body["template"].(map[string]any)
		id := body["id"].(string)
		if body["reference"] != "STRING" || tpl["id"] != email.ID || tpl["version"] != float64(1) || body["uri"] != e.srv.URL+"/v2/notifications/"+id || body["scheduled_for"] != nil {
			t.Fatalf("%v", body)
		}

		// GET it back, in Notify's shape.
		status, got := e.do("GET", "/v2/notifications/"+id, "live", nil)
		if status != 200 {
			t.Fatalf("%d %v", status, got)
		}
		want := "body,completed_at,created_at,created_by_name,email_address,id,line_1,line_2,line_3,line_4,line_5,line_6,one_click_unsubscribe_url,phone_number,postage,postcode,reference,scheduled_for,sent_at,status,subject,template,type"
		if k := strings.Join(keysOf(got), ","); k != want {
			t.Fatalf("keys %s", k)
		}
		if got["type"] != "email" || got["status"] != "created" || got["email_address"] != "sender@something.com" || got["phone_number"] != nil || got["reference"] != "STRING" {
			t.Fatalf("%v", got)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z", got["created_at"].(string)); err != nil {
			t.Fatalf("created_at %v", got["created_at"])
		}
		// Another agency, and the test key, cannot see it.
		status, got = e.do("GET", "/v2/notifications/"+id, "other", nil)
		wantError(t, status, got, 404, "NoResultFound", "No result found")
		status, got = e.do("GET", "/v2/notifications/"+id, "test", nil)
		wantError(t, status, got, 404, "NoResultFound", "No result found")
		status, got = e.do("GET", "/v2/notifications/not-a-uuid", "live", nil)
		wantError(t, status, got, 400, "ValidationError", "notification_id is not a valid UUID")

		// SMS, Notify's example number; Spanish via Portico's language field.
		status, body = e.do("POST", "/v2/notifications/sms", "live", map[string]any{"phone_number": "+447900900123", "template_id": sms.ID, "personalisation": map[string]any{"code": 123456}})
		if status != 201 || body["content"].(map[string]any)["body"] != "Your code is 123456" || body["content"].(map[string]any)["from_number"] != "Portico" || body["reference"] != nil {
			t.Fatalf("%d %v", status, body)
		}
		status, body = e.do("POST", "/v2/notifications/email", "live", map[string]any{"email_address": "ana@example.com", "template_id": email.ID, "language": "es",
			"personalisation": map[string]any{"first_name": "Ana", "application_date": "1 de enero"}})
		if status != 201 || body["content"].(map[string]any)["subject"] != "Su solicitud Ana" {
			t.Fatalf("%d %v", status, body)
		}

		// Errors, as Notify words them.
		for _, tt := range []struct {
			path, key   string
			body        any
			status      int
			class, want string
		}{
			{"/v2/notifications/email", "live", map[string]any{"email_address": "a@example.com", "template_id": email.ID, "personalisation": map[string]any{"first_name": "A"}}, 400, "BadRequestError", "Missing personalisation: application_date"},
			{"/v2/notifications/email", "live", map[string]any{}, 400, "ValidationError", "email_address is a required property"},
			{"/v2/notifications/sms", "live", map[string]any{"template_id": sms.ID}, 400, "ValidationError", "phone_number is a required property"},
			{"/v2/notifications/email", "live", map[string]any{"email_address": "not-an-email", "template_id": email.ID}, 400, "ValidationError", "email_address Not a valid email address"},
			{"/v2/notifications/sms", "live", map[string]any{"phone_number": "12", "template_id": sms.ID, "personalisation": map[string]any{"code": 1}}, 400, "ValidationError", "phone_number Not a valid phone number"},
			{"/v2/notifications/email", "live", map[string]any{"email_address": "a@example.com", "template_id": "x"}, 400, "ValidationError", "template_id is not a valid UUID"},
			{"/v2/notifications/email", "live", map[string]any{"email_address": "a@example.com", "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a"}, 400, "BadRequestError", "Template not found"},
			{"/v2/notifications/email", "other", map[string]any{"email_address": "a@example.com", "template_id": email.ID}, 400, "BadRequestError", "Template not found"},
			{"/v2/notifications/email", "live", map[string]any{"email_address": "a@example.com", "template_id": sms.ID}, 400, "BadRequestError", "sms template is not suitable for email notification"},
			{"/v2/notifications/email", "live", map[string]any{"email_address": "a@example.com", "template_id": email.ID, "colour": "red"}, 400, "ValidationError", "Additional properties are not allowed ('colour' was unexpected)"},
			{"/v2/notifications/email", "live", "{not json", 400, "BadRequestError", "Invalid JSON supplied in POST data"},
			{"/v2/notifications/email", "team", map[string]any{"email_address": "ana@example.com", "template_id": email.ID, "personalisation": map[string]any{"first_name": "A", "application_date": "x"}}, 400, "BadRequestError", "Can't send to this recipient using a team-only API key"},
			{"/v2/notifications/letter", "live", map[string]any{"template_id": email.ID}, 400, "BadRequestError", "Cannot send letters: Portico does not support letter notifications; send an email or a text message instead"},
		} {
			status, body := e.do("POST", tt.path, tt.key, tt.body)
			wantError(t, status, body, tt.status, tt.class, tt.want)
		}
		// Notify's one-click unsubscribe URL is kept and echoed.
		status, body = e.do("POST", "/v2/notifications/email", "live", map[string]any{"email_address": "ana@example.com", "template_id": email.ID,
			"one_click_unsubscribe_url": "https://dmv.example.gov/unsubscribe/abc", "personalisation": map[string]any{"first_name": "Ana", "application_date": "x"}})
		if status != 201 || body["content"].(map[string]any)["one_click_unsubscribe_url"] != "https://dmv.example.gov/unsubscribe/abc" {
			t.Fatalf("%d %v", status, body)
		}
		if _, got := e.do("GET", "/v2/notifications/"+body["id"].(string), "live", nil); got["one_click_unsubscribe_url"] != "https://dmv.example.gov/unsubscribe/abc" {
			t.Fatalf("%v", got)
		}
		status, body = e.do("POST", "/v2/notifications/email", "live", map[string]any{"email_address": "ana@example.com", "template_id": email.ID,
			"one_click_unsubscribe_url": "http://x", "personalisation": map[string]any{"first_name": "Ana", "application_date": "x"}})
		wantError(t, status, body, 400, "ValidationError", "one_click_unsubscribe_url is not a valid https URL")
		// A team key reaches staff.
		if status, body := e.do("POST", "/v2/notifications/email", "team", map[string]any{"email_address": "dana@example.gov", "template_id": email.ID,
			"personalisation": map[string]any{"first_name": "Dana", "application_date": "x"}}); status != 201 {
			t.Fatalf("team to staff: %d %v", status, body)
		}

		// Lists: filters, and test-key notifications kept apart.
		status, list := e.do("GET", "/v2/notifications?template_type=sms", "live", nil)
		ns := list["notifications"].([]any)
		if status != 200 || len(ns) != 1 || ns[0].(map[string]any)["phone_number"] != "+447900900123" {
			t.Fatalf("sms list %d %v", status, list)
		}
		_, list = e.do("GET", "/v2/notifications?reference=STRING", "live", nil)
		if ns := list["notifications"].([]any); len(ns) != 1 || ns[0].(map[string]any)["id"] != id {
			t.Fatalf("reference list %v", list)
		}
		if links := list["links"].(map[string]any); links["current"] != e.srv.URL+"/v2/notifications?reference=STRING" || links["next"] != nil {
			t.Fatalf("links %v", links)
		}
		_, list = e.do("GET", "/v2/notifications?status=created&status=delivered", "live", nil)
		if ns := list["notifications"].([]any); len(ns) != 5 {
			t.Fatalf("status list %d", len(ns))
		}
		status, list = e.do("GET", "/v2/notifications?status=elephant", "live", nil)
		wantError(t, status, list, 400, "ValidationError", "status elephant is not one of [cancelled, created, sending, sent, delivered, pending, failed, technical-failure, temporary-failure, permanent-failure, pending-virus-check, validation-failed, virus-scan-failed, returned-letter, accepted, received]")
		status, list = e.do("GET", "/v2/notifications?template_type=fax", "live", nil)
		wantError(t, status, list, 400, "ValidationError", "template_type fax is not one of [sms, email, letter]")

		// A test key's send is "delivered" at once and seen only by test keys.
		status, body = e.do("POST", "/v2/notifications/sms", "test", map[string]any{"phone_number": "07700900123", "template_id": sms.ID, "personalisation": map[string]any{"code": "1"}})
		if status != 400 {
			t.Fatalf("UK national number accepted: %v", body)
		}
		status, body = e.do("POST", "/v2/notifications/sms", "test", map[string]any{"phone_number": "+1 555 555 0100", "template_id": sms.ID, "personalisation": map[string]any{"code": "1"}})
		if status != 201 {
			t.Fatalf("%d %v", status, body)
		}
		_, got = e.do("GET", "/v2/notifications/"+body["id"].(string), "test", nil)
		if got["status"] != "delivered" || got["completed_at"] == nil {
			t.Fatalf("test key notification %v", got)
		}
		_, list = e.do("GET", "/v2/notifications", "test", nil)
		if ns := list["notifications"].([]any); len(ns) != 1 {
			t.Fatalf("test key sees %d", len(ns))
		}

		// Templates.
		if _, err := e.svc.UpdateTemplate(ctx, email.ID, notify.TemplateInput{Name: "Application received", Subject: "Received", Body: "Hello ((first_name))", CreatedBy: "dana@example.gov"}); err != nil {
			t.Fatal(err)
		}
		status, got = e.do("GET", "/v2/template/"+email.ID, "live", nil)
		if status != 200 || got["version"] != float64(2) || got["subject"] != "Received" || got["updated_at"] == nil || got["type"] != "email" || got["created_by"] != "dana@example.gov" {
			t.Fatalf("%d %v", status, got)
		}
		if k := strings.Join(keysOf(got), ","); k != "body,created_at,created_by,id,letter_contact_block,name,personalisation,postage,subject,type,updated_at,version" {
			t.Fatalf("template keys %s", k)
		}
		_, got = e.do("GET", "/v2/template/"+email.ID+"/version/1", "live", nil)
		if got["version"] != float64(1) || got["subject"] != "Your application ((first_name))" || got["updated_at"] != nil {
			t.Fatalf("version 1 %v", got)
		}
		status, got = e.do("GET", "/v2/template/"+email.ID+"/version/9", "live", nil)
		wantError(t, status, got, 404, "NoResultFound", "No result found")
		status, got = e.do("GET", "/v2/template/"+email.ID, "other", nil)
		wantError(t, status, got, 404, "NoResultFound", "No result found")
		_, got = e.do("GET", "/v2/templates?type=sms", "live", nil)
		if ts := got["templates"].([]any); len(ts) != 1 || ts[0].(map[string]any)["subject"] != nil {
			t.Fatalf("sms templates %v", got)
		}
		_, got = e.do("GET", "/v2/templates", "live", nil)
		if ts := got["templates"].([]any); len(ts) != 2 {
			t.Fatalf("templates %v", got)
		}
		status, got = e.do("GET", "/v2/templates?type=coconut", "live", nil)
		wantError(t, status, got, 400, "ValidationError", "type coconut is not one of [sms, email, letter]")
		status, got = e.do("POST", "/v2/template/"+email.ID+"/preview", "live", map[string]any{"personalisation": map[string]any{"first_name": "<Amala>"}})
		if status != 200 || got["body"] != "Hello <Amala>" || got["subject"] != "Received" || got["version"] != float64(2) || !strings.Contains(got["html"].(string), "Hello &lt;Amala&gt;") {
			t.Fatalf("preview %d %v", status, got)
		}
		status, got = e.do("POST", "/v2/template/"+email.ID+"/preview", "live", map[string]any{"personalisation": map[string]any{}})
		wantError(t, status, got, 400, "BadRequestError", "Missing personalisation: first_name")
		_, got = e.do("POST", "/v2/template/"+sms.ID+"/preview", "live", map[string]any{"personalisation": map[string]any{"code": "1"}})
		if got["html"] != nil || got["subject"] != nil || got["type"] != "sms" {
			t.Fatalf("sms preview %v", got)
		}
		status, got = e.do("GET", "/v2/received-text-messages", "live", nil)
		if status != 200 || len(got["received_text_messages"].([]any)) != 0 || got["links"].(map[string]any)["current"] != e.srv.URL+"/v2/received-text-messages" {
			t.Fatalf("received texts %d %v", status, got)
		}
		// Every send recorded the template version it used.
		n, _ := e.svc.Get(ctx, id)
		if n.TemplateVersion != 1 || n.APIKeyID == "" || n.KeyType != notify.KeyLive {
			t.Fatalf("%+v", n)
		}
	})
}

func TestPaging(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, notifyapi.Config{RateLimit: -1})
		sms, _ := e.svc.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Hi", Body: "Hi"})
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := range notifyapi.PageSize + 3 {
				if _, err := e.svc.Send(ctx, tx, notify.Message{TemplateID: sms.ID, Channel: notify.ChannelSMS, To: fmt.Sprintf("+1555555%04d", i), APIKeyID: "k", KeyType: notify.KeyLive, AgencyID: "dmv"}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_, page := e.do("GET", "/v2/notifications?template_type=sms", "live", nil)
		ns := page["notifications"].([]any)
		next, _ := page["links"].(map[string]any)["next"].(string)
		if len(ns) != notifyapi.PageSize || !strings.Contains(next, "older_than="+ns[len(ns)-1].(map[string]any)["id"].(string)) || !strings.Contains(next, "template_type=sms") {
			t.Fatalf("page 1: %d, next %q", len(ns), next)
		}
		_, page = e.do("GET", strings.TrimPrefix(next, e.srv.URL), "live", nil)
		if ns := page["notifications"].([]any); len(ns) != 3 || page["links"].(map[string]any)["next"] != nil {
			t.Fatalf("page 2: %d", len(ns))
		}
	})
}

func TestRateLimits(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, notifyapi.Config{RateLimit: 2, DailyLimit: 3})
		// The daily limit is per UTC day and the test advances the clock
		// by two minutes: started in the last minutes before midnight, it
		// would count across two days (seen in CI at 23:59 UTC).
		if now := e.clock.Now().UTC(); now.Add(10*time.Minute).Day() != now.Day() {
			e.clock.Advance(now.Truncate(24 * time.Hour).Add(24*time.Hour + time.Minute).Sub(now))
		}
		sms, _ := e.svc.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Hi", Body: "Hi"})
		send := func(key string) (int, map[string]any) {
			return e.do("POST", "/v2/notifications/sms", key, map[string]any{"phone_number": "+15555550100", "template_id": sms.ID})
		}
		for range 2 {
			if s, b := send("test"); s != 201 {
				t.Fatalf("%d %v", s, b)
			}
		}
		s, b := send("test")
		wantError(t, s, b, 429, "RateLimitError", "Exceeded rate limit for key type TEST of 2 requests per 60 seconds")
		e.clock.Advance(61 * time.Second)
		if s, b := send("test"); s != 201 {
			t.Fatalf("after a minute: %d %v", s, b)
		}
		// The daily limit counts live and team sends, not test ones.
		send("live")
		send("live")
		e.clock.Advance(61 * time.Second)
		send("live")
		s, b = send("team") // a team key to a phone: refused, but counted by the limit first
		wantError(t, s, b, 429, "TooManyRequestsError", "Exceeded send limits (3) for today")
	})
}

// TestUnreadableKey: one API key whose secret cannot be opened (here a
// corrupted row) does not take the agency's other keys down. It is
// refused like an unknown key, reported once (an error log and an audit
// entry naming it), and a revoked key that cannot be opened is skipped
// without a report.
func TestUnreadableKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var logs syncBuffer
		log := audit.New(db, platform.SystemClock{}, nil)
		e := newEnvWith(t, db, notifyapi.Config{}, log, slog.New(slog.NewJSONHandler(&logs, nil)))
		keys, err := e.svc.APIKeys(ctx, "dmv")
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, k := range keys {
			ids[k.Name] = k.ID
		}
		for _, name := range []string{"team", "revoked"} {
			if _, err := db.Write().ExecContext(ctx, `UPDATE notify_api_keys SET secret = 'v1.bm90IGEgc2VhbGVkIGtleQ' WHERE id = $1`, ids[name]); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			for _, tt := range []struct {
				key     string
				status  int
				message string
			}{
				{"live", 200, ""},
				{"test", 200, ""},
				{"team", 403, "Invalid token: API key not found"},
				{"revoked", 403, "Invalid token: API key not found"},
			} {
				status, body := e.do("GET", "/v2/notifications", tt.key, nil)
				if tt.message == "" {
					if status != tt.status {
						t.Fatalf("%s key: %d %v", tt.key, status, body)
					}
					continue
				}
				wantError(t, status, body, tt.status, "AuthError", tt.message)
			}
		}
		reported := strings.Count(logs.String(), "notify API key cannot be opened")
		if reported != 1 || !strings.Contains(logs.String(), ids["team"]) || strings.Contains(logs.String(), ids["revoked"]) {
			t.Fatalf("reported %d times:\n%s", reported, logs.String())
		}
		for name, want := range map[string]int{"team": 1, "revoked": 0} {
			entries, err := log.List(ctx, audit.Filter{Subject: "notify-key:" + ids[name]})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != want || want == 1 && (entries[0].Action != "notify.key.unreadable" || entries[0].AgencyID != "dmv") {
				t.Fatalf("%s key audited %+v, want %d entries", name, entries, want)
			}
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger written from handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// What the API keeps in memory (opened key secrets, template versions)
// never outlives a change made through another replica: a key revoked
// there is refused here on the next request, and a template updated there
// is sent in its new version here on the next send.
func TestChangesOnAnotherReplicaTakeEffectAtOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, notifyapi.Config{RateLimit: -1, DailyLimit: -1})
		// The other replica: its own service over the same database and
		// secrets key.
		box, _ := secrets.New(make([]byte, 32))
		ins, err := jobs.NewInserter(db, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		other, err := notify.New(db, ins, jobs.NewRegistry(), e.clock, notify.Config{From: "no-reply@example.gov", Secrets: box}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := other.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "T", Subject: "Version one", Body: "Hello"})
		if err != nil {
			t.Fatal(err)
		}
		send := func() (int, map[string]any) {
			return e.do("POST", "/v2/notifications/email", "live", map[string]any{"email_address": "ana@example.com", "template_id": tpl.ID})
		}
		steps := []struct {
			name        string
			change      func() error
			wantStatus  int
			wantVersion float64
			wantSubject string
		}{
			{"before any change (keys and template now kept here)", func() error { return nil }, 201, 1, "Version one"},
			{"template updated on the other replica", func() error {
				_, err := other.UpdateTemplate(ctx, tpl.ID, notify.TemplateInput{Name: "T", Subject: "Version two", Body: "Hello"})
				return err
			}, 201, 2, "Version two"},
			{"key revoked on the other replica", func() error {
				keys, err := other.APIKeys(ctx, "dmv")
				if err != nil {
					return err
				}
				for _, k := range keys {
					if k.Name == "live" {
						return other.RevokeAPIKey(ctx, "dmv", k.ID)
					}
				}
				return fmt.Errorf("no live key")
			}, 403, 0, ""},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if err := st.change(); err != nil {
					t.Fatal(err)
				}
				status, body := send()
				if status != st.wantStatus {
					t.Fatalf("status %d, want %d: %v", status, st.wantStatus, body)
				}
				if status != 201 {
					if msg := body["errors"].([]any)[0].(map[string]any)["message"]; msg != "Invalid token: API key revoked" {
						t.Fatalf("message %q", msg)
					}
					return
				}
				if v := body["template"].(map[string]any)["version"]; v != st.wantVersion {
					t.Errorf("template version %v, want %v", v, st.wantVersion)
				}
				if s := body["content"].(map[string]any)["subject"]; s != st.wantSubject {
					t.Errorf("subject %q, want %q", s, st.wantSubject)
				}
			})
		}
	})
}
