package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
)

// virtualAuthenticator gives the tab a platform authenticator (like a
// phone's or laptop's built-in one) that always verifies the user.
func virtualAuthenticator(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		return chromedp.Void{}, err
	}
	_, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	return chromedp.Void{}, err
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// latestCode reads the newest email to addr from the development mailbox,
// as the person would, and returns the code in it.
func latestCode(t *testing.T, a *app.App, addr string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := a.Mailbox.Messages(context.Background(), 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.Contains(m.To, addr) {
				full, err := a.Mailbox.Message(context.Background(), m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c := sixDigits.FindStringSubmatch(full.Text); c != nil {
					return c[1]
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	msgs, _ := a.Mailbox.Messages(context.Background(), 20)
	for _, m := range msgs {
		t.Logf("mailbox: to=%q subject=%q text=%q", m.To, m.Subject, m.Text)
	}
	t.Fatalf("no code emailed to %s", addr)
	return ""
}

// TestIdentityJourneys: sign up, confirm the email, add an authenticator
// app, add a passkey with the browser's virtual authenticator, sign in with
// the passkey alone, sign in with password and a recovery code — in
// English and in Spanish, with axe-core checking every page.
func TestIdentityJourneys(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())

	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			p := b.Page(t)
			p.Run(t, virtualAuthenticator)
			email := "journey-" + lang + "@example.com"
			pw := "a long " + lang + " journey passphrase"

			p.Visit(t, base+"/sign-up?lang="+lang)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#email"), email),
				chromedp.Click(chromedp.CSS("main button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#code"), latestCode(t, a, email)),
				chromedp.Click(chromedp.CSS("main button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#legal_name")),
			)
			p.CheckA11y(t)
			// A mismatch keeps the name and shows the error summary.
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#legal_name"), "Jo Journey"),
				chromedp.SendKeys(chromedp.CSS("#password"), pw),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), pw+"x"),
				chromedp.Click(chromedp.CSS("main button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			p.CheckA11y(t)
			if got := p.Value(t, "#legal_name"); got != "Jo Journey" {
				t.Fatalf("name not kept: %q", got)
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#password"), pw),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), pw),
				chromedp.Click(chromedp.CSS("main button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/account/security"]`)),
			)
			p.CheckA11y(t)

			// An authenticator app.
			p.Visit(t, base+"/account/mfa/setup")
			secret := strings.TrimSpace(p.Text(t, "#totp-secret"))
			code, err := totp.GenerateCode(secret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#code"), code),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#recovery-codes")),
			)
			p.CheckA11y(t)
			recovery := strings.Fields(p.Text(t, "#recovery-codes"))[0]

			// A passkey.
			p.Visit(t, base+"/account/security")
			p.Run(t,
				chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="register"]`)),
				chromedp.SendKeys(chromedp.CSS("#passkey_name"), "Test laptop"),
				chromedp.Click(chromedp.CSS(`button[data-passkey="register"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[role=status]`)),
			)
			p.CheckA11y(t)
			if got := p.Text(t, "main"); !strings.Contains(got, "Test laptop") {
				t.Fatalf("passkey not listed:\n%s", got)
			}

			// Sign out; sign in with the passkey alone.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)),
			)
			p.Visit(t, base+"/sign-in")
			p.Run(t,
				chromedp.WaitVisible(chromedp.CSS(`button[data-passkey="signin"]`)),
				chromedp.Click(chromedp.CSS(`button[data-passkey="signin"]`)),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/account/security"]`)),
			)
			p.CheckA11y(t)
			if loc := p.Location(t); !strings.HasSuffix(loc, "/account") {
				t.Fatalf("after passkey sign-in at %s", loc)
			}

			// Sign out; sign in with password and authenticator code.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)),
			)
			p.Visit(t, base+"/sign-in")
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#email"), email),
				chromedp.SendKeys(chromedp.CSS("#password"), pw),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#code")),
			)
			p.CheckA11y(t)
			// The app's code from set-up cannot be replayed within its 30 s
			// step, so use a recovery code, as someone without their phone would.
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#code"), recovery),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/account/security"]`)),
			)
			p.Visit(t, base+"/account/security")
			p.Visit(t, base+"/account/profile")
		})
	}
}
