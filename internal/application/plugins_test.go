package application_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/examples/services"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// gatewayPlugins adapts the real gateway to the block's Plugins, as
// internal/app does (formPlugins).
type gatewayPlugins struct{ g *gateway.Gateway }

func (p gatewayPlugins) Call(ctx context.Context, actor platform.Actor, c application.PluginCall) (application.PluginReply, error) {
	var body []byte
	if c.Request.Body != nil {
		body, _ = json.Marshal(c.Request.Body)
	}
	res, err := p.g.Call(ctx, actor, gateway.Request{Agency: c.Agency, Service: c.Service, Person: c.Person, Plugin: c.Plugin, Operation: c.Operation,
		Path: c.Request.Path, Query: c.Request.Query, Body: body, Data: c.Data})
	if err != nil {
		un := &application.Unavailable{Plugin: c.Plugin, Key: gateway.MessageKey(err), Err: err}
		var ge *gateway.Error
		if errors.As(err, &ge) {
			un.Agency = ge.Agency
		}
		return application.PluginReply{}, un
	}
	return application.PluginReply{Status: res.Status, Body: res.Body}, nil
}

// consents is the consent block's contract (Covers), answered from a
// set the test changes.
type consents struct{ given map[string]bool }

func (c *consents) Covers(_ context.Context, accountID, agency, service, pluginID string, data []string) (bool, error) {
	return c.given[accountID+" "+agency+" "+service+" "+pluginID+" "+strings.Join(data, ",")], nil
}

// pluginEnv is the applying block over the real gateway, plug-in
// registry and example vehicle-registry server on loopback, with the
// renewal published from src (the example, or a variant of it).
type pluginEnv struct {
	*env
	gw      *gatewaytest.Env
	vehicle http.Handler
	consent *consents
	version int // the renewal's version the env published
}

func renewalSource(t *testing.T) string {
	t.Helper()
	all, err := services.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if f.Name == "vehicle-registration-renewal.yaml" {
			return string(f.Src)
		}
	}
	t.Fatal("no renewal example")
	return ""
}

func newPluginEnv(t *testing.T, db *storage.DB, src string, withConsent bool) *pluginEnv {
	t.Helper()
	return newPluginEnvOn(t, db, gatewaytest.New(t, db, gatewaytest.Timeouts{Find: "500ms"}), src, withConsent)
}

func newPluginEnvOn(t *testing.T, db *storage.DB, gw *gatewaytest.Env, src string, withConsent bool) *pluginEnv {
	t.Helper()
	e := newEnv(t, db) // publishes the examples without plug-in uses
	cat, err := catalog.New(db, gw.Log, e.clock, e.ten, catalog.WithPlugins(registryRefs{gw.Registry}))
	if err != nil {
		t.Fatal(err)
	}
	sys := platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorSystem, ID: "test"})
	// The renewal is already published (gatewaytest publishes its own
	// copy; newEnv the example without plug-in uses): src is the next
	// version, so it is the latest, the one applications start on.
	latest, err := cat.Latest(sys, "vehicle-registration-renewal")
	if err != nil {
		t.Fatal(err)
	}
	version := latest.Version + 1
	out := strings.Replace(src, "\nversion: 1\n", fmt.Sprintf("\nversion: %d\n", version), 1)
	if out == src {
		t.Fatal("the renewal source has no version: 1")
	}
	if _, err := cat.Publish(sys, "dmv", "vehicle-registration-renewal.yaml", []byte(out)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	pe := &pluginEnv{env: e, gw: gw, consent: &consents{given: map[string]bool{}}, version: version}
	pe.vehicle = vehicleregistry.NewServer(vehicleregistry.Config{Issuer: gw.Issuer.URL}).Handler()
	gw.SetHandler(pe.vehicle)
	cfg := e.cfg
	cfg.Services = cat
	cfg.Registry = jobs.NewRegistry()
	cfg.Plugins = gatewayPlugins{gw.Gateway(t, gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 1000})}
	if withConsent {
		cfg.Consent = pe.consent
	}
	if e.svc, err = application.New(cfg); err != nil {
		t.Fatal(err)
	}
	return pe
}

