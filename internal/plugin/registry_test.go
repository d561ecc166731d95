package plugin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

var (
	operator    = platform.Actor{Kind: platform.ActorOperator, ID: "cli"}
	platAdmin   = platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}
	dmvAdmin    = platform.Actor{Kind: platform.ActorStaff, ID: "dana", Grants: []platform.Grant{{Agency: "dmv", Role: "agency_admin"}}}
	dmvWorker   = platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	adamsAdmin  = platform.Actor{Kind: platform.ActorStaff, ID: "ada", Grants: []platform.Grant{{Agency: "adams-clerk", Role: "agency_admin"}}}
	citizen     = platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}
	anonymous   = platform.Actor{Kind: platform.ActorAnonymous}
	gatewayCall = platform.Actor{Kind: platform.ActorSystem, ID: "gateway"}
)

type fixture struct {
	db  *storage.DB
	log *audit.Log
	box *secrets.Box
	reg *plugin.Service
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	clock := platform.SystemClock{}
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := plugin.New(db, log, clock, box, plugin.Config{EventTypes: eventTypes})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, log: log, box: box, reg: reg}
}

func (f *fixture) register(t *testing.T, actor platform.Actor, name, src string) (*plugin.Registered, error) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), actor)
	return f.reg.Register(ctx, actor, name+"/plugin.yaml", []byte(src), plugin.FileLoader(exampleDir(name)))
}

func (f *fixture) audits(t *testing.T, subject string) []string {
	t.Helper()
	es, err := f.log.List(context.Background(), audit.Filter{Subject: subject, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+"@"+e.AgencyID+" by "+e.Actor)
	}
	return out
}

