// Package app wires Portico's concrete parts into blocks and runs them:
// storage, jobs, audit, tenancy, the web shell and the portal. It owns the
// process lifecycle (Start, Stop). Configuration arrives as a config.Config;
// nothing here is global.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"
	"gocloud.dev/blob"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/application/applyweb"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/casework/caseweb"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/catalogweb"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/consent/consentweb"
	"github.com/portico-gov/portico/internal/console"
	"github.com/portico-gov/portico/internal/console/pluginconsole"
	"github.com/portico-gov/portico/internal/eventfeed"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/events/natsbus"
	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/feedback/feedbackweb"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/notify/notifyapi"
	"github.com/portico-gov/portico/internal/notify/notifyweb"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/oidc/oidcweb"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/outcome/outcomeweb"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/financeweb"
	"github.com/portico-gov/portico/internal/payment/payapi"
	"github.com/portico-gov/portico/internal/payment/payweb"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/payment/receiptweb"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/portal"
	"github.com/portico-gov/portico/internal/portal/todo"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/reminder/reminderweb"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/satisfaction/satisfactionweb"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/tracing"
	"github.com/portico-gov/portico/internal/web"
	"github.com/portico-gov/portico/internal/webhook"
	"github.com/portico-gov/portico/internal/webhook/webhookweb"
)

// App is a running (or ready to run) Portico process.
type App struct {
	Config   config.Config
	Logger   *slog.Logger
	Clock    platform.Clock
	DB       *storage.DB
	Audit    *audit.Log
	Tenancy  *tenancy.Service
	Catalog  *catalog.Service  // published service manifests
	Casework *casework.Service // cases and their workflows
	API      *api.API          // /api/v1 and its OpenAPI document (nil without a public URL)
	Bus      *events.Bus
	Events   *events.Dispatcher // drives event consumers in worker processes
	// NATS publishes every event to NATS JetStream (--bus); nil without
	// --bus and in processes that do not work jobs.
	NATS     *natsbus.Publisher
	Jobs     *jobs.Client
	Notify   *notify.Service
	Identity *identity.Service
	OIDC     *oidc.Service // Portico as an OpenID Provider
	// Reminders: citizens' obligations, reminder emails, calendar feeds.
	Reminders *reminder.Service
	Mailbox   *notify.DevMailbox // nil unless Config.DevMailbox
	DevSMS    *notify.DevSMS     // the development SMS provider; nil unless Config.DevMailbox without --sms-url
	Web       *web.Server
	Metrics   *prometheus.Registry
	// Tracing exports OpenTelemetry spans of requests, jobs and plug-in
	// calls when a collector is configured (ADR 62); its Tracer is nil
	// otherwise.
	Tracing *tracing.Tracing

	// ObligationImport loads amounts agencies say people owe (portico
	// obligations import, POST /api/v1/obligations).
	ObligationImport *reminder.Importer
	// PayHooks sends payment webhooks to agency systems (GOV.UK Pay
	// style, signed, retried on Pay's schedule).
	PayHooks *webhook.PayHooks

	// Applications is the applying block (drafts, attachments, submission).
	Applications *application.Service
	// Feedback: what people tell us about the site (/feedback).
	Feedback *feedback.Service
	// Outcomes measures services from the event log (issue 13): the
	// KPIs of the console's dashboards and the public /performance.
	Outcomes *outcome.Service
	// Satisfaction: the survey at every end of a transaction
	// (/satisfaction) and the comments agencies read.
	Satisfaction *satisfaction.Survey
	// Payments takes money online: payments in GOV.UK Pay's states and
	// each agency's ledger (issue 12).
	Payments *payment.Service
	// LiveProvider names the provider that takes live payments: "stripe"
	// when a Stripe secret key is configured (it is then registered on
	// Payments), "" when none is (only the sandbox's test payments).
	LiveProvider string
	// Receipts: a paid checkout's receipt page, PDF and message, and the
	// online payments a case's history shows.
	Receipts *receipt.Service
	// PaymentKeys are agencies' API keys for /v1/payments (payapi).
	PaymentKeys *payapi.Keys
	// Sandbox is the built-in test payment provider (its test page is
	// /pay/sandbox/{ref}).
	Sandbox *payment.Sandbox
	// Plugins is the plug-in registry: manifests, enablement per agency,
	// access rights (ADR 31).
	Plugins *plugin.Service
	// Gateway calls plug-ins: access check, signed token, resilience,
	// response validation and audit (ADR 32).
	Gateway *gateway.Gateway
	// Webhooks delivers events to plug-ins by webhook, with dead letters
	// and replay.
	Webhooks *webhook.Service
	// Consents: a person's consent to share data with a plug-in, and
	// "Who has used my data" (ADR 35).
	Consents *consent.Service
	// Reports: report-a-problem services and Open311 GeoReport v2
	// (issue 13, docs/open311.md).
	Reports *report.Service

	files        *application.Files
	reportPhotos *blob.Bucket             // the attachments bucket for report photos
	stripe       *stripeprovider.Provider // nil without --stripe-secret-key
	inserter     *jobs.Inserter           // blocks' insert-only job client (DemoBlocks builds with it too)
	work         bool
	jobsStarted  bool
	listener     net.Listener
	http         *http.Server
	serveErr     chan error
	draining     atomic.Bool // set by Drain

	anchors *audit.Anchors // the audit checkpoints' anchor store
	// stopCheckpoints ends the audit checkpointer; checkpointsDone closes
	// when it has.
	stopCheckpoints context.CancelFunc
	checkpointsDone chan struct{}
}

