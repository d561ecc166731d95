package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

// badValues are what a careless or hostile client puts where text or an id
// belongs, as they appear percent-encoded in a URL or form body: a byte that
// is not UTF-8, a NUL (PostgreSQL refuses 0x00 in text), and an id that is
// valid text but not of any id's format.
var badValues = []struct {
	name    string
	encoded string
	// rejected: the shell itself must answer 400 before any handler runs.
	rejected bool
}{
	{"invalid UTF-8", "%FF", true},
	{"NUL", "a%00b", true},
	{"malformed id", "not-an-id", false},
}

// commonFieldNames are the query and form parameter names the blocks read
// (OAuth/OpenID parameters, sign-up and recovery steps, search, case work),
// plus a generic one no handler reads.
var commonFieldNames = []string{
	"id", "c", "t", "token", "code", "email", "password", "password_confirm", "legal_name", "next", "return",
	"q", "zip", "lang", "page", "sort", "state", "status", "agency", "service", "assignee", "reference", "ref",
	"client", "client_id", "client_secret", "grant_type", "redirect_uri", "response_type", "scope", "nonce",
	"code_verifier", "code_challenge", "code_challenge_method", "refresh_token", "access_token", "token_type_hint",
	"id_token_hint", "post_logout_redirect_uri", "prompt", "decision", "transition", "body", "amount", "role",
	"revision", "secret", "confirm", "name", "type", "template_type", "older_than", "category", "sla", "action",
	"To", "Body", "phone", "sms", "inapp", "portico_generic_field",
}

// notFoundIfMalformed are the routes whose id is a UUID Portico generated:
// one of another shape names nothing (platform.ParseUUID).
var notFoundIfMalformed = map[string]bool{
	"POST /inbox/{id}/read":           true,
	"GET /coming-up/{id}/calendar":    true,
	"POST /account/sessions/{id}/end": true,
	"GET /dev/mailbox/{id}":           true,
	"GET /dev/mailbox/{id}/raw":       true,
}

var formNamePattern = regexp.MustCompile(`name="([^"]+)"`)

// TestBadInputNeverFails walks every registered route with an invalid byte,
// a NUL and a malformed id in each path segment, in query parameters and in
// urlencoded and multipart form fields (values and names), as anonymous, a
// citizen and staff, on every engine: no answer is a server error and no
// ERROR is logged. Invalid text is refused by the shell with 400 before any
// handler runs.
func TestBadInputNeverFails(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) { walkBadInput(t, d) })
	}
}

