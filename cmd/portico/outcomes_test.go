package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/outcome"
)

// TestOutcomesJourney walks the outcome pages through the real HTTP server
// of the demo: the public /performance page and its JSON (no data shown as
// such, never 0%); Casey (a DMV caseworker) reads the DMV's dashboard with
// its charts and tables, makes a mistake recording paper transactions and
// keeps what she typed, records them, and sees take-up count them; she may
// not enter costs or read another agency; Dana (the DMV's administrator)
// enters a month's cost; Pat (platform administrator) sees every agency
// side by side and downloads the CSV; every record is audited.
func TestOutcomesJourney(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	casey := signInClient(t, base, "casey.dmv@example.gov", true)
	dana := signInClient(t, base, "dana.dmv-admin@example.gov", true)
	pat := signInClient(t, base, "pat.admin@example.gov", true)

	get := func(c *http.Client, path string) (int, string, http.Header) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	send := func(c *http.Client, path string, form url.Values) (int, string) {
		t.Helper()
		resp := postForm(t, c, base+path, form)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// drain: the demo's dispatcher counts events as they come; wait until
	// the consumer has read the whole log.
	drain := func() {
		t.Helper()
		for range 400 {
			if _, err := events.Sequence(ctx, a.DB, 1000); err != nil {
				t.Fatal(err)
			}
			head, err := events.LogHead(ctx, a.DB)
			if err != nil {
				t.Fatal(err)
			}
			states, err := events.Consumers(ctx, a.DB)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range states {
				if c.Name == outcome.ConsumerName && c.Position >= head.Position && head.Unsequenced == 0 {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("the outcomes consumer did not reach the head of the log")
	}
	drain()

	// The public page: the four KPIs, every chart an image with a name and
	// a description followed by its table; cached privately.
	status, body, hdr := get(anon, "/performance")
	if status != 200 || hdr.Get("Cache-Control") != "private, max-age=300" {
		t.Fatalf("/performance: %d %q", status, hdr.Get("Cache-Control"))
	}
	for _, want := range []string{"Digital take-up", "Completion rate", "User satisfaction", "Cost per transaction",
		`role="img"`, `aria-labelledby="chart-takeup-title chart-takeup-desc"`, `id="chart-takeup-table"`, "No data", "/performance/vehicle-registration-renewal"} {
		if !strings.Contains(body, want) {
			t.Errorf("/performance lacks %q", want)
		}
	}
	status, body, _ = get(anon, "/performance?lang=es")
	if status != 200 || !strings.Contains(body, "Adopción digital") || !strings.Contains(body, "Sin datos") {
		t.Errorf("/performance in Spanish: %d", status)
	}
	// JSON: the same figures; no cost entered yet, so null, not 0.
	status, body, hdr = get(anon, "/performance.json")
	var doc struct {
		Total struct {
			Cost      *int64                         `json:"cost_per_transaction_cents"`
			TakeUp    struct{ Value *float64 }       `json:"digital_take_up"`
			Satisfied struct{ Value *float64 }       `json:"user_satisfaction"`
			Tx        struct{ Paper, Digital int64 } `json:"transactions"`
		} `json:"total"`
		Periods []json.RawMessage `json:"periods"`
	}
	if status != 200 || hdr.Get("Cache-Control") != "public, max-age=300" || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("/performance.json: %d %q\n%s", status, hdr.Get("Cache-Control"), body)
	}
	if doc.Total.Cost != nil || len(doc.Periods) != 12 || doc.Total.TakeUp.Value == nil || *doc.Total.TakeUp.Value != 1 {
		t.Errorf("the demo's figures: %s", body)
	}
	if status, body, _ = get(anon, "/performance.json?from=2026-13-01&to=2026-12-01"); status != http.StatusBadRequest || !strings.Contains(body, `"from"`) {
		t.Errorf("a bad day in the JSON query: %d %s", status, body)
	}
	if status, _, _ = get(anon, "/performance/no-such-service"); status != http.StatusNotFound {
		t.Errorf("an unknown service: %d", status)
	}
	if status, _, _ = get(anon, "/performance/vehicle-registration-renewal.json"); status != 200 {
		t.Errorf("a service's JSON: %d", status)
	}
	// Levels of government: the jurisdiction's page and JSON show each
	// level with figures; a level narrows both; an unknown level is the
	// reader's mistake (an error summary, a problem), never a 500.
	status, body, _ = get(anon, "/performance")
	if status != 200 || !strings.Contains(body, `id="by-level"`) || !strings.Contains(body, "State agencies") || !strings.Contains(body, `<select class="usa-select" id="level" name="level">`) {
		t.Errorf("/performance by level: %d", status)
	}
	status, body, _ = get(anon, "/performance?level=county&lang=es")
	if status != 200 || strings.Contains(body, `id="by-level"`) || !strings.Contains(body, "Agencias de condado") {
		t.Errorf("/performance of the counties: %d", status)
	}
	if status, body, _ = get(anon, "/performance?level=province"); status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error-summary"`) || !strings.Contains(body, "Choose a level of government") {
		t.Errorf("an unknown level on the page: %d", status)
	}
	if status, body, _ = get(anon, "/performance.json?level=province"); status != http.StatusBadRequest || !strings.Contains(body, `"level"`) {
		t.Errorf("an unknown level in the JSON: %d %s", status, body)
	}
	var levels struct {
		Level   string `json:"level"`
		ByLevel []struct {
			Level string `json:"level"`
		} `json:"by_level"`
	}
	_, body, _ = get(anon, "/performance.json")
	if err := json.Unmarshal([]byte(body), &levels); err != nil || len(levels.ByLevel) == 0 || levels.ByLevel[0].Level != "state" {
		t.Errorf("by level in the JSON: %v %s", err, body)
	}
	_, body, _ = get(anon, "/performance.json?level=state")
	levels.Level, levels.ByLevel = "", nil // a document without by_level leaves the field as it was
	if err := json.Unmarshal([]byte(body), &levels); err != nil || levels.Level != "state" || levels.ByLevel != nil {
		t.Errorf("the state's JSON: %v %s", err, body)
	}

	// "Not eligible" is an end point (ADR 56): Ana (38) reading the
	// senior exemption (65 and over) is told so and asked how it went,
	// in English and in Spanish.
	ana := signInClient(t, base, "ana.citizen@example.com", false)
	for lang, title := range map[string]string{"en": "How was it?", "es": "¿Cómo le fue?"} {
		status, body, _ = get(ana, "/services/adams-senior-exemption?lang="+lang)
		if status != 200 || !strings.Contains(body, `id="satisfaction-panel"`) || !strings.Contains(body, title) ||
			!strings.Contains(body, `href="/satisfaction?after=ineligible&amp;service=adams-senior-exemption"`) {
			t.Errorf("the not-eligible page in %s: %d, no survey panel", lang, status)
		}
	}

	// The console is for staff.
	if status, _, _ = get(anon, "/console/outcomes"); status != http.StatusSeeOther {
		t.Errorf("anonymous dashboard: %d", status)
	}

	// Casey's dashboard: the DMV's, with the operational measures.
	status, body, _ = get(casey, "/console/outcomes")
	for _, want := range []string{"Service outcomes", "Decided within the service level", `id="chart-transactions-table"`, "Download these figures (CSV)", "Record transactions done offline"} {
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("Casey's dashboard: %d, no %q", status, want)
		}
	}
	if strings.Contains(body, "Enter the cost of a service") || strings.Contains(body, "Every agency side by side") {
		t.Error("Casey is offered costs or every agency")
	}
	if status, _, _ = get(casey, "/console/outcomes?agency=revenue"); status != http.StatusNotFound {
		t.Errorf("Casey asking for Revenue's measures: %d", status)
	}
	if status, _, _ = get(casey, "/console/outcomes/agencies"); status != http.StatusForbidden {
		t.Errorf("Casey asking for every agency: %d", status)
	}
	if status, _, _ = get(casey, "/console/outcomes/costs?agency=dmv"); status != http.StatusForbidden {
		t.Errorf("Casey's cost form: %d", status)
	}
	// A bad filter keeps what was typed, with the error summary.
	status, body, _ = get(casey, "/console/outcomes?period=month&from-month=2&from-day=30&from-year=2026&to-month=3&to-day=1&to-year=2026")
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error-summary"`) || !strings.Contains(body, `value="30"`) {
		t.Errorf("a bad filter: %d", status)
	}

	// Recording paper transactions: mistakes first, kept as typed.
	today := a.Outcomes.Today(ctx).Time()
	day := url.Values{"day-month": {strconv.Itoa(int(today.Month()))}, "day-day": {strconv.Itoa(today.Day())}, "day-year": {strconv.Itoa(today.Year())}}
	form := url.Values{"agency": {"dmv"}, "service": {"vehicle-registration-renewal"}, "channel": {"paper"}, "transactions": {"twelve"}}
	for k, v := range day {
		form[k] = v
	}
	status, body = send(casey, "/console/outcomes/offline", form)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter a whole number of transactions") || !strings.Contains(body, `value="twelve"`) {
		t.Fatalf("a bad record: %d\n%.2000s", status, body)
	}
	form.Set("transactions", "1,000")
	if status, _ = send(casey, "/console/outcomes/offline", form); status != http.StatusSeeOther {
		t.Fatalf("the record: %d", status)
	}
	form.Set("agency", "revenue")
	if status, _ = send(casey, "/console/outcomes/offline", form); status != http.StatusNotFound {
		t.Errorf("a record for Revenue: %d", status)
	}
	drain()
	_, body, _ = get(anon, "/performance.json")
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Total.Tx.Paper != 1000 || doc.Total.TakeUp.Value == nil || *doc.Total.TakeUp.Value >= 1 {
		t.Errorf("take-up after 1,000 paper transactions: %s", body)
	}

	// Dana enters last month's cost.
	last := today.AddDate(0, -1, 0)
	status, _ = send(dana, "/console/outcomes/costs", url.Values{"agency": {"dmv"}, "service": {"vehicle-registration-renewal"}, "month": {strconv.Itoa(int(last.Month()))}, "year": {strconv.Itoa(last.Year())}, "amount": {"-5"}})
	if status != http.StatusUnprocessableEntity {
		t.Errorf("a negative cost: %d", status)
	}
	status, _ = send(dana, "/console/outcomes/costs", url.Values{"agency": {"dmv"}, "service": {"vehicle-registration-renewal"}, "month": {strconv.Itoa(int(last.Month()))}, "year": {strconv.Itoa(last.Year())}, "amount": {"12,500.00"}})
	if status != http.StatusSeeOther {
		t.Errorf("Dana's cost: %d", status)
	}
	var audited int
	if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action IN ('outcome.offline_record', 'outcome.cost_entered')`).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("audited records: %d %v", audited, err)
	}

	// The level filter is for platform administrators' "all agencies".
	if _, body, _ = get(casey, "/console/outcomes"); strings.Contains(body, `id="level"`) {
		t.Error("Casey is offered the level of government")
	}
	if status, body, _ = get(pat, "/console/outcomes?level=state"); status != 200 || !strings.Contains(body, `<option value="state" selected>`) {
		t.Errorf("Pat's state agencies: %d", status)
	}
	// Pat: every agency side by side, and the CSV.
	status, body, _ = get(pat, "/console/outcomes/agencies")
	if status != 200 || !strings.Contains(body, `id="agencies"`) || !strings.Contains(body, "Department of Motor Vehicles") {
		t.Errorf("every agency: %d", status)
	}
	status, body, hdr = get(pat, "/console/outcomes.csv?agency=dmv&period=month")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, strings.Join(outcomeCSVHeader[:3], ",")) {
		t.Errorf("CSV: %d %q\n%.300s", status, hdr.Get("Content-Type"), body)
	}
	if status, _, _ = get(casey, "/console/outcomes.csv?agency=revenue"); status != http.StatusNotFound {
		t.Errorf("Casey's CSV of Revenue: %d", status)
	}
}

var outcomeCSVHeader = []string{"period_start", "period_end", "started"}
