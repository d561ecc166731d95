package catalog_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/services/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublish(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		log := audit.New(db, clock, nil)
		ten, err := tenancy.New(db, log, clock)
		if err != nil {
			t.Fatal(err)
		}
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "cli"})
		if _, err := demo.Seed(ctx, ten); err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.New(db, log, clock, ten)
		if err != nil {
			t.Fatal(err)
		}
		adams := read(t, "adams-dog-licence.yaml")
		baker := read(t, "baker-dog-licence.yaml")

		// extend before the base is published: invalid, nothing stored.
		_, err = cat.Publish(ctx, "baker-clerk", "baker.yaml", baker)
		var pe *catalog.ProblemsError
		if !errors.As(err, &pe) || platform.ErrorCode(err) != platform.CodeInvalid || !strings.Contains(pe.Problems[0].Message, "is not published") {
			t.Fatalf("publish before base: %v", err)
		}
		steps := []struct {
			name, agency, file string
			src                []byte
			code               platform.Code
			msg                string
		}{
			{"wrong agency", "baker-clerk", "adams.yaml", adams, platform.CodeInvalid, "problem"},
			{"unknown agency", "atlantis", "adams.yaml", adams, platform.CodeInvalid, "problem"},
			{"base", "adams-clerk", "adams.yaml", adams, "", ""},
			{"same version again", "adams-clerk", "adams.yaml", adams, platform.CodeConflict, "already published"},
			{"older version", "adams-clerk", "adams.yaml", []byte(strings.Replace(string(adams), "version: 1", "version: 0", 1)), platform.CodeInvalid, "problem"},
			{"extend", "baker-clerk", "baker.yaml", baker, "", ""},
			{"id owned by another agency", "baker-clerk", "adams.yaml", []byte(strings.NewReplacer("agency: adams-clerk", "agency: baker-clerk", "version: 1", "version: 2", "[adams-county]", "[baker-county]").Replace(string(adams))), platform.CodeConflict, `belongs to agency "adams-clerk"`},
			{"outside territory", "adams-clerk", "x.yaml", []byte(strings.NewReplacer("id: adams-dog-licence", "id: adams-dog-2", "[adams-county]", "[lakeside]").Replace(string(adams))), platform.CodeInvalid, "problem"},
			{"version 2", "adams-clerk", "adams.yaml", []byte(strings.Replace(string(adams), "version: 1", "version: 2", 1)), "", ""},
		}
		for _, s := range steps {
			_, err := cat.Publish(ctx, s.agency, s.file, s.src)
			if s.code == "" && err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if s.code != "" && (platform.ErrorCode(err) != s.code || !strings.Contains(platform.ErrorMessage(err), s.msg)) {
				t.Fatalf("%s: error %v, want %s containing %q", s.name, err, s.code, s.msg)
			}
		}
		got, err := cat.Service(ctx, "baker-dog-licence", 1)
		if err != nil {
			t.Fatal(err)
		}
		m := got.Manifest
		if m.Agency != "baker-clerk" || *m.Fee.Amount != 1500 || m.Fee.Expression != "" || m.Fee.Currency != "USD" ||
			m.Documents["dog_licence"].ValidFor != "104w" || m.Documents["dog_licence"].Title.EN != "Dog license" || len(m.Pages) != 2 {
			t.Fatalf("resolved baker manifest wrong: %+v", m)
		}
		if got.Source != string(baker) || got.PublishedBy != "operator:cli" {
			t.Fatalf("source or publisher not kept: %q", got.PublishedBy)
		}
		latest, err := cat.Latest(ctx, "adams-dog-licence")
		if err != nil || latest.Version != 2 {
			t.Fatalf("Latest = %d, %v", latest.Version, err)
		}
		if _, err := cat.Service(ctx, "adams-dog-licence", 9); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("missing version: %v", err)
		}
		if _, err := cat.Latest(ctx, "nope"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("missing service: %v", err)
		}
		all, err := cat.List(ctx, "")
		if err != nil || len(all) != 2 || all[0].ID != "adams-dog-licence" || all[0].Version != 2 {
			t.Fatalf("List = %+v, %v", all, err)
		}
		mine, err := cat.List(ctx, "baker-clerk")
		if err != nil || len(mine) != 1 || mine[0].ID != "baker-dog-licence" {
			t.Fatalf("List(baker-clerk) = %+v, %v", mine, err)
		}
		entries, err := log.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == "service.publish" {
				n++
			}
		}
		if n != 3 {
			t.Errorf("service.publish audit entries = %d, want 3", n)
		}
	})
}

// TestPublishExamples publishes every example manifest for its agency.
func TestPublishExamples(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		log := audit.New(db, clock, nil)
		ten, err := tenancy.New(db, log, clock)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := demo.Seed(ctx, ten); err != nil {
			t.Fatal(err)
		}
		// The real plug-in registry with the demo's plug-ins registered
		// and enabled: the renewal uses vehicle-registry's operations.
		box, err := secrets.New([]byte(strings.Repeat("k", 32)))
		if err != nil {
			t.Fatal(err)
		}
		reg, err := plugin.New(db, log, clock, box, plugin.Config{EventTypes: []string{"gov.portico.case.transitioned", "gov.portico.case.document_issued"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := demo.SeedPlugins(ctx, reg, nil); err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.New(db, log, clock, ten, catalog.WithPlugins(registryRefs{reg}))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ file, agency string }{
			{"vehicle-registration-renewal.yaml", "dmv"},
			{"fishing-licence.yaml", "fish-wildlife"},
			{"property-tax-payment.yaml", "adams-treasurer"},
			{"marriage-licence.yaml", "adams-clerk"},
			{"business-licence.yaml", "springfield-licensing"},
			{"report-a-pothole.yaml", "springfield-public-works"},
			{"adams-dog-licence.yaml", "adams-clerk"},
			{"baker-dog-licence.yaml", "baker-clerk"},
		} {
			if _, err := cat.Publish(ctx, f.agency, f.file, read(t, f.file)); err != nil {
				var pe *catalog.ProblemsError
				if errors.As(err, &pe) {
					t.Errorf("%s: %v", f.file, pe.Problems)
					continue
				}
				t.Errorf("%s: %v", f.file, err)
			}
		}
	})
}

// registryRefs checks plug-in uses against the registry, as app does.
type registryRefs struct{ reg *plugin.Service }

func (r registryRefs) CheckPluginUse(ctx context.Context, agency, service, pluginID, operation string, data []string) (string, error) {
	return r.reg.CheckUse(ctx, agency, service, pluginID, operation, data)
}
