package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
)

func runServe(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico serve", "[flags]")
	cfg.RegisterServe(fs, e.getenv, true)
	migrate := fs.Bool("migrate", true, "apply pending migrations before serving")
	fs.BoolVar(&cfg.DevMailbox, "dev-mailbox", false, "run the development mailbox: keep every email and show it at /dev/mailbox (sent there unless --smtp-url is set). NEVER in production")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finishServe(&cfg); err != nil {
		return err
	}
	return serve(ctx, e, cfg, app.Options{Migrate: *migrate, Work: cfg.Role != "web", Listen: true}, nil)
}

func runDemo(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico demo", "[flags]")
	// --db too: the demo seeds PostgreSQL as well as SQLite (adding only
	// what is missing), so the scale-out path can be tried with demo data.
	cfg.RegisterServe(fs, e.getenv, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := finishServe(&cfg); err != nil {
		return err
	}
	cfg.Role = "all"
	// Demo email really travels over SMTP, to a mailbox shown in the browser.
	cfg.DevMailbox = true
	if len(cfg.Featured) == 0 {
		cfg.Featured = demo.Featured
	}
	// Say something at once: `go run` has just spent minutes compiling in
	// silence, and a first start creates the database.
	where := "in " + cfg.DataDir
	if !strings.HasPrefix(cfg.DB, "sqlite:") {
		where = "at " + config.RedactURLs(cfg.DB)
	}
	fmt.Fprintf(e.stdout, "Starting Portico…\nOpening the database %s and applying any migrations…\n", where)
	ctx = context.WithValue(ctx, progressKey{}, e.stdout)
	return serve(ctx, e, cfg, app.Options{Migrate: true, Work: true, Listen: true}, seedDemo)
}

// progressKey carries the writer seedDemo reports its steps to (the demo's
// stdout); without it they go nowhere.
type progressKey struct{}

// progress writes one line about a slow step, if ctx asks for it.
func progress(ctx context.Context, line string) {
	if w, ok := ctx.Value(progressKey{}).(io.Writer); ok {
		fmt.Fprintln(w, line)
	}
}

// seedDemo creates whatever part of the demo data is missing: the State of
// Example and its agencies, then the demo people.
func seedDemo(ctx context.Context, a *app.App) error {
	progress(ctx, "Seeding the demo: the State of Example and its agencies…")
	res, err := demo.Seed(ctx, a.Tenancy)
	if err != nil {
		return err
	}
	progress(ctx, "Seeding the demo: people…")
	people, err := demo.SeedPeople(ctx, a.Identity)
	if err != nil {
		return err
	}
	// The example vehicle-registry plug-in runs in-process on loopback
	// for as long as the demo does, verifying Portico's call tokens.
	// It is registered and enabled (agency, data, access rights) before
	// the services are published: publishing checks their plug-in uses
	// against the registry. It receives the events it subscribes to at
	// its webhook, verified with the secret its registration made (read
	// back as the platform).
	vehicles, err := demo.StartVehicleRegistry(ctx, a.OIDC.Issuer(), func() (string, error) {
		return a.Plugins.WebhookSecret(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo"}, "vehicle-registry")
	})
	if err != nil {
		return err
	}
	// The private provider's counter booking likewise, its bookings in
	// the data directory so they outlive a restart.
	var bookings string
	if a.Config.DataDir != "" {
		bookings = filepath.Join(a.Config.DataDir, "counter-booking.json")
	}
	counters, err := demo.StartCounterBooking(ctx, a.OIDC.Issuer(), bookings)
	if err != nil {
		return err
	}
	plugins, err := demo.SeedPlugins(ctx, a.Plugins, map[string]string{"vehicle-registry": vehicles, "counter-booking": counters})
	if err != nil {
		return err
	}
	progress(ctx, "Seeding the demo: services and their message templates…")
	services, err := demo.SeedServices(ctx, a.Catalog)
	if err != nil {
		return err
	}
	published, err := a.Catalog.List(ctx, "")
	if err != nil {
		return err
	}
	for _, p := range published {
		if _, err := a.ManifestTemplates(ctx, p); err != nil {
			return err
		}
	}
	reportServices, err := demo.SeedReportServices(ctx, a.Reports)
	if err != nil {
		return err
	}
	services += reportServices
	reports, err := demo.SeedReports(ctx, a.Reports)
	if err != nil {
		return err
	}
	progress(ctx, "Seeding the demo: reminders…")
	obligations, err := demo.SeedObligations(ctx, a.DB, a.Identity, a.Reminders)
	if err != nil {
		return err
	}
	// Cases with a history: the applying and casework blocks on a clock
	// the seeding sets to each moment of it.
	now := a.Clock.Now()
	clock := platform.NewFakeClock(now)
	apply, cases, err := a.DemoBlocks(ctx, clock)
	if err != nil {
		return err
	}
	opened, err := demo.SeedCases(ctx, demo.CaseBlocks{Identity: a.Identity, Places: a.Tenancy, Apply: apply, Cases: cases, Clock: clock, Now: now})
	if err != nil {
		return err
	}
	// Payments for the finance console (/console/payments), made through
	// the payment block as a checkout would make them.
	progress(ctx, "Seeding the demo: payments…")
	paid, err := demo.SeedPayments(ctx, a.DB, a.Identity, a.Payments, a.Sandbox)
	if err != nil {
		return err
	}
	if res.Jurisdictions+res.Agencies+people+services+obligations+opened+plugins+paid+reports > 0 {
		a.Logger.Info("demo seeded", "jurisdictions", res.Jurisdictions, "agencies", res.Agencies, "people", people, "services", services,
			"obligations", obligations, "cases", opened, "plugins", plugins, "payments", paid, "reports", reports)
	}
	return nil
}

// finishServe completes cfg for serve and demo; mistakes are usage errors
// that name the flag.
func finishServe(cfg *config.Config) error {
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	if cfg.SMTPURL != "" {
		if _, err := notify.ParseSMTPURL(cfg.SMTPURL); err != nil {
			return usagef("--smtp-url: %s", strings.TrimPrefix(err.Error(), "notify: "))
		}
	}
	if cfg.SMSURL != "" {
		if _, err := notify.ParseSMSURL(cfg.SMSURL); err != nil {
			return usagef("--sms-url: %s", err)
		}
	}
	return nil
}

// startedHookKey carries a func(*app.App) that serve calls once the app has
// started, before it prints anything. Only tests set it (main_test.go), to
// reach the running program's blocks the way an in-process caller would.
type startedHookKey struct{}

// serve runs a Portico process until ctx ends (SIGINT/SIGTERM), then drains.
func serve(ctx context.Context, e env, cfg config.Config, opts app.Options, prepare func(context.Context, *app.App) error) error {
	logger := app.NewLogger(cfg, e.stderr)
	opts.Version = version
	if cfg.Role == "worker" && cfg.WorkerNice > 0 {
		// Before anything starts: the threads started later inherit it.
		if err := lowerCPUPriority(cfg.WorkerNice); err != nil {
			logger.Warn("the worker keeps its CPU priority", "err", err)
		} else {
			logger.Info("worker CPU priority lowered", "nice", cfg.WorkerNice)
		}
	}
	// Libraries that log through the process default (the OpenID
	// Provider's request errors; net/http's own through log) must write
	// the operator's format: with --log-format json, a plain-text line
	// breaks every log pipeline that parses the stream.
	slog.SetDefault(logger)
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
			a.Stop(context.Background())
			return err
		}
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(context.Background())
		return err
	}
	if hook, ok := ctx.Value(startedHookKey{}).(func(*app.App)); ok {
		hook(a)
	}
	if prepare != nil {
		printDemoBanner(e.stdout, a)
	} else if a.URL() != "" {
		logger.Info("portico serving", "url", a.URL(), "public_url", cfg.PublicURL, "db", a.DB.String(), "role", cfg.Role)
	}
	werr := a.Wait(ctx)
	if d := cfg.ShutdownDrain; d > 0 && werr == nil {
		logger.Info("draining before shutting down", "for", d)
		a.Drain()
		time.Sleep(d)
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Stop(sctx); err != nil && werr == nil {
		werr = err
	}
	return werr
}

func printDemoBanner(w io.Writer, a *app.App) {
	u := a.Config.PublicURL
	mailbox := "off"
	if a.Mailbox != nil {
		mailbox = u + "/dev/mailbox   every email and text message the demo sends (SMTP on " + a.Mailbox.Addr() + ")"
	}
	fmt.Fprintf(w, `
Portico demo is running at %s/

  Data:      %s
  Database:  %s
  Mailbox:   %s

  Try:
    %s/                         home page (English; add ?lang=es for Spanish)
    %s/government/lookup?zip=70101   who serves ZIP 70101
    %s/healthz  /readyz  /metrics

  Demo sign-ins (%s/sign-in):
%s
  Staff must give a second factor: add the key %s to an
  authenticator app (or run: oathtool --totp -b %s).
  Or create your own citizen account at %s/sign-up; the code arrives in the mailbox.

Press Ctrl+C to stop.
`, u, a.Config.DataDir, a.DB.String(), mailbox, u, u, u,
		u, demoSignIns(), demo.StaffTOTPSecret, demo.StaffTOTPSecret, u)
}

func demoSignIns() string {
	var b strings.Builder
	for _, p := range demo.People {
		pw, what := demo.CitizenPassword, "citizen"
		if p.Profile != nil {
			what = "citizen in " + p.Profile.Residential.City
		}
		if p.Staff {
			pw = demo.StaffPassword
			switch {
			case p.Admin:
				what = "platform administrator"
			default:
				what = string(p.Role) + ", " + p.AgencyID
			}
		}
		fmt.Fprintf(&b, "    %-30s  %-22s  %s\n", p.Email, pw, what)
	}
	return b.String()
}
