package demo

import (
	"context"
	"fmt"
	"go.yaml.in/yaml/v3"

	"github.com/portico-gov/portico/examples/services"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// Featured are the services the demo's home page lists until people have
// submitted applications to rank services by: common errands at every
// level of government.
var Featured = []string{"vehicle-registration-renewal", "adams-property-tax", "dmv-change-of-address", "adams-dog-licence", "adams-voter-registration", "fishing-licence"}

// NotInDemo are the example manifests the demo does not publish, with
// why. They stay examples for service authors (and fixtures for tests,
// through SeedExamples).
var NotInDemo = map[string]string{
	// Springfield takes pothole reports through its report-a-problem
	// form (/report/pothole, Open311): with the manifest published too,
	// a person searching "pothole" found two ways to do one thing.
	"report-a-pothole.yaml": "a report-a-problem service (demo/reports.go) takes pothole reports",
}

// SeedServices publishes the demo's services: the example services
// (examples/services) but those in NotInDemo, that are not in the catalog
// yet, each for the agency its manifest names. It returns how many it
// published.
func SeedServices(ctx context.Context, cat *catalog.Service) (int, error) {
	return seed(ctx, cat, NotInDemo)
}

// SeedExamples publishes every example service, as SeedServices does:
// for tests that use an example the demo leaves out.
func SeedExamples(ctx context.Context, cat *catalog.Service) (int, error) {
	return seed(ctx, cat, nil)
}

func seed(ctx context.Context, cat *catalog.Service, skip map[string]string) (int, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"})
	files, err := services.All()
	if err != nil {
		return 0, fmt.Errorf("demo: services: %w", err)
	}
	published := 0
	for _, f := range files {
		if _, ok := skip[f.Name]; ok {
			continue
		}
		src := f.Src
		if !cat.ChecksPlugins() {
			// A catalog without the plug-in registry (a single block's
			// test harness) refuses plug-in uses: publish the services
			// without them. `portico demo` registers the plug-ins first.
			if src, err = withoutPlugins(f.Src); err != nil {
				return published, fmt.Errorf("demo: %s: %w", f.Name, err)
			}
		}
		// Validate alone to learn the id and agency; Publish validates
		// again against the catalog (a base published just before).
		res, err := cat.Validate(ctx, "", []manifest.File{{Name: f.Name, Src: src}})
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
		if _, err := cat.Publish(ctx, m.Agency, f.Name, src); err != nil {
			return published, fmt.Errorf("demo: publish %s: %w", f.Name, err)
		}
		published++
	}
	return published, nil
}

// withoutPlugins removes a service manifest's plug-in uses: pages'
// prefill_from and check, fee.call, call_plugin actions, and the pages
// with choices_from (without the plug-in the question has no choices),
// and the appointment read from what the calls record.
func withoutPlugins(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.SequenceNode:
			kept := n.Content[:0]
			for _, c := range n.Content {
				if c.Kind == yaml.MappingNode && len(c.Content) == 2 && c.Content[0].Value == "call_plugin" {
					continue
				}
				if hasKey(c, "choices_from") {
					continue // a page whose question only a plug-in can offer choices for
				}
				walk(c)
				kept = append(kept, c)
			}
			n.Content = kept
		case yaml.MappingNode:
			kept := n.Content[:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "prefill_from", "check", "call":
					continue
				}
				walk(n.Content[i+1])
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
			n.Content = kept
		}
	}
	walk(&doc)
	// The appointment is read from what call_plugin actions record: with
	// them gone, there is none to show.
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		root := doc.Content[0]
		kept := root.Content[:0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "appointment" {
				kept = append(kept, root.Content[i], root.Content[i+1])
			}
		}
		root.Content = kept
	}
	return yaml.Marshal(&doc)
}

// hasKey reports whether n is a mapping with key.
func hasKey(n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
