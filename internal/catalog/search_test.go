package catalog_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/examples/services"
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
	if _, err := demo.SeedExamples(ctx, cat); err != nil {
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
		{"agency name", catalog.SearchRequest{Q: "motor vehicles", Lang: "en"}, []string{"vehicle-registration-renewal", "learners-permit", "dmv-change-of-address"}},
		{"category name", catalog.SearchRequest{Q: "streets", Lang: "en"}, []string{"springfield-pothole"}},
		{"spanish", catalog.SearchRequest{Q: "perros", Lang: "es"}, []string{"adams-dog-licence", "baker-dog-licence"}},
		{"spanish without accents", catalog.SearchRequest{Q: "reparacion", Lang: "es"}, []string{"springfield-pothole"}},
		{"spanish with accents", catalog.SearchRequest{Q: "Reparación", Lang: "es"}, []string{"springfield-pothole"}},
		{"english words from the spanish interface", catalog.SearchRequest{Q: "pothole", Lang: "es"}, []string{"springfield-pothole"}},
		{"spanish words from the english interface", catalog.SearchRequest{Q: "perro", Lang: "en"}, []string{"baker-dog-licence", "adams-dog-licence"}},
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
			wantCats := []catalog.Facet{{ID: "animals", Count: 2}, {ID: "business", Count: 2}, {ID: "family", Count: 1}, {ID: "outdoors", Count: 1}, {ID: "transport", Count: 2}}
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
			if n, err := cat.Reindex(ctx); err != nil || n != len(examples(t)) {
				t.Fatalf("reindex: %d %v", n, err)
			}
		})
		t.Run("services published before the index are indexed at start", func(t *testing.T) {
			ctx := context.Background()
			for _, q := range []string{`DELETE FROM catalog_jurisdictions`, `DELETE FROM catalog_life_events`, `DELETE FROM catalog_search`} {
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

func examples(t *testing.T) []services.File {
	t.Helper()
	fs, err := services.All()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestSearchSpellingVariants: British and US spellings find the same
// services, in documents and queries alike, on every engine.
func TestSearchSpellingVariants(t *testing.T) {
	pairs := []struct{ uk, us string }{
		{"licence", "license"}, {"licences", "licenses"}, {"dog licence", "dog license"}, {"licenced", "licensed"},
		{"centre", "center"}, {"service centre", "service center"}, {"programme", "program"}, {"Licence", "LICENSE"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		ctx := context.Background()
		for _, lang := range []string{"en", "es"} {
			for _, p := range pairs {
				uk, err := cat.Search(ctx, catalog.SearchRequest{Q: p.uk, Lang: lang})
				if err != nil {
					t.Fatal(err)
				}
				us, err := cat.Search(ctx, catalog.SearchRequest{Q: p.us, Lang: lang})
				if err != nil {
					t.Fatal(err)
				}
				if len(us.Services) == 0 || !reflect.DeepEqual(ids(uk), ids(us)) {
					t.Errorf("%s: %q found %v, %q found %v", lang, p.uk, ids(uk), p.us, ids(us))
				}
			}
		}
		// Every service with "license" in its English text: the two dog
		// licenses, the business, fishing and marriage licenses, the
		// DMV's change of address and learner's permit, and the business
		// name registration (which mentions the city's license).
		res, err := cat.Search(ctx, catalog.SearchRequest{Q: "licence", Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"adams-dog-licence", "adams-marriage-licence", "baker-dog-licence", "business-registration", "dmv-change-of-address",
			"fishing-licence", "learners-permit", "springfield-business-licence"}
		got := ids(res)
		slices.Sort(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("licence found %v, want %v", got, want)
		}
	})
}

// TestSearchBothLanguages: a word of the other language finds services
// too, after those that match in the interface's language.
func TestSearchBothLanguages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
		// A service whose English title has a Spanish word in it.
		src := strings.NewReplacer("id: springfield-pothole", "id: springfield-perro-parade",
			"title: {en: Report a pothole, es: Reportar un bache}", "title: {en: Perro Parade permit, es: Permiso para el desfile}").
			Replace(string(read(t, "report-a-pothole.yaml")))
		if _, err := cat.Publish(ctx, "springfield-public-works", "parade.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			lang string
			want []string
		}{
			// English first: the parade's English title has "Perro";
			// then the dog licenses, whose Spanish text does.
			{"en", []string{"springfield-perro-parade", "baker-dog-licence", "adams-dog-licence"}},
			{"es", []string{"adams-dog-licence", "baker-dog-licence", "springfield-perro-parade"}},
		} {
			res, err := cat.Search(ctx, catalog.SearchRequest{Q: "perro", Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: perro found %v, want %v", tt.lang, got, tt.want)
			}
		}
		// Both words must match in one language: English "dog" and
		// Spanish "rabia" are in different languages' text.
		res, err := cat.Search(ctx, catalog.SearchRequest{Q: "dog rabia", Lang: "en"})
		if err != nil || len(res.Services) != 0 {
			t.Errorf("dog rabia: %v %v", ids(res), err)
		}
	})
}

// TestLifeEvents: a life-event page reads the services whose manifests
// name it, from every level of government; an unknown event is not found;
// publishing a new version moves the service in or out.
func TestLifeEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 20)
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
		want := map[string][]string{
			"moving":              {"adams-dog-licence", "adams-property-tax", "adams-voter-registration", "baker-dog-licence", "dmv-change-of-address", "vehicle-registration-renewal"},
			"having-a-baby":       {"adams-birth-certificate", "kids-health-coverage"},
			"starting-a-business": {"business-registration", "springfield-business-licence"},
			"turning-16":          {"adams-voter-registration", "learners-permit"},
			"retiring":            {"adams-property-tax", "adams-senior-exemption", "fishing-licence"},
		}
		for _, e := range catalog.LifeEvents() {
			ps, err := cat.LifeEventServices(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if !reflect.DeepEqual(got, want[e]) {
				t.Errorf("%s: %v, want %v", e, got, want[e])
			}
		}
		if _, err := cat.LifeEventServices(ctx, "graduating"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("unknown life event: %v", err)
		}
		src := strings.NewReplacer("version: 1", "version: 2", "life_events: [starting-a-business]", "life_events: [moving]").
			Replace(string(read(t, "business-licence.yaml")))
		if _, err := cat.Publish(ctx, "springfield-licensing", "b.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		ps, _ := cat.LifeEventServices(ctx, "starting-a-business")
		if len(ps) != 1 || ps[0].ID != "business-registration" {
			t.Errorf("after moving the business license out: %v", ps)
		}
		ps, _ = cat.LifeEventServices(ctx, "moving")
		if !slices.ContainsFunc(ps, func(p catalog.Published) bool { return p.ID == "springfield-business-licence" && p.Version == 2 }) {
			t.Errorf("version 2 is not in moving: %v", ps)
		}
	})
}

// TestMostUsed: the counter ranks services by submissions in the last 90
// days (local days), most first, then by id; older submissions and
// services no longer published do not count.
func TestMostUsed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		ctx := context.Background()
		chicago, err := time.LoadLocation("America/Chicago")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		count := func(id string, at time.Time, n int) {
			t.Helper()
			for range n {
				if err := db.InTx(ctx, func(tx *sql.Tx) error { return cat.CountSubmission(ctx, tx, id, at, chicago) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got, err := cat.MostUsed(ctx, now, chicago, 6); err != nil || len(got) != 0 {
			t.Fatalf("no submissions: %v %v", got, err)
		}
		count("fishing-licence", now, 4)
		count("adams-dog-licence", now.AddDate(0, 0, -89), 4)
		count("springfield-pothole", now.AddDate(0, 0, -10), 7)
		count("learners-permit", now.AddDate(0, 0, -91), 50) // too old
		count("withdrawn-service", now, 90)                  // not published
		got, err := cat.MostUsed(ctx, now, chicago, 6)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, u := range got {
			order = append(order, fmt.Sprintf("%s=%d", u.Service.ID, u.Submissions))
		}
		want := []string{"springfield-pothole=7", "adams-dog-licence=4", "fishing-licence=4"}
		if !reflect.DeepEqual(order, want) {
			t.Errorf("most used = %v, want %v", order, want)
		}
		if got, _ := cat.MostUsed(ctx, now, chicago, 1); len(got) != 1 || got[0].Service.ID != "springfield-pothole" {
			t.Errorf("limit 1: %v", got)
		}
		// The day is the local day: 02:00 UTC on the 25th is still the
		// 24th in Chicago, so it lands in the same row as "now".
		var days int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(DISTINCT day) FROM catalog_usage WHERE service_id = 'fishing-licence'`).Scan(&days); err != nil || days != 1 {
			t.Fatalf("days = %d, %v", days, err)
		}
		count("fishing-licence", time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC), 1)
		var day string
		if err := db.Read().QueryRowContext(ctx, `SELECT MAX(day) FROM catalog_usage WHERE service_id = 'fishing-licence'`).Scan(&day); err != nil || day != "2026-11-24" {
			t.Errorf("local day = %q, %v", day, err)
		}
	})
}
