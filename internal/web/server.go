// Package web is Portico's HTTP shell: the mux, the middleware every request
// passes through, page rendering with the USWDS layout, static assets,
// problem+json errors, health, readiness and metrics. Pages and APIs of the
// blocks register on it; it imports no block.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web/assets"
)

// Config tunes the shell.
type Config struct {
	// MaxBodyBytes caps request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// SecureCookies marks cookies Secure (true whenever served over HTTPS).
	SecureCookies bool
	// HSTS sends Strict-Transport-Security.
	HSTS bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (clientip.go). Empty: the connection's peer is the client.
	TrustedProxies []netip.Prefix
	// Ready reports whether the instance can serve (database reachable,
	// migrations applied). Nil means always ready.
	Ready func(ctx context.Context) error
	// Zone is the time zone dates on pages are shown in: the home
	// jurisdiction's (tenancy.Service.Zone). Nil means UTC.
	Zone func(ctx context.Context) *time.Location
	// Tracer, when set, runs every request in a span named by its route
	// pattern (tracing.go). Nil: no tracing work at all.
	Tracer trace.Tracer
	// ImageOrigins are other origins pages may load images from (the
	// report form's map tiles, --map-tiles): each an https origin, added
	// to the Content-Security-Policy's img-src and nothing else.
	ImageOrigins []string
}

// Server is the HTTP shell.
type Server struct {
	cfg      Config
	csp      string // the Content-Security-Policy header
	mux      *http.ServeMux
	logger   *slog.Logger
	catalog  *i18n.Catalog
	renderer *Renderer
	metrics  *httpMetrics
	registry *prometheus.Registry
	handler  http.Handler
	inner    []func(http.Handler) http.Handler
	routes   []string
	// bodyLimits are raised body limits by path prefix (AllowBody).
	bodyLimits map[string]int64
	// crossOrigin lists the patterns exempt from cross-origin protection.
	crossOrigin []string
}

// New returns a server with the shell's own routes registered: static
// assets, /healthz, /readyz and /metrics.
func New(cfg Config, logger *slog.Logger, catalog *i18n.Catalog, registry *prometheus.Registry) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	csp, err := policyWithImages(cfg.ImageOrigins)
	if err != nil {
		return nil, err
	}
	r, err := NewRenderer(catalog)
	if err == nil {
		r.zone = cfg.Zone
	}
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, csp: csp, mux: http.NewServeMux(), logger: logger, catalog: catalog, renderer: r,
		metrics: newHTTPMetrics(registry), registry: registry,
	}
	if _, err := staticIndex(); err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	s.HandleFunc("GET /static/", s.serveStatic)
	s.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.ServeFileFS(w, r, assets.FS, "uswds/img/favicons/favicon.ico")
	})
	s.HandleFunc("GET /healthz", s.healthz)
	s.HandleFunc("GET /readyz", s.readyz)
	s.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))

	s.build()
	return s, nil
}

// Use adds middleware that runs after the shell's own (request id, headers,
// language, cross-origin protection, body limit, text check) and before routing, in the
// order added. Blocks use it to authenticate requests. Call it before
// serving.
func (s *Server) Use(mw func(http.Handler) http.Handler) {
	s.inner = append(s.inner, mw)
	s.build()
}

// AllowCrossOrigin exempts patterns ("POST /oauth/token") from the
// shell's cross-origin protection, so that pages on other sites may send
// them from a browser. Only for endpoints that never act on the ambient
// authority of a cookie: they must authenticate every request by what it
// carries (client credentials, a PKCE verifier, a bearer token), or a
// cross-site form could act as the person. Call it before serving.
func (s *Server) AllowCrossOrigin(patterns ...string) {
	s.crossOrigin = append(s.crossOrigin, patterns...)
	s.build()
}

func (s *Server) build() {
	var h http.Handler = http.HandlerFunc(s.route)
	for i := len(s.inner) - 1; i >= 0; i-- {
		h = s.inner[i](h)
	}
	h = s.checkInput(h)
	h = s.limitBody(h)
	cop := http.NewCrossOriginProtection()
	for _, p := range s.crossOrigin {
		cop.AddInsecureBypassPattern(p)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusForbidden)
	}))
	h = cop.Handler(h)
	h = s.negotiateLanguage(h)
	h = s.securityHeaders(h)
	h = s.observe(h)
	s.handler = h
}

// Handle registers a handler for a method pattern ("GET /government").
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// HandleFunc registers a handler function for a method pattern.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.Handle(pattern, h) }

// Routes lists every registered pattern, so tests can prove that each one
// is covered by the authorization table.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// Renderer returns the page renderer, for blocks to add their templates.
func (s *Server) Renderer() *Renderer { return s.renderer }

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.logger }

// ServeHTTP serves a request through the whole middleware chain.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.logger.WarnContext(ctx, "not ready", "err", err)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = jsonEncode(w, Problem{
				Type: "https://portico.dev/problems/unavailable", Title: "Service Unavailable",
				Status: http.StatusServiceUnavailable, Detail: "Not ready: " + err.Error(), Code: "unavailable",
			})
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
