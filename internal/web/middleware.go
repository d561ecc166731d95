package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// recorder remembers the status and size written, for logs and metrics, and
// whether anything was written, so panic recovery knows if it may still
// send an error page.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("web: hijack not supported")
	}
	return h.Hijack()
}

// routeSlot carries the matched mux pattern back out to the outer
// middleware (the mux sets Request.Pattern on the request it was handed,
// which is a copy made further in).
type routeSlot struct{ pattern string }

type routeSlotKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

func newRequestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// observe assigns the request id, recovers panics, writes the access log and
// records metrics. It is the outermost middleware.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A request id from the client would be written into the access
		// and audit logs as if Portico had assigned it, so one is taken
		// only from a trusted proxy that assigned it itself.
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) || !fromTrustedProxy(r.RemoteAddr, s.cfg.TrustedProxies) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		slot := &routeSlot{}
		ctx := platform.WithRequestID(r.Context(), id)
		ctx = context.WithValue(ctx, routeSlotKey{}, slot)
		client := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
		ctx = withClientIP(ctx, client)
		var span trace.Span
		if s.cfg.Tracer != nil {
			ctx, span = s.startSpan(ctx, r)
		}
		r = r.WithContext(ctx)
		rec := &recorder{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					if span != nil {
						span.End()
					}
					panic(p)
				}
				s.logger.ErrorContext(ctx, "panic serving request",
					"request_id", id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					// The panic unwound past the language middleware:
					// choose the page's language again.
					lang, _ := s.catalog.Negotiate(r)
					s.ErrorPage(rec, r.WithContext(context.WithValue(r.Context(), langKey{}, lang)), http.StatusInternalServerError)
				}
			}
			route := slot.pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			if status >= 500 && ClientGone(r) {
				// Whatever failed, the client had already left: not a
				// server error for the metrics and alerts.
				status = StatusClientClosedRequest
			}
			elapsed := time.Since(start)
			s.metrics.observe(r.Method, route, status, elapsed)
			if span != nil {
				endSpan(span, route, status)
			}
			s.logger.LogAttrs(ctx, slog.LevelInfo, "http",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", elapsed),
				slog.String("remote", r.RemoteAddr),
				slog.String("client", client),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// contentSecurityPolicy allows only this origin's own scripts, styles,
// fonts and images: no inline script or style anywhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// policyWithImages is contentSecurityPolicy with origins added to
// img-src. Each must be a bare https origin (scheme and host, no path), so
// a configuration mistake cannot widen the policy to a wildcard.
func policyWithImages(origins []string) (string, error) {
	if len(origins) == 0 {
		return contentSecurityPolicy, nil
	}
	extra := ""
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(u.Host, "*; ") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("web: image origin %q must be an https origin such as https://tiles.example.org", o)
		}
		extra += " " + u.Scheme + "://" + u.Host
	}
	return strings.Replace(contentSecurityPolicy, "img-src 'self' data:;", "img-src 'self' data:"+extra+";", 1), nil
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.cfg.HSTS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; handlers that take uploads raise it
// for their own route.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		for prefix, n := range s.bodyLimits {
			if strings.HasPrefix(r.URL.Path, prefix) && n > limit {
				limit = n
			}
		}
		if r.ContentLength > limit {
			s.fail(w, r, http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// AllowBody raises the body limit to n bytes for paths under prefix (for
// routes that take uploads; their handlers apply tighter limits of their
// own). Call it before serving.
func (s *Server) AllowBody(prefix string, n int64) {
	if s.bodyLimits == nil {
		s.bodyLimits = map[string]int64{}
	}
	s.bodyLimits[prefix] = n
}

type langKey struct{}

// negotiateLanguage picks the page language and remembers an explicit
// choice (?lang=) in a cookie.
func (s *Server) negotiateLanguage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang, explicit := s.catalog.Negotiate(r)
		if explicit {
			http.SetCookie(w, &http.Cookie{
				Name: i18n.CookieName, Value: string(lang), Path: "/",
				MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
			})
		}
		w.Header().Set("Content-Language", string(lang))
		w.Header().Add("Vary", "Accept-Language, Cookie")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), langKey{}, lang)))
	})
}

// Lang returns the language chosen for the request.
func Lang(r *http.Request) i18n.Lang {
	if l, ok := r.Context().Value(langKey{}).(i18n.Lang); ok {
		return l
	}
	return i18n.English
}

// route runs the mux, reports the matched pattern to observe, and answers
// unmatched paths with Portico's own 404 and 405 pages or problems.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if slot, ok := r.Context().Value(routeSlotKey{}).(*routeSlot); ok {
		slot.pattern = pattern
	}
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: the mux would answer 404 or 405 in plain text. Ask it
	// which, and keep its Allow header.
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := probe.status
	if status != http.StatusMethodNotAllowed {
		status = http.StatusNotFound
	}
	s.fail(w, r, status)
}

type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

// IsAPI reports whether r is for the JSON API (problem+json errors) rather
// than a page.
func IsAPI(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || p == "/api" || strings.HasPrefix(p, "/.well-known/") ||
		strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "text/html")
}

// fail answers with an error of the given status: a problem for the API,
// an accessible page otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int) {
	if IsAPI(r) {
		code := platform.CodeInternal
		for c, st := range statusByCode {
			if st == status {
				code = c
			}
		}
		if status == http.StatusMethodNotAllowed {
			code = platform.CodeInvalid
		}
		p := Problem{
			Type: "https://portico.dev/problems/" + string(code), Title: http.StatusText(status), Status: status,
			Instance: r.URL.Path, Code: code, RequestID: platform.RequestIDFrom(r.Context()),
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = jsonEncode(w, p)
		return
	}
	s.ErrorPage(w, r, status)
}
