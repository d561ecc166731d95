package identityweb_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/audit"
	catalogpkg "github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identitytest"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/portal"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

type site struct {
	URL   string
	svc   *identity.Service
	mail  *identitytest.Outbox
	clock *platform.FakeClock
	db    *storage.DB
}

func newSite(t *testing.T, db *storage.DB) *site {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	box, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	mail := &identitytest.Outbox{}
	svc, err := identity.New(identity.Config{PublicURL: "http://portal.test", PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}},
		db, log, clock, box, mail, ten)
	if err != nil {
		t.Fatal(err)
	}
	catalog, _ := i18n.Load()
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalogpkg.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	if err := portal.Register(s, portal.Options{Tenancy: ten, Catalog: cat, Clock: clock}); err != nil {
		t.Fatal(err)
	}
	if _, err := identityweb.Register(s, svc, identityweb.Config{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &site{URL: srv.URL, svc: svc, mail: mail, clock: clock, db: db}
}

// browser is a cookie-keeping client that does not follow redirects, so
// each step's status and location can be checked.
type browser struct {
	t    *testing.T
	site *site
	c    *http.Client
}

func (s *site) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, site: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status   int
	location string
	body     string
	cookies  []*http.Cookie
}

func (b *browser) do(method, path string, form url.Values) resp {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.site.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, location: r.Header.Get("Location"), body: string(raw), cookies: r.Cookies()}
}

func (b *browser) get(path string) resp                   { return b.do("GET", path, nil) }
func (b *browser) post(path string, form url.Values) resp { return b.do("POST", path, form) }

func expect(t *testing.T, r resp, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (location %q)\n%.2000s", r.status, status, r.location, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) && !strings.Contains(r.location, c) {
			t.Fatalf("response lacks %q\n%.3000s", c, r.body)
		}
	}
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

const pw = "mauve otter rain 1987"

// signUp walks the sign-up pages and returns the signed-in browser.
func (s *site) signUp(t *testing.T, email string) *browser {
	b := s.browser(t)
	r := b.post("/sign-up", url.Values{"email": {email}})
	expect(t, r, http.StatusSeeOther, "/sign-up/code?")
	u, _ := url.Parse(r.location)
	code := codeRE.FindStringSubmatch(s.mail.Last(t, email).Text)[1]
	r = b.post("/sign-up/code", url.Values{"c": {u.Query().Get("c")}, "email": {email}, "code": {code}})
	expect(t, r, http.StatusSeeOther, "/sign-up/details")
	noTicketInURL(t, r)
	r = b.post("/sign-up/details", url.Values{"legal_name": {"Ana Citizen"}, "password": {pw}, "password_confirm": {pw}})
	expect(t, r, http.StatusSeeOther, "/account")
	return b
}

