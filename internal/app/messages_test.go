package app_test

import (
	"context"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The messages a citizen gets about their application, through the real
// wiring (internal/app's adapters) on each engine: the submission's
// confirmation, the agency's message, a request for information, the
// payment receipt and the decision each land in the inbox AND in the
// channels the person chose, in their language; a person who turned email
// off still gets every one in the inbox.

// messagesApp is the whole program (app.New) on dialect d with a fake
// clock, seeded with the demo; no workers run, so notifications stay
// as queued.
func messagesApp(t *testing.T, d storage.Dialect) *app.App {
	t.Helper()
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:8080", PublicURL: "https://services.example.gov", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, d),
		LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC))
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	seed := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem})
	if _, err := demo.Seed(seed, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPeople(seed, a.Identity); err != nil {
		t.Fatal(err)
	}
	// The renewal uses the vehicle-registry plug-in: registered and
	// enabled before publishing, as `portico demo` does.
	if _, err := demo.SeedPlugins(seed, a.Plugins, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedServices(seed, a.Catalog); err != nil {
		t.Fatal(err)
	}
	return a
}

// applicant is the demo person with email, as the applying pages build
// them from the account.
func applicant(t *testing.T, a *app.App, email string) application.Applicant {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	ap := application.Applicant{AccountID: acct.ID, Email: acct.Email, Lang: acct.Lang, LegalName: acct.LegalName, DateOfBirth: acct.DateOfBirth,
		Residential: application.Address(acct.Residential)}
	js, err := a.Tenancy.ResolveZIP(ctx, acct.Residential.ZIP)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		ap.Jurisdictions = append(ap.Jurisdictions, j.ID)
	}
	return ap
}

// applyForDog fills in a dog licence (service) as ap and returns the
// draft ready to submit.
func applyForDog(t *testing.T, a *app.App, ap application.Applicant, service string) *application.Application {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: ap.AccountID})
	draft, err := a.Applications.Start(ctx, ap, service)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.Applications.SavePage(ctx, ap, draft.ID, "dog", url.Values{"name": {"Rex"}, "sex": {"male"}, "neutered": {"yes"}}); err != nil || len(res.Problems) > 0 {
		t.Fatalf("dog page: %+v %v", res.Problems, err)
	}
	pdf := "%PDF-1.7\n"
	at, prob, err := a.Applications.Attach(ctx, ap.AccountID, draft.ID, "rabies", "certificate",
		application.Upload{Filename: "rabies.pdf", Size: int64(len(pdf)), Content: strings.NewReader(pdf)})
	if err != nil || prob != nil {
		t.Fatalf("attach: %v %v", prob, err)
	}
	if res, err := a.Applications.SavePage(ctx, ap, draft.ID, "rabies", url.Values{"certificate": {at.ID}}); err != nil || len(res.Problems) > 0 {
		t.Fatalf("rabies page: %+v %v", res.Problems, err)
	}
	app, _, err := a.Applications.Open(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: ap.AccountID}, draft.ID)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// sent lists the notifications with reference ref, oldest first.
func sent(t *testing.T, a *app.App, ref string) []notify.Notification {
	t.Helper()
	ns, err := a.Notify.List(context.Background(), notify.Filter{Reference: ref, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ns)
	return ns
}

func channels(ns []notify.Notification) []notify.Channel {
	var out []notify.Channel
	for _, n := range ns {
		out = append(out, n.Channel)
	}
	slices.Sort(out)
	return out
}

func TestSubmissionConfirmation(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a := messagesApp(t, d)
			ctx := context.Background()
			for _, c := range []struct {
				email, service, lang string
				want                 []string // in the text
			}{
				{"ana.citizen@example.com", "adams-dog-licence", "en", []string{
					"We received your application “Get a dog license” on November 24, 2026. It went to Adams County Clerk.",
					"Your reference number is ADAMS-CLERK-2026-000001.",
					"Adams County Clerk will review your application. They aim to finish by November 29, 2026.",
					"The fee is $10.00. Pay it at the Adams County Clerk counter by December 8, 2026.",
					"https://services.example.gov/applications/",
				}},
				{"beto.ciudadano@example.com", "baker-dog-licence", "es", []string{
					"Recibimos su solicitud «Obtener una licencia para perro del Condado de Baker» el 24 de noviembre de 2026.",
					"Su número de referencia es BAKER-CLERK-2026-000001.",
					"La tarifa es $15.00. Páguela en el mostrador de",
					"a más tardar el 8 de diciembre de 2026.",
				}},
			} {
				ap := applicant(t, a, c.email)
				draft := applyForDog(t, a, ap, c.service)
				// A double click, a retry after a timeout: one submission,
				// one confirmation.
				for range 3 {
					if _, err := a.Applications.Submit(ctx, ap, draft.ID, draft.Revision); err != nil {
						t.Fatal(err)
					}
				}
				ns := sent(t, a, application.ConfirmationReference(draft.ID))
				if got := channels(ns); !slices.Equal(got, []notify.Channel{notify.ChannelEmail, notify.ChannelInApp}) {
					t.Fatalf("%s: confirmation sent on %v, want one email and one inbox message", c.email, got)
				}
				for _, n := range ns {
					if n.Lang != c.lang || n.AgencyID == "" {
						t.Errorf("%s: %s in %q from %q", c.email, n.Channel, n.Lang, n.AgencyID)
					}
					for _, w := range c.want {
						if !strings.Contains(n.BodyText, w) {
							t.Errorf("%s: %s lacks %q:\n%s", c.email, n.Channel, w, n.BodyText)
						}
					}
					if n.Channel == notify.ChannelEmail && n.Recipient != c.email {
						t.Errorf("email to %s", n.Recipient)
					}
					if n.Channel == notify.ChannelInApp && n.AccountID != ap.AccountID {
						t.Errorf("inbox message of %s", n.AccountID)
					}
				}
			}
		})
	}
}

