// Package gatewaytest sets up the plug-in gateway for tests and
// benchmarks: a database with the demo agencies, the plug-in registry
// with the example vehicle-registry registered against a loopback HTTP
// server whose handler a test swaps, and Portico's OpenID Provider keys
// published at an issuer (discovery document and JWKS) on loopback.
package gatewaytest

import (
	"context"
	_ "embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-gov/portico/examples/plugins"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// Env is a gateway test environment.
type Env struct {
	DB       *storage.DB
	Log      *audit.Log
	Box      *secrets.Box
	Registry *plugin.Service
	OIDC     *oidc.Service
	Issuer   *httptest.Server // discovery document and JWKS
	Plugin   *httptest.Server // the vehicle-registry's base URL
	// Catalog has renewal.yaml published: the vehicle registration
	// renewal using the plug-in, carrying name, address and its answers.
	Catalog *catalog.Service
	// Consents is the consent block the gateways are given; GiveConsent
	// records a person's consent for the renewal's uses of the plug-in.
	Consents *consent.Service
	handler  atomic.Pointer[http.Handler]
}

//go:embed renewal.yaml
var renewal []byte

// noAccounts satisfies oidc.Accounts; the gateway signs no user tokens.
type noAccounts struct{}

func (noAccounts) Account(context.Context, string) (*identity.Account, error) {
	return nil, platform.Errorf(platform.CodeNotFound, "no accounts in gateway tests")
}
func (noAccounts) AccountActive(context.Context, string) (bool, error) { return false, nil }
func (noAccounts) SignOut(context.Context, string) error               { return nil }

// Timeouts replaces the example manifest's operation timeouts.
type Timeouts struct{ Find, Renew string }

// New builds the environment on db. The plug-in's handler answers 503
// until SetHandler. New may run again on the same database: the newest
// env's plug-in server is then the registered base URL (the plug-in is
// registered again), and the agencies, enablements, signing keys and the
// published renewal are reused.
func New(tb testing.TB, db *storage.DB, to Timeouts) *Env {
	tb.Helper()
	ctx := context.Background()
	clock := platform.SystemClock{}
	e := &Env{DB: db, Log: audit.New(db, clock, nil)}
	ten, err := tenancy.New(db, e.Log, clock)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		tb.Fatal(err)
	}
	e.registry(tb, clock)
	e.Issuer = httptest.NewServer(http.HandlerFunc(e.serveIssuer))
	tb.Cleanup(e.Issuer.Close)
	if e.OIDC, err = oidc.New(oidc.Config{Issuer: e.Issuer.URL}, db, e.Log, clock, e.Box, noAccounts{}); err != nil {
		tb.Fatal(err)
	}
	e.Plugin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := e.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "no handler", http.StatusServiceUnavailable)
	}))
	tb.Cleanup(e.Plugin.Close)

	src, err := fs.ReadFile(plugins.FS(), "vehicle-registry/plugin.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	m := strings.Replace(string(src), "base_url: http://127.0.0.1:8091", "base_url: "+e.Plugin.URL, 1)
	if to.Find != "" {
		m = strings.Replace(m, "timeout: 3s", "timeout: "+to.Find, 1)
	}
	if to.Renew != "" {
		m = strings.Replace(m, "timeout: 10s", "timeout: "+to.Renew, 1)
	}
	sys := platform.Actor{Kind: platform.ActorSystem, ID: "test"}
	sctx := platform.WithActor(ctx, sys)
	if _, err := e.Registry.Register(sctx, sys, "vehicle-registry/plugin.yaml", []byte(m), plugin.FSLoader(plugins.FS(), "vehicle-registry")); err != nil {
		tb.Fatal(err)
	}
	for _, en := range demo.PluginEnablements {
		if en.Plugin == "vehicle-registry" {
			if _, err := e.Registry.Enable(sctx, sys, en); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if e.Catalog, err = catalog.New(db, e.Log, clock, ten); err != nil {
		tb.Fatal(err)
	}
	// A second env on the same database (a benchmark's sub-runs, a test
	// building the gateway twice) finds the renewal published by the
	// first: published versions never change, so it is reused as it is.
	if p, err := e.Catalog.Latest(sctx, "vehicle-registration-renewal"); err == nil && p.Source == string(renewal) {
		// already there
	} else if err != nil && platform.ErrorCode(err) != platform.CodeNotFound {
		tb.Fatal(err)
	} else if _, err := e.Catalog.PublishWith(sctx, "dmv", "renewal.yaml", renewal, pluginRefs{e.Registry}); err != nil {
		tb.Fatal(err)
	}
	e.consents(tb, clock)
	return e
}

// registry builds e.Box (a fixed key, so every env on a database opens
// what another sealed) and e.Registry.
func (e *Env) registry(tb testing.TB, clock platform.Clock) {
	tb.Helper()
	var err error
	if e.Box, err = secrets.New([]byte(strings.Repeat("k", 32))); err != nil {
		tb.Fatal(err)
	}
	if e.Registry, err = plugin.New(e.DB, e.Log, clock, e.Box, plugin.Config{EventTypes: []string{"gov.portico.case.transitioned", "gov.portico.case.document_issued"}}); err != nil {
		tb.Fatal(err)
	}
}

// consents builds e.Consents over e's catalog and registry.
func (e *Env) consents(tb testing.TB, clock platform.Clock) {
	tb.Helper()
	var err error
	if e.Consents, err = consent.New(e.DB, e.Log, events.NewBus(clock), clock, e.Catalog, e.Registry, consent.Config{
		Subject: func(p, a string) string { return gateway.PairwiseSubject(e.Box, p, a) }}); err != nil {
		tb.Fatal(err)
	}
}

// Attach builds the services of an environment over db, which New (in
// this process or another) has set up, signing tokens as issuer (that
// env's Issuer.URL). It starts no server and registers nothing, so the
// gateway it gives calls the plug-in server New registered. A benchmark
// uses it to run the gateway in a process of its own, as a reverse proxy
// it is compared with runs in its own. Issuer and Plugin are nil.
func Attach(tb testing.TB, db *storage.DB, issuer string) *Env {
	tb.Helper()
	clock := platform.SystemClock{}
	e := &Env{DB: db, Log: audit.New(db, clock, nil)}
	ten, err := tenancy.New(db, e.Log, clock)
	if err != nil {
		tb.Fatal(err)
	}
	e.registry(tb, clock)
	if e.OIDC, err = oidc.New(oidc.Config{Issuer: issuer}, db, e.Log, clock, e.Box, noAccounts{}); err != nil {
		tb.Fatal(err)
	}
	if e.Catalog, err = catalog.New(db, e.Log, clock, ten); err != nil {
		tb.Fatal(err)
	}
	e.consents(tb, clock)
	return e
}

// pluginRefs checks the renewal's plug-in uses against the registry.
type pluginRefs struct{ r *plugin.Service }

func (p pluginRefs) CheckPluginUse(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	return p.r.CheckUse(ctx, agency, service, pluginID, operation, data)
}

// GiveConsent records account's consent that the DMV's vehicle
// registration renewal shares its data with vehicle-registry.
func (e *Env) GiveConsent(tb testing.TB, account string) consent.Consent {
	tb.Helper()
	c, err := e.Consents.Give(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: account}, "vehicle-registration-renewal", "vehicle-registry")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (e *Env) serveIssuer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": e.Issuer.URL, "jwks_uri": e.Issuer.URL + "/.well-known/jwks.json"})
	case "/.well-known/jwks.json":
		set, err := e.OIDC.PublicKeys(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	default:
		http.NotFound(w, r)
	}
}

// SetHandler makes h answer the plug-in's calls.
func (e *Env) SetHandler(h http.Handler) { e.handler.Store(&h) }

// Gateway returns a new gateway (fresh breakers and limits) over the env,
// asking e.Consents unless cfg names other Consents.
func (e *Env) Gateway(tb testing.TB, cfg gateway.Config) *gateway.Gateway {
	tb.Helper()
	if cfg.Consents == nil {
		cfg.Consents = e.Consents
	}
	g, err := gateway.New(e.Registry, e.OIDC, e.Log, e.Box, platform.SystemClock{}, nil, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}
