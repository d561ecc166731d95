package consentweb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

type fakeAgencies struct{}

func (fakeAgencies) Agency(_ context.Context, id string) (tenancy.Agency, error) {
	if id == "dmv" {
		return tenancy.Agency{ID: id, Name: "Department of Motor Vehicles", NameES: "Departamento de Vehículos Motorizados"}, nil
	}
	return tenancy.Agency{}, errors.New("no such agency")
}

type fakeServices struct{}

func (fakeServices) Latest(_ context.Context, id string) (catalog.Published, error) {
	return catalog.Published{ID: id, Manifest: &manifest.Manifest{Title: manifest.Text{EN: "Renew your vehicle registration", ES: "Renovar el registro de su vehículo"}}}, nil
}

type fakePlugins struct{}

func (fakePlugins) Get(_ context.Context, _ platform.Actor, id string) (*plugin.Plugin, error) {
	return &plugin.Plugin{ID: id, Name: plugin.Text{EN: "DMV vehicle records", ES: "Registros de vehículos del DMV"}}, nil
}

// TestCallSentences: "Who has used my data" says a plug-in received the
// person's data only when the call went through; a call the circuit
// breaker stopped before any attempt sent nothing, and one the plug-in
// never answered (the breaker may open between retries) may not have
// arrived. A plug-in that answered, even with an error, received it.
func TestCallSentences(t *testing.T) {
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var page *web.Page
	s.HandleFunc("GET /p", func(w http.ResponseWriter, r *http.Request) { page = s.Renderer().NewPage(r, nil) })
	p := &pages{web: s, Deps: Deps{Agencies: fakeAgencies{}, Services: fakeServices{}, Plugins: fakePlugins{}}}
	for _, c := range []struct {
		name, lang, detail, want string
	}{
		{"answered", "en", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"ok","status":200}`,
			"At the request of the Department of Motor Vehicles, DMV vehicle records received your name for “Renew your vehicle registration”."},
		{"entry before outcomes were read", "en", `{"service":"vehicle-registration-renewal","data":["name"]}`,
			"At the request of the Department of Motor Vehicles, DMV vehicle records received your name for “Renew your vehicle registration”."},
		{"answered with an error", "en", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"error","status":503}`,
			"At the request of the Department of Motor Vehicles, DMV vehicle records received your name for “Renew your vehicle registration”."},
		{"circuit open", "en", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"circuit_open","attempts":0}`,
			"At the request of the Department of Motor Vehicles, DMV vehicle records was to receive your name for “Renew your vehicle registration”, but nothing was sent: it was not answering."},
		{"circuit opened between retries", "en", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"circuit_open","attempts":2}`,
			"At the request of the Department of Motor Vehicles, Portico tried to send your name to DMV vehicle records for “Renew your vehicle registration”. It did not answer, so it may not have received it."},
		{"no answer", "en", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"error"}`,
			"At the request of the Department of Motor Vehicles, Portico tried to send your name to DMV vehicle records for “Renew your vehicle registration”. It did not answer, so it may not have received it."},
		{"timeout", "es", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"timeout"}`,
			"A pedido del Departamento de Vehículos Motorizados, Portico intentó enviar su nombre a Registros de vehículos del DMV para «Renovar el registro de su vehículo». No respondió, así que es posible que no lo haya recibido."},
		{"circuit open", "es", `{"service":"vehicle-registration-renewal","data":["name"],"outcome":"circuit_open","attempts":0}`,
			"A pedido del Departamento de Vehículos Motorizados, Registros de vehículos del DMV iba a recibir su nombre para «Renovar el registro de su vehículo», pero no se envió nada: no estaba respondiendo."},
	} {
		t.Run(c.lang+"/"+c.name, func(t *testing.T) {
			s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p?lang="+c.lang, nil))
			n := &namer{p: p, ctx: context.Background(), page: page, plugins: map[string]string{}}
			got := n.sentence(audit.Entry{Action: "plugin.call", Subject: "plugin:vehicle-registry", AgencyID: "dmv", Detail: []byte(c.detail)})
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}
