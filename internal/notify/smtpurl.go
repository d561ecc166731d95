package notify

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// The TLS modes of an SMTP URL's tls= parameter.
const (
	// TLSNone sends in clear text. It is the default only for a server on
	// the loopback interface (a local relay or the development mailbox).
	TLSNone TLSMode = "none"
	// TLSStartTLS upgrades the connection with STARTTLS and refuses to
	// send if the server does not offer it. The default for other hosts.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit TLSMode = "tls"
)

// Default ports per TLS mode when the URL names none.
var defaultPorts = map[TLSMode]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}

// authMechs are the auth= values and the go-mail mechanism each selects.
var authMechs = map[string]mail.SMTPAuthType{
	"auto":  mail.SMTPAuthAutoDiscover,
	"plain": mail.SMTPAuthPlain,
	"login": mail.SMTPAuthLogin,
}

// SMTPTarget is a parsed SMTP URL: where and how to hand mail over.
type SMTPTarget struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string // empty: no SMTP AUTH
	Password string
	Auth     string // "auto" (the strongest mechanism the server offers), "plain" or "login"
}

// ParseSMTPURL checks an SMTP URL of the form
//
//	smtp://[user:password@]host[:port][?tls=none|starttls|tls][&auth=auto|plain|login]
//	smtps://[user:password@]host[:port]      (the same as tls=tls)
//
// tls defaults to none for a loopback host (localhost, 127.0.0.0/8, ::1)
// and to starttls otherwise; the port defaults to 25, 587 or 465 by tls
// mode. User name and password are URL-encoded. Errors name what is wrong
// and never contain the password.
func ParseSMTPURL(raw string) (SMTPTarget, error) {
	var t SMTPTarget
	u, err := url.Parse(raw)
	if err != nil {
		return t, fmt.Errorf("notify: SMTP URL %s is not a URL (want smtp://host:port)", redactURL(raw))
	}
	switch u.Scheme {
	case "smtp", "smtps":
	case "":
		return t, fmt.Errorf("notify: SMTP URL %s has no scheme (want smtp://host:port)", redactURL(raw))
	default:
		return t, fmt.Errorf("notify: SMTP URL scheme %q is not supported (want smtp or smtps)", u.Scheme)
	}
	if u.Opaque != "" {
		return t, fmt.Errorf("notify: SMTP URL %s must start with %s:// followed by the host", redactURL(raw), u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return t, fmt.Errorf("notify: SMTP URL %s must not have a path (got %q)", redactURL(raw), u.Path)
	}
	if u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#") {
		return t, fmt.Errorf("notify: SMTP URL %s must not have a #fragment", redactURL(raw))
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return t, fmt.Errorf("notify: SMTP URL %s has no host", redactURL(raw))
	}
	if strings.ContainsAny(t.Host, " /\\@%") {
		return t, fmt.Errorf("notify: SMTP URL host %q is not a host name or IP address", t.Host)
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return t, fmt.Errorf("notify: SMTP URL %s has a malformed query", redactURL(raw))
	}
	for k, v := range q {
		if k != "tls" && k != "auth" {
			return t, fmt.Errorf("notify: SMTP URL parameter %q is not known (want tls= or auth=)", k)
		}
		if len(v) != 1 {
			return t, fmt.Errorf("notify: SMTP URL parameter %q is given %d times", k, len(v))
		}
	}
	switch mode := TLSMode(strings.ToLower(q.Get("tls"))); {
	case mode == "" && u.Scheme == "smtps":
		t.TLS = TLSImplicit
	case mode == "" && isLoopback(t.Host):
		t.TLS = TLSNone
	case mode == "":
		t.TLS = TLSStartTLS
	case mode == TLSNone || mode == TLSStartTLS || mode == TLSImplicit:
		if u.Scheme == "smtps" && mode != TLSImplicit {
			return t, fmt.Errorf("notify: SMTP URL scheme smtps means tls=tls, but tls=%s was given", mode)
		}
		t.TLS = mode
	default:
		return t, fmt.Errorf("notify: SMTP URL tls=%q must be none, starttls or tls", q.Get("tls"))
	}

	t.Port = defaultPorts[t.TLS]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("notify: SMTP URL port %q must be a number from 1 to 65535", p)
		}
		t.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return t, fmt.Errorf("notify: SMTP URL %s has an empty port", redactURL(raw))
	}

	if u.User != nil {
		t.Username = u.User.Username()
		t.Password, _ = u.User.Password()
		if t.Username == "" {
			return t, fmt.Errorf("notify: SMTP URL %s has a password but no user name", redactURL(raw))
		}
		if t.Password == "" {
			return t, fmt.Errorf("notify: SMTP URL %s has a user name but no password", redactURL(raw))
		}
		if t.TLS == TLSNone && !isLoopback(t.Host) {
			return t, fmt.Errorf("notify: SMTP URL %s would send the password in clear text to %s; use tls=starttls or tls=tls", redactURL(raw), t.Host)
		}
	}
	t.Auth = strings.ToLower(q.Get("auth"))
	switch {
	case t.Auth != "" && t.Username == "":
		return t, fmt.Errorf("notify: SMTP URL auth=%s needs a user name and password (smtp://user:password@host)", q.Get("auth"))
	case t.Auth == "" && t.Username != "":
		t.Auth = "auto"
	case t.Auth != "":
		if _, ok := authMechs[t.Auth]; !ok {
			return t, fmt.Errorf("notify: SMTP URL auth=%q must be auto, plain or login", q.Get("auth"))
		}
	}
	return t, nil
}

// isLoopback reports whether host is the local machine by name or address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String returns the target as a URL with the password masked, for logs.
func (t SMTPTarget) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(t.Host, strconv.Itoa(t.Port))}
	if t.Username != "" {
		u.User = url.UserPassword(t.Username, "xxxxx")
	}
	q := url.Values{"tls": {string(t.TLS)}}
	if t.Auth != "" {
		q.Set("auth", t.Auth)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Options returns the go-mail client options for t. timeout bounds the
// connection and each SMTP command.
func (t SMTPTarget) Options(timeout time.Duration) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(t.Port),
		mail.WithTimeout(timeout),
	}
	switch t.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if t.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(authMechs[cmp.Or(t.Auth, "auto")]),
			mail.WithUsername(t.Username),
			mail.WithPassword(t.Password))
	}
	return opts
}

// redactURL returns raw safe for errors and logs: a parsed password is
// masked, and when raw does not parse cleanly everything before its last
// "@" (where credentials would be) is dropped.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return strconv.Quote(u.String())
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return strconv.Quote("xxxxx" + raw[i:])
	}
	return strconv.Quote(raw)
}
