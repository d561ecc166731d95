package applyweb_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// TestRenewalPrefillJourney renews a vehicle by plate through the real
// HTTP server and gateway: the person consents to the records receiving
// their name, then the records are down (the page says so in English and
// Spanish and that they can type the details or come back later, which
// keeps the draft without the half-typed page), then up (the details page is filled in
// from them), and a plate they do not know says so.
func TestRenewalPrefillJourney(t *testing.T) {
	a, base := startApp(t)
	seed := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	// Down: a loopback address nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	if _, err := demo.SeedPlugins(seed, a.Plugins, map[string]string{"vehicle-registry": dead}); err != nil {
		t.Fatal(err)
	}
	ana := newBrowser(t, base)
	ana.signIn("ana.citizen@example.com")
	p := ana.post("/services/vehicle-registration-renewal/apply", nil)
	appURL := strings.TrimSuffix(p.location, "/pages/vehicle")
	expect(t, "start", p, http.StatusSeeOther, appURL+"/pages/vehicle")
	expect(t, "plate", ana.post(appURL+"/pages/vehicle", url.Values{"plate": {"EX 4KQ-218"}, "type": {"car"}}), http.StatusSeeOther, appURL+"/pages/details")

	// The prefill carries Ana's name: the details page asks for her
	// consent first, and she gives it on the consent screen.
	p = ana.get(appURL + "/pages/details")
	consentURL := "/consent?" + url.Values{"service": {"vehicle-registration-renewal"}, "plugin": {"vehicle-registry"}, "return": {appURL + "/pages/details"}}.Encode()
	expect(t, "details before consent", p, http.StatusSeeOther, consentURL)
	expect(t, "consent screen", ana.get(consentURL), http.StatusOK, "")
	expect(t, "give consent", ana.post("/consent", url.Values{"decision": {"give"}, "service": {"vehicle-registration-renewal"},
		"plugin": {"vehicle-registry"}, "return": {appURL + "/pages/details"}}), http.StatusSeeOther, appURL+"/pages/details")

	p = ana.get(appURL + "/pages/details")
	expect(t, "details while down", p, http.StatusOK, "")
	contains(t, "details while down", p, "The records of the Department of Motor Vehicles are not answering right now, so nothing was filled in. Type the details yourself, or save and come back later", `id="plugin-alert"`)
	if strings.Contains(p.body, `value="Honda"`) {
		t.Error("filled while down")
	}
	ana.lang = "es"
	contains(t, "details while down (es)", ana.get(appURL+"/pages/details"), "Los registros del Departamento de Vehículos Motorizados no responden en este momento, así que no se completó nada. Escriba los datos usted mismo")
	ana.lang = "en"
	// As the message invites: come back later, with the page half
	// typed. The page is left as it was and the draft kept, as when a
	// page's choices cannot be had; the dashboard says why.
	appID := strings.TrimPrefix(appURL, "/apply/")
	expect(t, "come back later", ana.post(appURL+"/pages/details", url.Values{"action": {"later"}, "make": {"Hon"}}), http.StatusSeeOther, "/dashboard?saved="+appID+"&down=1")
	contains(t, "dashboard after coming back later", ana.get("/dashboard?saved="+appID+"&down=1"), "An agency system this form needs is not answering right now")
	expect(t, "the draft is kept", ana.get(appURL), http.StatusSeeOther, appURL+"/pages/details")

	// Up: a plug-in on loopback answering as the OpenAPI document says.
	vehicles := vehicleregistry.DemoVehicles(a.Clock.Now())
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, v := range vehicles {
			if r.URL.Path == "/vehicles/"+vehicleregistry.Normalize(v.Plate) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(v)
				return
			}
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"title": "No vehicle has this plate", "status": 404}`))
	}))
	t.Cleanup(up.Close)
	if _, err := demo.SeedPlugins(seed, a.Plugins, map[string]string{"vehicle-registry": up.URL}); err != nil {
		t.Fatal(err)
	}
	a.Clock.(*platform.FakeClock).Advance(time.Minute) // past the gateway's registration cache
	// The failures opened the plug-in's circuit breaker: the page keeps
	// saying the records are not answering until it lets a call through
	// again (a second here: startAppOn sets --plugin-breaker-open), then fills in.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		p = ana.get(appURL + "/pages/details")
		if strings.Contains(p.body, `value="Honda"`) || time.Now().After(deadline) {
			break
		}
		contains(t, "details while the breaker is open", p, "are not answering right now")
	}
	expect(t, "details when up", p, http.StatusOK, "")
	contains(t, "details when up", p, `value="Honda"`, `value="Civic"`, `value="2018"`, "We filled in some answers from the records of the Department of Motor Vehicles.")

	expect(t, "unknown plate", ana.post(appURL+"/pages/vehicle", url.Values{"plate": {"ZZ 000"}, "type": {"car"}}), http.StatusSeeOther, appURL+"/pages/details")
	p = ana.get(appURL + "/pages/details")
	contains(t, "details of an unknown plate", p, "We could not find a vehicle with that plate. Check it, or enter the details yourself.")
	if strings.Contains(p.body, `value="Honda"`) {
		t.Error("filled for an unknown plate")
	}
}
