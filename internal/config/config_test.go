package config_test

import (
	"flag"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/config"
)

func parse(t *testing.T, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterServe(fs, func(k string) string { return env[k] }, true)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Finish()
}

func TestFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(c config.Config) bool
		wantErr string
	}{
		{name: "defaults", check: func(c config.Config) bool {
			return c.Addr == "127.0.0.1:8080" && strings.HasSuffix(c.DB, "/data/portico.db") && c.PublicURL == "http://localhost:8080" && c.Role == "all"
		}},
		{name: "env", env: map[string]string{"PORTICO_ADDR": ":9090", "PORTICO_DATA": "/tmp/p"}, check: func(c config.Config) bool {
			return c.Addr == ":9090" && c.DB == "sqlite:///tmp/p/portico.db" && c.PublicURL == "http://localhost:9090"
		}},
		{name: "flag beats env", env: map[string]string{"PORTICO_ADDR": ":9090"}, args: []string{"--addr", "127.0.0.1:7000"}, check: func(c config.Config) bool {
			return c.Addr == "127.0.0.1:7000"
		}},
		{name: "https public url", args: []string{"--public-url", "https://services.example.gov/"}, check: func(c config.Config) bool {
			return c.HTTPS() && c.PublicURL == "https://services.example.gov"
		}},
		{name: "bad addr", args: []string{"--addr", "8080"}, wantErr: "--addr"},
		{name: "bad public url", args: []string{"--public-url", "services.example.gov"}, wantErr: "--public-url"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "bad role", args: []string{"--role", "queen"}, wantErr: "--role"},
		{name: "bad workers", args: []string{"--workers", "-3"}, wantErr: "--workers"},
		{name: "background work defaults", check: func(c config.Config) bool {
			return c.Workers == 10 && c.JobFetchCooldown == 10*time.Millisecond && c.JobPollInterval == 200*time.Millisecond && c.SMTPConnections == 8 && c.EmailBatch == 100
		}},
		{name: "background work from env", env: map[string]string{"PORTICO_WORKERS": "40", "PORTICO_JOB_FETCH_COOLDOWN": "2ms", "PORTICO_JOB_POLL_INTERVAL": "1s", "PORTICO_SMTP_CONNECTIONS": "3", "PORTICO_EMAIL_BATCH": "25"},
			check: func(c config.Config) bool {
				return c.Workers == 40 && c.JobFetchCooldown == 2*time.Millisecond && c.JobPollInterval == time.Second && c.SMTPConnections == 3 && c.EmailBatch == 25
			}},
		{name: "cooldown below a millisecond", args: []string{"--job-fetch-cooldown", "100us"}, wantErr: "--job-fetch-cooldown"},
		{name: "poll interval shorter than the cooldown", args: []string{"--job-fetch-cooldown", "50ms", "--job-poll-interval", "20ms"}, wantErr: "--job-poll-interval"},
		{name: "bad SMTP connections", args: []string{"--smtp-connections", "-1"}, wantErr: "--smtp-connections"},
		{name: "email batch too large", args: []string{"--email-batch", "5000"}, wantErr: "--email-batch"},
		{name: "priority defaults", check: func(c config.Config) bool {
			return c.BulkYield == 50*time.Millisecond && c.WorkerNice == 10
		}},
		{name: "priority from env", env: map[string]string{"PORTICO_BULK_YIELD": "-1ms", "PORTICO_WORKER_NICE": "0"}, check: func(c config.Config) bool {
			return c.BulkYield < 0 && c.WorkerNice == 0
		}},
		{name: "bulk yield too long", args: []string{"--bulk-yield", "2s"}, wantErr: "--bulk-yield"},
		{name: "worker nice out of range", args: []string{"--worker-nice", "20"}, wantErr: "--worker-nice"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "log-level"},
		{name: "audit anchor default", env: map[string]string{"PORTICO_DATA": "/tmp/p"}, check: func(c config.Config) bool {
			return c.AuditAnchor == "file:///tmp/p/audit-anchor?create_dir=1&no_tmp_dir=1&metadata=skip" && c.AuditCheckpointEvery == 1000 && c.AuditMaxCheckpointAge == time.Hour
		}},
		{name: "audit anchor from env", env: map[string]string{"PORTICO_AUDIT_ANCHOR": "s3://audit?region=us-east-1", "PORTICO_AUDIT_CHECKPOINT_EVERY": "50"}, check: func(c config.Config) bool {
			return c.AuditAnchor == "s3://audit?region=us-east-1" && c.AuditCheckpointEvery == 50
		}},
		{name: "no bus by default", check: func(c config.Config) bool {
			return c.Bus == "" && c.BusStream == "PORTICO_EVENTS" && c.BusSubjects == "portico.events"
		}},
		{name: "bus from env", env: map[string]string{"PORTICO_BUS": "nats://127.0.0.1:4222", "PORTICO_BUS_STREAM": "EVENTS"}, check: func(c config.Config) bool {
			return c.Bus == "nats://127.0.0.1:4222" && c.BusStream == "EVENTS"
		}},
		{name: "bus cluster", args: []string{"--bus", "nats://a:4222, tls://u:p@b:4222"}, check: func(c config.Config) bool {
			return c.Bus == "nats://a:4222, tls://u:p@b:4222"
		}},
		{name: "bus not nats", args: []string{"--bus", "http://127.0.0.1:4222"}, wantErr: "--bus: \"http://127.0.0.1:4222\" must start with nats://"},
		{name: "bus without host", args: []string{"--bus", "nats://:4222"}, wantErr: "has no host"},
		{name: "bus with a path", args: []string{"--bus", "nats://h:4222/x"}, wantErr: "only a scheme, host and port"},
		{name: "bus password not echoed", args: []string{"--bus", "http://user:secret@h:4222"}, wantErr: "user:xxxxx@h"},
		{name: "bad checkpoint interval", args: []string{"--audit-checkpoint-every", "-1"}, wantErr: "--audit-checkpoint-every"},
		{name: "no Stripe by default", check: func(c config.Config) bool {
			return c.StripeSecretKey == "" && c.StripeWebhookSecret == "" && c.StripeAPIURL == ""
		}},
		{name: "Stripe from env", env: map[string]string{"PORTICO_STRIPE_SECRET_KEY": "sk_test_abc", "PORTICO_STRIPE_WEBHOOK_SECRET": "whsec_abc", "PORTICO_STRIPE_API_URL": "http://127.0.0.1:12111"}, check: func(c config.Config) bool {
			return c.StripeSecretKey == "sk_test_abc" && c.StripeWebhookSecret == "whsec_abc" && c.StripeAPIURL == "http://127.0.0.1:12111"
		}},
		{name: "Stripe flags", args: []string{"--stripe-secret-key", "rk_live_abc", "--stripe-webhook-secret", "whsec_x", "--stripe-api-url", "https://stripe-proxy.example.gov"}, check: func(c config.Config) bool {
			return c.StripeSecretKey == "rk_live_abc" && c.StripeWebhookSecret == "whsec_x"
		}},
		{name: "Stripe publishable key", args: []string{"--stripe-secret-key", "pk_live_SECRETISH"}, wantErr: "--stripe-secret-key must be a Stripe secret key"},
		{name: "Stripe webhook secret without a key", args: []string{"--stripe-webhook-secret", "whsec_x"}, wantErr: "--stripe-webhook-secret needs --stripe-secret-key"},
		{name: "Stripe webhook secret of another kind", args: []string{"--stripe-secret-key", "sk_test_a", "--stripe-webhook-secret", "sk_test_a"}, wantErr: "whsec_"},
		{name: "Stripe API over http off loopback", args: []string{"--stripe-secret-key", "sk_test_a", "--stripe-api-url", "http://stripe.example.com"}, wantErr: "--stripe-api-url"},
		{name: "Stripe API URL with a path", args: []string{"--stripe-secret-key", "sk_test_a", "--stripe-api-url", "https://h.example/v1"}, wantErr: "--stripe-api-url"},
		{name: "Stripe API URL without a key", args: []string{"--stripe-api-url", "http://127.0.0.1:12111"}, wantErr: "--stripe-api-url needs --stripe-secret-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.env, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config = %+v, err = %v", c, err)
			}
		})
	}
}

