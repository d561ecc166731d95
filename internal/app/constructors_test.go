package app

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/eventfeed"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/webhook"
)

// keep returns v, or T's zero value when omit names it. T must be the
// parameter's own type (an interface for an interface parameter), so a
// left-out dependency arrives as a true nil, as a wiring mistake would.
func keep[T any](omit, name string, v T) T {
	if omit == name {
		var zero T
		return zero
	}
	return v
}

// Every block constructor refuses each of its required dependencies when
// it is nil, with an error naming it, and succeeds when all are given.
func TestConstructorsRefuseNilDependencies(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clock := platform.NewFakeClock(platform.SystemClock{}.Now())
		log := audit.New(db, clock, nil)
		box, err := secrets.New(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		ins, err := jobs.NewInserter(db, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ten, err := tenancy.New(db, log, clock)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.New(db, log, clock, ten)
		if err != nil {
			t.Fatal(err)
		}
		note, err := notify.New(db, ins, jobs.NewRegistry(), clock, notify.Config{From: "no-reply@example.gov"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := identity.New(identity.Config{PublicURL: "https://portico.example.gov"}, db, log, clock, box, identityMailer{note}, ten)
		if err != nil {
			t.Fatal(err)
		}
		rem, err := reminder.New(db, log, clock, ins, jobs.NewRegistry(), reminderDirectory{ids, note}, reminderMailer{note}, reminder.Config{})
		if err != nil {
			t.Fatal(err)
		}
		bus := events.NewBus(clock)
		cases, err := casework.New(db, log, bus, clock, casework.Deps{Runtimes: cat, Citizens: caseCitizens{ids, clock}})
		if err != nil {
			t.Fatal(err)
		}
		files, err := application.OpenFiles(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { files.Close() })

		blocks := []struct {
			block string
			deps  []string
			build func(omit string) error
		}{
			{"tenancy", []string{"database", "audit log", "clock"}, func(o string) error {
				_, err := tenancy.New(keep(o, "database", db), keep(o, "audit log", log), keep[platform.Clock](o, "clock", clock))
				return err
			}},
			{"catalog", []string{"database", "audit log", "clock", "tenancy"}, func(o string) error {
				_, err := catalog.New(keep(o, "database", db), keep(o, "audit log", log), keep[platform.Clock](o, "clock", clock),
					keep[catalog.Tenancy](o, "tenancy", ten))
				return err
			}},
			{"payment", []string{"database", "audit log", "event bus", "clock"}, func(o string) error {
				_, err := payment.NewService(keep(o, "database", db), keep(o, "audit log", log), keep(o, "event bus", events.NewBus(clock)), keep[platform.Clock](o, "clock", clock))
				return err
			}},
			{"receipt", []string{"database", "audit log", "event bus", "payments", "agencies", "contacts", "mailer", "clock", "public URL", "time zone"}, func(o string) error {
				pay, err := payment.NewService(db, log, events.NewBus(clock), clock)
				if err != nil {
					return err
				}
				_, err = receipt.New(receipt.Config{DB: keep(o, "database", db), Audit: keep(o, "audit log", log), Bus: keep(o, "event bus", events.NewBus(clock)),
					Payments: keep[receipt.Checkouts](o, "payments", pay), Agencies: keep[receipt.Agencies](o, "agencies", receiptAgencies{ten}),
					Contacts: keep[receipt.Contacts](o, "contacts", receiptContacts{}), Mailer: keep[receipt.Mailer](o, "mailer", receiptMailer{note}),
					Clock: keep[platform.Clock](o, "clock", clock), PublicURL: keep(o, "public URL", func() string { return "https://portico.example.gov" }),
					Zone: keep(o, "time zone", ten.Zone)})
				return err
			}},
			{"notify", []string{"database", "job inserter", "job registry", "clock"}, func(o string) error {
				_, err := notify.New(keep(o, "database", db), keep(o, "job inserter", ins), keep(o, "job registry", jobs.NewRegistry()),
					keep[platform.Clock](o, "clock", clock), notify.Config{From: "no-reply@example.gov"}, nil)
				return err
			}},
			{"identity", []string{"database", "audit log", "clock", "secrets box", "mailer", "jurisdiction resolver"}, func(o string) error {
				_, err := identity.New(identity.Config{PublicURL: "https://portico.example.gov"}, keep(o, "database", db), keep(o, "audit log", log),
					keep[platform.Clock](o, "clock", clock), keep(o, "secrets box", box),
					keep[identity.Mailer](o, "mailer", identityMailer{note}), keep[identity.Resolver](o, "jurisdiction resolver", ten))
				return err
			}},
			{"reminder", []string{"database", "audit log", "clock", "job inserter", "job registry", "directory", "mailer"}, func(o string) error {
				_, err := reminder.New(keep(o, "database", db), keep(o, "audit log", log), keep[platform.Clock](o, "clock", clock),
					keep(o, "job inserter", ins), keep(o, "job registry", jobs.NewRegistry()),
					keep[reminder.Directory](o, "directory", reminderDirectory{ids, note}), keep[reminder.Mailer](o, "mailer", reminderMailer{note}), reminder.Config{})
				return err
			}},
			{"casework", []string{"database", "audit log", "event bus", "clock", "service runtimes", "citizens"}, func(o string) error {
				_, err := casework.New(keep(o, "database", db), keep(o, "audit log", log), keep(o, "event bus", bus), keep[platform.Clock](o, "clock", clock),
					casework.Deps{Runtimes: keep[casework.Runtimes](o, "service runtimes", cat), Citizens: keep[casework.Citizens](o, "citizens", caseCitizens{ids, clock}),
						Mailer: caseMailer{ids, note, "https://portico.example.gov"}, Obligations: caseObligations{rem}})
				return err
			}},
			{"application", []string{"database", "audit log", "clock", "services", "cases", "files", "job inserter", "job registry", "mailer", "contacts", "agencies"}, func(o string) error {
				_, err := application.New(application.Config{
					DB: keep(o, "database", db), Audit: keep(o, "audit log", log), Clock: keep[platform.Clock](o, "clock", clock),
					Services: keep[application.Services](o, "services", cat), Cases: keep[application.Cases](o, "cases", cases),
					Files: keep(o, "files", files), Jobs: keep(o, "job inserter", ins), Registry: keep(o, "job registry", jobs.NewRegistry()),
					Mailer: keep[application.Mailer](o, "mailer", applicationMailer{note}), Contacts: keep[application.Contacts](o, "contacts", contacts{ids, note}),
					Agencies:    keep[application.Agencies](o, "agencies", ten),
					Obligations: draftObligations{rem},
				})
				return err
			}},
			{"oidc", []string{"database", "audit log", "clock", "secrets box", "accounts"}, func(o string) error {
				_, err := oidc.New(oidc.Config{Issuer: "https://portico.example.gov"}, keep(o, "database", db), keep(o, "audit log", log),
					keep[platform.Clock](o, "clock", clock), keep(o, "secrets box", box), keep[oidc.Accounts](o, "accounts", ids))
				return err
			}},
			{"eventfeed", []string{"database", "audit log", "clients"}, func(o string) error {
				_, err := eventfeed.New(keep(o, "database", db), keep(o, "audit log", log), keep[eventfeed.Clients](o, "clients", feedClients{}))
				return err
			}},
			{"plugin", []string{"database", "audit log", "clock", "secrets box"}, func(o string) error {
				_, err := plugin.New(keep(o, "database", db), keep(o, "audit log", log), keep[platform.Clock](o, "clock", clock),
					keep(o, "secrets box", box), plugin.Config{EventTypes: EventTypes()})
				return err
			}},
			{"webhook", []string{"database", "audit log", "clock", "secrets box", "plug-in registry", "event bus", "job inserter", "job registry"}, func(o string) error {
				plugins, err := plugin.New(db, log, clock, box, plugin.Config{EventTypes: EventTypes()})
				if err != nil {
					return err
				}
				_, err = webhook.New(keep(o, "database", db), keep(o, "audit log", log), keep[platform.Clock](o, "clock", clock),
					keep(o, "secrets box", box), keep[webhook.Registry](o, "plug-in registry", plugins), keep(o, "event bus", events.NewBus(clock)),
					keep(o, "job inserter", ins), keep(o, "job registry", jobs.NewRegistry()), nil, webhook.Config{EventTypes: EventTypes()})
				return err
			}},
			{"consent", []string{"database", "audit log", "event bus", "clock", "services", "plug-ins"}, func(o string) error {
				reg, err := plugin.New(db, log, clock, box, plugin.Config{EventTypes: EventTypes()})
				if err != nil {
					return err
				}
				_, err = consent.New(keep(o, "database", db), keep(o, "audit log", log), keep(o, "event bus", bus), keep[platform.Clock](o, "clock", clock),
					keep[consent.Services](o, "services", cat), keep[consent.Plugins](o, "plug-ins", reg), consent.Config{})
				return err
			}},
		}
		for _, c := range blocks {
			t.Run(c.block, func(t *testing.T) {
				if err := c.build(""); err != nil {
					t.Fatalf("with every dependency: %v", err)
				}
				for _, dep := range c.deps {
					err := c.build(dep)
					if err == nil {
						t.Errorf("nil %s accepted", dep)
						continue
					}
					if !strings.HasPrefix(err.Error(), c.block+": ") || !strings.Contains(err.Error(), dep) {
						t.Errorf("nil %s: error %q does not name the block and the dependency", dep, err)
					}
				}
			})
		}
	})
}