// Options adjust New for commands and tests.
type Options struct {
	Clock   platform.Clock // default: the system clock
	Migrate bool           // apply migrations before starting
	Work    bool           // run background jobs in this process
	// Listen opens the HTTP listener before anything is built, so the
	// public URL derived from --addr with port 0 carries the bound port
	// and every block gets its final value (Start serves on it).
	Listen bool
	// Listener, when set, is that listener already open: for a test that
	// must know the port before the app is built (another site's settings
	// name it). New takes it over (closing it if New fails); cfg.Addr
	// should name its address, from which the public URL is derived.
	Listener net.Listener
	// ObserveSQL, when set, sees every statement the database pools run
	// (storage.Observer); the query-plan test records a page's SQL with it.
	ObserveSQL storage.Observer
	// Version is the program's version, for the traces' service.version.
	Version string
}

// NewLogger returns the process logger for cfg, writing to w.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	// Every line logged inside a span carries trace_id and span_id.
	if cfg.LogFormat == "json" {
		return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(tracing.LogHandler(slog.NewTextHandler(w, opts)))
}

// New opens storage and builds every block. cfg must have been Finished.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Logger: logger, Clock: opts.Clock, work: opts.Work, listener: opts.Listener}
	if a.Clock == nil {
		a.Clock = platform.SystemClock{}
	}
	db, err := storage.OpenWith(ctx, cfg.DB, storage.Options{Observe: opts.ObserveSQL})
	if err != nil {
		if a.listener != nil {
			a.listener.Close()
		}
		return nil, err
	}
	a.DB = db
	db.SetBulkYield(cfg.BulkYield)
	ok := false
	defer func() {
		if !ok {
			if a.listener != nil {
				a.listener.Close()
			}
			if a.Mailbox != nil {
				a.Mailbox.Close()
			}
			if a.files != nil {
				a.files.Close()
			}
			if a.anchors != nil {
				a.anchors.Close()
			}
			if a.NATS != nil {
				a.NATS.Close()
			}
			_ = a.Tracing.Shutdown(context.WithoutCancel(ctx))
			db.Close()
		}
	}()
	if opts.Migrate {
		rep, err := db.Migrate(ctx)
		if err != nil {
			return nil, err
		}
		if len(rep.Applied)+len(rep.RiverApplied) > 0 {
			logger.Info("migrations applied", "portico", rep.Applied, "river", rep.RiverApplied, "version", rep.Version)
		}
	}
	if opts.Listener != nil {
		cfg.PublicURL = boundPublicURL(cfg.PublicURL, opts.Listener.Addr())
		a.Config = cfg
	} else if opts.Listen && cfg.Role != "worker" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("app: listen on %s: %w", cfg.Addr, err)
		}
		a.listener = ln
		cfg.PublicURL = boundPublicURL(cfg.PublicURL, ln.Addr())
		a.Config = cfg
	}
	if !opts.Migrate {
		// Without this, a command on an unmigrated database would fail
		// below on a missing table instead of saying what to do.
		pending, err := db.Pending(ctx)
		if err != nil {
			return nil, err
		}
		if pending {
			return nil, fmt.Errorf("the database at %s needs migrating: run 'portico migrate' first", db)
		}
	}
	// The keys every replica shares (ADR 47): refused, not made anew, when
	// they are not the ones the database was sealed and signed with.
	keys, err := secrets.OpenKeys(ctx, db, secrets.KeySource{URL: cfg.KeyURL, Dir: cfg.KeysDir(), DB: db.String(),
		AuditKeyIDs: func(ctx context.Context) ([]string, error) { return audit.SignedBy(ctx, db) }})
	if err != nil {
		return nil, err
	}
	signer := audit.NewSigner(keys.Audit)
	if a.Tracing, err = tracing.New(ctx, tracing.Config{Endpoint: cfg.OTelEndpoint, FromEnv: cfg.OTelFromEnv, Version: opts.Version}); err != nil {
		return nil, err
	}
	tracer := a.Tracing.Tracer // nil when traces are off
	if a.anchors, err = audit.OpenAnchors(ctx, cfg.AuditAnchor); err != nil {
		return nil, err
	}
	a.Audit = audit.New(db, a.Clock, signer, audit.WithAnchors(a.anchors),
		audit.WithCheckpointEvery(cfg.AuditCheckpointEvery), audit.WithMaxCheckpointAge(cfg.AuditMaxCheckpointAge))
	if a.Tenancy, err = tenancy.New(db, a.Audit, a.Clock); err != nil {
		return nil, err
	}
	box, err := secrets.New(keys.Secrets)
	if err != nil {
		return nil, err
	}
	// The plug-in registry comes before the catalog: publishing checks
	// the plug-in operations a service uses against it.
	if a.Plugins, err = plugin.New(db, a.Audit, a.Clock, box, plugin.Config{EventTypes: EventTypes()}); err != nil {
		return nil, err
	}
	if a.Catalog, err = catalog.New(db, a.Audit, a.Clock, a.Tenancy, catalog.WithPlugins(a.PluginRefs())); err != nil {
		return nil, err
	}
	if a.Feedback, err = feedback.New(db, a.Audit, a.Clock); err != nil {
		return nil, err
	}
	if opts.Migrate {
		// Services published before the search index existed (migration
		// 00009) are indexed once; afterwards Publish keeps it in step.
		if err := a.Catalog.EnsureIndexed(ctx); err != nil {
			return nil, err
		}
	}

	// Construction order (docs/architecture.md, "Wiring"): the
	// insert-only job client and the registry come first, so every block
	// gets the client it enqueues with in its constructor and registers
	// its workers; then the blocks, each after the blocks it needs; then
	// the working job client, built from the registry once all workers are
	// in it. No block is given a dependency after it is built, except the
	// one cycle documented at newNotify.
	//
	// One queue configuration for both clients: the inserter applies its
	// insert-time settings (MaxAttempts), the working client the rest.
	jobsCfg := jobs.Config{
		Work:              opts.Work,
		Workers:           cfg.Workers,
		FetchCooldown:     cfg.JobFetchCooldown,
		FetchPollInterval: cfg.JobPollInterval,
		// A job left running by a process that died is retried after
		// this, not River's default hour (ADR 70).
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.JobRescueAfter,
		Logger:               logger,
		Middleware:           jobMiddleware(tracer),
		PeriodicJobs: []*river.PeriodicJob{
			jobs.Every(time.Minute, func() river.JobArgs { return audit.CheckpointArgs{} }, true),
			// Cases past their SLA: marked overdue (or moved on by the
			// workflow's system step) within a minute of falling due.
			jobs.Every(time.Minute, func() river.JobArgs { return casework.SLAArgs{} }, true),
			// Claims the reminders that are due and enqueues their emails.
			jobs.Every(time.Minute, func() river.JobArgs { return reminder.SweepArgs{} }, true),
			jobs.Every(application.SweepInterval, func() river.JobArgs { return application.SweepArgs{} }, true),
			jobs.Every(time.Hour, func() river.JobArgs { return oidc.PurgeArgs{} }, false),
			// Idempotency-Key records of /v1/payments are kept 24 hours.
			jobs.Every(time.Hour, func() river.JobArgs { return payapi.PurgeArgs{} }, false),
			// Checkouts whose return page was never visited are settled
			// from their provider; expired ones fail as a whole.
			jobs.Every(time.Minute, func() river.JobArgs { return payment.SettleArgs{} }, false),
		},
	}
	inserter, err := jobs.NewInserter(db, jobsCfg)
	if err != nil {
		return nil, fmt.Errorf("app: jobs: %w", err)
	}
	a.inserter = inserter
	reg := jobs.NewRegistry()
	a.Bus = events.NewBus(a.Clock)
	jobs.Register(reg, &audit.CheckpointWorker{Log: a.Audit})
	if err := a.newNotify(inserter, reg, opts, box); err != nil {
		return nil, err
	}
	if a.Identity, err = identity.New(identity.Config{PublicURL: cfg.PublicURL, SessionIdle: cfg.SessionIdle, SessionAbsolute: cfg.SessionMax},
		db, a.Audit, a.Clock, box, identityMailer{a.Notify}, a.Tenancy); err != nil {
		return nil, err
	}
	// The OpenID Provider signs the gateway's tokens; the gateway comes
	// before the blocks that call plug-ins (casework, applying).
	if a.OIDC, err = oidc.New(oidc.Config{Issuer: cfg.PublicURL}, db, a.Audit, a.Clock, box, a.Identity); err != nil {
		return nil, err
	}
	jobs.Register(reg, &oidc.PurgeWorker{Service: a.OIDC})
	if a.Satisfaction, err = satisfaction.New(db, a.Audit, a.Clock, a.Bus, surveyCatalog{a.Catalog, a.Tenancy}); err != nil {
		return nil, err
	}
	if a.Consents, err = consent.New(db, a.Audit, a.Bus, a.Clock, a.Catalog, a.Plugins, consent.Config{
		Subject: func(pluginID, account string) string { return gateway.PairwiseSubject(box, pluginID, account) }}); err != nil {
		return nil, err
	}
	gatewayMetrics := gateway.NewMetrics()
	if a.Gateway, err = gateway.New(a.Plugins, a.OIDC, a.Audit, box, a.Clock, gatewayMetrics, gateway.Config{Consents: a.Consents, Tracer: tracer, BreakerOpen: cfg.PluginBreakerOpen}); err != nil {
		return nil, err
	}
	if a.Reminders, err = reminder.New(db, a.Audit, a.Clock, inserter, reg, reminderDirectory{a.Identity, a.Notify}, reminderMailer{a.Notify},
		reminder.Config{PublicURL: func() string { return a.Config.PublicURL }, Zone: a.Tenancy.Zone, Counters: counters{a.Tenancy}, Appointments: appointments{a}, Bus: a.Bus}); err != nil {
		return nil, err
	}
	if a.ObligationImport, err = reminder.NewImporter(a.Reminders, a.ObligationImportDirectory(), 0); err != nil {
		return nil, err
	}
	if a.Casework, err = casework.New(db, a.Audit, a.Bus, a.Clock, a.caseworkDeps(a.Clock)); err != nil {
		return nil, err
	}
	jobs.Register(reg, &casework.SLAWorker{Cases: a.Casework})
	if a.Payments, err = payment.NewService(db, a.Audit, a.Bus, a.Clock, payment.WithJobs(inserter, reg)); err != nil {
		return nil, err
	}
	if cfg.StripeSecretKey != "" {
		sp, err := stripeprovider.New(stripeprovider.Config{SecretKey: cfg.StripeSecretKey, APIURL: cfg.StripeAPIURL, Retries: 2})
		if err != nil {
			return nil, err
		}
		a.Payments.Register(sp)
		a.stripe, a.LiveProvider = sp, stripeprovider.Name
	}
	if err := a.newReceipts(); err != nil {
		return nil, err
	}
	if a.PaymentKeys, err = payapi.NewKeys(db, a.Audit, a.Clock); err != nil {
		return nil, err
	}
	jobs.Register(reg, &payapi.PurgeWorker{Keys: a.PaymentKeys})
	jobs.Register(reg, &payment.SettleWorker{Payments: a.Payments})
	if a.Sandbox, err = payment.NewSandbox(db, a.Clock); err != nil {
		return nil, err
	}
	a.Payments.Register(a.Sandbox)
	// Fees and obligations paid online are marked paid by the blocks that
	// own them, from the payment's succeeded event.
	a.Bus.Subscribe(a.Casework.PaymentConsumer(paidFees{a.Payments}))
	a.Bus.Subscribe(a.Reminders.PaymentConsumer(paidObligations{a.Payments}))
	if a.Outcomes, err = outcome.New(db, a.Audit, a.Bus, a.Clock, a.Tenancy.Zone, outcomeDirectory{a}); err != nil {
		return nil, err
	}
	a.Bus.Subscribe(a.Outcomes.Consumer())
	jobs.Register(reg, &casework.PluginCallWorker{Cases: a.Casework})
	if err := a.newApplications(ctx, inserter, reg); err != nil {
		return nil, err
	}
	if err := a.newReports(ctx); err != nil {
		return nil, err
	}
	webhookMetrics := webhook.NewMetrics(db)
	if a.Webhooks, err = webhook.New(db, a.Audit, a.Clock, box, a.Plugins, a.Bus, inserter, reg, webhookMetrics,
		webhook.Config{EventTypes: EventTypes(), Logger: logger}); err != nil {
		return nil, err
	}
	if a.PayHooks, err = webhook.NewPayHooks(db, a.Audit, a.Clock, box, a.Payments, a.Bus, inserter, reg, webhook.PayConfig{Config: webhook.Config{Logger: logger},
		PublicURL: func() string { return a.Config.PublicURL }}); err != nil {
		return nil, err
	}
	a.Jobs, err = jobs.New(db, reg, jobsCfg)
	if err != nil {
		return nil, fmt.Errorf("app: jobs: %w", err)
	}
	// Workers drive the event consumers from the log (ADR 19); with --bus
	// one of them publishes every event to NATS JetStream (ADR 34).
	if cfg.Bus != "" && opts.Work {
		if a.NATS, err = natsbus.Open(ctx, natsbus.Config{URL: cfg.Bus, Stream: cfg.BusStream, Subjects: cfg.BusSubjects, Logger: logger}); err != nil {
			return nil, fmt.Errorf("--bus: %w", err)
		}
		a.Bus.Subscribe(a.NATS.Consumer())
	}
	if a.Events, err = events.NewDispatcher(db, a.Bus, events.DispatchConfig{Logger: logger}); err != nil {
		return nil, fmt.Errorf("app: events: %w", err)
	}

	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), jobs.NewCollector(db), events.NewCollector(db))
	a.Metrics.MustRegister(gatewayMetrics.Collectors()...)
	a.Metrics.MustRegister(outcome.NewCollector(db))
	a.Metrics.MustRegister(webhookMetrics.Collectors()...)
	if a.NATS != nil {
		a.Metrics.MustRegister(a.NATS.Collectors()...)
	}
	catalog, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	tiles, err := cfg.MapTilesOrigin()
	if err != nil {
		return nil, err
	}
	var images []string
	if tiles != "" {
		images = []string{tiles}
	}
	a.Web, err = web.New(web.Config{
		ImageOrigins:   images,
		SecureCookies:  cfg.HTTPS(),
		HSTS:           cfg.HTTPS(),
		Ready:          a.ready,
		TrustedProxies: cfg.Proxies,
		Zone:           a.Tenancy.Zone,
		Tracer:         tracer,
	}, logger, catalog, a.Metrics)
	if err != nil {
		return nil, err
	}
	if err := portal.Register(a.Web, portal.Options{Tenancy: a.Tenancy, Catalog: a.Catalog, Clock: a.Clock, Featured: cfg.Featured}); err != nil {
		return nil, err
	}
	idwCfg := identityweb.Config{SecureCookie: cfg.SecureContext()}
	if cfg.ExternalIssuer != "" {
		idwCfg.External = &identityweb.External{Name: cfg.ExternalName, Issuer: cfg.ExternalIssuer, ClientID: cfg.ExternalClientID, ClientSecret: cfg.ExternalClientSecret}
	}
	idw, err := identityweb.Register(a.Web, a.Identity, idwCfg)
	if err != nil {
		return nil, err
	}
	if err := console.Register(a.Web, idw, a.Identity, a.Tenancy, a.Casework, a.Catalog, a.Audit); err != nil {
		return nil, err
	}
	if err := pluginconsole.Register(a.Web, idw, a.Plugins, a.Gateway, a.Tenancy, a.Catalog); err != nil {
		return nil, err
	}
	if err := caseweb.Register(a.Web, idw, a.Casework, a.Identity, a.Catalog, a.Applications, a.Tenancy, a.Receipts, a.Plugins); err != nil {
		return nil, err
	}
	if err := receiptweb.Register(a.Web, a.Receipts, idw); err != nil {
		return nil, err
	}
	if err := feedbackweb.Register(a.Web, a.Feedback, idw); err != nil {
		return nil, err
	}
	if err := a.registerReports(idw); err != nil {
		return nil, err
	}
	if err := satisfactionweb.Register(a.Web, a.Satisfaction, idw); err != nil {
		return nil, err
	}
	if err := webhookweb.Register(a.Web, idw, a.Webhooks, a.Plugins, a.Tenancy); err != nil {
		return nil, err
	}
	// The finance console (/console/payments): refunds go through the
	// refund core (payment.Service.Refund), which answers with the refund.
	refund := func(ctx context.Context, actor platform.Actor, agency, id string, amount, expected int64, reason string) error {
		_, err := a.Payments.Refund(ctx, actor, agency, id, amount, expected, reason)
		return err
	}
	if err := financeweb.Register(a.Web, financeweb.Deps{Payments: a.Payments, Agencies: a.Tenancy, Cases: a.Casework, Refund: refund,
		Zone: a.Tenancy.Zone, Clock: a.Clock, Auth: idw, Staff: a.Identity}); err != nil {
		return nil, err
	}
	if err := outcomeweb.Register(a.Web, outcomeweb.Deps{Outcomes: a.Outcomes, Agencies: a.Tenancy, Services: a.Catalog, Auth: idw}); err != nil {
		return nil, err
	}
	if err := consentweb.Register(a.Web, consentweb.Deps{Consents: a.Consents, Agencies: a.Tenancy, Services: a.Catalog, Plugins: a.Plugins, Auth: idw}); err != nil {
		return nil, err
	}
	catw, err := catalogweb.Register(a.Web, a.Catalog, a.Tenancy, a.Clock)
	if err != nil {
		return nil, err
	}
	catw.SetReports(reportMatches{a.Reports})
	if err := reminderweb.Register(a.Web, a.Reminders, idw); err != nil {
		return nil, err
	}
	if err := applyweb.Register(a.Web, a.Applications, a.Tenancy, a.Notify); err != nil {
		return nil, err
	}
	if err := payweb.Register(a.Web, payweb.Deps{Payments: a.Payments, Sandbox: a.Sandbox, Cases: a.Casework, Obligations: a.Reminders,
		Agencies: a.Tenancy, Auth: idw, PublicURL: func() string { return a.Config.PublicURL }, Provider: a.LiveProvider,
		SurveyService: a.paidService}); err != nil {
		return nil, err
	}
	if err := todo.Register(a.Web, idw, todo.Blocks{Applications: a.Applications, Cases: a.Casework, Obligations: a.Reminders,
		Agencies: a.Tenancy, Services: a.Catalog, Inbox: a.Notify, Clock: a.Clock}); err != nil {
		return nil, err
	}
	if cfg.PublicURL != "" { // operator commands have no public URL and serve nothing
		if err := oidcweb.Register(a.Web, a.OIDC, idw); err != nil {
			return nil, err
		}
		a.API = api.New(a.Web, a.OIDC, a.Identity)
		(&api.Applications{Cases: a.Casework, Services: a.Catalog, Drafts: a.Applications}).Register(a.API)
		(&api.StaffCases{Cases: a.Casework, Services: a.Catalog}).Register(a.API)
		feed, err := eventfeed.New(db, a.Audit, feedClients{a.OIDC})
		if err != nil {
			return nil, err
		}
		(&api.Events{Feed: feed}).Register(a.API)
		(&api.Obligations{Importer: a.ObligationImport}).Register(a.API)
		catw.RegisterAPI(a.API)
		// Stripe's events settle checkouts; without a signing secret the
		// route is not served (the return page and the sweep settle).
		if a.stripe != nil && cfg.StripeWebhookSecret != "" {
			if err := stripeprovider.Register(a.Web, &stripeprovider.Webhook{Secret: cfg.StripeWebhookSecret, Charges: a.stripe,
				Payments: a.Payments, DB: db, Clock: a.Clock, Logger: logger}); err != nil {
				return nil, err
			}
		}
	}
	if a.Mailbox != nil {
		var texts notifyweb.Texts
		if a.DevSMS != nil {
			texts = a.DevSMS
		}
		if err := notifyweb.RegisterDevMailbox(a.Web, a.Mailbox, texts); err != nil {
			return nil, err
		}
	}
	if err := notifyweb.Register(a.Web, a.Notify, a.Tenancy); err != nil {
		return nil, err
	}
	notifyapi.Register(a.Web, notifyapi.New(a.Notify, a.DB, notifyapi.Config{
		BaseURL:    func() string { return a.Config.PublicURL },
		RateLimit:  cfg.NotifyRateLimit,
		DailyLimit: cfg.NotifyDailyLimit,
		Clock:      a.Clock,
		Logger:     logger,
	}))
	// The GOV.UK Pay-compatible API (docs/payments.md). Live keys'
	// payments go to Stripe when a Stripe provider is registered; until
	// then live creates are refused with 422.
	payAPI, err := payapi.New(db, a.Payments, a.PaymentKeys, a.Audit, payapi.Config{
		PublicURL:    func() string { return a.Config.PublicURL },
		LiveProvider: stripeprovider.Name,
		Clock:        a.Clock,
		Logger:       logger,
	})
	if err != nil {
		return nil, err
	}
	payapi.Register(a.Web, payAPI)
	ok = true
	return a, nil
}

