package vehicleregistry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"EX 4KQ-218": "EX4KQ218", "ex7mb904": "EX7MB904", " -": ""} {
		if got := vehicleregistry.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestToken: the server answers a call with Portico's token (minted by
// pluginsdktest as the gateway does) and refuses a missing one or one for
// another plug-in with a problem.
func TestToken(t *testing.T) {
	p := pluginsdktest.New(t, vehicleregistry.PluginID)
	srv := httptest.NewServer(vehicleregistry.NewServer(vehicleregistry.Config{Issuer: p.URL}).Handler())
	defer srv.Close()
	dmv := pluginsdk.Claims{Agency: "dmv", Service: "vehicle-registration-renewal", Subject: p.Subject("ana")}
	other := dmv
	other.Audience = []string{"counter-booking"}
	for _, tt := range []struct {
		name   string
		claims *pluginsdk.Claims
		status int
		want   string
	}{
		{"Portico's token", &dmv, 200, `"EX 4KQ-218"`},
		{"no token", nil, 401, `"reason":"missing"`},
		{"another plug-in's token", &other, 401, `"reason":"audience"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/vehicles/EX4KQ218", nil)
			var res *http.Response
			var err error
			if tt.claims != nil {
				res, err = p.CallWith(req, *tt.claims)
			} else {
				res, err = http.DefaultClient.Do(req)
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
		})
	}
}
