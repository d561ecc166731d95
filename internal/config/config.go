// Package config is the one Config struct for a Portico process, filled
// from command-line flags and PORTICO_* environment variables (flags win).
// It is passed to internal/app; nothing reads configuration globally.
package config

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is everything a Portico process is told.
type Config struct {
	Addr    string // listen address, host:port
	DataDir string // local state: SQLite file, keys, blobs
	DB      string // database URL; default sqlite under DataDir
	// KeyURL names where the process keys (the secrets key and the audit
	// signing key) come from when several processes share a database: a
	// gocloud.dev/secrets keeper URL (awskms://…, base64key://KEY) or
	// file:///path to a key-encryption key; the keys themselves are then
	// kept in the database, wrapped by it (ADR 47). Empty: the files in
	// DataDir/keys (one machine). Environment only or a flag; never logged.
	KeyURL    string
	PublicURL string // the URL people reach this site at
	LogLevel  slog.Level
	LogFormat string // "text" or "json"
	Role      string // "all", "web" or "worker"
	Workers   int    // job concurrency per process
	// JobFetchCooldown is the least time between two fetches of jobs by
	// this process's workers, JobPollInterval how often they look for new
	// jobs when nothing signals them (always on SQLite). Together with
	// Workers they bound background throughput: at most Workers jobs are
	// fetched per cooldown (ADR 61).
	JobFetchCooldown time.Duration
	JobPollInterval  time.Duration
	// JobTimeout bounds one attempt of a job. JobRescueAfter is how long a
	// job may stay running before it is presumed orphaned by a process
	// that died (kill -9, a lost machine) and is retried; it exceeds every
	// attempt's bound (JobTimeout, and webhook deliveries' own timeout plus
	// 30 s) by a minute, so a job still running is never run twice.
	JobTimeout     time.Duration
	JobRescueAfter time.Duration

	// PluginBreakerOpen is how long a plug-in's circuit breaker stays
	// open after it trips (default 30s): calls fail at once, and people
	// see that the agency's system is not answering, until one trial call
	// gets through.
	PluginBreakerOpen time.Duration
	// SMTPConnections bounds the open connections to the SMTP server this
	// process keeps and reuses for many messages (ADR 61).
	SMTPConnections int
	// EmailBatch is the most emails one batch delivery job carries (a
	// reminder send job's emails are delivered in batches, ADR 71).
	EmailBatch int
	// BulkYield is how long a bulk background step (a batch's
	// transaction) waits at most while people's requests are in flight
	// (ADR 74). 0 after Finish means the default; negative turns the
	// waiting off.
	BulkYield time.Duration
	// WorkerNice is the CPU niceness a --role worker process gives
	// itself at start (0 leaves it), so the web processes on the same
	// machine come first (ADR 74). Only `portico serve` applies it.
	WorkerNice int
	// SessionIdle and SessionMax bound citizen and staff sessions: ended
	// after this long without activity, and this long after sign-in.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// MapTiles is an https URL template of raster map tiles ({z}, {x},
	// {y}) for the report form's map, and MapAttribution the credit the
	// tile provider requires. Empty (the default): the map is a grid over
	// the service's area, and no outside origin is contacted.
	MapTiles, MapAttribution string
	// External OpenID Provider people may sign in with (e.g. Login.gov).
	ExternalIssuer, ExternalClientID, ExternalClientSecret, ExternalName string

	// Email (the notification block). SMTPURL is where mail is handed
	// over (see notify.ParseSMTPURL); empty means no server is configured
	// and deliveries fail as technical-failure. MailFrom is the sender;
	// Finish defaults it to no-reply@ the public URL's host. DevMailbox
	// runs the development mailbox (demo, or serve --dev-mailbox; never
	// in production) and, when SMTPURL is empty, sends to it.
	SMTPURL    string
	MailFrom   string
	DevMailbox bool
	// SMSURL names the SMS provider (see notify.ParseSMSURL); empty means
	// none (the development mailbox keeps text messages when it runs).
	// NotifyRateLimit and NotifyDailyLimit are the Notify-compatible API's
	// limits: requests per service and key type per 60 seconds, and
	// messages per service per day (0: Notify's 3000 and 250000; -1: off).
	SMSURL           string
	NotifyRateLimit  int
	NotifyDailyLimit int
	// ShutdownDrain is how long a stopping process keeps serving the
	// connections it has (its listener closed, readiness failing,
	// keep-alive off), so that a load balancer's pooled connections end at
	// a response rather than being cut while a request is on its way (a
	// POST cut that way is not retried).
	ShutdownDrain time.Duration

	// Featured are the service ids the home page lists, in order, until
	// there are submissions to rank services by (--featured-services).
	Featured []string

	// Attachments is the gocloud.dev/blob bucket URL for files people
	// upload with applications: file:///dir (default: DataDir/attachments)
	// or s3://bucket?region=… at scale.
	Attachments string

	// AuditAnchor is the gocloud.dev/blob bucket URL every signed audit
	// checkpoint is appended to, outside the database (default:
	// file://DataDir/audit-anchor; s3://… in production, the same for
	// every replica). AuditCheckpointEvery: a checkpoint is also taken
	// whenever a chain grows by this many entries (default 1000).
	// AuditMaxCheckpointAge: `audit verify` fails when a chain's newest
	// anchored checkpoint is older than this while entries follow it
	// (default 1h).
	AuditAnchor           string
	AuditCheckpointEvery  int
	AuditMaxCheckpointAge time.Duration

	// TrustedProxies is a comma-separated list of CIDR prefixes (or
	// addresses) of reverse proxies whose X-Forwarded-For Portico believes
	// when it needs the client's address (per-IP throttling, the audit
	// log). Empty: the connection's peer is the client.
	TrustedProxies string
	Proxies        []netip.Prefix // TrustedProxies parsed by Finish

	// Bus is the NATS server (nats://host:port, tls://…, or a
	// comma-separated list) worker processes publish every event to, in
	// JetStream (internal/events/natsbus); empty: no bus. BusStream and
	// BusSubjects name the stream and the subject prefix.
	Bus         string
	BusStream   string
	BusSubjects string

	// Stripe takes live payments when StripeSecretKey is set
	// (internal/payment/stripeprovider): sk_live_…, sk_test_… or a
	// restricted rk_… key. StripeWebhookSecret (whsec_…) verifies the
	// events Stripe sends to /webhooks/stripe; without it that route is
	// not served and payments settle from the return page and the settle
	// sweep only. StripeAPIURL replaces https://api.stripe.com (stripe-mock
	// in tests; http only on a loopback address).
	StripeSecretKey     string
	StripeWebhookSecret string
	StripeAPIURL        string

	// OTelEndpoint is the OTLP/HTTP collector (http://collector:4318)
	// spans are exported to (internal/tracing); empty: none, unless the
	// standard OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, which OTelFromEnv then
	// records. OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn
	// both off. OTelProtocol is OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL,
	// which Finish checks: only http/protobuf is spoken.
	OTelEndpoint string
	OTelFromEnv  bool
	OTelProtocol string
	otelOff      bool // OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
}

