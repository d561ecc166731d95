package demo

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/examples/services"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// Featured are the services the demo's home page lists until people have
// submitted applications to rank services by: common errands at every
// level of government.
var Featured = []string{"vehicle-registration-renewal", "adams-property-tax", "dmv-change-of-address", "adams-dog-licence", "springfield-pothole", "fishing-licence"}

// SeedServices publishes the example services (examples/services) that are
// not in the catalog yet, each for the agency its manifest names. It
// returns how many it published.
func SeedServices(ctx context.Context, cat *catalog.Service) (int, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"})
	files, err := services.All()
	if err != nil {
		return 0, fmt.Errorf("demo: services: %w", err)
	}
	published := 0
	for _, f := range files {
		// Validate alone to learn the id and agency; Publish validates
		// again against the catalog (a base published just before).
		res, err := cat.Validate(ctx, "", []manifest.File{{Name: f.Name, Src: f.Src}})
		if err != nil {
			return published, fmt.Errorf("demo: %s: %w", f.Name, err)
		}
		if len(res) != 1 || res[0].Result == nil {
			return published, fmt.Errorf("demo: %s is not a valid manifest: %v", f.Name, res)
		}
		m := res[0].Result.Manifest
		if _, err := cat.Latest(ctx, m.ID); err == nil {
			continue
		} else if platform.ErrorCode(err) != platform.CodeNotFound {
			return published, fmt.Errorf("demo: %s: %w", f.Name, err)
		}
		if _, err := cat.Publish(ctx, m.Agency, f.Name, f.Src); err != nil {
			return published, fmt.Errorf("demo: publish %s: %w", f.Name, err)
		}
		published++
	}
	return published, nil
}