func TestMaxCheckpointAge(t *testing.T) {
	tests := []struct {
		env     string
		args    []string
		want    time.Duration
		wantErr string
	}{
		{want: time.Hour},
		{env: "15m", want: 15 * time.Minute},
		{env: "15m", args: []string{"--max-checkpoint-age", "24h"}, want: 24 * time.Hour},
		{args: []string{"--max-checkpoint-age", "30s"}, wantErr: "--max-checkpoint-age 30s must be at least 2m"},
		{args: []string{"--max-checkpoint-age", "soon"}, wantErr: "max-checkpoint-age"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			var c config.Config
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			env := func(k string) string {
				if k == "PORTICO_AUDIT_MAX_CHECKPOINT_AGE" {
					return tt.env
				}
				return ""
			}
			c.RegisterStorage(fs, env, true)
			c.RegisterAuditVerify(fs, env)
			err := fs.Parse(tt.args)
			if err == nil {
				err = c.Finish()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.AuditMaxCheckpointAge != tt.want {
				t.Fatalf("max age = %s, %v; want %s", c.AuditMaxCheckpointAge, err, tt.want)
			}
		})
	}
}

func FuzzFinish(f *testing.F) {
	f.Add("127.0.0.1:8080", "https://x.example", "text", "all")
	f.Add("[::1]:0", "", "json", "web")
	f.Add(":", "http://", "", "")
	f.Fuzz(func(t *testing.T, addr, public, format, role string) {
		c := config.Config{Addr: addr, DataDir: "/tmp/x", PublicURL: public, LogFormat: format, Role: role}
		if err := c.Finish(); err != nil {
			return
		}
		// Without an address nothing listens (the operator's commands), so
		// no public URL is needed; with one, Finish derives it.
		if c.PublicURL == "" && addr == "" && public == "" {
			return
		}
		if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
			t.Fatalf("accepted public URL %q", c.PublicURL)
		}
	})
}