// Defaults.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultData = "./data"
	// DefaultAuditCheckpointEvery and DefaultAuditMaxCheckpointAge bound
	// what an attacker with database write access can remove from the
	// audit log unnoticed (docs/operations.md).
	DefaultAuditCheckpointEvery  = 1000
	DefaultAuditMaxCheckpointAge = time.Hour
	// Background work (ADR 61): River's own fetch cooldown is 100ms,
	// which held ten workers near 100 emails a second.
	DefaultJobFetchCooldown = 10 * time.Millisecond
	DefaultJobPollInterval  = 200 * time.Millisecond
	DefaultJobTimeout       = 5 * time.Minute
	DefaultJobRescueAfter   = 10 * time.Minute
	DefaultSMTPConnections  = 8
	DefaultEmailBatch       = 100
	DefaultBulkYield        = 50 * time.Millisecond
	DefaultWorkerNice       = 10
)

// Getenv looks up an environment variable; tests pass their own.
type Getenv func(string) string

// RegisterServe adds the flags of `portico serve` and `portico demo` to fs.
func (c *Config) RegisterServe(fs *flag.FlagSet, env Getenv, withDB bool) {
	fs.StringVar(&c.Addr, "addr", envOr(env, "PORTICO_ADDR", DefaultAddr), "listen address `host:port` (env PORTICO_ADDR)")
	c.RegisterStorage(fs, env, withDB)
	fs.StringVar(&c.PublicURL, "public-url", env("PORTICO_PUBLIC_URL"), "public `URL` of the site, e.g. https://services.example.gov (env PORTICO_PUBLIC_URL; default http://ADDR)")
	fs.StringVar(&c.MapTiles, "map-tiles", env("PORTICO_MAP_TILES"), "https `URL` template of map tiles for the report form, e.g. https://tile.example.org/{z}/{x}/{y}.png (env PORTICO_MAP_TILES; default none: a grid)")
	fs.StringVar(&c.MapAttribution, "map-attribution", env("PORTICO_MAP_ATTRIBUTION"), "credit shown under the map when --map-tiles is set (env PORTICO_MAP_ATTRIBUTION)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(env, "PORTICO_LOG_FORMAT", "text"), "log format: text or json (env PORTICO_LOG_FORMAT)")
	fs.TextVar(&c.LogLevel, "log-level", levelOr(env("PORTICO_LOG_LEVEL")), "log level: debug, info, warn, error (env PORTICO_LOG_LEVEL)")
	fs.StringVar(&c.Role, "role", envOr(env, "PORTICO_ROLE", "all"), "what this process does: all, web or worker (env PORTICO_ROLE)")
	fs.IntVar(&c.Workers, "workers", intOr(env("PORTICO_WORKERS"), 10), "concurrent background jobs in this process (env PORTICO_WORKERS)")
	fs.DurationVar(&c.PluginBreakerOpen, "plugin-breaker-open", durationOr(env("PORTICO_PLUGIN_BREAKER_OPEN"), 30*time.Second), "how long calls to a plug-in that keeps failing fail at once before one trial call (env PORTICO_PLUGIN_BREAKER_OPEN)")
	fs.DurationVar(&c.JobFetchCooldown, "job-fetch-cooldown", durationOr(env("PORTICO_JOB_FETCH_COOLDOWN"), DefaultJobFetchCooldown), "least time between two fetches of background jobs; with --workers it bounds jobs per second (env PORTICO_JOB_FETCH_COOLDOWN)")
	fs.DurationVar(&c.JobTimeout, "job-timeout", durationOr(env("PORTICO_JOB_TIMEOUT"), DefaultJobTimeout), "most time one attempt of a background job may take (env PORTICO_JOB_TIMEOUT)")
	fs.DurationVar(&c.JobRescueAfter, "job-rescue-after", durationOr(env("PORTICO_JOB_RESCUE_AFTER"), DefaultJobRescueAfter), "retry a job still marked running after this long: its process died (env PORTICO_JOB_RESCUE_AFTER; at least --job-timeout plus 1m)")
	fs.DurationVar(&c.JobPollInterval, "job-poll-interval", durationOr(env("PORTICO_JOB_POLL_INTERVAL"), DefaultJobPollInterval), "how often idle workers look for new jobs when nothing signals them, as on SQLite (env PORTICO_JOB_POLL_INTERVAL)")
	fs.IntVar(&c.SMTPConnections, "smtp-connections", intOr(env("PORTICO_SMTP_CONNECTIONS"), DefaultSMTPConnections), "most connections kept open to the SMTP server, each carrying many messages (env PORTICO_SMTP_CONNECTIONS)")
	fs.IntVar(&c.EmailBatch, "email-batch", intOr(env("PORTICO_EMAIL_BATCH"), DefaultEmailBatch), "most emails one batch delivery job sends (bulk reminders); each email keeps its own status and retries (env PORTICO_EMAIL_BATCH)")
	fs.DurationVar(&c.BulkYield, "bulk-yield", durationOr(env("PORTICO_BULK_YIELD"), DefaultBulkYield), "most time a bulk background step (a batch of reminders or emails) waits while people's requests are in flight; negative: never wait (env PORTICO_BULK_YIELD)")
	fs.IntVar(&c.WorkerNice, "worker-nice", intOr(env("PORTICO_WORKER_NICE"), DefaultWorkerNice), "with --role worker, lower this process's CPU priority to this niceness (0-19; 0 leaves it), so web processes on the machine come first (env PORTICO_WORKER_NICE)")
	fs.StringVar(&c.ExternalIssuer, "external-idp-issuer", env("PORTICO_EXTERNAL_IDP_ISSUER"), "issuer `URL` of an OpenID Provider people may sign in with, e.g. https://secure.login.gov (env PORTICO_EXTERNAL_IDP_ISSUER)")
	fs.StringVar(&c.ExternalClientID, "external-idp-client-id", env("PORTICO_EXTERNAL_IDP_CLIENT_ID"), "Portico's client id at that provider (env PORTICO_EXTERNAL_IDP_CLIENT_ID)")
	c.ExternalClientSecret = env("PORTICO_EXTERNAL_IDP_CLIENT_SECRET") // environment only: flags show in ps
	fs.StringVar(&c.ExternalName, "external-idp-name", envOr(env, "PORTICO_EXTERNAL_IDP_NAME", "Login.gov"), "the provider's name on the sign-in button (env PORTICO_EXTERNAL_IDP_NAME)")
	fs.DurationVar(&c.ShutdownDrain, "shutdown-drain", durationOr(env("PORTICO_SHUTDOWN_DRAIN"), 0), "on SIGTERM, refuse new connections but keep serving open ones this long, /readyz failing and every connection closed after its response, before stopping; set it above the load balancer's keep-alive timeout (env PORTICO_SHUTDOWN_DRAIN; docs/operations.md)")
	fs.DurationVar(&c.SessionIdle, "session-idle", durationOr(env("PORTICO_SESSION_IDLE"), 30*time.Minute), "sign people out after this long without activity (env PORTICO_SESSION_IDLE)")
	fs.DurationVar(&c.SessionMax, "session-max", durationOr(env("PORTICO_SESSION_MAX"), 12*time.Hour), "sign people out this long after they signed in (env PORTICO_SESSION_MAX)")
	fs.StringVar(&c.SMTPURL, "smtp-url", env("PORTICO_SMTP_URL"), "SMTP server for email: smtp://user:pass@host:port?tls=none|starttls|tls (env PORTICO_SMTP_URL, preferred: it keeps the password out of the process list)")
	fs.StringVar(&c.SMSURL, "sms-url", env("PORTICO_SMS_URL"), "SMS provider: twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15555550100 (env PORTICO_SMS_URL, preferred: it keeps the token out of the process list)")
	fs.IntVar(&c.NotifyRateLimit, "notify-rate-limit", intOr(env("PORTICO_NOTIFY_RATE_LIMIT"), 0), "Notify API: sends per service and key type per 60 seconds (env PORTICO_NOTIFY_RATE_LIMIT; 0 = 3000, -1 = no limit)")
	fs.IntVar(&c.NotifyDailyLimit, "notify-daily-limit", intOr(env("PORTICO_NOTIFY_DAILY_LIMIT"), 0), "Notify API: messages per service per day (env PORTICO_NOTIFY_DAILY_LIMIT; 0 = 250000, -1 = no limit)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("PORTICO_TRUSTED_PROXIES"), "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed, e.g. 10.0.0.0/8 (env PORTICO_TRUSTED_PROXIES; default none)")
	fs.IntVar(&c.AuditCheckpointEvery, "audit-checkpoint-every", intOr(env("PORTICO_AUDIT_CHECKPOINT_EVERY"), 0), "sign and anchor an audit checkpoint whenever a chain grows by this many entries, as well as every minute (env PORTICO_AUDIT_CHECKPOINT_EVERY; default 1000)")
	fs.Func("featured-services", "comma-separated service `ids` the home page lists until there are submissions to rank services by (env PORTICO_FEATURED_SERVICES; the demo's own list in portico demo)", func(v string) error {
		c.Featured = splitList(v)
		return nil
	})
	if v := env("PORTICO_FEATURED_SERVICES"); v != "" {
		c.Featured = splitList(v)
	}
	fs.StringVar(&c.Bus, "bus", env("PORTICO_BUS"), "NATS `URL` to publish every event to with JetStream, e.g. nats://127.0.0.1:4222 (env PORTICO_BUS; default none)")
	fs.StringVar(&c.BusStream, "bus-stream", envOr(env, "PORTICO_BUS_STREAM", "PORTICO_EVENTS"), "JetStream stream `name` for --bus (env PORTICO_BUS_STREAM)")
	fs.StringVar(&c.BusSubjects, "bus-subjects", envOr(env, "PORTICO_BUS_SUBJECTS", "portico.events"), "subject `prefix` for --bus: each event goes to PREFIX.TYPE (env PORTICO_BUS_SUBJECTS)")
	fs.StringVar(&c.StripeSecretKey, "stripe-secret-key", env("PORTICO_STRIPE_SECRET_KEY"), "Stripe secret `key` (sk_live_…, sk_test_… or rk_…): Stripe becomes the live payment provider (env PORTICO_STRIPE_SECRET_KEY, preferred: it keeps the key out of the process list)")
	fs.StringVar(&c.StripeWebhookSecret, "stripe-webhook-secret", env("PORTICO_STRIPE_WEBHOOK_SECRET"), "signing `secret` (whsec_…) of the Stripe webhook endpoint https://PUBLIC-URL/webhooks/stripe (env PORTICO_STRIPE_WEBHOOK_SECRET, preferred)")
	c.registerOTel(fs, env)
	fs.StringVar(&c.StripeAPIURL, "stripe-api-url", env("PORTICO_STRIPE_API_URL"), "Stripe API base `URL` instead of https://api.stripe.com, e.g. stripe-mock's http://127.0.0.1:12111 (env PORTICO_STRIPE_API_URL)")
	fs.StringVar(&c.MailFrom, "mail-from", env("PORTICO_MAIL_FROM"), "sender of email, e.g. \"State of Example <no-reply@services.example.gov>\" (env PORTICO_MAIL_FROM; default no-reply@ the public URL's host)")
}

// RegisterStorage adds --data and, when withDB, --db.
func (c *Config) RegisterStorage(fs *flag.FlagSet, env Getenv, withDB bool) {
	fs.StringVar(&c.DataDir, "data", envOr(env, "PORTICO_DATA", DefaultData), "data `directory` for the SQLite database and keys (env PORTICO_DATA)")
	if withDB {
		fs.StringVar(&c.DB, "db", env("PORTICO_DB"), "database `URL`: sqlite:///path/portico.db or postgres://… (env PORTICO_DB; default sqlite in --data)")
		fs.StringVar(&c.Attachments, "attachments", env("PORTICO_ATTACHMENTS"), "bucket `URL` for uploaded files: file:///dir or s3://bucket?region=… (env PORTICO_ATTACHMENTS; default a directory in --data)")
		fs.StringVar(&c.KeyURL, "key-url", env("PORTICO_KEY_URL"), "`URL` of the key that wraps the secrets and audit keys every replica shares: awskms://KEY_ID?region=…, file:///path/to/kek or base64key://KEY (env PORTICO_KEY_URL, preferred: base64key:// URLs are keys; default the files in --data/keys)")
		fs.StringVar(&c.AuditAnchor, "audit-anchor", env("PORTICO_AUDIT_ANCHOR"), "bucket `URL` every signed audit checkpoint is appended to, outside the database: file:///dir or s3://bucket?region=…; the same for every replica (env PORTICO_AUDIT_ANCHOR; default a directory in --data)")
	}
}

func envOr(env Getenv, key, def string) string {
	if v := env(key); v != "" {
		return v
	}
	return def
}

func intOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// RegisterAuditVerify adds the flags only `portico audit verify` reads.
func (c *Config) RegisterAuditVerify(fs *flag.FlagSet, env Getenv) {
	fs.DurationVar(&c.AuditMaxCheckpointAge, "max-checkpoint-age", durationOr(env("PORTICO_AUDIT_MAX_CHECKPOINT_AGE"), DefaultAuditMaxCheckpointAge),
		"fail when a chain's newest anchored checkpoint is older than this while entries follow it (env PORTICO_AUDIT_MAX_CHECKPOINT_AGE; at least 2m)")
}

func durationOr(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	return def
}

func levelOr(s string) slog.Level {
	var l slog.Level
	if s == "" || l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// Finish fills derived defaults and validates. Its errors name the flag.
func (c *Config) Finish() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("--data %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.DB == "" {
		// Escaped, so a data directory with "#" or "?" in its name works.
		c.DB = (&url.URL{Scheme: "sqlite", Path: filepath.ToSlash(filepath.Join(c.DataDir, "portico.db"))}).String()
	}
	if c.Attachments == "" {
		c.Attachments = (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(c.DataDir, "attachments")), RawQuery: "create_dir=1&no_tmp_dir=1"}).String()
	}
	if c.AuditAnchor == "" {
		c.AuditAnchor = (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(c.DataDir, "audit-anchor")), RawQuery: "create_dir=1&no_tmp_dir=1&metadata=skip"}).String()
	}
	if c.AuditCheckpointEvery == 0 {
		c.AuditCheckpointEvery = DefaultAuditCheckpointEvery
	}
	if c.AuditCheckpointEvery < 1 {
		return fmt.Errorf("--audit-checkpoint-every %d must be at least 1", c.AuditCheckpointEvery)
	}
	if c.AuditMaxCheckpointAge == 0 {
		c.AuditMaxCheckpointAge = DefaultAuditMaxCheckpointAge
	}
	// Checkpoints are taken every minute; a shorter limit would fail a
	// healthy log between two of them.
	if c.AuditMaxCheckpointAge < 2*time.Minute {
		return fmt.Errorf("--max-checkpoint-age %s must be at least 2m (checkpoints are taken every minute)", c.AuditMaxCheckpointAge)
	}
	if c.Addr != "" {
		host, port, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("--addr %q is not host:port (for example 127.0.0.1:8080 or :8080)", c.Addr)
		}
		if port == "" {
			return fmt.Errorf("--addr %q has no port", c.Addr)
		}
		if c.PublicURL == "" {
			// Browsers treat localhost as a secure context and accept it
			// as a passkey relying party; a bare IP address is neither.
			if ip := net.ParseIP(host); host == "" || ip != nil && (ip.IsUnspecified() || ip.IsLoopback()) {
				host = "localhost"
			}
			c.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q must be an absolute http or https URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("--log-format %q must be text or json", c.LogFormat)
	}
	switch c.Role {
	case "", "all", "web", "worker":
	default:
		return fmt.Errorf("--role %q must be all, web or worker", c.Role)
	}
	if c.Role == "" {
		c.Role = "all"
	}
	if c.SessionIdle < 0 || c.SessionIdle > 0 && c.SessionIdle < time.Minute {
		return fmt.Errorf("--session-idle %s must be at least 1m", c.SessionIdle)
	}
	if c.SessionMax < 0 || c.SessionMax > 0 && c.SessionMax < c.SessionIdle {
		return fmt.Errorf("--session-max %s must be at least --session-idle (%s)", c.SessionMax, c.SessionIdle)
	}
	if c.ExternalIssuer != "" {
		u, err := url.Parse(c.ExternalIssuer)
		if err != nil || u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback())) || u.Host == "" {
			return fmt.Errorf("--external-idp-issuer %q must be an https URL (http only on localhost)", c.ExternalIssuer)
		}
		if c.ExternalClientID == "" {
			return fmt.Errorf("--external-idp-client-id is required with --external-idp-issuer")
		}
	}
	if c.Workers == 0 {
		c.Workers = 10
	}
	if c.Workers < 1 || c.Workers > 1000 {
		return fmt.Errorf("--workers %d must be between 1 and 1000", c.Workers)
	}
	if c.JobFetchCooldown == 0 {
		c.JobFetchCooldown = DefaultJobFetchCooldown
	}
	if c.JobPollInterval == 0 {
		c.JobPollInterval = DefaultJobPollInterval
	}
	if c.JobFetchCooldown < time.Millisecond || c.JobFetchCooldown > time.Minute {
		return fmt.Errorf("--job-fetch-cooldown %s must be between 1ms and 1m", c.JobFetchCooldown)
	}
	if c.JobPollInterval < c.JobFetchCooldown || c.JobPollInterval > time.Hour {
		return fmt.Errorf("--job-poll-interval %s must be at least --job-fetch-cooldown (%s) and at most 1h", c.JobPollInterval, c.JobFetchCooldown)
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.JobRescueAfter == 0 {
		c.JobRescueAfter = DefaultJobRescueAfter
	}
	if c.JobTimeout < time.Second || c.JobTimeout > time.Hour {
		return fmt.Errorf("--job-timeout %s must be between 1s and 1h", c.JobTimeout)
	}
	if c.JobRescueAfter < c.JobTimeout+time.Minute || c.JobRescueAfter > 24*time.Hour {
		return fmt.Errorf("--job-rescue-after %s must be at least --job-timeout (%s) plus 1m, and at most 24h: a job still running must not be run twice", c.JobRescueAfter, c.JobTimeout)
	}
	if c.PluginBreakerOpen == 0 {
		c.PluginBreakerOpen = 30 * time.Second
	}
	if c.PluginBreakerOpen < time.Second || c.PluginBreakerOpen > time.Hour {
		return fmt.Errorf("--plugin-breaker-open %s must be between 1s and 1h", c.PluginBreakerOpen)
	}
	if c.SMTPConnections == 0 {
		c.SMTPConnections = DefaultSMTPConnections
	}
	if c.SMTPConnections < 1 || c.SMTPConnections > 1000 {
		return fmt.Errorf("--smtp-connections %d must be between 1 and 1000", c.SMTPConnections)
	}
	if c.EmailBatch == 0 {
		c.EmailBatch = DefaultEmailBatch
	}
	if c.EmailBatch < 1 || c.EmailBatch > 1000 {
		return fmt.Errorf("--email-batch %d must be between 1 and 1000", c.EmailBatch)
	}
	if c.BulkYield == 0 {
		c.BulkYield = DefaultBulkYield
	}
	if c.BulkYield > time.Second {
		return fmt.Errorf("--bulk-yield %s must be at most 1s", c.BulkYield)
	}
	if c.WorkerNice < 0 || c.WorkerNice > 19 {
		return fmt.Errorf("--worker-nice %d must be between 0 and 19", c.WorkerNice)
	}
	if c.Proxies, err = ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.Bus != "" {
		if err := ValidateBus(c.Bus); err != nil {
			return fmt.Errorf("--bus: %w", err)
		}
	}
	if err := c.finishStripe(); err != nil {
		return err
	}
	if err := c.finishOTel(); err != nil {
		return err
	}
	if c.MailFrom == "" {
		c.MailFrom = "no-reply@localhost"
		// An IP address is not a mail domain (it would need [brackets]),
		// and neither is localhost.
		host := ""
		if u, err := url.Parse(c.PublicURL); err == nil {
			host = u.Hostname()
		}
		if host != "" && net.ParseIP(host) == nil && !strings.EqualFold(host, "localhost") {
			if _, err := mail.ParseAddress("no-reply@" + host); err == nil {
				c.MailFrom = "no-reply@" + host
			}
		}
		// Mail handed to a real server from no-reply@localhost is refused
		// or filtered as spam by the people's mail providers, silently:
		// say so at start instead. The development mailbox keeps it.
		if c.MailFrom == "no-reply@localhost" && c.SMTPURL != "" {
			return fmt.Errorf("--mail-from is needed with --smtp-url: the public URL %q has no mail domain (it is an address or localhost), so email would come from no-reply@localhost, which mail providers refuse; set --mail-from \"Name <no-reply@your-domain.gov>\" or --public-url https://your-domain.gov", c.PublicURL)
		}
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("--mail-from %q is not an email address (want name@example.gov or \"Name <name@example.gov>\")", c.MailFrom)
	}
	return nil
}

