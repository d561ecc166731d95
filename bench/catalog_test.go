package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
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

// BenchmarkCatalogSearch measures catalog.Search over 10,000 generated
// services (PORTICO_BENCH_SERVICES overrides the number) on SQLite and,
// when PORTICO_TEST_POSTGRES_URL is set, on PostgreSQL. Each engine is
// seeded once, through catalog.Publish (so the index is built the way
// production builds it), then every query and two baselines run against
// the same database in the same run:
//
//   - baseline=pk: one services row by primary key (the floor of a read);
//   - baseline=prefix: 20 ids by an indexed prefix range on the primary
//     key (what a plain "starts with" search would cost).
//
// Besides ns/op it reports p50-ms (the median latency of one search over
// all its iterations: the number to read) and results (how many services
// the query matched). Seeding takes minutes, so run it once (-count 1)
// with a long -benchtime rather than many counts:
//
//	go test -run '^$' -bench CatalogSearch -benchtime 5s -count 1 -timeout 60m ./bench/
func BenchmarkCatalogSearch(b *testing.B) {
	n := 10000
	if s := os.Getenv("PORTICO_BENCH_SERVICES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	queries := []struct {
		name string
		req  catalog.SearchRequest
	}{
		{"common-word", catalog.SearchRequest{Q: "licence", Lang: "en"}},
		{"two-words", catalog.SearchRequest{Q: "dog parking", Lang: "en"}},
		{"three-words-page2", catalog.SearchRequest{Q: "apply office service", Lang: "en", Page: 2}},
		{"rare-word", catalog.SearchRequest{Q: "zeppelin", Lang: "en"}},
		{"spanish", catalog.SearchRequest{Q: "renovación de licencia", Lang: "es"}},
		{"browse-category", catalog.SearchRequest{Lang: "en", Category: "permits"}},
		{"browse-all-page10", catalog.SearchRequest{Lang: "en", Page: 10}},
	}
	for _, d := range storagetest.Dialects(b) {
		b.Run("db="+string(d), func(b *testing.B) {
			db := storagetest.Open(b, d)
			cat := seedServices(b, db, n)
			ctx := context.Background()
			for _, q := range queries {
				b.Run("query="+q.name, func(b *testing.B) {
					var total int
					durs := make([]time.Duration, 0, b.N)
					for b.Loop() {
						start := time.Now()
						res, err := cat.Search(ctx, q.req)
						durs = append(durs, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						total = res.Total
					}
					b.ReportMetric(float64(total), "results")
					b.ReportMetric(p50ms(durs), "p50-ms")
				})
			}
			b.Run("baseline=pk", func(b *testing.B) {
				durs := make([]time.Duration, 0, b.N)
				for i := 0; b.Loop(); i++ {
					start := time.Now()
					var id string
					err := db.Read().QueryRowContext(ctx, `SELECT id FROM services WHERE id = $1 AND version = 1`, fmt.Sprintf("gen-%05d", i%n)).Scan(&id)
					durs = append(durs, time.Since(start))
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(p50ms(durs), "p50-ms")
			})
			b.Run("baseline=prefix", func(b *testing.B) {
				durs := make([]time.Duration, 0, b.N)
				for i := 0; b.Loop(); i++ {
					start := time.Now()
					p := fmt.Sprintf("gen-%02d", i%(n/1000+1))
					rows, err := db.Read().QueryContext(ctx, `SELECT id FROM services WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 20`, p, p+"~")
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					rows.Close()
					durs = append(durs, time.Since(start))
				}
				b.ReportMetric(p50ms(durs), "p50-ms")
			})
		})
	}
}

func p50ms(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Millisecond)
}

// seedServices publishes the demo jurisdiction, its example services and n
// generated ones.
func seedServices(b *testing.B, db *storage.DB, n int) *catalog.Service {
	b.Helper()
	start := time.Now()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		b.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "bench"})
	if _, err := demo.Seed(ctx, ten); err != nil {
		b.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.SeedServices(ctx, cat); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		src, agency := demo.GeneratedService(i)
		if _, err := cat.Publish(ctx, agency, "gen.yaml", src); err != nil {
			b.Fatalf("service %d: %v", i, err)
		}
	}
	// Steady state, as autovacuum (PostgreSQL) would leave it: statistics
	// gathered and the GIN index's pending list merged, so the planner
	// uses the index for rare words instead of a sequential scan.
	analyze := "ANALYZE"
	if db.Dialect == storage.Postgres {
		analyze = "VACUUM ANALYZE catalog_search"
	}
	if _, err := db.Write().ExecContext(ctx, analyze); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: published %d services in %s", db.Dialect, n, time.Since(start).Round(time.Second))
	return cat
}
