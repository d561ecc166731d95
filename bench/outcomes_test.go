package bench

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
)

// A year of a state's transactions, as the outcome block stores them:
// 200 services of 20 agencies, every day of a year, 15 transactions per
// service and day (12 submitted online, 1 told not eligible, 2 offline)
// plus drop-outs, decisions (3 buckets of the decision-time histogram),
// information requests and survey answers: 200 × 365 × 15 = 1,095,000
// transactions in 73,000 daily rows and 219,000 histogram rows.
// benchLevel is the level roll-up of a bench agency: agency-N is a
// state, county, city or town agency by N mod 4.
const benchLevel = `CASE CAST(SUBSTR(agency_id, 8) AS INTEGER) % 4 WHEN 0 THEN '@state' WHEN 1 THEN '@county' WHEN 2 THEN '@city' ELSE '@town' END`

const (
	benchServices = 200
	benchAgencies = 20
	benchDays     = 365
)

// BenchmarkOutcomes serves the public /performance page, its JSON, one
// service's page and a platform administrator's console dashboard (every
// agency) over a year of measures at state scale, each for the default
// twelve months, beside a bare net/http hello-world in the same run
// (x-baseline: Portico's req/s over the hello-world's).
func BenchmarkOutcomes(b *testing.B) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), LogLevel: slog.LevelInfo, Role: "all"}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Listen: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	if _, err := demo.SeedPeople(ctx, a.Identity); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.Stop(sctx)
	})
	seedOutcomes(b, a)
	cookie := benchStaffSignIn(b, a.URL(), "pat.admin@example.gov")
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")

	var baseline float64
	b.Run("server=bare-net-http", func(b *testing.B) { baseline = driveSignedIn(b, bare+"/", "") })
	for _, page := range []struct{ name, path, cookie string }{
		{"page=performance", "/performance", ""},
		{"page=performance.json", "/performance.json", ""},
		{"page=performance-service", "/performance/service-7", ""},
		{"page=console-outcomes-all-agencies", "/console/outcomes", cookie},
		{"page=console-outcomes-agency-weeks", "/console/outcomes?agency=agency-3&period=week", cookie},
		{"page=performance-county", "/performance?level=county", ""},
	} {
		b.Run(page.name, func(b *testing.B) {
			rps := driveSignedIn(b, a.URL()+page.path, page.cookie)
			b.ReportMetric(rps/baseline, "x-baseline")
		})
	}
}