// finishStripe checks the Stripe settings. Its errors never quote a key
// or a secret, only what kind of value was expected.
func (c *Config) finishStripe() error {
	c.StripeSecretKey = strings.TrimSpace(c.StripeSecretKey)
	c.StripeWebhookSecret = strings.TrimSpace(c.StripeWebhookSecret)
	if k := c.StripeSecretKey; k != "" && !strings.HasPrefix(k, "sk_live_") && !strings.HasPrefix(k, "sk_test_") && !strings.HasPrefix(k, "rk_live_") && !strings.HasPrefix(k, "rk_test_") {
		return fmt.Errorf("--stripe-secret-key must be a Stripe secret key (sk_live_…, sk_test_…) or restricted key (rk_…); a publishable key (pk_…) cannot take payments")
	}
	if c.StripeWebhookSecret != "" {
		if c.StripeSecretKey == "" {
			return fmt.Errorf("--stripe-webhook-secret needs --stripe-secret-key: the webhook reads each payment's state from Stripe")
		}
		if !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
			return fmt.Errorf("--stripe-webhook-secret must be the endpoint's signing secret (whsec_…), shown with the endpoint in Stripe's dashboard")
		}
	}
	if c.StripeAPIURL != "" {
		u, err := url.Parse(c.StripeAPIURL)
		loopback := err == nil && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback())
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopback) {
			return fmt.Errorf("--stripe-api-url %q must be an https URL with only a host (http only on a loopback address, for stripe-mock)", RedactURLs(c.StripeAPIURL))
		}
		if c.StripeSecretKey == "" {
			return fmt.Errorf("--stripe-api-url needs --stripe-secret-key")
		}
	}
	return nil
}

