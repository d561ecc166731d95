package plugin_test

import (
	"context"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestAccessCacheAcrossReplicas: the access check caches its decisions
// per registry revision, so a change made by another process (a second
// registry on the same database, as another replica would be) counts at
// this process's next check: enable, disable, enable again with fewer
// data, re-register, remove.
func TestAccessCacheAcrossReplicas(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db) // this process: its checks are cached
		const renewal = "vehicle-registration-renewal"
		other, err := plugin.New(db, f.log, platform.SystemClock{}, f.box, plugin.Config{EventTypes: eventTypes})
		if err != nil {
			t.Fatal(err)
		}
		ctx := platform.WithActor(context.Background(), gatewayCall)
		allowed := func(step string, want bool) {
			t.Helper()
			for range 3 { // the first check decides, the next ones are answered from the cache
				err := f.reg.Allowed(ctx, "dmv", renewal, "vehicle-registry", "find-vehicle", []string{"name"})
				if (err == nil) != want {
					t.Fatalf("%s: Allowed = %v, want allowed %v", step, err, want)
				}
				if err != nil && platform.ErrorCode(err) != platform.CodeForbidden {
					t.Fatalf("%s: %v", step, err)
				}
			}
		}
		allowed("before registration", false)
		vehicle := readExample(t, "vehicle-registry")
		if _, err := other.Register(platform.WithActor(ctx, dmvAdmin), dmvAdmin, "vehicle-registry/plugin.yaml", []byte(vehicle), plugin.FileLoader(exampleDir("vehicle-registry"))); err != nil {
			t.Fatal(err)
		}
		allowed("registered, not enabled", false)
		enable := func(data ...string) {
			t.Helper()
			if _, err := other.Enable(ctx, dmvAdmin, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: "dmv", Data: data, Service: renewal, Operations: []string{"find-vehicle"}}); err != nil {
				t.Fatal(err)
			}
		}
		enable("name")
		allowed("enabled with name", true)
		if _, err := other.Disable(ctx, dmvAdmin, "vehicle-registry", "dmv"); err != nil {
			t.Fatal(err)
		}
		allowed("disabled by the other process", false)
		enable("name")
		allowed("enabled again", true)
		enable("address")
		allowed("approval cut to the address", false)
		enable("name")
		allowed("name approved again", true)
		if err := other.Remove(ctx, platAdmin, "vehicle-registry", true); err != nil {
			t.Fatal(err)
		}
		allowed("removed", false)
		// Every refusal is audited, answered from the cache or not.
		refusals := 0
		for _, a := range f.audits(t, "plugin:vehicle-registry") {
			if a == "plugin.refuse@dmv by system:gateway" {
				refusals++
			}
		}
		if want := 3 * 5; refusals != want {
			t.Fatalf("%d refusals audited, want %d", refusals, want)
		}
	})
}
