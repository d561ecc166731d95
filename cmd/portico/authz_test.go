package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
)

// actor is one kind of visitor in the authorization table.
type actor struct {
	name   string
	email  string // "" for anonymous
	staff  bool
	client *http.Client
}

// rule is who may use a route.
type rule int

const (
	public          rule = iota // everyone
	signedIn                    // any full session, citizen or staff
	secondStep                  // only a session waiting for its second factor (none of our actors)
	staffOnly                   // any staff member
	dmvMember                   // staff of the DMV, or a platform admin
	dmvAdmin                    // the DMV's agency administrator, or a platform admin
	platformAdmin               // platform administrators only
	ownerOnly                   // the citizen who owns the object (Beto), per object
	bearerOnly                  // the API: a session cookie never suffices (see internal/api's own table)
	dmvStaff                    // staff holding a role in the DMV (not a platform admin without one)
	adamsClerkStaff             // staff holding a role in the Adams County Clerk's office
	anyAdmin                    // an administrator of any agency, or a platform admin
	citizensOnly                // a signed-in citizen (A or B), never staff
)

// TestAuthorizationTable walks every registered route as anonymous,
// citizen A, citizen B, staff of agency X, staff of agency Y and a platform
// administrator, and checks each is allowed exactly what the rule says. A
// route missing from the table fails the test, so new routes must be added
// with their rule.
func TestAuthorizationTable(t *testing.T) {
	ctx := context.Background()
	// Stripe configured so its webhook route is served and walked (no
	// request here reaches Stripe: unsigned events are refused first).
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true,
		StripeSecretKey: "sk_test_authz", StripeWebhookSecret: "whsec_authz", StripeAPIURL: "http://127.0.0.1:9"}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)

	signIn := func(email string, staff bool) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		pw := demo.CitizenPassword
		if staff {
			pw = demo.StaffPassword
		}
		post(t, c, srv.URL+"/sign-in", url.Values{"email": {email}, "password": {pw}})
		if staff {
			code, _ := totp.GenerateCode(demo.StaffTOTPSecret, time.Now())
			r := post(t, c, srv.URL+"/sign-in/verify", url.Values{"code": {code}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("second factor for %s: %d", email, r.StatusCode)
			}
		}
		return c
	}
	anon, _ := cookiejar.New(nil)
	actors := []*actor{
		{name: "anonymous", client: &http.Client{Jar: anon, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}},
		{name: "citizen A", email: "ana.citizen@example.com"},
		{name: "citizen B", email: "beto.ciudadano@example.com"},
		{name: "staff X (DMV admin)", email: "dana.dmv-admin@example.gov", staff: true},
		{name: "staff Y (Adams clerk)", email: "eli.clerk@example.gov", staff: true},
		{name: "platform admin", email: "pat.admin@example.gov", staff: true},
	}
	for _, ac := range actors[1:] {
		ac.client = signIn(ac.email, ac.staff)
	}
	// A citizen with an authenticator app who has given the password but
	// not yet the code: only the second-factor page is theirs.
	pending, err := a.Identity.CreateCitizen(ctx, identity.NewCitizen{Email: "cleo.pending@example.com", LegalName: "Cleo Pending", Password: demo.CitizenPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.SetTOTPSecret(ctx, pending.ID, demo.StaffTOTPSecret); err != nil {
		t.Fatal(err)
	}
	pendingJar, _ := cookiejar.New(nil)
	pendingClient := &http.Client{Jar: pendingJar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r := post(t, pendingClient, srv.URL+"/sign-in", url.Values{"email": {"cleo.pending@example.com"}, "password": {demo.CitizenPassword}}); r.Header.Get("Location") != "/sign-in/verify?next=%2Faccount" {
		t.Fatalf("pending sign-in went to %q", r.Header.Get("Location"))
	}
	actors = append(actors, &actor{name: "citizen C (code pending)", email: "cleo.pending@example.com", client: pendingClient})
	// An extra session of citizen B, the object of the session-ending route.
	bExtra := signIn("beto.ciudadano@example.com", false)
	beto, err := a.Identity.AccountByEmail(ctx, "beto.ciudadano@example.com")
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := a.Identity.Sessions(ctx, beto.ID)
	if err != nil || len(sessions) != 2 {
		t.Fatalf("Beto's sessions = %d, %v", len(sessions), err)
	}
	target := sessions[0].ID // newest: the extra one
	_ = bExtra
	// A passkey of Beto's, the object of the passkey-removal route.
	if _, err := a.DB.Write().ExecContext(ctx, `INSERT INTO passkeys (id, account_id, name, credential, created_at) VALUES ('pk-beto', $1, 'Phone', '{}', $2)`,
		beto.ID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}

	// The demo's DMV payment, the object of the finance console's routes.
	dmvPays, err := a.Payments.List(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "authz", PlatformAdmin: true}, payment.Filter{Agency: "dmv"})
	if err != nil || len(dmvPays.Payments) == 0 {
		t.Fatalf("the demo's DMV payments: %+v %v", dmvPays, err)
	}
	dmvPayment := dmvPays.Payments[0].ID

	// Beto's vehicle registration renewal: a DMV case, the object of the
	// case routes.
	kase := openCase(t, a, "app-beto", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	// A plug-in call of the case that answered: the object of the retry
	// route (a call that has not failed is refused to staff who may work
	// the case, 409, and not found for everyone else).
	var kaseCall int64
	if err := a.DB.Write().QueryRowContext(ctx, `INSERT INTO case_plugin_calls (case_id, state, use_pointer, plugin_id, operation, status, created_at)
		VALUES ($1, $2, '/workflow/states/x/on_enter/0/call_plugin', 'vehicle-registry', 'find-vehicle', 'ok', $3) RETURNING id`, kase.ID, kase.State, time.Now().UTC()).Scan(&kaseCall); err != nil {
		t.Fatal(err)
	}
	// An inbox message of Beto's, the object of the mark-read route.
	tpl, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Hello", Subject: "Hello", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	var betoMsg notify.Notification
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		betoMsg, err = a.Notify.Send(ctx, tx, notify.Message{TemplateID: tpl.ID, Channel: notify.ChannelInApp, AccountID: beto.ID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// One of Beto's demo obligations, the object of the .ics download.
	betoObligations, err := a.Reminders.List(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID}, false)
	if err != nil || len(betoObligations) == 0 {
		t.Fatalf("Beto's obligations = %d, %v", len(betoObligations), err)
	}
	betoObligation := betoObligations[0].ID
	// A draft of Beto's with an uploaded file, the object of the
	// application routes.
	draft, err := a.Applications.Start(ctx, application.Applicant{AccountID: beto.ID, DateOfBirth: beto.DateOfBirth}, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	upload, prob, err := a.Applications.Attach(ctx, beto.ID, draft.ID, "divorce", "decree", application.Upload{Filename: "decree.pdf", Size: 9, Content: strings.NewReader("%PDF-1.7\n")})
	if err != nil || prob != nil {
		t.Fatalf("attach: %v %v", prob, err)
	}

	// A second draft of Beto's, the object of the withdrawal route (the
	// first is still needed by the routes after it).
	other, err := a.Applications.Start(ctx, application.Applicant{AccountID: beto.ID}, "adams-birth-certificate")
	if err != nil {
		t.Fatal(err)
	}
	// Ana's marriage licence with an uploaded decree, submitted: an Adams
	// County Clerk case with a file, the object of the staff download.
	ana, err := a.Identity.AccountByEmail(ctx, "ana.citizen@example.com")
	if err != nil {
		t.Fatal(err)
	}
	anaDraft, err := a.Applications.Start(ctx, application.Applicant{AccountID: ana.ID, DateOfBirth: ana.DateOfBirth}, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	anaFile, prob, err := a.Applications.Attach(ctx, ana.ID, anaDraft.ID, "divorce", "decree", application.Upload{Filename: "decree.pdf", Size: 9, Content: strings.NewReader("%PDF-1.7\n")})
	if err != nil || prob != nil {
		t.Fatalf("attach: %v %v", prob, err)
	}
	marriage, err := a.Catalog.Latest(ctx, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET status = 'submitted', answers = $2 WHERE id = $1`, anaDraft.ID,
			`{"divorce":{"decree":"`+anaFile.ID+`"}}`); err != nil {
			return err
		}
		_, err := a.Casework.Open(ctx, tx, casework.Opening{ApplicationID: anaDraft.ID, AccountID: ana.ID, AgencyID: marriage.AgencyID,
			ServiceID: marriage.ID, Version: marriage.Version, Fee: submittedFee(t, a, marriage, nil)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A service Beto agreed to share with, the object of the consent
	// withdrawal route.
	svcClient, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode,
		RedirectURIs: []string{"https://fishing.example.gov/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Write().ExecContext(ctx, `INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, '["openid"]', $3)`,
		beto.ID, svcClient.ID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	// Beto's consent for the renewal's use of the vehicle records, the
	// object of the consent withdrawal route.
	betoConsent := giveConsent(t, a, beto.ID)
	// Beto paid his renewal fee online: the receipt is the object of the
	// receipt routes.
	betoReceipt := paidCheckout(t, a, kase)

	// Beto's checkout of his property-tax instalment, begun at the
	// sandbox: the object of the payment routes.
	betoCheckout := beginObligationCheckout(t, a, srv.URL, beto.ID)

	allowedFor := func(r rule, ac *actor) bool {
		switch r {
		case public:
			return true
		case signedIn:
			return ac.email != "" && ac.name != "citizen C (code pending)"
		case secondStep:
			return ac.name == "citizen C (code pending)"
		case staffOnly:
			return ac.staff
		case dmvMember, dmvAdmin, anyAdmin:
			return ac.name == "staff X (DMV admin)" || ac.name == "platform admin"
		case platformAdmin:
			return ac.name == "platform admin"
		case ownerOnly:
			return ac.name == "citizen B"
		case dmvStaff:
			return ac.name == "staff X (DMV admin)"
		case adamsClerkStaff:
			return ac.name == "staff Y (Adams clerk)"
		case citizensOnly:
			return ac.name == "citizen A" || ac.name == "citizen B"
		}
		return false
	}

	// A reported pothole with a photo, and an Open311 API key of
	// Springfield Public Works (no demo staff: only platform
	// administrators work its reports).
	lat, long := 39.7817, -89.6501
	pothole, err := a.Reports.Submit(ctx, report.NewReport{ServiceCode: "pothole", Lat: &lat, Long: &long, Email: "rosa@example.com",
		Attributes: map[string][]string{"SIZE": {"large"}}}, []report.Photo{{Content: strings.NewReader("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Size: 16}}, report.Via{})
	if err != nil {
		t.Fatal(err)
	}
	potholeView, err := a.Reports.Follow(ctx, pothole.FollowToken)
	if err != nil || len(potholeView.Photos) != 1 {
		t.Fatalf("the pothole's photo: %v %v", potholeView.Photos, err)
	}
	potholeNumber := strconv.FormatInt(pothole.Number, 10)
	open311Key, _, err := a.Reports.CreateKey(ctx, platform.Actor{Kind: platform.ActorOperator, ID: "test"}, "springfield-public-works", "authz")
	if err != nil {
		t.Fatal(err)
	}

	type row struct {
		pattern string
		method  string
		path    string
		form    url.Values
		rule    rule
	}
	rows := []row{
		{"GET /{$}", "GET", "/", nil, public},
		{"GET /government", "GET", "/government", nil, public},
		{"GET /government/lookup", "GET", "/government/lookup?zip=70101", nil, public},
		{"GET /life-events/{id}", "GET", "/life-events/moving", nil, public},
		{"GET /agencies/{id}", "GET", "/agencies/adams-clerk", nil, public},
		{"GET /static/", "GET", "/static/portico.css", nil, public},
		{"GET /favicon.ico", "GET", "/favicon.ico", nil, public},
		{"GET /healthz", "GET", "/healthz", nil, public},
		{"GET /readyz", "GET", "/readyz", nil, public},
		{"GET /metrics", "GET", "/metrics", nil, public},
		{"GET /dev/mailbox", "GET", "/dev/mailbox", nil, public},
		{"GET /dev/mailbox/{id}", "GET", "/dev/mailbox/none", nil, public},
		{"GET /dev/mailbox/{id}/raw", "GET", "/dev/mailbox/none/raw", nil, public},
		{"GET /sign-up", "GET", "/sign-up", nil, public},
		{"POST /sign-up", "POST", "/sign-up", url.Values{"email": {"not an email"}}, public},
		{"GET /sign-up/code", "GET", "/sign-up/code?c=x", nil, public},
		{"POST /sign-up/code", "POST", "/sign-up/code", url.Values{"c": {"x"}, "code": {"1"}}, public},
		{"GET /sign-up/confirm", "GET", "/sign-up/confirm?token=x", nil, public},
		{"GET /sign-up/details", "GET", "/sign-up/details", nil, public},
		{"POST /sign-up/details", "POST", "/sign-up/details", url.Values{"t": {"x"}}, public},
		{"GET /sign-in", "GET", "/sign-in", nil, public},
		{"POST /sign-in", "POST", "/sign-in", url.Values{"email": {"nobody@example.com"}, "password": {"x"}}, public},
		{"GET /sign-in/verify", "GET", "/sign-in/verify", nil, secondStep},
		{"POST /sign-in/verify", "POST", "/sign-in/verify", url.Values{"code": {"000000"}}, secondStep},
		{"GET /recover", "GET", "/recover", nil, public},
		{"POST /recover", "POST", "/recover", url.Values{"email": {"bad"}}, public},
		{"GET /recover/code", "GET", "/recover/code?c=x", nil, public},
		{"POST /recover/code", "POST", "/recover/code", url.Values{"c": {"x"}, "code": {"1"}}, public},
		{"GET /recover/confirm", "GET", "/recover/confirm?token=x", nil, public},
		{"GET /recover/reset", "GET", "/recover/reset", nil, public},
		{"POST /recover/reset", "POST", "/recover/reset", url.Values{"t": {"x"}}, public},
		{"GET /account", "GET", "/account", nil, signedIn},
		{"GET /account/profile", "GET", "/account/profile", nil, signedIn},
		{"POST /account/profile", "POST", "/account/profile", url.Values{"legal_name": {""}}, signedIn},
		{"GET /account/security", "GET", "/account/security", nil, signedIn},
		{"GET /account/connected-services", "GET", "/account/connected-services", nil, signedIn},
		{"POST /account/connected-services/withdraw", "POST", "/account/connected-services/withdraw", url.Values{"client": {svcClient.ID}}, ownerOnly},
		{"POST /account/sessions/{id}/end", "POST", "/account/sessions/" + target + "/end", nil, ownerOnly},
		{"POST /account/sessions/end-others", "POST", "/account/sessions/end-others", nil, signedIn},
		{"GET /account/reauth", "GET", "/account/reauth", nil, signedIn},
		{"POST /account/reauth", "POST", "/account/reauth", url.Values{"password": {"wrong"}}, signedIn},
		{"GET /account/email", "GET", "/account/email", nil, signedIn},
		{"POST /account/email", "POST", "/account/email", url.Values{"email": {"not an email"}}, signedIn},
		{"GET /account/email/code", "GET", "/account/email/code?c=x", nil, signedIn},
		{"POST /account/email/code", "POST", "/account/email/code", url.Values{"c": {"x"}, "code": {"1"}}, signedIn},
		{"GET /account/password", "GET", "/account/password", nil, signedIn},
		{"POST /account/password", "POST", "/account/password", url.Values{"password": {"a"}, "password_confirm": {"b"}}, signedIn},
		{"GET /account/mfa/setup", "GET", "/account/mfa/setup", nil, signedIn},
		{"POST /account/mfa/setup", "POST", "/account/mfa/setup", url.Values{"secret": {"JBSWY3DPEHPK3PXP"}, "code": {"000000"}}, signedIn},
		{"POST /account/mfa/disable", "POST", "/account/mfa/disable", nil, signedIn},
		{"POST /account/mfa/recovery-codes", "POST", "/account/mfa/recovery-codes", nil, signedIn},
		{"POST /account/passkeys/begin", "POST", "/account/passkeys/begin", nil, signedIn},
		{"POST /account/passkeys/finish", "POST", "/account/passkeys/finish", url.Values{"x": {"not json"}}, signedIn},
		{"POST /account/passkeys/{id}/remove", "POST", "/account/passkeys/pk-beto/remove", nil, ownerOnly},
		{"POST /sign-in/passkey/begin", "POST", "/sign-in/passkey/begin", nil, public},
		{"POST /sign-in/passkey/finish", "POST", "/sign-in/passkey/finish", url.Values{"x": {"not json"}}, public},
		// Reminders (internal/reminder/reminderweb). The feed is public by
		// design: its secret token is the credential (an unknown one is 404).
		{"GET /coming-up", "GET", "/coming-up", nil, signedIn},
		{"GET /coming-up/{id}/calendar", "GET", "/coming-up/" + betoObligation + "/calendar", nil, ownerOnly},
		{"GET /account/calendar", "GET", "/account/calendar", nil, signedIn},
		{"POST /account/calendar", "POST", "/account/calendar", nil, signedIn},
		{"POST /account/calendar/revoke", "POST", "/account/calendar/revoke", nil, signedIn},
		{"GET /calendar/{file}", "GET", "/calendar/" + strings.Repeat("A", 43) + ".ics", nil, public},
		// Paying (internal/payment/payweb). A person's checkout and its
		// test payment page are theirs alone; the card form with mistakes
		// and an unknown authentication answer change nothing; the cancel
		// row comes last (it ends Beto's checkout).
		{"GET /pay", "GET", "/pay", nil, signedIn},
		{"POST /pay", "POST", "/pay", url.Values{}, signedIn},
		{"GET /pay/checkouts/{id}", "GET", "/pay/checkouts/" + betoCheckout.ID, nil, ownerOnly},
		{"GET /pay/checkouts/{id}/return", "GET", "/pay/checkouts/" + betoCheckout.ID + "/return", nil, ownerOnly},
		{"GET /pay/sandbox/{ref}", "GET", "/pay/sandbox/" + betoCheckout.ProviderRef, nil, ownerOnly},
		{"POST /pay/sandbox/{ref}", "POST", "/pay/sandbox/" + betoCheckout.ProviderRef, url.Values{"card-number": {"1"}}, ownerOnly},
		{"POST /pay/sandbox/{ref}/authenticate", "POST", "/pay/sandbox/" + betoCheckout.ProviderRef + "/authenticate", url.Values{"decision": {"maybe"}}, ownerOnly},
		{"POST /pay/sandbox/{ref}/cancel", "POST", "/pay/sandbox/" + betoCheckout.ProviderRef + "/cancel", nil, ownerOnly},
		{"GET /console", "GET", "/console", nil, staffOnly},
		{"GET /console/agencies/{agency}", "GET", "/console/agencies/dmv", nil, dmvMember},
		{"POST /console/agencies/{agency}/staff", "POST", "/console/agencies/dmv/staff", url.Values{"email": {"not an email"}, "role": {"caseworker"}}, dmvAdmin},
		{"GET /admin/users", "GET", "/admin/users", nil, platformAdmin},
		// The plug-in catalogue (internal/console/pluginconsole): agency and
		// platform administrators see it; an agency administrator acts for
		// their own agency; platform administrators remove. Removing a
		// plug-in agencies use needs "force" (409 here, nothing removed);
		// the disable row comes after it.
		{"GET /console/plugins", "GET", "/console/plugins", nil, anyAdmin},
		{"GET /console/plugins/{id}", "GET", "/console/plugins/vehicle-registry", nil, anyAdmin},
		{"GET /console/plugins/{id}/agency", "GET", "/console/plugins/vehicle-registry/agency?agency=dmv", nil, platformAdmin},
		{"GET /console/plugins/{id}/agencies/{agency}", "GET", "/console/plugins/vehicle-registry/agencies/dmv", nil, dmvAdmin},
		{"POST /console/plugins/{id}/agencies/{agency}/enable", "POST", "/console/plugins/vehicle-registry/agencies/dmv/enable", url.Values{"data": {"name"}, "service": {"no-such-service"}}, dmvAdmin},
		{"POST /console/plugins/{id}/remove", "POST", "/console/plugins/vehicle-registry/remove", nil, platformAdmin},
		{"POST /console/plugins/{id}/agencies/{agency}/disable", "POST", "/console/plugins/vehicle-registry/agencies/dmv/disable", nil, dmvAdmin},
		// Feedback (internal/feedback/feedbackweb): anyone gives it; only
		// platform administrators read it.
		{"GET /feedback", "GET", "/feedback", nil, public},
		{"POST /feedback", "POST", "/feedback", url.Values{"comment": {""}}, public},
		{"GET /feedback/thanks", "GET", "/feedback/thanks", nil, public},
		{"GET /admin/feedback", "GET", "/admin/feedback", nil, platformAdmin},
		// Outcomes (internal/outcome/outcomeweb): the performance pages and
		// their JSON are public; an agency's dashboard, CSV and offline
		// records are its staff's (and platform administrators'); costs its
		// administrators' and finance staff's; every agency side by side
		// platform administrators' only. Forms here carry a mistake.
		{"GET /performance", "GET", "/performance", nil, public},
		{"GET /performance.json", "GET", "/performance.json", nil, public},
		{"GET /performance/{service}", "GET", "/performance/vehicle-registration-renewal", nil, public},
		{"GET /console/outcomes", "GET", "/console/outcomes?agency=dmv", nil, dmvMember},
		{"GET /console/outcomes.csv", "GET", "/console/outcomes.csv?agency=dmv", nil, dmvMember},
		{"GET /console/outcomes/agencies", "GET", "/console/outcomes/agencies", nil, platformAdmin},
		{"GET /console/outcomes/offline", "GET", "/console/outcomes/offline?agency=dmv", nil, dmvMember},
		{"POST /console/outcomes/offline", "POST", "/console/outcomes/offline", url.Values{"agency": {"dmv"}, "transactions": {"x"}}, dmvMember},
		{"GET /console/outcomes/costs", "GET", "/console/outcomes/costs?agency=dmv", nil, dmvAdmin},
		{"POST /console/outcomes/costs", "POST", "/console/outcomes/costs", url.Values{"agency": {"dmv"}, "amount": {"x"}}, dmvAdmin},
		// The satisfaction survey (internal/satisfaction/satisfactionweb):
		// public, signed in or not; a service's comments for its agency's
		// staff and platform administrators.
		{"GET /satisfaction", "GET", "/satisfaction?after=submitted&service=vehicle-registration-renewal", nil, public},
		{"POST /satisfaction", "POST", "/satisfaction?after=submitted&service=vehicle-registration-renewal", url.Values{"score": {""}}, public},
		{"GET /satisfaction/thanks", "GET", "/satisfaction/thanks?service=vehicle-registration-renewal", nil, public},
		{"GET /console/satisfaction", "GET", "/console/satisfaction", nil, staffOnly},
		{"GET /console/satisfaction/{service}", "GET", "/console/satisfaction/vehicle-registration-renewal", nil, dmvMember},
		// Webhook deliveries (internal/webhook/webhookweb): platform
		// administrators, and administrators of agencies that enabled the
		// plug-in (the DMV enabled vehicle-registry).
		{"GET /console/plugins/{id}/deliveries", "GET", "/console/plugins/vehicle-registry/deliveries", nil, dmvAdmin},
		{"POST /console/plugins/{id}/deliveries/replay", "POST", "/console/plugins/vehicle-registry/deliveries/replay", url.Values{"all": {"dead"}}, dmvAdmin},
		// The finance console (internal/payment/financeweb): finance staff,
		// agency administrators and auditors of the agency, and platform
		// administrators read; caseworkers (staff Y) do not; only the
		// agency's finance staff and administrators refund (here a form
		// with a mistake: 422 for them, refused for everyone else).
		{"GET /console/payments", "GET", "/console/payments", nil, dmvMember},
		{"GET /console/payments/{id}", "GET", "/console/payments/" + dmvPayment, nil, dmvMember},
		{"POST /console/payments/{id}/refund", "POST", "/console/payments/" + dmvPayment + "/refund", url.Values{"kind": {"partial"}, "amount": {"not money"}}, dmvStaff},
		{"GET /console/payments/reports", "GET", "/console/payments/reports?agency=dmv", nil, dmvMember},
		{"GET /console/payments/reports/reconciliation.csv", "GET", "/console/payments/reports/reconciliation.csv?agency=dmv&day=12%2F05%2F2026", nil, dmvMember},
		{"GET /console/payments/reports/remittance.csv", "GET", "/console/payments/reports/remittance.csv?agency=dmv&from=12%2F01%2F2026&to=12%2F05%2F2026", nil, dmvMember},
		// Case work (internal/casework/caseweb): staff see only their
		// agencies' cases; the applicant sees only their own.
		{"GET /console/cases", "GET", "/console/cases", nil, staffOnly},
		{"GET /console/cases/{id}", "GET", "/console/cases/" + kase.ID, nil, dmvStaff},
		{"GET /console/cases/{id}/files/{file}", "GET", "/console/cases/" + anaDraft.ID + "/files/" + anaFile.ID, nil, adamsClerkStaff},
		{"POST /console/cases/{id}/assign", "POST", "/console/cases/" + kase.ID + "/assign", url.Values{"assignee": {"me"}}, dmvStaff},
		{"POST /console/cases/{id}/transition", "POST", "/console/cases/" + kase.ID + "/transition", url.Values{"transition": {"nope"}}, dmvStaff},
		{"POST /console/cases/{id}/note", "POST", "/console/cases/" + kase.ID + "/note", url.Values{"body": {"checked"}}, dmvStaff},
		{"POST /console/cases/{id}/message", "POST", "/console/cases/" + kase.ID + "/message", url.Values{"body": {""}}, dmvStaff},
		{"POST /console/cases/{id}/payment", "POST", "/console/cases/" + kase.ID + "/payment", url.Values{"amount": {"not money"}}, dmvStaff},
		{"POST /console/cases/{id}/plugin-calls/{call}/retry", "POST", "/console/cases/" + kase.ID + "/plugin-calls/" + strconv.FormatInt(kaseCall, 10) + "/retry", nil, dmvStaff},
		{"POST /console/cases/{id}/request", "POST", "/console/cases/" + kase.ID + "/request", url.Values{"body": {"Which colour is the car?"}}, dmvStaff},
		{"GET /applications/{id}", "GET", "/applications/" + kase.ID, nil, ownerOnly},
		{"POST /applications/{id}/respond", "POST", "/applications/" + kase.ID + "/respond", url.Values{"body": {"Blue."}}, ownerOnly},
		{"POST /applications/{id}/transition", "POST", "/applications/" + kase.ID + "/transition", url.Values{"transition": {"nope"}}, ownerOnly},
		// The notification block's citizen pages (internal/notify/notifyweb).
		{"GET /inbox", "GET", "/inbox", nil, signedIn},
		{"POST /inbox/{id}/read", "POST", "/inbox/" + betoMsg.ID + "/read", nil, ownerOnly},
		{"GET /account/notifications", "GET", "/account/notifications", nil, signedIn},
		{"POST /account/notifications", "POST", "/account/notifications", url.Values{"lang": {"en"}}, signedIn},
		// The Notify-compatible API authenticates every request with an
		// API key's token, never a session: to a browser it is public, and
		// every request here (without a token) gets Notify's 401 AuthError.
		{"POST /v2/notifications/email", "POST", "/v2/notifications/email", nil, public},
		{"POST /v2/notifications/sms", "POST", "/v2/notifications/sms", nil, public},
		{"POST /v2/notifications/letter", "POST", "/v2/notifications/letter", nil, public},
		{"GET /v2/notifications/{id}", "GET", "/v2/notifications/x", nil, public},
		{"GET /v2/notifications", "GET", "/v2/notifications", nil, public},
		{"GET /v2/template/{id}", "GET", "/v2/template/x", nil, public},
		{"GET /v2/template/{id}/version/{version}", "GET", "/v2/template/x/version/1", nil, public},
		{"GET /v2/templates", "GET", "/v2/templates", nil, public},
		{"POST /v2/template/{id}/preview", "POST", "/v2/template/x/preview", nil, public},
		{"GET /v2/received-text-messages", "GET", "/v2/received-text-messages", nil, public},
		// The GOV.UK Pay-compatible API (internal/payment/payapi): an
		// agency's API key on every request, never a session; which agency
		// and mode sees what is payapi's TestNotFound and TestLiveKeys.
		{"POST /v1/payments", "POST", "/v1/payments", nil, bearerOnly},
		{"GET /v1/payments", "GET", "/v1/payments", nil, bearerOnly},
		{"GET /v1/payments/{id}", "GET", "/v1/payments/x", nil, bearerOnly},
		{"GET /v1/payments/{id}/events", "GET", "/v1/payments/x/events", nil, bearerOnly},
		{"POST /v1/payments/{id}/cancel", "POST", "/v1/payments/x/cancel", nil, bearerOnly},
		{"POST /v1/payments/{id}/capture", "POST", "/v1/payments/x/capture", nil, bearerOnly},
		{"POST /v1/payments/{id}/refunds", "POST", "/v1/payments/x/refunds", nil, bearerOnly},
		{"GET /v1/payments/{id}/refunds", "GET", "/v1/payments/x/refunds", nil, bearerOnly},
		{"GET /v1/payments/{id}/refunds/{refundId}", "GET", "/v1/payments/x/refunds/y", nil, bearerOnly},
		// The catalog (internal/catalog/catalogweb): public pages and API;
		// only "services for you" needs a signed-in person.
		{"GET /services", "GET", "/services?q=dog", nil, public},
		{"GET /services/for-you", "GET", "/services/for-you", nil, signedIn},
		{"GET /services/{id}", "GET", "/services/adams-dog-licence", nil, public},
		{"GET /api/v1/services", "GET", "/api/v1/services?q=licence", nil, public},
		{"GET /api/v1/services/{id}", "GET", "/api/v1/services/adams-dog-licence", nil, public},
		// The OpenID Provider (internal/oidc). Protocol endpoints are public
		// by design: clients authenticate with their own credentials, and
		// an authorization request sends an anonymous visitor to sign in.
		// Bad or missing parameters get OAuth errors, never a sign-in.
		{"GET /.well-known/openid-configuration", "GET", "/.well-known/openid-configuration", nil, public},
		{"GET /oauth/keys", "GET", "/oauth/keys", nil, public},
		{"GET /oauth/authorize", "GET", "/oauth/authorize?client_id=pc_nobody&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fx.example%2F", nil, public},
		{"POST /oauth/authorize", "POST", "/oauth/authorize", url.Values{"client_id": {"pc_nobody"}}, public},
		{"GET /oauth/authorize/callback", "GET", "/oauth/authorize/callback?id=none", nil, public},
		{"POST /oauth/token", "POST", "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, public},
		// Stripe's events: authenticated by their signature, never by a
		// session (an unsigned one is 400 for everyone).
		{"POST /webhooks/stripe", "POST", "/webhooks/stripe", nil, public},
		// next_url_post of an agency's payment: the payer's browser posts
		// it from the agency's site; it only redirects to the checkout
		// page, which decides who may see it.
		{"POST /pay/secure", "POST", "/pay/secure", url.Values{"chargeTokenId": {betoCheckout.ID}}, public},
		{"POST /oauth/introspect", "POST", "/oauth/introspect", url.Values{"token": {"x"}}, public},
		{"POST /oauth/revoke", "POST", "/oauth/revoke", url.Values{"token": {"x"}}, public},
		// Client-authenticated (its secret), never by a session: to every
		// browser actor it is public and answers 401 invalid_client.
		{"POST /oauth/revoke_all", "POST", "/oauth/revoke_all", url.Values{"client_id": {"pc_nobody"}, "client_secret": {"x"}}, public},
		{"GET /oauth/userinfo", "GET", "/oauth/userinfo", nil, public},
		{"POST /oauth/userinfo", "POST", "/oauth/userinfo", url.Values{"access_token": {"x"}}, public},
		{"OPTIONS /oauth/userinfo", "OPTIONS", "/oauth/userinfo", nil, public},
		{"OPTIONS /oauth/token", "OPTIONS", "/oauth/token", nil, public},
		{"OPTIONS /oauth/revoke", "OPTIONS", "/oauth/revoke", nil, public},
		{"GET /oauth/end_session", "GET", "/oauth/end_session?client_id=pc_nobody", nil, public},
		{"GET /oauth/login", "GET", "/oauth/login?id=none", nil, public},
		{"GET /oauth/consent", "GET", "/oauth/consent?id=none", nil, public},
		{"POST /oauth/consent", "POST", "/oauth/consent", url.Values{"id": {"none"}, "decision": {"allow"}}, public},
		{"GET /oauth/logout", "GET", "/oauth/logout?t=none", nil, public},
		{"POST /oauth/logout", "POST", "/oauth/logout", url.Values{"t": {"none"}, "decision": {"signout"}}, public},
		{"GET /api/openapi.json", "GET", "/api/openapi.json", nil, public},
		{"GET /api/v1/applications", "GET", "/api/v1/applications", nil, bearerOnly},
		{"GET /api/v1/applications/{id}", "GET", "/api/v1/applications/x", nil, bearerOnly},
		{"GET /api/v1/cases", "GET", "/api/v1/cases", nil, bearerOnly},
		{"GET /api/v1/cases/{id}", "GET", "/api/v1/cases/x", nil, bearerOnly},
		// Agency systems' own tokens only; who sees which agency's events
		// is internal/api's TestEventsAPI and TestEventsAPIWithRealTokens.
		{"GET /api/v1/events", "GET", "/api/v1/events?after=0", nil, bearerOnly},
		// Agency systems' own tokens with obligations.write; which agency
		// they load for is TestObligationsAPI's and TestImportPolicy's.
		{"POST /api/v1/obligations", "POST", "/api/v1/obligations", nil, bearerOnly},
		// Applying (internal/application/applyweb): a draft is its owner's
		// alone; anyone else gets not-found.
		{"GET /services/{id}/apply", "GET", "/services/adams-birth-certificate/apply", nil, signedIn},
		{"POST /services/{id}/apply", "POST", "/services/adams-birth-certificate/apply", nil, signedIn},
		{"GET /dashboard", "GET", "/dashboard", nil, signedIn},
		{"GET /apply/{app}", "GET", "/apply/" + draft.ID, nil, ownerOnly},
		{"GET /apply/{app}/pages/{page}", "GET", "/apply/" + draft.ID + "/pages/you", nil, ownerOnly},
		{"POST /apply/{app}/pages/{page}", "POST", "/apply/" + draft.ID + "/pages/you", url.Values{"name": {""}}, ownerOnly},
		{"GET /apply/{app}/check", "GET", "/apply/" + draft.ID + "/check", nil, ownerOnly},
		{"POST /apply/{app}/submit", "POST", "/apply/" + draft.ID + "/submit", url.Values{"revision": {"-1"}}, ownerOnly},
		{"GET /apply/{app}/done", "GET", "/apply/" + draft.ID + "/done", nil, ownerOnly},
		{"GET /apply/{app}/files/{file}", "GET", "/apply/" + draft.ID + "/files/" + upload.ID, nil, ownerOnly},
		{"GET /apply/{app}/withdraw", "GET", "/apply/" + draft.ID + "/withdraw", nil, ownerOnly},
		{"POST /apply/{app}/withdraw", "POST", "/apply/" + other.ID + "/withdraw", nil, ownerOnly},
		// Receipts (internal/payment/receiptweb): the person who paid only;
		// anyone else gets 404. One route serves the page and its PDF.
		{"GET /pay/receipts/{file}", "GET", "/pay/receipts/" + betoReceipt.ID, nil, ownerOnly},
		{"GET /pay/receipts/{file}", "GET", "/pay/receipts/" + betoReceipt.ID + ".pdf", nil, ownerOnly},
		// Consent (internal/consent/consentweb): a citizen's own, never staff's.
		{"GET /consent", "GET", "/consent?service=vehicle-registration-renewal&plugin=vehicle-registry&return=%2Fdashboard", nil, citizensOnly},
		{"POST /consent", "POST", "/consent", url.Values{"service": {"vehicle-registration-renewal"}, "plugin": {"vehicle-registry"}, "return": {"/dashboard"}, "decision": {"decline"}}, citizensOnly},
		{"GET /account/data", "GET", "/account/data", nil, citizensOnly},
		{"POST /account/data/withdraw", "POST", "/account/data/withdraw", url.Values{"id": {betoConsent}}, ownerOnly},
		// Report a problem (internal/report/reportweb): anyone reports and
		// reads reports nearby; the private follow link is the reporter's
		// credential (an unknown one is 404 for everyone); an agency's
		// reports and Open311 keys are its staff's and platform
		// administrators'. Open311 (internal/report/open311api) is public:
		// POST authenticates each request by its api_key.
		{"GET /report", "GET", "/report", nil, public},
		{"GET /report/nearby", "GET", "/report/nearby?lat=39.78&long=-89.65", nil, public},
		{"GET /report/{slug}", "GET", "/report/pothole", nil, public},
		{"POST /report/{slug}", "POST", "/report/pothole", url.Values{"description": {"no location"}}, public},
		{"GET /report/follow/{token}", "GET", "/report/follow/" + pothole.FollowToken, nil, public},
		{"POST /report/follow/{token}/reopen", "POST", "/report/follow/" + pothole.FollowToken + "/reopen", url.Values{"reason": {""}}, public},
		{"GET /report/follow/{token}/photos/{photo}", "GET", "/report/follow/" + pothole.FollowToken + "/photos/" + potholeView.Photos[0].ID, nil, public},
		{"GET /console/reports", "GET", "/console/reports?agency=springfield-public-works", nil, platformAdmin},
		{"GET /console/reports/{number}", "GET", "/console/reports/" + potholeNumber, nil, platformAdmin},
		{"POST /console/reports/{number}/status", "POST", "/console/reports/" + potholeNumber + "/status", url.Values{"state": {"fixed"}, "note": {""}}, platformAdmin},
		{"GET /console/reports/{number}/photos/{photo}", "GET", "/console/reports/" + potholeNumber + "/photos/" + potholeView.Photos[0].ID, nil, platformAdmin},
		{"GET /console/open311/keys", "GET", "/console/open311/keys?agency=springfield-public-works", nil, platformAdmin},
		{"POST /console/open311/keys", "POST", "/console/open311/keys?agency=springfield-public-works", url.Values{"name": {strings.Repeat("n", 101)}}, platformAdmin},
		{"POST /console/open311/keys/{id}/revoke", "POST", "/console/open311/keys/" + open311Key.ID + "/revoke?agency=springfield-public-works", nil, platformAdmin},
		{"GET /open311/v2/{file}", "GET", "/open311/v2/services.xml", nil, public},
		{"GET /open311/v2/{file}", "GET", "/open311/v2/requests.json", nil, public},
		{"POST /open311/v2/{file}", "POST", "/open311/v2/requests.json", url.Values{"service_code": {"pothole"}}, public},
		{"GET /open311/v2/services/{file}", "GET", "/open311/v2/services/pothole.json", nil, public},
		{"GET /open311/v2/requests/{file}", "GET", "/open311/v2/requests/" + potholeNumber + ".xml", nil, public},
		{"GET /open311/v2/tokens/{file}", "GET", "/open311/v2/tokens/" + pothole.Token + ".json", nil, public},
		// Signing out last: it ends the actors' sessions.
		{"POST /sign-out", "POST", "/sign-out", nil, public},
	}

	var covered []string
	for _, r := range rows {
		covered = append(covered, r.pattern)
	}
	var apiOps []string
	for _, op := range a.API.Ops() {
		apiOps = append(apiOps, op.Method+" "+op.Path)
	}
	for _, p := range a.Web.Routes() {
		if !slices.Contains(covered, p) {
			t.Errorf("route %q is not in the authorization table", p)
		}
		// The OpenAPI document is generated from api.Handle registrations;
		// a handler registered around it would be undocumented.
		if _, path, _ := strings.Cut(p, " "); strings.HasPrefix(path, "/api/v1/") && !slices.Contains(apiOps, p) {
			t.Errorf("route %q bypasses api.Handle, so the OpenAPI document does not describe it", p)
		}
	}

	for _, r := range rows {
		for _, ac := range actors {
			t.Run(r.pattern+"/"+ac.name, func(t *testing.T) {
				var resp *http.Response
				if r.method == "GET" || r.method == "OPTIONS" {
					req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
					resp = do(t, ac.client, req)
				} else {
					resp = post(t, ac.client, srv.URL+r.path, r.form)
				}
				loc := resp.Header.Get("Location")
				var denied bool
				if r.rule == public {
					denied = strings.HasPrefix(loc, "/sign-in?")
				} else {
					denied = resp.StatusCode == http.StatusNotFound ||
						resp.StatusCode == http.StatusUnauthorized ||
						resp.StatusCode == http.StatusForbidden ||
						resp.StatusCode == http.StatusSeeOther && (strings.HasPrefix(loc, "/sign-in?") || loc == "/sign-in/verify" || r.rule == secondStep && loc == "/account")
				}
				if resp.StatusCode >= 500 {
					t.Fatalf("%s %s as %s: %d", r.method, r.path, ac.name, resp.StatusCode)
				}
				if want := allowedFor(r.rule, ac); denied == want {
					t.Fatalf("%s %s as %s: status %d location %q; allowed=%v", r.method, r.path, ac.name, resp.StatusCode, loc, want)
				}
			})
		}
	}
}

func do(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func post(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}