// seedOutcomes writes the year of measures straight into the outcome
// block's tables (what its consumer would have written), ending today.
func seedOutcomes(b *testing.B, a *app.App) {
	b.Helper()
	ctx := context.Background()
	today := string(a.Outcomes.Today(ctx))
	series := `WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < $1),
		s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j < $2) `
	day := `date($3, '-' || i || ' days')`
	start := time.Now()
	for _, q := range []string{
		series + `INSERT INTO outcome_daily (day, agency_id, service_id, started, ineligible, submitted, withdrawn, expired,
			offline_paper, offline_phone, offline_counter, decided, decided_in_sla, decided_with_sla, info_requests, sat2, sat3, sat4, sat5)
			SELECT ` + day + `, 'agency-' || (j % $4), 'service-' || j, 15, 1, 12, 1, 2, 1, 1, 0, 12, 10, 12, 2, 1, 1, 2, 3 FROM d, s`,
		series + `INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions)
			SELECT ` + day + `, 'agency-' || (j % $4), 'service-' || j, h.hours, 4 FROM d, s, (SELECT 24 AS hours UNION ALL SELECT 72 UNION ALL SELECT 240) h`,
		series + `INSERT INTO outcome_costs (agency_id, service_id, month, amount, currency)
			SELECT DISTINCT 'agency-' || (j % $4), 'service-' || j, substr(` + day + `, 1, 7), 5000000, 'USD' FROM d, s`,
		// The roll-ups the consumer keeps beside each service's row
		// (ADR 54, 65): the agency's (agency, '*'), the service's across
		// agencies ('*', service), the level's ('@level', '*') — the
		// agencies are spread over the four levels of government — and the
		// jurisdiction's ('*', '*').
		`INSERT INTO outcome_daily (day, agency_id, service_id, started, ineligible, submitted, withdrawn, expired, offline_paper, offline_phone, offline_counter, decided, decided_in_sla, decided_with_sla, info_requests, sat2, sat3, sat4, sat5)
			SELECT day, agency_id, '*', SUM(started), SUM(ineligible), SUM(submitted), SUM(withdrawn), SUM(expired), SUM(offline_paper), SUM(offline_phone), SUM(offline_counter), SUM(decided), SUM(decided_in_sla), SUM(decided_with_sla), SUM(info_requests), SUM(sat2), SUM(sat3), SUM(sat4), SUM(sat5) FROM outcome_daily WHERE service_id <> '*' GROUP BY day, agency_id`,
		`INSERT INTO outcome_daily (day, agency_id, service_id, started, ineligible, submitted, withdrawn, expired, offline_paper, offline_phone, offline_counter, decided, decided_in_sla, decided_with_sla, info_requests, sat2, sat3, sat4, sat5)
			SELECT day, '*', service_id, SUM(started), SUM(ineligible), SUM(submitted), SUM(withdrawn), SUM(expired), SUM(offline_paper), SUM(offline_phone), SUM(offline_counter), SUM(decided), SUM(decided_in_sla), SUM(decided_with_sla), SUM(info_requests), SUM(sat2), SUM(sat3), SUM(sat4), SUM(sat5) FROM outcome_daily WHERE service_id <> '*' AND agency_id <> '*' GROUP BY day, service_id`,
		`INSERT INTO outcome_daily (day, agency_id, service_id, started, ineligible, submitted, withdrawn, expired, offline_paper, offline_phone, offline_counter, decided, decided_in_sla, decided_with_sla, info_requests, sat2, sat3, sat4, sat5)
			SELECT day, ` + benchLevel + `, '*', SUM(started), SUM(ineligible), SUM(submitted), SUM(withdrawn), SUM(expired), SUM(offline_paper), SUM(offline_phone), SUM(offline_counter), SUM(decided), SUM(decided_in_sla), SUM(decided_with_sla), SUM(info_requests), SUM(sat2), SUM(sat3), SUM(sat4), SUM(sat5) FROM outcome_daily WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY day, ` + benchLevel,
		`INSERT INTO outcome_daily (day, agency_id, service_id, started, ineligible, submitted, withdrawn, expired, offline_paper, offline_phone, offline_counter, decided, decided_in_sla, decided_with_sla, info_requests, sat2, sat3, sat4, sat5)
			SELECT day, '*', '*', SUM(started), SUM(ineligible), SUM(submitted), SUM(withdrawn), SUM(expired), SUM(offline_paper), SUM(offline_phone), SUM(offline_counter), SUM(decided), SUM(decided_in_sla), SUM(decided_with_sla), SUM(info_requests), SUM(sat2), SUM(sat3), SUM(sat4), SUM(sat5) FROM outcome_daily WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY day`,
		`INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions)
			SELECT day, agency_id, '*', hours, SUM(decisions) FROM outcome_decision_times WHERE service_id <> '*' GROUP BY day, agency_id, hours`,
		`INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions)
			SELECT day, '*', service_id, hours, SUM(decisions) FROM outcome_decision_times WHERE service_id <> '*' AND agency_id <> '*' GROUP BY day, service_id, hours`,
		`INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions)
			SELECT day, ` + benchLevel + `, '*', hours, SUM(decisions) FROM outcome_decision_times WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY day, ` + benchLevel + `, hours`,
		`INSERT INTO outcome_decision_times (day, agency_id, service_id, hours, decisions)
			SELECT day, '*', '*', hours, SUM(decisions) FROM outcome_decision_times WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY day, hours`,
		// Each service's months, every one with a cost model, then the
		// months' roll-ups (cost, services with a cost, their transactions).
		`INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, cost_cents, costs, costed_transactions)
			SELECT agency_id, service_id, SUBSTR(day, 1, 7), SUM(submitted + ineligible + offline_paper + offline_phone + offline_counter), 5000000, 1,
				SUM(submitted + ineligible + offline_paper + offline_phone + offline_counter)
			FROM outcome_daily WHERE service_id NOT IN ('*') AND agency_id LIKE 'agency-%' GROUP BY agency_id, service_id, SUBSTR(day, 1, 7)`,
		`INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, cost_cents, costs, costed_transactions)
			SELECT agency_id, '*', month, SUM(transactions), SUM(cost_cents), SUM(costs), SUM(costed_transactions) FROM outcome_monthly WHERE service_id <> '*' GROUP BY agency_id, month`,
		`INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, cost_cents, costs, costed_transactions)
			SELECT '*', service_id, month, SUM(transactions), SUM(cost_cents), SUM(costs), SUM(costed_transactions) FROM outcome_monthly WHERE service_id <> '*' AND agency_id LIKE 'agency-%' GROUP BY service_id, month`,
		`INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, cost_cents, costs, costed_transactions)
			SELECT ` + benchLevel + `, '*', month, SUM(transactions), SUM(cost_cents), SUM(costs), SUM(costed_transactions) FROM outcome_monthly WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY ` + benchLevel + `, month`,
		`INSERT INTO outcome_monthly (agency_id, service_id, month, transactions, cost_cents, costs, costed_transactions)
			SELECT '*', '*', month, SUM(transactions), SUM(cost_cents), SUM(costs), SUM(costed_transactions) FROM outcome_monthly WHERE service_id = '*' AND agency_id LIKE 'agency-%' GROUP BY month`,
		`INSERT INTO outcome_totals (agency_id, service_id, submitted) SELECT agency_id, service_id, SUM(submitted) FROM outcome_daily WHERE service_id <> '*' AND agency_id LIKE 'agency-%' GROUP BY agency_id, service_id`,
	} {
		if _, err := a.DB.Write().ExecContext(ctx, q, benchDays-1, benchServices-1, today, benchAgencies); err != nil {
			b.Fatalf("seed outcomes: %v", err)
		}
	}
	rep, err := a.Outcomes.Report(ctx, outcome.Query{Range: outcome.Range{From: outcome.Day(today).AddDays(-(benchDays - 1)), To: outcome.Day(today)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded a year of measures in %s: %d transactions", time.Since(start).Round(time.Millisecond), rep.Total.Transactions())
}

// benchStaffSignIn signs a demo staff member in (password, then the
// authenticator code) and returns the Cookie header value of the session.
func benchStaffSignIn(b *testing.B, base, email string) string {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/sign-in", url.Values{"email": {email}, "password": {demo.StaffPassword}})
	code, _ := totp.GenerateCode(demo.StaffTOTPSecret, time.Now())
	post("/sign-in/verify", url.Values{"code": {code}})
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}
