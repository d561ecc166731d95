package demo

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/examples/plugins"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

// PluginEnablements are the demo's uses of the example plug-ins: the DMV
// uses its own vehicle records for the vehicle registration renewal, and
// the private provider's counter booking is reused by two agencies.
var PluginEnablements = []plugin.EnableRequest{
	{Plugin: "vehicle-registry", Agency: "dmv", Data: []string{"name", "address", "answers:vehicle-registration-renewal"},
		Service: "vehicle-registration-renewal", Operations: []string{"find-vehicle", "record-renewal"}},
	{Plugin: "counter-booking", Agency: "adams-clerk", Data: []string{"name", "email"}, Operations: []string{"list-slots", "book-slot", "cancel-booking"}},
	{Plugin: "counter-booking", Agency: "dmv", Data: []string{"name", "email", "phone"}, Operations: []string{"list-slots", "book-slot", "cancel-booking"}},
}

// SeedPlugins registers the example plug-ins (examples/plugins) that are
// not registered yet and enables them as PluginEnablements says. It
// returns how many it registered.
func SeedPlugins(ctx context.Context, reg *plugin.Service) (int, error) {
	actor := platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"}
	ctx = platform.WithActor(ctx, actor)
	examples, err := plugins.All()
	if err != nil {
		return 0, fmt.Errorf("demo: plug-ins: %w", err)
	}
	n := 0
	for _, ex := range examples {
		chk, probs := reg.Validate(ctx, ex.Name, ex.Src, plugin.FSLoader(plugins.FS(), ex.Dir))
		if len(probs) > 0 {
			return n, fmt.Errorf("demo: %s is not a valid plug-in manifest: %v", ex.Name, probs)
		}
		if _, err := reg.Get(ctx, actor, chk.Manifest.ID); err == nil {
			continue
		} else if platform.ErrorCode(err) != platform.CodeNotFound {
			return n, err
		}
		if _, err := reg.Register(ctx, actor, ex.Name, ex.Src, plugin.FSLoader(plugins.FS(), ex.Dir)); err != nil {
			return n, fmt.Errorf("demo: register %s: %w", ex.Name, err)
		}
		n++
		for _, en := range PluginEnablements {
			if en.Plugin != chk.Manifest.ID {
				continue
			}
			if _, err := reg.Enable(ctx, actor, en); err != nil {
				return n, fmt.Errorf("demo: enable %s for %s: %w", en.Plugin, en.Agency, err)
			}
		}
	}
	return n, nil
}