func TestCaseMessagesReachTheInbox(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a := messagesApp(t, d)
			ctx := context.Background()
			for _, c := range []struct {
				name                    string
				email, service, agency  string
				prefs                   *notify.Preferences // nil: the defaults
				want                    []notify.Channel
				lang, decision, receipt string
			}{
				{"defaults: email and the inbox", "ana.citizen@example.com", "adams-dog-licence", "adams-clerk", nil,
					[]notify.Channel{notify.ChannelEmail, notify.ChannelInApp}, "en", "Your dog is licensed.", "We recorded your payment."},
				{"email off: the inbox still", "beto.ciudadano@example.com", "baker-dog-licence", "baker-clerk", &notify.Preferences{Lang: "es"},
					[]notify.Channel{notify.ChannelInApp}, "es", "Su perro tiene licencia.", "Registramos su pago."},
				{"text messages and the inbox", "ana.citizen@example.com", "adams-dog-licence", "adams-clerk", &notify.Preferences{SMS: true, Phone: "555 555 0123", Lang: "en"},
					[]notify.Channel{notify.ChannelInApp, notify.ChannelSMS}, "en", "Your dog is licensed.", "We recorded your payment."},
			} {
				t.Run(c.name, func(t *testing.T) {
					ap := applicant(t, a, c.email)
					if c.prefs != nil {
						p := *c.prefs
						p.AccountID = ap.AccountID
						if _, err := a.Notify.SetPreferences(ctx, p); err != nil {
							t.Fatal(err)
						}
					}
					draft := applyForDog(t, a, ap, c.service)
					if _, err := a.Applications.Submit(ctx, ap, draft.ID, draft.Revision); err != nil {
						t.Fatal(err)
					}
					if got := channels(sent(t, a, application.ConfirmationReference(draft.ID))); !slices.Equal(got, c.want) {
						t.Fatalf("confirmation on %v, want %v", got, c.want)
					}
					staff := platform.Actor{Kind: platform.ActorStaff, ID: "staff-" + c.agency, Grants: []platform.Grant{{Agency: c.agency, Role: "agency_admin"}}}
					ref := "case:" + draft.ID
					steps := []struct {
						what string
						do   func() error
						text string // in the inbox message
					}{
						{"the agency's message", func() error {
							_, err := a.Casework.Message(ctx, staff, draft.ID, "Please bring Rex's collar tag.")
							return err
						}, "Please bring Rex's collar tag."},
						{"a request for information", func() error {
							_, err := a.Casework.RequestInfo(ctx, staff, draft.ID, "Which vet gave the vaccine?")
							return err
						}, "Which vet gave the vaccine?"},
						{"the payment receipt", func() error {
							fee := int64(1000)
							if c.service == "baker-dog-licence" {
								fee = 1500
							}
							_, err := a.Casework.RecordPayment(ctx, staff, draft.ID, fee, "R-1")
							return err
						}, c.receipt},
						{"the decision", func() error {
							_, err := a.Casework.Take(ctx, staff, draft.ID, "approve")
							return err
						}, c.decision},
					}
					for _, s := range steps {
						before := len(sent(t, a, ref))
						if err := s.do(); err != nil {
							t.Fatalf("%s: %v", s.what, err)
						}
						ns := sent(t, a, ref)[before:]
						if got := channels(ns); !slices.Equal(got, c.want) {
							t.Fatalf("%s went on %v, want %v", s.what, got, c.want)
						}
						for _, n := range ns {
							if n.Lang != c.lang || n.AgencyID != c.agency {
								t.Errorf("%s: %s in %q from %q", s.what, n.Channel, n.Lang, n.AgencyID)
							}
							if !strings.Contains(n.BodyText, s.text) {
								t.Errorf("%s: %s lacks %q:\n%s", s.what, n.Channel, s.text, n.BodyText)
							}
							if n.Channel == notify.ChannelInApp && (n.AccountID != ap.AccountID || n.Subject == "" || strings.Count(n.Subject, "CLERK-2026") != 1) {
								t.Errorf("%s: inbox message %q of %q", s.what, n.Subject, n.AccountID)
							}
						}
					}
					inbox, err := a.Notify.Inbox(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: ap.AccountID}, 0)
					if err != nil {
						t.Fatal(err)
					}
					unread, err := a.Notify.UnreadCount(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: ap.AccountID})
					if err != nil || unread != len(inbox) || unread < 5 {
						t.Fatalf("unread %d of %d: %v", unread, len(inbox), err)
					}
				})
			}
		})
	}
}
