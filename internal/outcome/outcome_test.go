package outcome_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The script happens in March 2026, in Chicago (UTC-6 until March 8,
// UTC-5 after).
var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

func at(day, hm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hm, chicago)
	if err != nil {
		panic(err)
	}
	return t
}

// directory is what the tenancy and payment blocks answer in the app
// (internal/app's outcomeDirectory, exercised end to end in
// cmd/portico's outcomes tests): the DMV and the tax office are state
// agencies, the clerk's office a county's; payment p1 paid a renewal
// fee and an imported tax instalment (no service), p2 the tax office's
// own API payment.
var directory = scriptDirectory{
	levels: map[string]string{dmv: outcome.LevelState, tax: outcome.LevelState, county: outcome.LevelCounty},
	payments: map[string][]outcome.PaymentShare{
		"p1": {{Service: "property-tax", Amount: 600}, {Service: "", Amount: 400}},
		"p3": {{Service: "property-tax", Amount: 700}},
	},
}

type scriptDirectory struct {
	levels   map[string]string
	payments map[string][]outcome.PaymentShare
}

func (d scriptDirectory) Level(_ context.Context, agency string) (string, error) {
	return d.levels[agency], nil
}

func (d scriptDirectory) PaymentServices(_ context.Context, id string) ([]outcome.PaymentShare, error) {
	return d.payments[id], nil
}

type fixture struct {
	db    *storage.DB
	svc   *outcome.Service
	bus   *events.Bus
	clock *platform.FakeClock
	disp  *events.Dispatcher
	log   *audit.Log
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	clock := platform.NewFakeClock(at("2026-04-02", "09:00"))
	bus := events.NewBus(clock)
	log := audit.New(db, clock, nil)
	svc, err := outcome.New(db, log, bus, clock, func(context.Context) *time.Location { return chicago }, directory)
	if err != nil {
		t.Fatal(err)
	}
	bus.Subscribe(svc.Consumer())
	disp, err := events.NewDispatcher(db, bus, events.DispatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := disp.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, svc: svc, bus: bus, clock: clock, disp: disp, log: log}
}