// newNotify builds the notification block and registers its delivery
// workers in reg; sealer seals API keys and callback tokens. With Config.DevMailbox it first starts the development
// mailbox, which is then the SMTP server unless --smtp-url names another.
//
// The one cycle in the wiring is here: identity sends its emails through
// notify (so it is built after it), and notify's team API keys send to an
// agency's staff, which identity knows. TeamMembers therefore reads
// a.Identity when a request arrives, never during construction; New sets
// a.Identity before it returns, so no request can see it nil.
func (a *App) newNotify(ins *jobs.Inserter, reg *jobs.Registry, opts Options, sealer *secrets.Box) error {
	cfg := a.Config
	if cfg.DevMailbox {
		box, err := notify.StartDevMailbox(a.DB, a.Clock, a.Logger)
		if err != nil {
			return err
		}
		a.Mailbox = box
		a.Logger.Warn("development mailbox is on: every email is kept and shown at /dev/mailbox; never enable it in production",
			"smtp", box.Addr())
	}
	smtpURL := cfg.SMTPURL
	if smtpURL == "" && a.Mailbox != nil {
		smtpURL = a.Mailbox.SMTPURL()
	}
	ncfg := notify.Config{Audit: a.Audit, SMTPURL: smtpURL, From: cfg.MailFrom, Secrets: sealer, SMTPConnections: cfg.SMTPConnections, EmailBatch: cfg.EmailBatch,
		PublicURL: func() string { return a.Config.PublicURL },
		// Team API keys may send to the agency's staff (the cycle above).
		TeamMembers: func(ctx context.Context, agencyID string) ([]string, error) {
			members, err := a.Identity.AgencyMembers(ctx, agencyID)
			emails := make([]string, len(members))
			for i, m := range members {
				emails[i] = m.Email
			}
			return emails, err
		},
	}
	switch {
	case cfg.SMSURL != "":
		p, err := notify.ParseSMSURL(cfg.SMSURL)
		if err != nil {
			return fmt.Errorf("--sms-url: %w", err)
		}
		ncfg.SMS = p
	case a.Mailbox != nil:
		a.DevSMS = &notify.DevSMS{DB: a.DB, Clock: a.Clock}
		ncfg.SMS = a.DevSMS
	}
	svc, err := notify.New(a.DB, ins, reg, a.Clock, ncfg, a.Logger)
	if err != nil {
		return err
	}
	a.Notify = svc
	if svc.SMTP() == nil && opts.Work {
		a.Logger.Warn("no SMTP server configured (--smtp-url or PORTICO_SMTP_URL): emails will end as technical-failure")
	}
	return nil
}