// registryRefs checks plug-in uses against the registry, as app does.
type registryRefs struct{ reg *plugin.Service }

func (r registryRefs) CheckPluginUse(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	return r.reg.CheckUse(ctx, agency, service, pluginID, operation, data)
}

// driver is Ana as a State of Example resident (the renewal's eligibility).
func driver() application.Applicant {
	a := ana
	a.Jurisdictions = []string{"springfield", "adams", "example"}
	return a
}

// failing answers every call as the plug-in does when it is broken.
func failing(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// slow answers after the operation's timeout.
func slow(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startDetails starts Ana's renewal and answers the plate page.
func (pe *pluginEnv) startDetails(t *testing.T, plate string) (*application.Application, *application.Form, *application.Page) {
	t.Helper()
	a := driver()
	app, err := pe.svc.Start(pe.ctx, a, "vehicle-registration-renewal")
	if err != nil {
		t.Fatal(err)
	}
	if app.ServiceVersion != pe.version {
		t.Fatalf("application on version %d, want the published %d", app.ServiceVersion, pe.version)
	}
	res, err := pe.svc.SavePage(pe.ctx, a, app.ID, "vehicle", url.Values{"plate": {plate}, "type": {"car"}})
	if err != nil || len(res.Problems) > 0 || res.Unavailable != nil {
		t.Fatalf("vehicle page: %v %+v %v", err, res.Problems, res.Unavailable)
	}
	cur, f, err := pe.svc.Open(platform.WithActor(pe.ctx, citizen(a.AccountID)), citizen(a.AccountID), app.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cur, f, f.Page("details")
}

// giveConsent records Ana's consent to the renewal sharing her name with
// vehicle-registry twice over: in the in-test set the applying block asks
// before a prefill, and in the consent block the gateway asks before any
// call carrying personal data.
func (pe *pluginEnv) giveConsent(t *testing.T) {
	t.Helper()
	pe.consent.given[ana.AccountID+" dmv vehicle-registration-renewal vehicle-registry name"] = true
	if c := pe.gw.GiveConsent(t, ana.AccountID); !slices.Equal(c.Data, []string{"name"}) {
		t.Fatalf("consent given for %v, want [name] (the published version's use)", c.Data)
	}
}

func TestPluginPrefill(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		// The example's prefill carries the person's name: Ana consented.
		pe := newPluginEnv(t, db, renewalSource(t), true)
		pe.giveConsent(t)
		app, f, page := pe.startDetails(t, "ex 4kq-218")
		vehicles := vehicleregistry.DemoVehicles(time.Now())
		for _, c := range []struct {
			name    string
			handler http.Handler
			outcome string
		}{
			{"fills", pe.vehicle, application.PrefillFilled},
			{"down", failing(http.StatusInternalServerError, `{}`), application.PrefillUnavailable},
			{"slow", slow(pe.vehicle), application.PrefillUnavailable},
			{"invalid response", failing(http.StatusOK, `{"plate": 7}`), application.PrefillUnavailable},
			{"undeclared status", failing(http.StatusTeapot, `{}`), application.PrefillUnavailable},
			{"back up", pe.vehicle, application.PrefillFilled},
		} {
			t.Run(c.name, func(t *testing.T) {
				pe.gw.SetHandler(c.handler)
				res, err := pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != c.outcome {
					t.Fatalf("outcome %q, want %q (%v)", res.Outcome, c.outcome, res.Unavailable)
				}
				switch c.outcome {
				case application.PrefillFilled:
					want := map[string]any{"make": "Honda", "model": "Civic", "year": float64(2018), "expires": vehicles[0].RegistrationExpires}
					for k, v := range want {
						if res.Answers[k] != v {
							t.Errorf("%s = %v, want %v", k, res.Answers[k], v)
						}
					}
				case application.PrefillUnavailable:
					if res.Unavailable == nil || res.Unavailable.Key != "gateway.unavailable" || res.Unavailable.Agency != "dmv" {
						t.Errorf("unavailable = %+v, want gateway.unavailable for dmv", res.Unavailable)
					}
					// The draft and its answers are kept.
					cur, _, err := pe.svc.Open(pe.ctx, citizen(ana.AccountID), app.ID)
					if err != nil || cur.Status != application.StatusDraft || cur.Answers["vehicle"]["plate"] != "ex 4kq-218" {
						t.Errorf("draft after the failure: %+v %v", cur, err)
					}
				}
			})
		}
		t.Run("not found", func(t *testing.T) {
			app, f, page := pe.startDetailsAgain(t, "ZZ 000")
			res, err := pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
			if err != nil || res.Outcome != application.PrefillNotFound || len(res.Answers) != 0 {
				t.Fatalf("unknown plate: %+v %v", res, err)
			}
			if m := f.PrefillMessage("details"); m == nil || !strings.Contains(m.EN, "could not find a vehicle") || m.ES == "" {
				t.Errorf("not-found message %+v", m)
			}
		})
	})
}

// startDetailsAgain answers the plate page of Ana's existing draft anew.
func (pe *pluginEnv) startDetailsAgain(t *testing.T, plate string) (*application.Application, *application.Form, *application.Page) {
	t.Helper()
	return pe.startDetails(t, plate)
}

// consentVariant is the renewal whose prefill carries the person's name
// (the example's does; one without gets it added).
func consentVariant(t *testing.T) string {
	src := renewalSource(t)
	const use = "      plugin: vehicle-registry/find-vehicle\n"
	if strings.Contains(src, use+"      data: [name]\n") {
		return src
	}
	out := strings.Replace(src, use, use+"      data: [name]\n", 1)
	if out == src {
		t.Fatal("variant not made")
	}
	return out
}

func TestPluginPrefillConsent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		pe := newPluginEnv(t, db, consentVariant(t), true)
		app, f, page := pe.startDetails(t, "EX 4KQ-218")
		res, err := pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
		if err != nil || res.Outcome != application.PrefillConsent || res.Plugin != "vehicle-registry" {
			t.Fatalf("without consent: %+v %v, want the consent screen", res, err)
		}
		res, err = pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, true)
		if err != nil || res.Outcome != application.PrefillDeclined || len(res.Answers) != 0 {
			t.Fatalf("declined: %+v %v, want an empty page", res, err)
		}
		// The applying block's consents cover the call but the consent
		// block the gateway asks has none: the gateway refuses it before
		// any request reaches the plug-in.
		var calls atomic.Int32
		pe.gw.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			pe.vehicle.ServeHTTP(w, r)
		}))
		pe.consent.given["acct-ana dmv vehicle-registration-renewal vehicle-registry name"] = true
		res, err = pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
		var refused *gateway.ConsentError
		if err != nil || res.Outcome != application.PrefillUnavailable || res.Unavailable == nil || !errors.As(res.Unavailable, &refused) {
			t.Fatalf("without the gateway's consent: %+v %v, want refused", res, err)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("%d request(s) reached the plug-in without consent", n)
		}
		pe.giveConsent(t)
		res, err = pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
		if err != nil || res.Outcome != application.PrefillFilled || res.Answers["make"] != "Honda" {
			t.Fatalf("with consent: %+v %v", res, err)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d request(s) reached the plug-in, want 1", n)
		}
	})
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		pe := newPluginEnv(t, db, consentVariant(t), false)
		app, f, page := pe.startDetails(t, "EX 4KQ-218")
		res, err := pe.svc.PluginPrefill(pe.ctx, driver(), app, f, page, false)
		if err != nil || res.Outcome != application.PrefillDeclined {
			t.Fatalf("no consent block: %+v %v, want no call", res, err)
		}
	})
}