// emit appends an event as its producer would, in a transaction.
func (f *fixture) emit(t *testing.T, typ, agency string, when time.Time, data any) {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	err = f.db.InTx(context.Background(), func(tx *sql.Tx) error {
		return f.bus.Emit(context.Background(), tx, events.Event{Source: "/test", Type: typ, AgencyID: agency, Time: when, Data: b})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// drain sequences the log and drives the consumer to its end.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for {
		if _, err := events.Sequence(ctx, f.db, 1000); err != nil {
			t.Fatal(err)
		}
		n, err := f.disp.Drive(ctx, outcome.ConsumerName)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

type kase struct {
	ID        string     `json:"id"`
	AgencyID  string     `json:"agency_id"`
	ServiceID string     `json:"service_id"`
	SLADueAt  *time.Time `json:"sla_due_at,omitempty"`
	OpenedAt  time.Time  `json:"opened_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
}

func wrap(c kase) map[string]any { return map[string]any{"case": c, "detail": map[string]any{}} }

const (
	dmv    = "dmv"
	tax    = "tax"
	county = "adams-clerk"
	renew  = "renew-registration"
)

var (
	clerk   = platform.Actor{Kind: platform.ActorStaff, ID: "clerk", Grants: []platform.Grant{{Agency: dmv, Role: "caseworker"}}}
	finance = platform.Actor{Kind: platform.ActorStaff, ID: "fin", Grants: []platform.Grant{{Agency: dmv, Role: "finance"}}}
	other   = platform.Actor{Kind: platform.ActorStaff, ID: "taxclerk", Grants: []platform.Grant{{Agency: tax, Role: "caseworker"}}}
	admin   = platform.Actor{Kind: platform.ActorStaff, ID: "root", PlatformAdmin: true}
	citizen = platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}
)

// script plays March 2026 of two agencies: the DMV's registration
// renewal (applications, cases, surveys, offline records, a cost model)
// and the tax office's payments and obligations.
func (f *fixture) script(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	app := func(kind, day, hm string) {
		f.emit(t, "gov.portico.application."+kind, dmv, at(day, hm), map[string]any{"service": renew, "version": 1, "channel": "online"})
	}
	// 4 started (one late on March 2 in Chicago, March 3 in UTC), 1 not
	// eligible, 2 submitted, 1 withdrawn, 1 expired the next day.
	app("started", "2026-03-02", "09:00")
	app("started", "2026-03-02", "09:30")
	app("started", "2026-03-02", "10:00")
	app("started", "2026-03-02", "21:00")
	app("ineligible", "2026-03-02", "11:00")
	app("submitted", "2026-03-02", "10:00")
	app("submitted", "2026-03-02", "12:00")
	app("withdrawn", "2026-03-02", "13:00")
	app("expired", "2026-03-03", "01:00")

	due := at("2026-03-09", "10:00")
	c1 := kase{ID: "c1", AgencyID: dmv, ServiceID: renew, SLADueAt: &due, OpenedAt: at("2026-03-02", "10:00")}
	c2 := kase{ID: "c2", AgencyID: dmv, ServiceID: renew, SLADueAt: &due, OpenedAt: at("2026-03-02", "12:00")}
	c3 := kase{ID: "c3", AgencyID: dmv, ServiceID: renew, OpenedAt: at("2026-03-02", "12:00")}
	for _, c := range []kase{c1, c2, c3} {
		f.emit(t, "gov.portico.case.opened", dmv, c.OpenedAt, c)
	}
	f.emit(t, "gov.portico.case.info_requested", dmv, at("2026-03-03", "09:00"), wrap(c2))
	f.emit(t, "gov.portico.case.info_requested", dmv, at("2026-03-05", "09:00"), wrap(c2))
	f.emit(t, "gov.portico.case.overdue", dmv, at("2026-03-10", "09:00"), wrap(c2))
	closeCase := func(c kase, closed time.Time) {
		c.ClosedAt, c.SLADueAt = &closed, nil // the final state has no SLA
		f.emit(t, "gov.portico.case.transitioned", dmv, closed, wrap(c))
		f.emit(t, "gov.portico.case.closed", dmv, closed, wrap(c))
	}
	closeCase(c1, at("2026-03-04", "10:00")) // 48 h: bucket 48, within 72 h
	closeCase(c2, at("2026-03-12", "12:00")) // 10 days less the DST hour: bucket 216, within 240 h
	closeCase(c3, at("2026-03-02", "15:30")) // 3.5 h: bucket 3, within 4 h

	for _, score := range []int{5, 4, 2, 1, 9} { // 9 is not an answer: skipped
		f.emit(t, outcome.EventSatisfactionAnswered, dmv, at("2026-03-02", "14:00"), map[string]any{"service": renew, "agency": dmv, "after": "submitted", "score": score})
	}

	f.clock.Set(at("2026-03-03", "17:00"))
	if _, err := f.svc.RecordOffline(ctx, clerk, outcome.OfflineRecord{Agency: dmv, Service: renew, Channel: "paper", Day: "2026-03-02", Transactions: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RecordOffline(ctx, clerk, outcome.OfflineRecord{Agency: dmv, Service: renew, Channel: "counter", Day: "2026-03-03", Transactions: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EnterCost(ctx, finance, outcome.Cost{Agency: dmv, Service: renew, Month: "2026-03", Cents: 100000}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EnterCost(ctx, admin, outcome.Cost{Agency: dmv, Service: renew, Month: "2026-03", Cents: 80000}); err != nil {
		t.Fatal(err) // a correction: the latest entry counts
	}

	f.emit(t, "gov.portico.payment.succeeded", tax, at("2026-03-05", "10:00"), map[string]any{"payment_id": "p1", "amount": 1000, "currency": "USD"})
	f.emit(t, "gov.portico.payment.succeeded", tax, at("2026-03-05", "11:00"), map[string]any{"payment_id": "p2", "amount": 2500, "currency": "USD"})
	f.emit(t, "gov.portico.payment.failed", tax, at("2026-03-05", "12:00"), map[string]any{"payment_id": "p3", "amount": 700, "currency": "USD"})

	ob := func(typ string, reminded bool, status string, onTime bool) {
		f.emit(t, typ, tax, at("2026-03-01", "08:00"), map[string]any{"agency": tax, "kind": "tax", "due": "2026-03-15", "reminded": reminded, "status": status, "on_time": onTime})
	}
	ob(outcome.EventObligationSet, true, "open", false)   // o1
	ob(outcome.EventObligationSet, false, "open", false)  // o2
	ob(outcome.EventObligationSet, true, "open", false)   // o3
	ob(outcome.EventObligationClosed, true, "done", true) // o1 on time
	ob(outcome.EventObligationClosed, false, "done", false)
	ob(outcome.EventObligationClosed, true, "cancelled", false) // o3 no longer applies
	f.drain(t)
}

func ratio(t *testing.T, name string, got outcome.Ratio, num, den int64) {
	t.Helper()
	if got.Num != num || got.Den != den {
		t.Errorf("%s = %d/%d, want %d/%d", name, got.Num, got.Den, num, den)
	}
	if den == 0 && got.Valid() {
		t.Errorf("%s: valid with no data", name)
	}
}

func TestMeasuresFromScript(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.script(t)

		march := outcome.Range{From: "2026-03-01", To: "2026-03-31"}
		rep, err := f.svc.Report(ctx, outcome.Query{Scope: outcome.Scope{Agency: dmv, Service: renew}, Range: march, Period: outcome.PeriodWeek})
		if err != nil {
			t.Fatal(err)
		}
		m := rep.Total
		// Hand-calculated: completed = 2 submitted + 1 not eligible = 3;
		// started = 4 + 1 not eligible = 5; transactions = 3 + 3 paper + 2
		// counter = 8.
		ratio(t, "completion", m.CompletionRate(), 3, 5)
		ratio(t, "take-up", m.DigitalTakeUp(), 3, 8)
		ratio(t, "satisfaction", m.UserSatisfaction(), 2, 4)
		ratio(t, "SLA", m.SLAAdherence(), 1, 2)
		ratio(t, "info requests per case", m.InfoRequestsPerCase(), 2, 2)
		if got := m.Satisfaction; got != [5]int64{1, 1, 0, 1, 1} {
			t.Errorf("satisfaction levels = %v", got)
		}
		if m.Decided != 3 || m.Withdrawn != 1 || m.Expired != 1 {
			t.Errorf("decided %d withdrawn %d expired %d, want 3 1 1", m.Decided, m.Withdrawn, m.Expired)
		}
		if got := m.CostPerTransaction(); !got.Valid || got.Cents != 10000 { // $800 / 8
			t.Errorf("cost per transaction = %+v, want $100.00", got)
		}
		if h, ok := m.MedianHours(); !ok || h != 72 {
			t.Errorf("median = %d %v, want within 72 h", h, ok)
		}
		if h, ok := m.P90Hours(); !ok || h != 240 {
			t.Errorf("p90 = %d %v, want within 240 h", h, ok)
		}

		// Weeks from Monday, clipped to the range: Mar 1 (a Sunday), 2–8,
		// 9–15, 16–22, 23–29, 30–31.
		var starts []string
		for _, p := range rep.Periods {
			starts = append(starts, string(p.Start)+".."+string(p.End))
		}
		if got := strings.Join(starts, " "); got != "2026-03-01..2026-03-01 2026-03-02..2026-03-08 2026-03-09..2026-03-15 2026-03-16..2026-03-22 2026-03-23..2026-03-29 2026-03-30..2026-03-31" {
			t.Fatalf("periods = %s", got)
		}
		w1, w2, w3 := rep.Periods[1], rep.Periods[2], rep.Periods[3]
		ratio(t, "week 1 completion", w1.CompletionRate(), 3, 5)
		ratio(t, "week 1 SLA", w1.SLAAdherence(), 1, 1) // c1 decided in week 1, c2 in week 2
		ratio(t, "week 2 SLA", w2.SLAAdherence(), 0, 1)
		if h, ok := w2.MedianHours(); !ok || h != 240 {
			t.Errorf("week 2 median = %d %v", h, ok)
		}
		// An empty week: no data anywhere, never 0% or 100%.
		for name, r := range map[string]outcome.Ratio{
			"completion": w3.CompletionRate(), "take-up": w3.DigitalTakeUp(), "satisfaction": w3.UserSatisfaction(),
			"SLA": w3.SLAAdherence(), "info": w3.InfoRequestsPerCase(), "on time": w3.OnTime(),
		} {
			ratio(t, "empty week "+name, r, 0, 0)
		}
		if _, ok := w3.MedianHours(); ok {
			t.Error("empty week has a median")
		}
		if w1.CostPerTransaction().Valid {
			t.Error("a week has a cost per transaction; costs are monthly")
		}

		// The zone: the start at 21:00 in Chicago on March 2 is March 3 in
		// UTC but counts on March 2.
		day, err := f.svc.Report(ctx, outcome.Query{Scope: outcome.Scope{Service: renew}, Range: outcome.Range{From: "2026-03-02", To: "2026-03-02"}, Period: outcome.PeriodDay})
		if err != nil {
			t.Fatal(err)
		}
		if day.Total.Started != 4 || day.Total.Expired != 0 {
			t.Errorf("March 2: started %d expired %d, want 4 0", day.Total.Started, day.Total.Expired)
		}
		if day.Total.CostPerTransaction().Valid {
			t.Error("one day has a cost per transaction")
		}

		// The tax office: payments, and obligations on time with and
		// without reminders (the cancelled one no longer counts).
		taxRep, err := f.svc.Report(ctx, outcome.Query{Scope: outcome.Scope{Agency: tax}, Range: march})
		if err != nil {
			t.Fatal(err)
		}
		tm := taxRep.Total
		if tm.PaymentsSucceeded != 2 || tm.PaymentsFailed != 1 || tm.PaidMinor != 3500 {
			t.Errorf("payments %d ok %d failed %d cents", tm.PaymentsSucceeded, tm.PaymentsFailed, tm.PaidMinor)
		}
		ratio(t, "on time", tm.OnTime(), 1, 2)
		ratio(t, "on time reminded", tm.OnTimeReminded(), 1, 1)
		ratio(t, "on time not reminded", tm.OnTimeNotReminded(), 0, 1)
		ratio(t, "tax completion", tm.CompletionRate(), 0, 0)
		if len(taxRep.Periods) != 1 {
			t.Errorf("March by month: %d periods", len(taxRep.Periods))
		}

		// The whole jurisdiction is both agencies.
		all, err := f.svc.Report(ctx, outcome.Query{Range: march})
		if err != nil {
			t.Fatal(err)
		}
		if all.Total.Submitted != 2 || all.Total.PaymentsSucceeded != 2 || all.Total.CostPerTransaction().Cents != 10000 {
			t.Errorf("jurisdiction: %+v", all.Total.Counts)
		}

		// A month without data at all.
		april, err := f.svc.Report(ctx, outcome.Query{Range: outcome.Range{From: "2026-04-01", To: "2026-04-30"}})
		if err != nil {
			t.Fatal(err)
		}
		ratio(t, "April take-up", april.Total.DigitalTakeUp(), 0, 0)
		if april.Total.CostPerTransaction().Valid {
			t.Error("April has a cost per transaction")
		}

		// Side by side, for platform administrators only.
		side, err := f.svc.ByAgency(ctx, admin, march)
		if err != nil {
			t.Fatal(err)
		}
		if len(side) != 2 || side[0].Agency != dmv || side[0].Submitted != 2 || side[1].Agency != tax || side[1].PaymentsSucceeded != 2 {
			t.Errorf("by agency = %+v", side)
		}
		if h, ok := side[0].MedianHours(); !ok || h != 72 {
			t.Errorf("dmv median %d", h)
		}
		if _, err := f.svc.ByAgency(ctx, clerk, march); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Errorf("clerk by agency: %v", err)
		}
		svcs, err := f.svc.Services(ctx, dmv)
		if err != nil || len(svcs) != 1 || svcs[0] != renew {
			t.Errorf("services = %v %v", svcs, err)
		}
	})
}

// TestRedeliveryCountsOnce: a repeated delivery of the same event (after a
// crash between the handler and the cursor) changes nothing.
func TestRedeliveryCountsOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.emit(t, "gov.portico.application.submitted", dmv, at("2026-03-02", "10:00"), map[string]any{"service": renew})
		f.drain(t)
		evs, err := events.Read(ctx, db, 0, 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("read %d events: %v", len(evs), err)
		}
		for range 2 {
			if err := f.svc.Consumer().Handle(ctx, evs[0]); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := f.svc.Report(ctx, outcome.Query{Range: outcome.Range{From: "2026-03-01", To: "2026-03-31"}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Submitted != 1 {
			t.Errorf("submitted = %d after redelivery, want 1", rep.Total.Submitted)
		}
	})
}

func TestRecordAndCostPolicyAndValidation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		ok := outcome.OfflineRecord{Agency: dmv, Service: renew, Channel: "phone", Day: "2026-04-01", Transactions: 5}
		for _, tt := range []struct {
			name  string
			by    platform.Actor
			edit  func(*outcome.OfflineRecord)
			code  platform.Code
			field string
		}{
			{"clerk of the agency", clerk, func(*outcome.OfflineRecord) {}, "", ""},
			{"admin", admin, func(*outcome.OfflineRecord) {}, "", ""},
			{"another agency's staff", other, func(*outcome.OfflineRecord) {}, platform.CodeNotFound, ""},
			{"a citizen", citizen, func(*outcome.OfflineRecord) {}, platform.CodeNotFound, ""},
			{"nobody", platform.Actor{}, func(*outcome.OfflineRecord) {}, platform.CodeUnauthorized, ""},
			{"bad channel", clerk, func(r *outcome.OfflineRecord) { r.Channel = "fax" }, platform.CodeInvalid, "channel"},
			{"bad service", clerk, func(r *outcome.OfflineRecord) { r.Service = "Renew Now!" }, platform.CodeInvalid, "service"},
			{"no day", clerk, func(r *outcome.OfflineRecord) { r.Day = "" }, platform.CodeInvalid, "day"},
			{"future day", clerk, func(r *outcome.OfflineRecord) { r.Day = "2026-04-03" }, platform.CodeInvalid, "day"},
			{"zero", clerk, func(r *outcome.OfflineRecord) { r.Transactions = 0 }, platform.CodeInvalid, "transactions"},
			{"too many", clerk, func(r *outcome.OfflineRecord) { r.Transactions = outcome.MaxTransactions + 1 }, platform.CodeInvalid, "transactions"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := ok
				tt.edit(&r)
				_, err := f.svc.RecordOffline(ctx, tt.by, r)
				checkErr(t, err, tt.code, tt.field)
			})
		}
		okCost := outcome.Cost{Agency: dmv, Service: renew, Month: "2026-03", Cents: 100}
		for _, tt := range []struct {
			name  string
			by    platform.Actor
			edit  func(*outcome.Cost)
			code  platform.Code
			field string
		}{
			{"finance", finance, func(*outcome.Cost) {}, "", ""},
			{"a clerk", clerk, func(*outcome.Cost) {}, platform.CodeForbidden, ""},
			{"another agency", other, func(*outcome.Cost) {}, platform.CodeNotFound, ""},
			{"bad month", finance, func(c *outcome.Cost) { c.Month = "2026-13" }, platform.CodeInvalid, "month"},
			{"negative", finance, func(c *outcome.Cost) { c.Cents = -1 }, platform.CodeInvalid, "amount"},
			{"euros", finance, func(c *outcome.Cost) { c.Currency = "EUR" }, platform.CodeInvalid, "amount"},
		} {
			t.Run("cost "+tt.name, func(t *testing.T) {
				c := okCost
				tt.edit(&c)
				_, err := f.svc.EnterCost(ctx, tt.by, c)
				checkErr(t, err, tt.code, tt.field)
			})
		}
		// Two records made (clerk, admin) and one cost: each audited.
		var n int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action IN ('outcome.offline_record', 'outcome.cost_entered')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("audit entries = %d, want 3", n)
		}
		f.drain(t)
		rep, err := f.svc.Report(ctx, outcome.Query{Range: outcome.Range{From: "2026-04-01", To: "2026-04-01"}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Phone != 10 {
			t.Errorf("phone = %d, want 10", rep.Total.Phone)
		}
	})
}

func checkErr(t *testing.T, err error, code platform.Code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		return
	}
	if platform.ErrorCode(err) != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	var pe *platform.Error
	if field != "" && (!asPlatform(err, &pe) || pe.Field != field) {
		t.Fatalf("err = %v, want field %s", err, field)
	}
}

func asPlatform(err error, pe **platform.Error) bool {
	e, ok := err.(*platform.Error)
	*pe = e
	return ok
}

func TestRangeAndPeriod(t *testing.T) {
	for _, tt := range []struct {
		r  outcome.Range
		ok bool
	}{
		{outcome.Range{From: "2026-03-01", To: "2026-03-01"}, true},
		{outcome.Range{From: "2026-03-02", To: "2026-03-01"}, false},
		{outcome.Range{From: "2024-01-01", To: "2026-12-31"}, false},
		{outcome.Range{}, false},
	} {
		if err := tt.r.Check(); (err == nil) != tt.ok {
			t.Errorf("%v: %v", tt.r, err)
		}
	}
	if _, err := outcome.ParsePeriod("year"); err == nil {
		t.Error("year accepted")
	}
	if got := outcome.PeriodWeek.Start("2026-03-01"); got != "2026-02-23" {
		t.Errorf("week of Sunday March 1 starts %s", got)
	}
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {59 * time.Minute, 0}, {47 * time.Hour, 47}, {48 * time.Hour, 48}, {71 * time.Hour, 48}, {72 * time.Hour, 72}, {400 * 24 * time.Hour, 366 * 24}, {-time.Hour, 0}} {
		if got := outcome.Bucket(tt.d); got != tt.want {
			t.Errorf("Bucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// countyScript adds a county clerk's March to the script: a service of
// its own (a marriage licence, with a cost model entered between
// submissions and then corrected) and one registration renewal, the
// service the state's DMV also runs.
func (f *fixture) countyScript(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	app := func(service, kind, hm string) {
		f.emit(t, "gov.portico.application."+kind, county, at("2026-03-10", hm), map[string]any{"service": service})
	}
	app(marriage, "started", "09:00")
	app(marriage, "started", "09:10")
	app(renew, "started", "09:20")
	app(marriage, "submitted", "10:00")
	app(marriage, "submitted", "10:10")
	app(renew, "submitted", "10:20")
	f.drain(t) // the cost arrives after two of the licences
	if _, err := f.svc.EnterCost(ctx, admin, outcome.Cost{Agency: county, Service: marriage, Month: "2026-03", Cents: 3000}); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	app(marriage, "started", "11:00")
	app(marriage, "submitted", "11:30") // after the cost: counted against it too
	if _, err := f.svc.EnterCost(ctx, admin, outcome.Cost{Agency: county, Service: marriage, Month: "2026-03", Cents: 4500}); err != nil {
		t.Fatal(err) // a correction: only the cost moves
	}
	f.drain(t)
}

const marriage = "marriage-licence"

// TestRollUpsLevelsAndPaymentsByService: every scope reads its own
// roll-up row, and each gives the hand-calculated figures: a level of
// government, a service across agencies, a service within a level;
// payments under the services their items name; cost per transaction of
// a roll-up over exactly the services that have a cost.
func TestRollUpsLevelsAndPaymentsByService(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.script(t)
		f.countyScript(t)
		march := outcome.Range{From: "2026-03-01", To: "2026-03-31"}
		report := func(sc outcome.Scope) outcome.Figures {
			t.Helper()
			rep, err := f.svc.Report(ctx, outcome.Query{Scope: sc, Range: march})
			if err != nil {
				t.Fatal(err)
			}
			return rep.Total
		}
		money := func(name string, got outcome.Money, cents int64) {
			t.Helper()
			if !got.Valid || got.Cents != cents {
				t.Errorf("%s cost per transaction = %+v, want %d cents", name, got, cents)
			}
		}
		for _, tt := range []struct {
			name                         string
			scope                        outcome.Scope
			started, submitted, _        int64
			succeeded, failed, paidMinor int64
			cost                         int64 // cents; -1: no data
		}{
			// DMV 4 started + 1 not eligible, 2 submitted; the tax
			// office's payments; cost $800 over the renewal's 8.
			{"state", outcome.Scope{Level: outcome.LevelState}, 4, 2, 0, 2, 1, 3500, 10000},
			// Marriage: $45 over 3 licences; the county's renewal has
			// no cost model, so it is not in the division.
			{"county", outcome.Scope{Level: outcome.LevelCounty}, 4, 4, 0, 0, 0, 0, 1500},
			{"city (no agency)", outcome.Scope{Level: outcome.LevelCity}, 0, 0, 0, 0, 0, 0, -1},
			{"renewal across agencies", outcome.Scope{Service: renew}, 5, 3, 0, 0, 0, 0, 10000},
			{"renewal in the county", outcome.Scope{Level: outcome.LevelCounty, Service: renew}, 1, 1, 0, 0, 0, 0, -1},
			{"the county clerk", outcome.Scope{Agency: county}, 4, 4, 0, 0, 0, 0, 1500},
			// (80,000 + 4,500) / (8 + 3) = 7,681.8 cents.
			{"jurisdiction", outcome.Scope{}, 8, 6, 0, 2, 1, 3500, 7682},
			// p1's $6 share and p3 (failed) named the property tax.
			{"property tax", outcome.Scope{Service: "property-tax"}, 0, 0, 0, 1, 1, 600, -1},
			{"tax office, property tax", outcome.Scope{Agency: tax, Service: "property-tax"}, 0, 0, 0, 1, 1, 600, -1},
			{"tax office", outcome.Scope{Agency: tax}, 0, 0, 0, 2, 1, 3500, -1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got := report(tt.scope)
				if got.Started != tt.started || got.Submitted != tt.submitted {
					t.Errorf("started %d submitted %d, want %d %d", got.Started, got.Submitted, tt.started, tt.submitted)
				}
				if got.PaymentsSucceeded != tt.succeeded || got.PaymentsFailed != tt.failed || got.PaidMinor != tt.paidMinor {
					t.Errorf("payments %d ok, %d failed, %d cents; want %d %d %d", got.PaymentsSucceeded, got.PaymentsFailed, got.PaidMinor, tt.succeeded, tt.failed, tt.paidMinor)
				}
				if tt.cost < 0 {
					if got.CostPerTransaction().Valid {
						t.Errorf("cost per transaction %+v, want no data", got.CostPerTransaction())
					}
				} else {
					money(tt.name, got.CostPerTransaction(), tt.cost)
				}
			})
		}
		levels, err := f.svc.ByLevel(ctx, march, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(levels) != 2 || levels[0].Agency != outcome.LevelState || levels[0].Submitted != 2 || levels[1].Agency != outcome.LevelCounty || levels[1].Submitted != 4 {
			t.Errorf("by level = %+v", levels)
		}
		if h, ok := levels[0].MedianHours(); !ok || h != 72 {
			t.Errorf("state median %d %v", h, ok)
		}
		renewals, err := f.svc.ByLevel(ctx, march, renew)
		if err != nil || len(renewals) != 2 || renewals[0].Submitted != 2 || renewals[1].Submitted != 1 {
			t.Errorf("renewals by level = %+v %v", renewals, err)
		}
		// Agencies side by side: the three agencies, no level or
		// jurisdiction roll-up among them.
		side, err := f.svc.ByAgency(ctx, admin, march)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range side {
			ids = append(ids, a.Agency)
		}
		if got := strings.Join(ids, " "); got != "adams-clerk dmv tax" {
			t.Errorf("by agency = %s", got)
		}
		if _, err := f.svc.Report(ctx, outcome.Query{Scope: outcome.Scope{Level: "province"}, Range: march}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("unknown level: %v", err)
		}
		// The services with measures: the running totals keep only
		// services' own rows, never a roll-up.
		svcs, err := f.svc.Services(ctx, "")
		if err != nil || strings.Join(svcs, " ") != "marriage-licence property-tax renew-registration" {
			t.Errorf("services = %v %v", svcs, err)
		}
	})
}

// TestNoDataIsNeverZero: a period without data gives no value for every
// measure — the ratios, cost per transaction, the decision times and
// on-time compliance with and without reminders — and a period with a
// denominator but a zero numerator gives 0%, not "no data".
func TestNoDataIsNeverZero(t *testing.T) {
	empty := outcome.Figures{Decisions: outcome.Histogram{}}
	measures := map[string]func(outcome.Figures) outcome.Ratio{
		"take-up":             func(f outcome.Figures) outcome.Ratio { return f.DigitalTakeUp() },
		"completion":          func(f outcome.Figures) outcome.Ratio { return f.CompletionRate() },
		"satisfaction":        func(f outcome.Figures) outcome.Ratio { return f.UserSatisfaction() },
		"SLA":                 func(f outcome.Figures) outcome.Ratio { return f.SLAAdherence() },
		"info per case":       func(f outcome.Figures) outcome.Ratio { return f.InfoRequestsPerCase() },
		"on time":             func(f outcome.Figures) outcome.Ratio { return f.OnTime() },
		"on time, reminded":   func(f outcome.Figures) outcome.Ratio { return f.OnTimeReminded() },
		"on time, unreminded": func(f outcome.Figures) outcome.Ratio { return f.OnTimeNotReminded() },
	}
	for name, m := range measures {
		if r := m(empty); r.Valid() || r.Value() != 0 {
			t.Errorf("empty %s = %+v valid %v", name, r, r.Valid())
		}
	}
	if empty.CostPerTransaction().Valid {
		t.Error("empty cost per transaction has data")
	}
	if _, ok := empty.MedianHours(); ok {
		t.Error("empty median")
	}
	if _, ok := empty.P90Hours(); ok {
		t.Error("empty p90")
	}
	// Zero numerators over real denominators: 0%, with data.
	zero := outcome.Figures{Decisions: outcome.Histogram{}}
	zero.Started, zero.Paper = 3, 2
	zero.Satisfaction = [5]int64{2, 0, 0, 0, 0}
	zero.DecidedWithSLA, zero.Submitted, zero.ObligationsDue, zero.ObligationsDueReminded = 1, 0, 2, 1
	for name, r := range map[string]outcome.Ratio{
		"take-up": zero.DigitalTakeUp(), "completion": zero.CompletionRate(), "satisfaction": zero.UserSatisfaction(),
		"SLA": zero.SLAAdherence(), "on time": zero.OnTime(), "on time, reminded": zero.OnTimeReminded(), "on time, unreminded": zero.OnTimeNotReminded(),
	} {
		if !r.Valid() || r.Percent() != 0 {
			t.Errorf("%s = %+v, want 0%% with data", name, r)
		}
	}
	// Every obligation reminded: the unreminded group has no data.
	all := outcome.Figures{Decisions: outcome.Histogram{}}
	all.ObligationsDue, all.ObligationsDueReminded, all.ObligationsOnTime, all.ObligationsOnTimeReminded = 2, 2, 1, 1
	if r := all.OnTimeNotReminded(); r.Valid() {
		t.Errorf("unreminded with none: %+v", r)
	}
	if r := all.OnTimeReminded(); r.Percent() != 50 {
		t.Errorf("reminded: %+v", r)
	}
	// A cost model over a month without transactions: no data, never a
	// division by zero.
	if m := outcome.CostPerTransaction(50000, 0); m.Valid {
		t.Errorf("cost over no transactions: %+v", m)
	}
	costNoTx := outcome.Figures{CostCents: 50000, CostMonths: 1}
	if costNoTx.CostPerTransaction().Valid {
		t.Error("a cost over no transactions has a cost per transaction")
	}
}