// ready is the readiness check: the database answers and its schema is
// current. Its errors are shown on /readyz, so they stay free of secrets.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("draining: shutting down")
	}
	if err := a.DB.Ping(ctx); err != nil {
		return errors.New("database unreachable")
	}
	pending, err := a.DB.Pending(ctx)
	if err != nil {
		return errors.New("cannot read migration state")
	}
	if pending {
		return errors.New("migrations pending: run `portico migrate`")
	}
	return nil
}

// Start begins serving HTTP (unless the role is worker) and running jobs
// (if this process works them). It returns once the listener is open.
func (a *App) Start(ctx context.Context) error {
	// Every serving process appends to the audit log, so every one takes
	// the checkpoints due every N entries (the periodic job covers the
	// minute). Not ctx: it lives until Stop.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopCheckpoints, a.checkpointsDone = cancel, make(chan struct{})
	go func() {
		defer close(a.checkpointsDone)
		a.Audit.RunCheckpoints(cctx, a.Logger)
	}()
	if a.work {
		// Not ctx itself: River cancels running jobs when the context
		// given to Start ends, and ctx ends on SIGTERM. A delivery job
		// cancelled after the SMTP server accepted its email, before it
		// recorded that, would send the email again. Stop lets running
		// jobs finish instead, within its deadline.
		if err := a.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("app: start jobs: %w", err)
		}
		a.jobsStarted = true
		if err := a.Events.Start(ctx); err != nil {
			return fmt.Errorf("app: start events: %w", err)
		}
	}
	if a.Config.Role == "worker" {
		return nil
	}
	if a.listener == nil {
		ln, err := net.Listen("tcp", a.Config.Addr)
		if err != nil {
			return fmt.Errorf("app: listen on %s: %w", a.Config.Addr, err)
		}
		if boundPublicURL(a.Config.PublicURL, ln.Addr()) != a.Config.PublicURL {
			ln.Close()
			return errors.New("app: --addr with port 0 needs Options.Listen, so the blocks are built with the bound port")
		}
		a.listener = ln
	}
	ln := a.listener
	a.http = &http.Server{
		Handler:           a.closeWhileDraining(a.Web),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	a.serveErr = make(chan error, 1)
	go func() { a.serveErr <- a.http.Serve(ln) }()
	return nil
}