// ValidateBus checks a --bus value: one or more comma-separated nats:// or
// tls:// URLs, each with a host and nothing after the port. Its error
// names the URL without its password.
func ValidateBus(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("no NATS URL given")
	}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		if err != nil {
			return fmt.Errorf("%q is not a URL", RedactURLs(part))
		}
		if u.Scheme != "nats" && u.Scheme != "tls" {
			return fmt.Errorf("%q must start with nats:// (or tls://), e.g. nats://127.0.0.1:4222", RedactURLs(part))
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%q has no host", RedactURLs(part))
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%q must be only a scheme, host and port", RedactURLs(part))
		}
	}
	return nil
}

// RedactURLs hides the passwords of a URL or a comma-separated list of
// them, for logs and messages.
func RedactURLs(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = "(a URL with credentials)"
		}
	}
	return strings.Join(parts, ",")
}

// MapTilesOrigin checks MapTiles and MapAttribution and returns the
// tiles' origin (for the img-src of the Content-Security-Policy), or ""
// when no tiles are configured.
func (c *Config) MapTilesOrigin() (string, error) {
	if c.MapTiles == "" {
		return "", nil
	}
	u, err := url.Parse(c.MapTiles)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(u.Host, "{}*") {
		return "", fmt.Errorf("config: --map-tiles %q must be an https URL such as https://tile.example.org/{z}/{x}/{y}.png", c.MapTiles)
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(c.MapTiles, p) {
			return "", fmt.Errorf("config: --map-tiles %q lacks %s", c.MapTiles, p)
		}
	}
	if strings.TrimSpace(c.MapAttribution) == "" {
		return "", fmt.Errorf("config: --map-tiles needs --map-attribution: the credit the tile provider requires")
	}
	return u.Scheme + "://" + u.Host, nil
}