func TestRegistry(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		vehicle := readExample(t, "vehicle-registry")

		// Who may register: the providing agency's admin, not another
		// agency's, not a caseworker; a private provider's only the
		// platform.
		for _, a := range []platform.Actor{adamsAdmin, dmvWorker, citizen, anonymous} {
			if _, err := f.register(t, a, "vehicle-registry", vehicle); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("register by %s: %v, want forbidden", a, err)
			}
		}
		if _, err := f.register(t, dmvAdmin, "counter-booking", readExample(t, "counter-booking")); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("an agency admin registered a private provider's plug-in: %v", err)
		}
		bad := strings.Replace(vehicle, "operation_id: findVehicle", "operation_id: nope", 1)
		_, err := f.register(t, dmvAdmin, "vehicle-registry", bad)
		if pe := (*plugin.ProblemsError)(nil); !errorsAs(err, &pe) || platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("invalid manifest: %v", err)
		}

		reg, err := f.register(t, dmvAdmin, "vehicle-registry", vehicle)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Replaced || reg.Revision != 1 || !strings.HasPrefix(reg.WebhookSecret, "whsec_") {
			t.Fatalf("first registration: %+v", reg)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(reg.WebhookSecret, "whsec_"))
		if err != nil || len(raw) != 32 {
			t.Fatalf("webhook secret %q: %d bytes, %v", reg.WebhookSecret, len(raw), err)
		}
		// Stored sealed: the column is not the secret, and opens to it.
		var stored string
		if err := db.Read().QueryRowContext(ctx, `SELECT webhook_secret FROM plugins WHERE id = 'vehicle-registry'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, strings.TrimPrefix(reg.WebhookSecret, "whsec_")) || !strings.HasPrefix(stored, "v1.") {
			t.Fatalf("webhook secret stored as %q", stored)
		}
		if got, err := f.reg.WebhookSecret(ctx, gatewayCall, "vehicle-registry"); err != nil || got != reg.WebhookSecret {
			t.Fatalf("WebhookSecret = %q, %v", got, err)
		}
		if _, err := f.reg.WebhookSecret(ctx, dmvAdmin, "vehicle-registry"); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("WebhookSecret to staff: %v", err)
		}
		if _, err := f.register(t, operator, "counter-booking", readExample(t, "counter-booking")); err != nil {
			t.Fatal(err)
		}

		// Shown once: registering again does not show it, and keeps it.
		again, err := f.register(t, dmvAdmin, "vehicle-registry", strings.Replace(vehicle, "version: 1.0.0", "version: 1.0.1", 1))
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replaced || again.Revision != 2 || again.WebhookSecret != "" || again.Version != "1.0.1" || len(again.DataAdded) != 0 {
			t.Fatalf("re-registration: %+v", again)
		}
		if got, _ := f.reg.WebhookSecret(ctx, gatewayCall, "vehicle-registry"); got != reg.WebhookSecret {
			t.Fatal("re-registration changed the webhook secret")
		}
		// Another agency may not take over the id.
		hijack := strings.Replace(vehicle, "agency: dmv", "agency: adams-clerk", 1)
		if _, err := f.register(t, adamsAdmin, "vehicle-registry", hijack); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("hijack: %v", err)
		}
		// A provider that is not an agency of the platform.
		if _, err := f.register(t, operator, "vehicle-registry", strings.Replace(strings.Replace(vehicle, "agency: dmv", "agency: atlantis", 1), "id: vehicle-registry", "id: atlantis-cars", 1)); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("unknown provider agency: %v", err)
		}

		// Enable: the DMV for its renewal service; Adams reuses the
		// private counter booking, and so does the DMV.
		if _, err := f.reg.Enable(ctx, adamsAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv"}); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("adams enabling for dmv: %v", err)
		}
		if _, err := f.reg.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv", Data: []string{"phone"}}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("approving data the plug-in does not ask for: %v", err)
		}
		if _, err := f.reg.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv", Operations: []string{"fly"}}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("granting an unknown operation: %v", err)
		}
		if _, err := f.reg.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "nope", Agency: "dmv"}); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("enabling an unknown plug-in: %v", err)
		}
		en, err := f.reg.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv", Data: []string{"name", "answers:vehicle-registration-renewal"},
			Service: "vehicle-registration-renewal", Operations: []string{"find-vehicle", "record-renewal"}})
		if err != nil {
			t.Fatal(err)
		}
		if en.Enablement.Status != plugin.StatusEnabled || len(en.Access) != 2 || !slices.Equal(en.Access[0].Data, []string{"answers:vehicle-registration-renewal", "name"}) {
			t.Fatalf("enabled: %+v", en)
		}
		if _, err := f.reg.Enable(ctx, adamsAdmin, plugin.EnableRequest{Plugin: "counter-booking", Agency: "adams-clerk", Data: []string{"name", "email"}, Operations: []string{"list-slots", "book-slot"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.Enable(ctx, platAdmin, plugin.EnableRequest{Plugin: "counter-booking", Agency: "dmv", Data: []string{"name"}, Service: "vehicle-registration-renewal", Operations: []string{"book-slot"}}); err != nil {
			t.Fatal(err)
		}

		// Access rights as a table.
		renewal := "vehicle-registration-renewal"
		checks := []struct {
			agency, service, plugin, op string
			data                        []string
			ok                          bool
		}{
			{"dmv", renewal, "vehicle-registry", "find-vehicle", nil, true},
			{"dmv", renewal, "vehicle-registry", "find-vehicle", []string{"name"}, true},
			{"dmv", renewal, "vehicle-registry", "record-renewal", []string{"name", "answers:vehicle-registration-renewal"}, true},
			{"dmv", renewal, "vehicle-registry", "find-vehicle", []string{"address"}, false}, // asked for, not approved
			{"dmv", renewal, "vehicle-registry", "find-vehicle", []string{"phone"}, false},   // not even asked for
			{"dmv", "drivers-license", "vehicle-registry", "find-vehicle", nil, false},       // another service
			{"dmv", renewal, "vehicle-registry", "delete-vehicle", nil, false},               // no such operation
			{"adams-clerk", "marriage-licence", "vehicle-registry", "find-vehicle", nil, false},
			{"adams-clerk", "marriage-licence", "counter-booking", "book-slot", []string{"name", "email"}, true}, // "*": every service
			{"adams-clerk", "anything", "counter-booking", "list-slots", nil, true},
			{"adams-clerk", "anything", "counter-booking", "cancel-booking", nil, false}, // not granted
			{"adams-clerk", "anything", "counter-booking", "book-slot", []string{"phone"}, false},
			{"dmv", renewal, "counter-booking", "book-slot", []string{"name"}, true},
			{"dmv", renewal, "counter-booking", "book-slot", []string{"email"}, false},
			{"dmv", "other", "counter-booking", "book-slot", nil, false},
			{"baker-clerk", "x", "counter-booking", "list-slots", nil, false}, // not enabled
			{"dmv", renewal, "nope", "find-vehicle", nil, false},
		}
		for _, c := range checks {
			err := f.reg.Allowed(platform.WithActor(ctx, gatewayCall), c.agency, c.service, c.plugin, c.op, c.data)
			if c.ok && err != nil || !c.ok && platform.ErrorCode(err) != platform.CodeForbidden {
				t.Errorf("Allowed(%s, %s, %s, %s, %v) = %v, want allowed %v", c.agency, c.service, c.plugin, c.op, c.data, err, c.ok)
			}
		}
		refusals := 0
		for _, s := range append(f.audits(t, "plugin:vehicle-registry"), f.audits(t, "plugin:counter-booking")...) {
			if strings.HasPrefix(s, "plugin.refuse") {
				refusals++
			}
		}
		if refusals != 10 { // the refused rows above, less the unknown plug-in's
			t.Errorf("%d refusals audited, want 10", refusals)
		}

		// The catalogue: staff may read it, citizens not.
		list, err := f.reg.List(ctx, dmvWorker)
		if err != nil || len(list) != 2 || list[0].ID != "counter-booking" || len(list[0].Enablements) != 2 {
			t.Fatalf("List = %+v, %v", list, err)
		}
		if _, err := f.reg.List(ctx, citizen); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("citizen list: %v", err)
		}
		if _, err := f.reg.Get(ctx, anonymous, "counter-booking"); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Fatalf("anonymous get: %v", err)
		}
		got, err := f.reg.Get(ctx, platAdmin, "vehicle-registry")
		if err != nil || len(got.Access) != 2 || got.Revision != 2 || len(got.OpenAPI) == 0 {
			t.Fatalf("Get = %+v, %v", got, err)
		}

		// Data growth: the new version asks for the date of birth too;
		// every enablement needs approval again and calls are refused.
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", []string{"date_of_birth"}); !strings.Contains(fmt.Sprint(err), "does not ask for") {
			t.Fatalf("date of birth before growth: %v", err)
		}
		grown := strings.Replace(vehicle, "  - address\n", "  - address\n  - date_of_birth\n", 1)
		g, err := f.register(t, dmvAdmin, "vehicle-registry", grown)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(g.DataAdded, []string{"date_of_birth"}) || !slices.Equal(g.NeedApproval, []string{"dmv"}) {
			t.Fatalf("grown: added %v, need approval %v", g.DataAdded, g.NeedApproval)
		}
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", nil); platform.ErrorCode(err) != platform.CodeForbidden || !strings.Contains(err.Error(), "approve it again") {
			t.Fatalf("call after growth: %v", err)
		}
		if _, err := f.reg.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv", Data: []string{"name"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", []string{"name"}); err != nil {
			t.Fatalf("after re-approval: %v", err)
		}
		// The access check reads the new manifest at once (its parsed
		// manifests are cached by their text): the date of birth is asked
		// for now, only not approved.
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", []string{"date_of_birth"}); !strings.Contains(fmt.Sprint(err), "has not approved") {
			t.Fatalf("date of birth after growth: %v", err)
		}
		// The re-approval dropped answers: the right no longer carries them.
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "record-renewal", []string{"answers:vehicle-registration-renewal"}); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("data no longer approved: %v", err)
		}
		// Shrinking data keeps the enablement.
		shrunk := strings.Replace(grown, "  - date_of_birth\n", "", 1)
		if s, err := f.register(t, dmvAdmin, "vehicle-registry", shrunk); err != nil || len(s.NeedApproval) != 0 {
			t.Fatalf("shrunk: %+v, %v", s, err)
		}

		// Disable keeps history; remove needs every agency to have
		// disabled it, or force by the platform.
		if _, err := f.reg.Disable(ctx, adamsAdmin, "counter-booking", "dmv"); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("adams disabling for dmv: %v", err)
		}
		if _, err := f.reg.Disable(ctx, adamsAdmin, "vehicle-registry", "adams-clerk"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("disabling what is not enabled: %v", err)
		}
		d, err := f.reg.Disable(ctx, dmvAdmin, "vehicle-registry", "dmv")
		if err != nil || d.Status != plugin.StatusDisabled || d.DisabledAt == nil {
			t.Fatalf("disable: %+v, %v", d, err)
		}
		if err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", nil); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("call after disable: %v", err)
		}
		got, _ = f.reg.Get(ctx, operator, "vehicle-registry")
		if len(got.Enablements) != 1 || got.Enablements[0].Status != plugin.StatusDisabled || len(got.Access) != 2 {
			t.Fatalf("history after disable: %+v", got)
		}
		if err := f.reg.Remove(ctx, adamsAdmin, "vehicle-registry", false); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("remove by another agency: %v", err)
		}
		if err := f.reg.Remove(ctx, dmvAdmin, "counter-booking", false); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("remove a private plug-in by an agency admin: %v", err)
		}
		if err := f.reg.Remove(ctx, platAdmin, "counter-booking", false); platform.ErrorCode(err) != platform.CodeConflict || !strings.Contains(err.Error(), "adams-clerk, dmv") {
			t.Fatalf("remove while enabled: %v", err)
		}
		if err := f.reg.Remove(ctx, dmvAdmin, "counter-booking", true); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("force by an agency admin: %v", err)
		}
		if err := f.reg.Remove(ctx, dmvAdmin, "vehicle-registry", false); err != nil {
			t.Fatalf("remove once disabled: %v", err)
		}
		if err := f.reg.Remove(ctx, platAdmin, "counter-booking", true); err != nil {
			t.Fatalf("force remove: %v", err)
		}
		var n int
		for _, tbl := range []string{"plugins", "plugin_enablements", "plugin_access"} {
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tbl).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%s has %d rows after removal (%v)", tbl, n, err)
			}
		}

		// Every change is audited, in order, by whom.
		want := []string{
			"plugin.register@dmv by staff:dana", "plugin.register@dmv by staff:dana", "plugin.enable@dmv by staff:dana",
			"plugin.register@dmv by staff:dana", "plugin.enable@dmv by staff:dana", "plugin.register@dmv by staff:dana",
			"plugin.disable@dmv by staff:dana", "plugin.remove@dmv by staff:dana",
		}
		var changes []string
		for _, s := range f.audits(t, "plugin:vehicle-registry") {
			if !strings.HasPrefix(s, "plugin.refuse") {
				changes = append(changes, s)
			}
		}
		if fmt.Sprint(changes) != fmt.Sprint(want) {
			t.Errorf("audit of vehicle-registry:\n got %v\nwant %v", changes, want)
		}
		es, _ := f.log.List(ctx, audit.Filter{Subject: "plugin:counter-booking", Limit: 100})
		last := es[len(es)-1]
		var detail map[string]any
		_ = json.Unmarshal(last.Detail, &detail)
		if last.Action != "plugin.remove" || detail["force"] != true || last.Actor != "staff:pat" {
			t.Errorf("forced removal audited as %s by %s: %s", last.Action, last.Actor, last.Detail)
		}
		rep, err := f.log.Verify(ctx)
		if err != nil || !rep.OK {
			t.Fatalf("audit verify: %+v, %v", rep, err)
		}
	})
}

func errorsAs(err error, target **plugin.ProblemsError) bool {
	pe, ok := err.(*plugin.ProblemsError)
	if ok {
		*target = pe
	}
	return ok
}
