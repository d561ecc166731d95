package catalog_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

// seedCatalog publishes the demo services and n generated ones.
func seedCatalog(t *testing.T, db *storage.DB, n int) *catalog.Service {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
	if _, err := demo.Seed(ctx, ten); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedServices(ctx, cat); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		src, agency := demo.GeneratedService(i)
		if _, err := cat.Publish(ctx, agency, fmt.Sprintf("gen-%d.yaml", i), src); err != nil {
			t.Fatalf("generated %d: %v", i, err)
		}
	}
	return cat
}

func ids(r catalog.SearchResult) []string {
	out := []string{}
	for _, p := range r.Services {
		out = append(out, p.ID)
	}
	return out
}

// TestSearch pins what people find in the demo catalog, on every engine.
func TestSearch(t *testing.T) {
	tests := []struct {
		name string
		req  catalog.SearchRequest
		want []string
	}{
		{"one word", catalog.SearchRequest{Q: "dog", Lang: "en"}, []string{"baker-dog-licence", "adams-dog-licence"}},
		{"plural is stemmed", catalog.SearchRequest{Q: "Dogs", Lang: "en"}, []string{"baker-dog-licence", "adams-dog-licence"}},
		{"all words must match", catalog.SearchRequest{Q: "dog licence adams", Lang: "en"}, []string{"adams-dog-licence"}},
		{"stop words ignored", catalog.SearchRequest{Q: "the pothole", Lang: "en"}, []string{"springfield-pothole"}},
		{"agency name", catalog.SearchRequest{Q: "motor vehicles", Lang: "en"}, []string{"vehicle-registration-renewal"}},
		{"category name", catalog.SearchRequest{Q: "streets", Lang: "en"}, []string{"springfield-pothole"}},
		{"spanish", catalog.SearchRequest{Q: "perros", Lang: "es"}, []string{"adams-dog-licence", "baker-dog-licence"}},
		{"spanish without accents", catalog.SearchRequest{Q: "reparacion", Lang: "es"}, []string{"springfield-pothole"}},
		{"spanish with accents", catalog.SearchRequest{Q: "Reparación", Lang: "es"}, []string{"springfield-pothole"}},
		{"english words in spanish search", catalog.SearchRequest{Q: "pothole", Lang: "es"}, []string{}},
		{"filter by agency", catalog.SearchRequest{Q: "dog", Lang: "en", Agency: "baker-clerk"}, []string{"baker-dog-licence"}},
		{"browse a category", catalog.SearchRequest{Lang: "en", Category: "animals"}, []string{"baker-dog-licence", "adams-dog-licence"}},
		{"nothing", catalog.SearchRequest{Q: "zeppelin", Lang: "en"}, []string{}},
		{"only stop words browses", catalog.SearchRequest{Q: "the of and", Lang: "en", Category: "streets"}, []string{"springfield-pothole"}},
		{"fts5 syntax is text", catalog.SearchRequest{Q: `dog" OR "licence`, Lang: "en"}, []string{"baker-dog-licence", "adams-dog-licence"}},
		{"operators are text", catalog.SearchRequest{Q: `NEAR(dog* AND -licence) | !tax & 'x':*`, Lang: "en"}, []string{}},
		{"column filter is text", catalog.SearchRequest{Q: `terms_es : perro`, Lang: "en"}, []string{}},
		{"sql is text", catalog.SearchRequest{Q: `'; DROP TABLE services; --`, Lang: "en"}, []string{}},
		{"page past the end", catalog.SearchRequest{Q: "dog", Lang: "en", Page: 9}, []string{}},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := cat.Search(context.Background(), tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(res); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		t.Run("facets", func(t *testing.T) {
			res, err := cat.Search(context.Background(), catalog.SearchRequest{Q: "licence", Lang: "en", Category: "animals"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != 2 {
				t.Errorf("total %d", res.Total)
			}
			// Categories ignore the category filter: all licences.
			wantCats := []catalog.Facet{{ID: "animals", Count: 2}, {ID: "business", Count: 1}, {ID: "family", Count: 1}, {ID: "outdoors", Count: 1}}
			if !reflect.DeepEqual(res.Categories, wantCats) {
				t.Errorf("categories %v, want %v", res.Categories, wantCats)
			}
			wantAg := []catalog.Facet{{ID: "adams-clerk", Count: 1}, {ID: "baker-clerk", Count: 1}}
			if !reflect.DeepEqual(res.Agencies, wantAg) {
				t.Errorf("agencies %v, want %v", res.Agencies, wantAg)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			for _, req := range []catalog.SearchRequest{
				{Q: strings.Repeat("dog ", 200)},
				{Q: "dog\xff"},
				{Category: strings.Repeat("c", 101)},
			} {
				if _, err := cat.Search(context.Background(), req); platform.ErrorCode(err) != platform.CodeInvalid {
					t.Errorf("%.20q: %v, want invalid", req.Q, err)
				}
			}
		})
		t.Run("publish keeps the index in step", func(t *testing.T) {
			ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
			src := strings.NewReplacer("version: 1", "version: 2", "Report a pothole", "Report a sinkhole").Replace(string(read(t, "report-a-pothole.yaml")))
			if _, err := cat.Publish(ctx, "springfield-public-works", "p.yaml", []byte(src)); err != nil {
				t.Fatal(err)
			}
			res, err := cat.Search(ctx, catalog.SearchRequest{Q: "sinkhole", Lang: "en"})
			if err != nil || len(res.Services) != 1 || res.Services[0].Version != 2 {
				t.Fatalf("sinkhole: %v %v", ids(res), err)
			}
			// The old title is gone; the keyword "pothole" still finds
			// the new version.
			res, _ = cat.Search(ctx, catalog.SearchRequest{Q: "report pothole", Lang: "en"})
			if len(res.Services) != 1 || res.Services[0].Version != 2 {
				t.Fatalf("report pothole: %v", ids(res))
			}
			if n, err := cat.Reindex(ctx); err != nil || n != 8 {
				t.Fatalf("reindex: %d %v", n, err)
			}
		})
		t.Run("services published before the index are indexed at start", func(t *testing.T) {
			ctx := context.Background()
			for _, q := range []string{`DELETE FROM catalog_jurisdictions`, `DELETE FROM catalog_search`} {
				if _, err := db.Write().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if res, _ := cat.Search(ctx, catalog.SearchRequest{Q: "dog", Lang: "en"}); res.Total != 0 {
				t.Fatalf("emptied index still finds %v", ids(res))
			}
			if err := cat.EnsureIndexed(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := cat.Search(ctx, catalog.SearchRequest{Q: "dog", Lang: "en"})
			if err != nil || res.Total != 2 {
				t.Fatalf("after EnsureIndexed: %v %v", ids(res), err)
			}
		})
	})
}

// TestSearchSameOnBothEngines runs the same searches over the same
// generated catalog on SQLite and PostgreSQL and compares the results:
// ordered ids, totals and facets must be identical. It needs
// PORTICO_TEST_POSTGRES_URL.
func TestSearchSameOnBothEngines(t *testing.T) {
	dialects := storagetest.Dialects(t)
	if len(dialects) < 2 {
		t.Skip("needs PORTICO_TEST_POSTGRES_URL for the PostgreSQL side")
	}
	var reqs []catalog.SearchRequest
	for _, q := range []string{"", "dog", "licence", "licences permit", "water tree", "service", "office", "apply renewal",
		"dmv", "clerk", "county", "boat parking", "senior", "7", "12 service", "housing property"} {
		reqs = append(reqs, catalog.SearchRequest{Q: q, Lang: "en"}, catalog.SearchRequest{Q: q, Lang: "en", Page: 2},
			catalog.SearchRequest{Q: q, Lang: "en", Category: "permits"}, catalog.SearchRequest{Q: q, Lang: "en", Agency: "dmv"})
	}
	for _, q := range []string{"", "perro", "licencia", "renovacion", "árbol agua", "servicio", "oficina", "niño", "condado", "vehiculos"} {
		reqs = append(reqs, catalog.SearchRequest{Q: q, Lang: "es"}, catalog.SearchRequest{Q: q, Lang: "es", Page: 3},
			catalog.SearchRequest{Q: q, Lang: "es", Category: "streets"})
	}
	results := map[storage.Dialect][]string{}
	for _, d := range dialects {
		cat := seedCatalog(t, storagetest.Open(t, d), 300)
		for _, req := range reqs {
			res, err := cat.Search(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			results[d] = append(results[d], fmt.Sprintf("%+v → total %d pages %d ids %v cats %v agencies %v",
				req, res.Total, res.Pages, ids(res), res.Categories, res.Agencies))
		}
	}
	sq, pg := results[storage.SQLite], results[storage.Postgres]
	nonEmpty := 0
	for i := range sq {
		if sq[i] != pg[i] {
			t.Errorf("engines differ:\nsqlite:   %s\npostgres: %s", sq[i], pg[i])
		}
		if !strings.Contains(sq[i], "ids []") {
			nonEmpty++
		}
	}
	if nonEmpty < len(sq)/2 {
		t.Errorf("only %d of %d searches found anything; the comparison proves little", nonEmpty, len(sq))
	}
}