// checkVariant checks the plate against the vehicle records on the plate page.
func checkVariant(t *testing.T) string {
	src := renewalSource(t)
	marker := "  # The DMV's vehicle records"
	check := `    check:
      plugin: vehicle-registry/find-vehicle
      path:
        plate: 'answers.vehicle.plate.upperAscii().replace(" ", "").replace("-", "")'
      field: plate
      message: {en: No vehicle has this plate., es: Ningún vehículo tiene esta placa.}
`
	out := strings.Replace(src, marker, check+marker, 1)
	if out == src {
		t.Fatal("variant not made")
	}
	return out
}

func TestPluginCheck(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		pe := newPluginEnv(t, db, checkVariant(t), false)
		a := driver()
		app, err := pe.svc.Start(pe.ctx, a, "vehicle-registration-renewal")
		if err != nil {
			t.Fatal(err)
		}
		save := func(plate string) application.SaveResult {
			t.Helper()
			res, err := pe.svc.SavePage(pe.ctx, a, app.ID, "vehicle", url.Values{"plate": {plate}, "type": {"car"}})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		res := save("ZZ 000")
		if len(res.Problems) != 1 || res.Problems[0].Name != "plate" || res.Problems[0].Field != "f-plate" ||
			res.Problems[0].Message == nil || res.Problems[0].Message.ES != "Ningún vehículo tiene esta placa." {
			t.Fatalf("unknown plate: %+v", res.Problems)
		}
		if res.Typed.Get("plate") != "ZZ 000" {
			t.Errorf("typed plate not kept: %v", res.Typed)
		}
		res = save("EX 7MB-904")
		if len(res.Problems) > 0 || res.Unavailable != nil || res.Next != "details" {
			t.Fatalf("known plate: %+v", res)
		}
		// Down: the answers are saved unchecked, the page is shown again.
		pe.gw.SetHandler(failing(http.StatusBadGateway, `{}`))
		res = save("EX 4KQ-218")
		if res.Unavailable == nil || res.Unavailable.Key != "gateway.unavailable" || res.Next != "vehicle" || len(res.Problems) > 0 {
			t.Fatalf("down: %+v", res)
		}
		cur, _, err := pe.svc.Open(pe.ctx, citizen(a.AccountID), app.ID)
		if err != nil || cur.Answers["vehicle"]["plate"] != "EX 4KQ-218" {
			t.Fatalf("answers not kept: %+v %v", cur, err)
		}
		// Finish the form; the submission checks again and waits while down.
		for page, form := range map[string]url.Values{
			"details":   {"make": {"Honda"}, "model": {"Civic"}, "year": {"2018"}},
			"insurance": {"insurer": {"Acme Mutual"}, "policy": {"AM-1"}},
		} {
			if r, err := pe.svc.SavePage(pe.ctx, a, app.ID, page, form); err != nil || len(r.Problems) > 0 {
				t.Fatalf("%s: %v %+v", page, err, r.Problems)
			}
		}
		cur, _, _ = pe.svc.Open(pe.ctx, citizen(a.AccountID), app.ID)
		_, err = pe.svc.Submit(pe.ctx, a, app.ID, cur.Revision)
		var un *application.Unavailable
		if !errors.As(err, &un) {
			t.Fatalf("submit while down: %v, want unavailable", err)
		}
		if after, _, _ := pe.svc.Open(pe.ctx, citizen(a.AccountID), app.ID); after.Status != application.StatusDraft {
			t.Fatalf("status %s after a waiting submission", after.Status)
		}
		pe.gw.SetHandler(pe.vehicle)
		done, err := pe.svc.Submit(pe.ctx, a, app.ID, cur.Revision)
		if err != nil || done.Status != application.StatusSubmitted || done.FeeAmount == nil || *done.FeeAmount != 4500 {
			t.Fatalf("submit when back: %+v %v", done, err)
		}
	})
}