// HTTPS reports whether the public URL is https.
func (c *Config) HTTPS() bool { return strings.HasPrefix(c.PublicURL, "https://") }

// KeysDir is the key directory: the keys themselves without a key URL,
// and where an upgrade to a key URL moves them from.
func (c *Config) KeysDir() string { return filepath.Join(c.DataDir, "keys") }

// SecureContext reports whether browsers treat the site as a secure
// context, so cookies may be Secure and use the __Host- prefix: served over
// HTTPS, or on a loopback address (the demo).
func (c *Config) SecureContext() bool {
	if c.HTTPS() {
		return true
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or
// single addresses ("10.0.0.0/8, 192.0.2.7").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// registerOTel adds --otel-endpoint and reads the standard OpenTelemetry
// variables that decide whether spans are exported at all.
func (c *Config) registerOTel(fs *flag.FlagSet, env Getenv) {
	fs.StringVar(&c.OTelEndpoint, "otel-endpoint", env("PORTICO_OTEL_ENDPOINT"), "export OpenTelemetry traces to this OTLP/HTTP collector `URL`, e.g. http://localhost:4318 (env PORTICO_OTEL_ENDPOINT; the standard OTEL_EXPORTER_OTLP_ENDPOINT works too; default: no traces)")
	c.OTelFromEnv = env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	c.OTelProtocol = envOr(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env("OTEL_EXPORTER_OTLP_PROTOCOL"))
	c.otelOff = strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(env("OTEL_TRACES_EXPORTER"), "none")
}

// finishOTel applies the off switches (after the flags are parsed, so they
// win over --otel-endpoint too) and checks the endpoint and protocol.
func (c *Config) finishOTel() error {
	if c.otelOff {
		c.OTelEndpoint, c.OTelFromEnv = "", false
	}
	if c.OTelEndpoint != "" {
		u, err := url.Parse(c.OTelEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--otel-endpoint %q must be the http or https URL of an OTLP/HTTP collector, such as http://localhost:4318", RedactURLs(c.OTelEndpoint))
		}
	}
	if (c.OTelEndpoint != "" || c.OTelFromEnv) && c.OTelProtocol != "" && c.OTelProtocol != "http/protobuf" {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported: Portico exports traces by OTLP over HTTP (http/protobuf, usually port 4318)", c.OTelProtocol)
	}
	return nil
}