func walkBadInput(t *testing.T, d storage.Dialect) {
	ctx := context.Background()
	logs := &syncBuffer{}
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d), LogFormat: "json",
		LogLevel: slog.LevelInfo, DevMailbox: true,
		StripeSecretKey: "sk_test_badinput", StripeWebhookSecret: "whsec_badinput", StripeAPIURL: "http://127.0.0.1:9"}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, logs), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)

	// Real objects, so that a bad value in one segment is seen by handlers
	// that got past the others.
	beto, err := a.Identity.AccountByEmail(ctx, "beto.ciudadano@example.com")
	if err != nil {
		t.Fatal(err)
	}
	kase := openCase(t, a, "app-beto-badinput", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	draft, err := a.Applications.Start(ctx, application.Applicant{AccountID: beto.ID, DateOfBirth: beto.DateOfBirth}, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	// A second draft for the withdrawal route, which needs no form to act.
	other, err := a.Applications.Start(ctx, application.Applicant{AccountID: beto.ID}, "adams-birth-certificate")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Hello", Subject: "Hello", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	var msg notify.Notification
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		msg, err = a.Notify.Send(ctx, tx, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelInApp, AccountID: beto.ID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	example := func(pattern, wildcard string) string {
		_, path, _ := strings.Cut(pattern, " ")
		switch {
		case wildcard == "app" && strings.HasSuffix(path, "/withdraw"):
			return other.ID
		case wildcard == "app":
			return draft.ID
		case wildcard == "page":
			return "you"
		case wildcard == "agency":
			return "dmv"
		case strings.HasPrefix(path, "/console/cases/"), strings.HasPrefix(path, "/applications/"):
			return kase.ID
		case strings.HasPrefix(path, "/services/"), strings.HasPrefix(path, "/api/v1/services/"):
			return "adams-dog-licence"
		case strings.HasPrefix(path, "/inbox/"):
			return msg.ID
		case strings.HasPrefix(path, "/v2/template/"):
			return tpl.ID
		}
		return "x"
	}

	actors := []struct {
		name   string
		client *http.Client
	}{
		{"anonymous", newClient()},
		{"citizen", signInClient(t, srv.URL, "beto.ciudadano@example.com", false)},
		{"staff", signInClient(t, srv.URL, "dana.dmv-admin@example.gov", true)},
	}

	// Signing out last: it ends the actors' sessions.
	routes := a.Web.Routes()
	slices.SortStableFunc(routes, func(x, y string) int {
		return boolCmp(x == "POST /sign-out", y == "POST /sign-out")
	})
	routes = append(routes, "GET /no-such-page/{x}")

	sent := 0
	defer func() { t.Logf("%d routes, %d requests with bad input", len(routes), sent) }()
	for _, ac := range actors {
		for _, pattern := range routes {
			method, path, _ := strings.Cut(pattern, " ")
			if pattern == "POST /sign-out" && ac.name != "anonymous" {
				// The walk meant something only if the signed-in actors
				// stayed signed in until now.
				if fetch(t, ac.client, "GET", srv.URL+"/account", "", nil) == nil {
					t.Errorf("%s was signed out by the walk", ac.name)
				}
			}
			segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
			fill := func(bad int, v string) string {
				out := make([]string, len(segments))
				for i, s := range segments {
					name, isWild := strings.CutPrefix(s, "{")
					name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
					switch {
					case s == "{$}":
						out[i] = ""
					case i == bad:
						out[i] = v
					case isWild:
						out[i] = url.PathEscape(example(pattern, name))
					default:
						out[i] = s
					}
				}
				return "/" + strings.Join(out, "/")
			}
			good := fill(-1, "")
			// The names of the fields on the route's own page, where it has one.
			var fieldNames []string
			if page := fetch(t, ac.client, "GET", srv.URL+good, "", nil); page != nil {
				for _, m := range formNamePattern.FindAllStringSubmatch(string(page), -1) {
					if !slices.Contains(fieldNames, m[1]) {
						fieldNames = append(fieldNames, m[1])
					}
				}
			}
			names := append(slices.Clone(commonFieldNames), fieldNames...)

			for _, bv := range badValues {
				type attempt struct {
					what, path, contentType string
					body                    []byte
					// ownMultipart: a multipart body the route's handler
					// parses itself (web.Server.AllowBody), so the shell
					// leaves it alone; the handler may refuse the request
					// before reading it, or not read it at all (withdraw).
					ownMultipart bool
				}
				var attempts []attempt
				for i, s := range segments {
					// A wildcard, or the rest of a prefix pattern ("GET /static/").
					if strings.HasPrefix(s, "{") && s != "{$}" || strings.HasSuffix(path, "/") && i == len(segments)-1 {
						attempts = append(attempts, attempt{what: "path segment " + s, path: fill(i, bv.encoded)})
					}
				}
				query := encodeAll(names, bv.encoded)
				attempts = append(attempts,
					attempt{what: "every query parameter", path: good + "?" + query},
					attempt{what: "a query parameter's name", path: good + "?" + bv.encoded + "=1"})
				if method == "POST" {
					const form = "application/x-www-form-urlencoded"
					attempts = append(attempts,
						attempt{what: "every form field", path: good, contentType: form, body: []byte(query)},
						attempt{what: "a form field's name", path: good, contentType: form, body: []byte(bv.encoded + "=1")})
					for _, n := range fieldNames {
						attempts = append(attempts, attempt{what: "form field " + n, path: good, contentType: form,
							body: []byte(url.QueryEscape(n) + "=" + bv.encoded)})
					}
					ct, body := multipartBody(t, names, bv.encoded)
					own := strings.HasPrefix(path, "/apply/")
					attempts = append(attempts, attempt{what: "every multipart field and a file name", path: good, contentType: ct, body: body, ownMultipart: own})
				}
				sent += len(attempts)
				for _, at := range attempts {
					req, err := http.NewRequest(method, srv.URL+at.path, bytes.NewReader(at.body))
					if err != nil {
						t.Fatalf("%s: %v", at.path, err)
					}
					if at.contentType != "" {
						req.Header.Set("Content-Type", at.contentType)
					}
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					resp, err := ac.client.Do(req)
					if err != nil {
						t.Fatalf("%s %s: %v", method, at.path, err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if bv.name == "malformed id" && ac.name == "citizen" && strings.HasPrefix(at.what, "path segment") && notFoundIfMalformed[pattern] &&
						resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s as %s, %s in %s: %s %s answered %d, want 404", pattern, ac.name, bv.name, at.what, method, at.path, resp.StatusCode)
					}
					if resp.StatusCode >= 500 {
						t.Errorf("%s as %s, %s in %s: %s %s answered %d", pattern, ac.name, bv.name, at.what, method, at.path, resp.StatusCode)
					} else if at.ownMultipart && bv.rejected && ac.name == "citizen" && strings.HasSuffix(path, "/pages/{page}") && resp.StatusCode != http.StatusBadRequest {
						// The page route reads the application's form: its
						// owner's invalid text is refused there.
						t.Errorf("%s as %s, %s in %s: %s %s answered %d, want 400", pattern, ac.name, bv.name, at.what, method, at.path, resp.StatusCode)
					} else if bv.rejected && resp.StatusCode != http.StatusBadRequest && !at.ownMultipart {
						t.Errorf("%s as %s, %s in %s: %s %s answered %d, want 400", pattern, ac.name, bv.name, at.what, method, at.path, resp.StatusCode)
					}
				}
			}
		}
	}
	// Nothing the walk sent was stored: on SQLite, which keeps any bytes,
	// a name of raw bytes would be.
	rows, err := a.DB.Read().QueryContext(ctx, `SELECT legal_name FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !web.ValidText(name) {
			t.Errorf("a legal name of invalid text was stored: %q", name)
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("ERROR logged: %s", line)
		}
	}
}

func boolCmp(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return 1
	}
	return -1
}

// encodeAll sets every name to the already percent-encoded value v.
func encodeAll(names []string, v string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = url.QueryEscape(n) + "=" + v
	}
	return strings.Join(parts, "&")
}

// multipartBody is a multipart form with every name set to the decoded v,
// and a file part whose file name is v.
func multipartBody(t *testing.T, names []string, v string) (string, []byte) {
	t.Helper()
	raw, err := url.QueryUnescape(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, n := range names {
		if err := mw.WriteField(n, raw); err != nil {
			t.Fatal(err)
		}
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="decree"; filename="%s.pdf"`, raw)}
	h["Content-Type"] = []string{"application/pdf"}
	part, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write([]byte("%PDF-1.7\n"))
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fetch returns the body of a successful answer, or nil.
func fetch(t *testing.T, c *http.Client, method, u, contentType string, body io.Reader) []byte {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return b
}