func TestCitizenJourney(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		// Anonymous visitors are sent to sign in and brought back.
		anon := s.browser(t)
		expect(t, anon.get("/account/security"), http.StatusSeeOther, "/sign-in?next=%2Faccount%2Fsecurity")

		// Mistakes keep what was typed.
		expect(t, anon.post("/sign-up", url.Values{"email": {"ana at example"}}), http.StatusBadRequest,
			"There is a problem", `href="#email"`, `value="ana at example"`, "Enter an email address in the correct format")

		b := s.signUp(t, "ana@example.com")
		expect(t, b.get("/account?welcome=1"), http.StatusOK, "Your account is ready", "Ana Citizen", "ana@example.com")

		// Profile with a bad ZIP, then a good one: the account shows who serves them.
		r := b.post("/account/profile", url.Values{"legal_name": {"Ana Citizen"}, "residential_line1": {"12 Elm St"}, "residential_city": {"Springfield"}, "residential_state": {"EX"}, "residential_zip": {"7010"}})
		expect(t, r, http.StatusBadRequest, "Enter a five-digit ZIP code", `value="12 Elm St"`)
		r = b.post("/account/profile", url.Values{"legal_name": {"Ana Citizen"}, "lang": {"en"}, "residential_line1": {"12 Elm St"}, "residential_city": {"Springfield"}, "residential_state": {"EX"}, "residential_zip": {"70101"}})
		expect(t, r, http.StatusSeeOther, "/account")
		expect(t, b.get("/account"), http.StatusOK, "City of Springfield", "Adams County", "State of Example")
		// Changing the phone number later needs a fresh authentication;
		// what was typed is kept.
		s.clock.Advance(20 * time.Minute)
		r = b.post("/account/profile", url.Values{"legal_name": {"Ana Citizen"}, "lang": {"en"}, "phone": {"555 010 0199"}, "residential_zip": {""}})
		expect(t, r, http.StatusBadRequest, "first confirm it is you", `value="555 010 0199"`, "/account/reauth?next=%2Faccount%2Fprofile")
		s.clock.Advance(-20 * time.Minute)

		// Add an authenticator app (fresh sign-in, so no re-authentication yet).
		r = b.get("/account/mfa/setup")
		expect(t, r, http.StatusOK, "data:image/png;base64,")
		secret, sealed := totpFromPage(t, r.body)
		expect(t, b.post("/account/mfa/setup", url.Values{"secret": {sealed}, "code": {"000000"}}), http.StatusBadRequest, "That code does not match", secret)
		code, _ := totp.GenerateCode(secret, s.clock.Now())
		r = b.post("/account/mfa/setup", url.Values{"secret": {sealed}, "code": {code}})
		expect(t, r, http.StatusOK, "Save your recovery codes")
		recovery := regexp.MustCompile(`<li>([A-Z2-7]{5}-[A-Z2-7]{5})</li>`).FindAllStringSubmatch(r.body, -1)
		if len(recovery) != 10 {
			t.Fatalf("recovery codes shown = %d", len(recovery))
		}

		// Sign out, sign in again: the second factor is asked for.
		expect(t, b.post("/sign-out", nil), http.StatusSeeOther, "/")
		expect(t, b.get("/account"), http.StatusSeeOther, "/sign-in")
		expect(t, b.post("/sign-in", url.Values{"email": {"ana@example.com"}, "password": {"wrong wrong wrong"}}), http.StatusUnauthorized,
			"The email address or password is not right", `value="ana@example.com"`)
		r = b.post("/sign-in", url.Values{"email": {"ana@example.com"}, "password": {pw}, "next": {"/account/security"}})
		expect(t, r, http.StatusSeeOther, "/sign-in/verify")
		expect(t, b.get("/account"), http.StatusSeeOther, "/sign-in/verify")
		s.clock.Advance(time.Minute)
		code, _ = totp.GenerateCode(secret, s.clock.Now())
		expect(t, b.post("/sign-in/verify", url.Values{"code": {code}, "next": {"/account/security"}}), http.StatusSeeOther, "/account/security")
		expect(t, b.get("/account/security"), http.StatusOK, "An authentication app protects your account", "You have 10 unused recovery codes")

		// Sensitive changes need a recent authentication.
		s.clock.Advance(20 * time.Minute)
		expect(t, b.get("/account/password"), http.StatusSeeOther, "/account/reauth?next=%2Faccount%2Fpassword")
		s.clock.Advance(time.Minute)
		code, _ = totp.GenerateCode(secret, s.clock.Now())
		expect(t, b.post("/account/reauth", url.Values{"password": {pw}, "code": {code}, "next": {"/account/password"}}), http.StatusSeeOther, "/account/password")
		expect(t, b.post("/account/password", url.Values{"password": {"short"}, "password_confirm": {"short"}}), http.StatusBadRequest, "too short")
		expect(t, b.post("/account/password", url.Values{"password": {"new secret words"}, "password_confirm": {"new secret words"}}), http.StatusSeeOther, "done=password")

		// Spanish pages.
		expect(t, b.get("/account/security?lang=es"), http.StatusOK, "Inicio de sesión y seguridad", `<html lang="es">`)
	})
}

func TestRecoveryKeepsSecondFactor(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	s := newSite(t, db)
	b := s.signUp(t, "bo@example.com")
	r := b.get("/account/mfa/setup")
	secret, sealed := totpFromPage(t, r.body)
	code, _ := totp.GenerateCode(secret, s.clock.Now())
	expect(t, b.post("/account/mfa/setup", url.Values{"secret": {sealed}, "code": {code}}), http.StatusOK)

	other := s.browser(t)
	r = other.post("/recover", url.Values{"email": {"bo@example.com"}})
	expect(t, r, http.StatusSeeOther, "/recover/code")
	link := regexp.MustCompile(`http://portal\.test(/recover/confirm\?token=[A-Za-z0-9_-]+)`).FindStringSubmatch(s.mail.Last(t, "bo@example.com").Text)[1]
	r = other.get(link)
	expect(t, r, http.StatusSeeOther, "/recover/reset")
	noTicketInURL(t, r)
	reset := strings.TrimPrefix(r.location, s.URL)
	r = other.get(reset)
	expect(t, r, http.StatusOK, "Your account has an authentication app")
	// Without the browser's ticket cookie the page is a dead end.
	expect(t, s.browser(t).get(reset), http.StatusBadRequest, "expired")
	r = other.post("/recover/reset", url.Values{"password": {"a fresh long passphrase"}, "password_confirm": {"a fresh long passphrase"}})
	expect(t, r, http.StatusBadRequest, "That security code did not work")
	s.clock.Advance(time.Minute)
	code, _ = totp.GenerateCode(secret, s.clock.Now())
	r = other.post("/recover/reset", url.Values{"code": {code}, "password": {"a fresh long passphrase"}, "password_confirm": {"a fresh long passphrase"}})
	expect(t, r, http.StatusSeeOther, "/sign-in?reset=1")
	// The old session is gone.
	expect(t, b.get("/account"), http.StatusSeeOther, "/sign-in")
	// The link cannot be used twice.
	expect(t, other.get(link), http.StatusBadRequest, "expired")
}

func TestEmailChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		b := s.signUp(t, "old@example.com")
		s.signUp(t, "taken@example.com")
		expect(t, b.post("/account/email", url.Values{"email": {"old@example.com"}}), http.StatusBadRequest, "already your email address")
		// An address with its own account gets the same answer; its owner is told.
		expect(t, b.post("/account/email", url.Values{"email": {"taken@example.com"}}), http.StatusSeeOther, "/account/email/code?")
		if m := s.mail.Last(t, "taken@example.com"); !strings.Contains(m.Subject, "already has") {
			t.Fatalf("owner of the taken address not told: %+v", m)
		}
		r := b.post("/account/email", url.Values{"email": {"new@example.com"}})
		expect(t, r, http.StatusSeeOther, "/account/email/code?")
		u, _ := url.Parse(r.location)
		code := codeRE.FindStringSubmatch(s.mail.Last(t, "new@example.com").Text)[1]
		expect(t, b.post("/account/email/code", url.Values{"c": {u.Query().Get("c")}, "code": {"000000"}}), http.StatusBadRequest, "That code did not work")
		expect(t, b.post("/account/email/code", url.Values{"c": {u.Query().Get("c")}, "code": {code}}), http.StatusSeeOther, "done=email")
		if m := s.mail.Last(t, "old@example.com"); !strings.Contains(m.Text, "new@example.com") {
			t.Fatalf("old address not told: %s", m.Text)
		}
		other := s.browser(t)
		expect(t, other.post("/sign-in", url.Values{"email": {"new@example.com"}, "password": {pw}}), http.StatusSeeOther, "/account")
		// Later changes need a fresh authentication.
		s.clock.Advance(20 * time.Minute)
		expect(t, b.get("/account/email"), http.StatusSeeOther, "/account/reauth?next=%2Faccount%2Femail")
	})
}