func TestSessionFlags(t *testing.T) {
	c, err := parse(t, map[string]string{"PORTICO_SESSION_IDLE": "15m"}, "--session-max", "8h")
	if err != nil || c.SessionIdle.Minutes() != 15 || c.SessionMax.Hours() != 8 {
		t.Fatalf("config = %+v, %v", c, err)
	}
	if _, err := parse(t, nil, "--session-idle", "10s"); err == nil || !strings.Contains(err.Error(), "--session-idle") {
		t.Fatalf("short idle accepted: %v", err)
	}
	if _, err := parse(t, nil, "--session-idle", "2h", "--session-max", "1h"); err == nil || !strings.Contains(err.Error(), "--session-max") {
		t.Fatalf("max below idle accepted: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    []string // parsed prefixes
		wantErr string
	}{
		{"default none", nil, nil, nil, ""},
		{"flag", nil, []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, []string{"10.0.0.0/8", "192.0.2.7/32"}, ""},
		{"environment", map[string]string{"PORTICO_TRUSTED_PROXIES": "2001:db8::/32"}, nil, []string{"2001:db8::/32"}, ""},
		{"host bits are masked", nil, []string{"--trusted-proxies", "10.1.2.3/8"}, []string{"10.0.0.0/8"}, ""},
		{"not an address", nil, []string{"--trusted-proxies", "proxy.example.gov"}, nil, "--trusted-proxies"},
		{"bad prefix", nil, []string{"--trusted-proxies", "10.0.0.0/99"}, nil, "--trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.env, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range c.Proxies {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("proxies = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzValidateBus: whatever an operator types as --bus, the check never
// panics, an accepted value names only nats:// or tls:// servers with a
// host, and an error never repeats a password given in it.
func FuzzValidateBus(f *testing.F) {
	f.Add("nats://127.0.0.1:4222")
	f.Add("nats://a:4222,tls://user:pw@b:4222")
	f.Add("http://user:pw@h:1")
	f.Add("nats://:4222")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		err := config.ValidateBus(raw)
		if err != nil {
			for _, part := range strings.Split(raw, ",") {
				if u, perr := url.Parse(strings.TrimSpace(part)); perr == nil && u.User != nil {
					if pw, ok := u.User.Password(); ok && len(pw) >= 4 && pw != "xxxxx" && strings.Contains(err.Error(), pw) &&
						!strings.Contains(strings.Replace(raw, pw, "", 1), pw) {
						t.Fatalf("error %q repeats the password", err)
					}
				}
			}
			return
		}
		for _, part := range strings.Split(raw, ",") {
			u, perr := url.Parse(strings.TrimSpace(part))
			if perr != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" {
				t.Fatalf("accepted %q", raw)
			}
		}
	})
}

// TestStripeSecretsNotEchoed: a mistaken Stripe setting is named in the
// error, never quoted (it may be a real key pasted into the wrong flag).
func TestStripeSecretsNotEchoed(t *testing.T) {
	for _, args := range [][]string{
		{"--stripe-secret-key", "pk_live_SECRETVALUE"},
		{"--stripe-secret-key", "sk_live_SECRETVALUE", "--stripe-webhook-secret", "SECRETVALUE"},
		{"--stripe-webhook-secret", "whsec_SECRETVALUE"},
		{"--stripe-secret-key", "sk_live_SECRETVALUE", "--stripe-api-url", "http://user:SECRETVALUE@stripe.example.com"},
	} {
		_, err := parse(t, nil, args...)
		if err == nil || strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("%v: error %v", args, err)
		}
	}
}