// feeManifest is a small DMV plug-in that prices a renewal by vehicle type.
const feeManifest = `id: dmv-fees
version: 1.0.0
name: {en: DMV fees, es: Tarifas del DMV}
description: {en: Prices renewals., es: Calcula las renovaciones.}
provider: {agency: dmv}
base_url: BASE
openapi: openapi.yaml
operations:
  - {id: renewal-fee, method: GET, path: /fees/renewal, operation_id: renewalFee, idempotent: true, timeout: 500ms}
`

const feeOpenAPI = `openapi: 3.1.0
info: {title: DMV fees, version: 1.0.0}
paths:
  /fees/renewal:
    get:
      operationId: renewalFee
      parameters:
        - {name: type, in: query, required: true, schema: {type: string}}
      responses:
        "200":
          description: The fee
          content:
            application/json:
              schema:
                type: object
                required: [amount]
                properties:
                  amount: {type: integer, minimum: 0}
                  currency: {type: string}
`

func TestPluginFee(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		var down atomic.Bool
		fees := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			amount := map[string]int{"car": 4700, "truck": 7900}[r.URL.Query().Get("type")]
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"amount": %d, "currency": "USD"}`, amount)
		}))
		t.Cleanup(fees.Close)
		src := strings.Replace(renewalSource(t), `  expression: 'answers.vehicle.type == "motorcycle" ? 3000 : (answers.vehicle.type == "truck" ? 7500 : 4500)'`,
			`  call: {plugin: dmv-fees/renewal-fee, query: {type: answers.vehicle.type}}`, 1)
		gwEnv := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		sys := platform.Actor{Kind: platform.ActorSystem, ID: "test"}
		sctx := platform.WithActor(context.Background(), sys)
		files := fstest.MapFS{"fees/openapi.yaml": {Data: []byte(feeOpenAPI)}}
		if _, err := gwEnv.Registry.Register(sctx, sys, "fees/plugin.yaml", []byte(strings.Replace(feeManifest, "BASE", fees.URL, 1)), plugin.FSLoader(files, "fees")); err != nil {
			t.Fatal(err)
		}
		if _, err := gwEnv.Registry.Enable(sctx, sys, plugin.EnableRequest{Plugin: "dmv-fees", Agency: "dmv", Service: "vehicle-registration-renewal", Operations: []string{"renewal-fee"}}); err != nil {
			t.Fatal(err)
		}
		pe := newPluginEnvOn(t, db, gwEnv, src, false)
		a := driver()
		app, _, _ := pe.startDetails(t, "EX 7MB-904")
		for page, form := range map[string]url.Values{
			"vehicle":   {"plate": {"EX 7MB-904"}, "type": {"truck"}},
			"details":   {"make": {"Ford"}, "model": {"Fusion"}, "year": {"2016"}},
			"insurance": {"insurer": {"Seguros del Lago"}, "policy": {"SL-1"}},
		} {
			if r, err := pe.svc.SavePage(pe.ctx, a, app.ID, page, form); err != nil || len(r.Problems) > 0 {
				t.Fatalf("%s: %v %+v", page, err, r.Problems)
			}
		}
		cur, f, err := pe.svc.Open(pe.ctx, citizen(a.AccountID), app.ID)
		if err != nil {
			t.Fatal(err)
		}
		fee, ok, err := pe.svc.Fee(pe.ctx, a, cur, f, cur.Answers)
		if err != nil || !ok || fee.Amount != 7900 || fee.Currency != "USD" {
			t.Fatalf("fee at check your answers: %+v %v %v", fee, ok, err)
		}
		down.Store(true)
		var un *application.Unavailable
		if _, _, err := pe.svc.Fee(pe.ctx, a, cur, f, cur.Answers); !errors.As(err, &un) {
			t.Fatalf("fee while down: %v", err)
		}
		if _, err := pe.svc.Submit(pe.ctx, a, app.ID, cur.Revision); !errors.As(err, &un) {
			t.Fatalf("submit while the fee is down: %v", err)
		}
		down.Store(false)
		done, err := pe.svc.Submit(pe.ctx, a, app.ID, cur.Revision)
		if err != nil || done.FeeAmount == nil || *done.FeeAmount != 7900 || done.FeeCurrency != "USD" {
			t.Fatalf("submitted: %+v %v", done, err)
		}
	})
}
