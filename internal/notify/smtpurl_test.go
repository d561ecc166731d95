package notify_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/notify"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		raw  string
		want notify.SMTPTarget
		err  string // substring; "" means valid
	}{
		{raw: "smtp://localhost", want: notify.SMTPTarget{Host: "localhost", Port: 25, TLS: notify.TLSNone}},
		{raw: "smtp://127.0.0.1:2525", want: notify.SMTPTarget{Host: "127.0.0.1", Port: 2525, TLS: notify.TLSNone}},
		{raw: "smtp://[::1]:1025", want: notify.SMTPTarget{Host: "::1", Port: 1025, TLS: notify.TLSNone}},
		{raw: "smtp://mail.example.gov", want: notify.SMTPTarget{Host: "mail.example.gov", Port: 587, TLS: notify.TLSStartTLS}},
		{raw: "smtp://mail.example.gov:25?tls=starttls", want: notify.SMTPTarget{Host: "mail.example.gov", Port: 25, TLS: notify.TLSStartTLS}},
		{raw: "smtp://relay.internal:25?tls=none", want: notify.SMTPTarget{Host: "relay.internal", Port: 25, TLS: notify.TLSNone}},
		{raw: "smtp://mail.example.gov?tls=TLS", want: notify.SMTPTarget{Host: "mail.example.gov", Port: 465, TLS: notify.TLSImplicit}},
		{raw: "smtps://mail.example.gov", want: notify.SMTPTarget{Host: "mail.example.gov", Port: 465, TLS: notify.TLSImplicit}},
		{raw: "smtp://portico%40example.gov:p%40ss%3Aword@mail.example.gov:587",
			want: notify.SMTPTarget{Host: "mail.example.gov", Port: 587, TLS: notify.TLSStartTLS, Username: "portico@example.gov", Password: "p@ss:word", Auth: "auto"}},
		{raw: "smtp://u:secretpw@localhost:2525?auth=plain", want: notify.SMTPTarget{Host: "localhost", Port: 2525, TLS: notify.TLSNone, Username: "u", Password: "secretpw", Auth: "plain"}},
		{raw: "smtp://u:secretpw@mail.example.gov/?auth=LOGIN", want: notify.SMTPTarget{Host: "mail.example.gov", Port: 587, TLS: notify.TLSStartTLS, Username: "u", Password: "secretpw", Auth: "login"}},

		{raw: "", err: "has no scheme"},
		{raw: "mail.example.gov:25", err: "not supported"},
		{raw: "http://mail.example.gov", err: `scheme "http" is not supported`},
		{raw: "smtp:mail.example.gov", err: "must start with smtp://"},
		{raw: "smtp://", err: "has no host"},
		{raw: "smtp://:25", err: "has no host"},
		{raw: "smtp://mail.example.gov:0", err: "from 1 to 65535"},
		{raw: "smtp://mail.example.gov:70000", err: "from 1 to 65535"},
		{raw: "smtp://mail.example.gov:", err: "empty port"},
		{raw: "smtp://mail.example.gov/inbox", err: "must not have a path"},
		{raw: "smtp://mail.example.gov#x", err: "fragment"},
		{raw: "smtp://mail.example.gov?tls=maybe", err: "must be none, starttls or tls"},
		{raw: "smtp://mail.example.gov?tls=none&tls=tls", err: "given 2 times"},
		{raw: "smtp://mail.example.gov?timeout=5s", err: `parameter "timeout" is not known`},
		{raw: "smtp://mail.example.gov?tls=%zz", err: "malformed query"},
		{raw: "smtps://mail.example.gov?tls=none", err: "smtps means tls=tls"},
		{raw: "smtp://u@mail.example.gov", err: "no password"},
		{raw: "smtp://:secretpw@mail.example.gov", err: "no user name"},
		{raw: "smtp://u:secretpw@mail.example.gov?tls=none", err: "clear text"},
		{raw: "smtp://mail.example.gov?auth=plain", err: "needs a user name"},
		{raw: "smtp://u:secretpw@mail.example.gov?auth=ntlm", err: "must be auto, plain or login"},
		{raw: "smtp://u:secretpw@mail exa mple.gov", err: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := notify.ParseSMTPURL(tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSMTPURL(%q) = %+v, %v; want error containing %q", tt.raw, got, err, tt.err)
				}
				if strings.Contains(err.Error(), "secretpw") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.raw, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSMTPURL(%q) = %+v, want %+v", tt.raw, got, tt.want)
			}
			if s := got.String(); strings.Contains(s, "secretpw") || (got.Password != "" && strings.Contains(s, url.QueryEscape(got.Password))) {
				t.Fatalf("String() leaks the password: %s", s)
			}
			if len(got.Options(0)) == 0 {
				t.Fatal("no go-mail options")
			}
		})
	}
}

// FuzzParseSMTPURL: the parser never panics, never returns a target that
// is unusable, keeps credentials exact, and never shows the password in an
// error or in String().
func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{"smtp://localhost:25", "smtps://u:p@h", "smtp://[::1]:0?tls=none", "smtp://u:secretpw@h:99999", "smtp://h?auth=plain&tls=tls", "smtp:x", "%"} {
		f.Add(s, "mail.example.gov:2525", "secretpw", "tls=starttls")
	}
	f.Fuzz(func(t *testing.T, raw, host, password, query string) {
		check := func(raw, password string) {
			got, err := notify.ParseSMTPURL(raw)
			if err != nil {
				// The password may show up legitimately as a quoting artefact
				// of what follows the credentials ("\x00" then "0000…").
				// Nor is it a leak when the "@" separator and the host
				// spell it ("@00000" before host "0000000").
				tail := raw[max(strings.LastIndex(raw, "@"), 0):]
				rest := strconv.Quote(tail)
				if len(password) >= 6 && strings.Count(raw, password) == 1 && !strings.Contains(rest, password) && !strings.Contains(tail, password) &&
					strings.Contains(err.Error(), password) {
					t.Fatalf("ParseSMTPURL(%q): error leaks the password %q: %v", raw, password, err)
				}
				return
			}
			if got.Host == "" || got.Port < 1 || got.Port > 65535 {
				t.Fatalf("ParseSMTPURL(%q) = %+v without error", raw, got)
			}
			switch got.TLS {
			case notify.TLSNone, notify.TLSStartTLS, notify.TLSImplicit:
			default:
				t.Fatalf("ParseSMTPURL(%q): TLS mode %q", raw, got.TLS)
			}
			if (got.Username == "") != (got.Password == "") || (got.Username == "") != (got.Auth == "") {
				t.Fatalf("ParseSMTPURL(%q): half-configured credentials %+v", raw, got)
			}
			if got.Password != "" && len(got.Password) >= 6 && strings.Contains(got.String(), got.Password) && !strings.Contains(got.Host+got.Username, got.Password) {
				t.Fatalf("String() leaks the password: %s", got.String())
			}
		}
		check(raw, "")
		// A well-formed URL built from parts: credentials survive exactly.
		u := url.URL{Scheme: "smtp", User: url.UserPassword("portico", password), Host: host, RawQuery: query}
		check(u.String(), password)
		if got, err := notify.ParseSMTPURL(u.String()); err == nil && got.Password != password {
			t.Fatalf("password %q came back as %q from %s", password, got.Password, u.String())
		}
	})
}