// TestMailFrom: the sender defaults to no-reply@ the public URL's host; a
// public URL with no mail domain (an address, localhost) gives
// no-reply@localhost, which only the development mailbox may use: with a
// real SMTP server the process refuses to start and says what to set.
func TestMailFrom(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string // MailFrom, or "" for an error naming --mail-from
	}{
		{"domain", []string{"--public-url", "https://services.example.gov"}, "no-reply@services.example.gov"},
		{"domain with smtp", []string{"--public-url", "https://services.example.gov", "--smtp-url", "smtp://mail.example.gov:25"}, "no-reply@services.example.gov"},
		{"loopback without smtp", []string{"--public-url", "http://127.0.0.1:8080"}, "no-reply@localhost"},
		{"loopback with smtp", []string{"--public-url", "http://127.0.0.1:8080", "--smtp-url", "smtp://127.0.0.1:2525"}, ""},
		{"localhost with smtp", []string{"--public-url", "http://localhost:8080", "--smtp-url", "smtp://127.0.0.1:2525"}, ""},
		{"loopback with smtp and sender", []string{"--public-url", "http://127.0.0.1:8080", "--smtp-url", "smtp://127.0.0.1:2525", "--mail-from", "State <no-reply@example.gov>"}, "State <no-reply@example.gov>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, nil, tt.args...)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "--mail-from") {
					t.Fatalf("error %v, want one naming --mail-from", err)
				}
				return
			}
			if err != nil || c.MailFrom != tt.want {
				t.Fatalf("MailFrom %q, error %v; want %q", c.MailFrom, err, tt.want)
			}
		})
	}
}

// TestOTel: traces are off unless --otel-endpoint or the standard
// endpoint variables ask for them; the SDK's off switches win; only
// OTLP over HTTP is accepted.
func TestOTel(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		endpoint string
		fromEnv  bool
		err      string
	}{
		{"off by default", nil, nil, "", false, ""},
		{"flag", nil, []string{"--otel-endpoint", "http://localhost:4318"}, "http://localhost:4318", false, ""},
		{"portico variable", map[string]string{"PORTICO_OTEL_ENDPOINT": "https://otel.example.gov"}, nil, "https://otel.example.gov", false, ""},
		{"standard variable", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, nil, "", true, ""},
		{"standard traces variable", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, nil, "", true, ""},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, []string{"--otel-endpoint", "http://c:4318"}, "", false, ""},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, []string{"--otel-endpoint", "http://c:4318"}, "", false, ""},
		{"not a URL", nil, []string{"--otel-endpoint", "c:4318"}, "", false, "must be the http or https URL of an OTLP/HTTP collector"},
		{"grpc refused", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, []string{"--otel-endpoint", "http://c:4317"}, "", false, "is not supported"},
		{"http/protobuf accepted", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, nil, "", true, ""},
		{"grpc ignored while off", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, nil, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.env, append([]string{"--data", t.TempDir()}, tt.args...)...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || c.OTelEndpoint != tt.endpoint || c.OTelFromEnv != tt.fromEnv {
				t.Fatalf("endpoint %q fromEnv %v err %v; want %q %v", c.OTelEndpoint, c.OTelFromEnv, err, tt.endpoint, tt.fromEnv)
			}
		})
	}
}