// totpFromPage reads the set-up page: the key shown for manual entry and
// the sealed value the form sends back.
func totpFromPage(t *testing.T, body string) (secret, sealed string) {
	t.Helper()
	s := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(body)
	v := regexp.MustCompile(`name="secret" value="(v1\.[A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
	if s == nil || v == nil {
		t.Fatalf("no TOTP set-up on the page:\n%.2000s", body)
	}
	return s[1], v[1]
}

// noTicketInURL checks that a redirect after confirming an address keeps
// the completion token out of the URL and hands it over as an HttpOnly
// cookie instead.
func noTicketInURL(t *testing.T, r resp) {
	t.Helper()
	if strings.Contains(r.location, "t=") || strings.Contains(r.location, "token") {
		t.Fatalf("completion token in the URL: %s", r.location)
	}
	for _, c := range r.cookies {
		if strings.HasSuffix(c.Name, "-ticket") && c.Value != "" {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("ticket cookie %+v: want HttpOnly and SameSite=Lax", c)
			}
			return
		}
	}
	t.Fatalf("no ticket cookie set; cookies: %v", r.cookies)
}

// TestSignUpExplainsWeakPasswords: the sign-up page refuses common,
// expected and personal passwords with a reason in the person's language,
// and accepts a passphrase (issue 9, defect 4).
func TestSignUpExplainsWeakPasswords(t *testing.T) {
	tests := []struct {
		pw, lang, want string
	}{
		{"Password123456!", "en", "common password or word with small changes"},
		{"Password123456!", "es", "contraseña o palabra común con pequeños cambios"},
		{"P@ssw0rd12345678", "en", "common password or word with small changes"},
		{"qwertyuiopasdfg", "en", "line of keys on the keyboard"},
		{"AnaCitizen2024!!", "en", "built from your name or email address"},
		{"AnaCitizen2024!!", "es", "no debe basarse en su nombre"},
		{"portico password", "en", "name or address of this website"},
		{"happy birthday mom", "es", "palabras, nombres o patrones comunes"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		for i, tt := range tests {
			t.Run(tt.pw+" "+tt.lang, func(t *testing.T) {
				email := fmt.Sprintf("weak%d@example.com", i)
				b := s.browser(t)
				r := b.post("/sign-up", url.Values{"email": {email}})
				expect(t, r, http.StatusSeeOther, "/sign-up/code?")
				u, _ := url.Parse(r.location)
				code := codeRE.FindStringSubmatch(s.mail.Last(t, email).Text)[1]
				expect(t, b.post("/sign-up/code", url.Values{"c": {u.Query().Get("c")}, "email": {email}, "code": {code}}), http.StatusSeeOther, "/sign-up/details")
				details := url.Values{"legal_name": {"Ana Citizen"}, "password": {tt.pw}, "password_confirm": {tt.pw}}
				expect(t, b.post("/sign-up/details?lang="+tt.lang, details), http.StatusBadRequest, tt.want)
				strong := "my cat eats 3 tacos on tuesday"
				details.Set("password", strong)
				details.Set("password_confirm", strong)
				expect(t, b.post("/sign-up/details?lang="+tt.lang, details), http.StatusSeeOther, "/account")
			})
		}
	})
}

// TestProfileDateOfBirth: the profile asks the date of birth as the
// memorable date pattern (month, day, year in English; día, mes, año in
// Spanish), takes what people type, says exactly what is wrong on the
// right box while keeping what was typed and saving nothing, and shows
// the saved date as a person writes it.
func TestProfileDateOfBirth(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		b := s.signUp(t, "dana@example.com")
		profile := func(m, d, y string) url.Values {
			return url.Values{"legal_name": {"Dana Citizen"}, "lang": {"en"}, "date_of_birth-month": {m}, "date_of_birth-day": {d}, "date_of_birth-year": {y}}
		}
		// The boxes in each language's order.
		r := b.get("/account/profile")
		expect(t, r, http.StatusOK, "For example: January 19 2000")
		if m, d := strings.Index(r.body, `id="date_of_birth-month"`), strings.Index(r.body, `id="date_of_birth-day"`); m < 0 || d < 0 || m > d {
			t.Errorf("English asks the month first (month at %d, day at %d)", m, d)
		}
		r = b.get("/account/profile?lang=es")
		if m, d := strings.Index(r.body, `id="date_of_birth-month"`), strings.Index(r.body, `id="date_of_birth-day"`); m < 0 || d < 0 || d > m {
			t.Errorf("Spanish asks the day first (month at %d, day at %d)", m, d)
		}
		tests := []struct {
			name             string
			month, day, year string
			lang             string
			status           int
			want             []string
		}{
			{"day in the month box", "27", "03", "2021", "en", http.StatusBadRequest,
				[]string{`href="#date_of_birth-month"`, "Month must be between 1 and 12 in “Date of birth”.", `value="27"`, `value="03"`, `value="2021"`}},
			{"two-digit year", "3", "27", "21", "en", http.StatusBadRequest,
				[]string{`href="#date_of_birth-year"`, "Year must include 4 numbers in “Date of birth”."}},
			{"not a real date, Spanish", "2", "30", "2001", "es", http.StatusBadRequest,
				[]string{`href="#date_of_birth-day"`, "«Fecha de nacimiento» debe ser una fecha real."}},
			{"in the future", "3", "27", "2099", "en", http.StatusBadRequest,
				[]string{`href="#date_of_birth-month"`, "Enter a real date of birth in the past", `value="2099"`}},
			{"US order with zeros", "03", "27", "2001", "en", http.StatusSeeOther, []string{"/account"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				expect(t, b.post("/account/profile?lang="+tt.lang, profile(tt.month, tt.day, tt.year)), tt.status, tt.want...)
			})
		}
		expect(t, b.get("/account"), http.StatusOK, "March 27, 2001")
		expect(t, b.get("/account?lang=es"), http.StatusOK, "27 de marzo de 2001")
		r = b.get("/account/profile")
		expect(t, r, http.StatusOK, `id="date_of_birth-month" name="date_of_birth-month" type="text" inputmode="numeric" maxlength="2" autocomplete="bday-month" value="3"`)
	})
}