// Drain starts a stop: the listener closes, so new connections are refused
// (a load balancer sends the request to another replica, a POST too, since
// nothing was sent), while connections already open keep being served
// until Stop, each closed after its next response, and /readyz fails. A
// balancer that pools keep-alive connections thus never has one closed
// under a request on its way, which for a POST it could not retry; idle
// pooled connections are closed by the balancer's own keep-alive timeout,
// so drain for longer than it (docs/operations.md, "Rolling restarts").
// The listener closes first, not last: a connection the kernel accepted
// but the server had not yet taken is reset when the listener closes, and
// that is least likely while the balancer is still reusing its pool.
func (a *App) Drain() {
	a.draining.Store(true)
	if a.listener != nil {
		a.listener.Close()
	}
}

func (a *App) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A person's request in flight: bulk background work yields to
		// it (ADR 74).
		defer a.DB.Foreground()()
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// jobMiddleware traces every job attempt when tracer is set.
func jobMiddleware(tracer trace.Tracer) []rivertype.Middleware {
	if tracer == nil {
		return nil
	}
	return []rivertype.Middleware{&tracing.JobMiddleware{Tracer: tracer}}
}

// boundPublicURL completes a public URL derived from --addr with port 0
// ("http://localhost:0") with the port actually bound, so the OpenID
// issuer, links in emails and the passkey origin are right. Any other URL
// is returned as it is.
func boundPublicURL(public string, addr net.Addr) string {
	u, err := url.Parse(public)
	if err != nil || u.Port() != "0" {
		return public
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return public
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	return u.String()
}

// URL is where the HTTP server listens (useful with --addr :0).
func (a *App) URL() string {
	if a.listener == nil {
		return ""
	}
	return "http://" + a.listener.Addr().String()
}

// Wait blocks until ctx ends or the HTTP server fails.
func (a *App) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Stop drains HTTP requests and running jobs, then closes storage.
func (a *App) Stop(ctx context.Context) error {
	var errs []error
	if a.http != nil {
		if err := a.http.Shutdown(ctx); err != nil && !(a.draining.Load() && errors.Is(err, net.ErrClosed)) {
			errs = append(errs, err) // Drain closed the listener already
		}
	} else if a.listener != nil { // opened by New, never served
		a.listener.Close()
	}
	if a.jobsStarted {
		errs = append(errs, a.Events.Stop(ctx))
		if err := a.Jobs.Stop(ctx); err != nil {
			// Past the deadline: cancel what still runs (it is retried).
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, err, a.Jobs.StopAndCancel(cctx))
			cancel()
		}
	}
	if a.NATS != nil { // after the consumers: no publish is in flight
		a.NATS.Close()
	}
	if a.Notify != nil { // after the jobs: QUIT the SMTP connections they used
		a.Notify.Close()
	}
	if a.Mailbox != nil { // after the jobs, so deliveries in flight land
		errs = append(errs, a.Mailbox.Close())
	}
	if a.stopCheckpoints != nil {
		a.stopCheckpoints()
		<-a.checkpointsDone
	}
	if a.files != nil {
		errs = append(errs, a.files.Close())
	}
	if a.reportPhotos != nil {
		errs = append(errs, a.reportPhotos.Close())
	}
	errs = append(errs, a.Tracing.Shutdown(ctx)) // after the work whose spans it sends
	errs = append(errs, a.anchors.Close())
	errs = append(errs, a.DB.Close())
	return errors.Join(errs...)
}
