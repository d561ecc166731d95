package outcomeweb_test

import (
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/outcome/outcomeweb"
	"github.com/portico-gov/portico/internal/platform"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata)")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; run with -update and look at the diff\n%s", name, got)
	}
}

// TestChartSVGGolden: the charts' markup, with bars, values, a period
// without data and labels, as the pages serve it.
func TestChartSVGGolden(t *testing.T) {
	c := outcomeweb.Chart{ID: "chart-takeup", Title: "Digital take-up over time", Desc: "Bar chart. March 2026: 37.5%; latest, May 2026: 80%.",
		Max: 100, NoData: "No data", Points: []outcomeweb.Point{
			{Label: "Mar", Value: 37.5, Text: "37.5%", Valid: true},
			{Label: "Apr", Valid: false},
			{Label: "May", Value: 80, Text: "80%", Valid: true},
		}}
	golden(t, "chart_takeup.svg", string(c.SVG()))
	// Text from outside (a title with markup) is escaped.
	c.Title = `<script>alert(1)</script> & "more"`
	if got := string(c.SVG()); strings.Contains(got, "<script>") || !strings.Contains(got, "&lt;script&gt;") {
		t.Errorf("title not escaped: %s", got)
	}
	// Many bars: every other label, values left to the table.
	many := outcomeweb.Chart{ID: "chart-days", Title: "Transactions over time", Desc: "d", NoData: "No data"}
	for i := range 30 {
		many.Points = append(many.Points, outcomeweb.Point{Label: string(rune('a' + i%26)), Value: float64(i), Text: "n", Valid: true})
	}
	golden(t, "chart_days.svg", string(many.SVG()))
}

func figures(t *testing.T, lang i18n.Lang) outcomeweb.Figures {
	t.Helper()
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := cat.For(lang, nil)
	rep := outcome.Report{Query: outcome.Query{Range: outcome.Range{From: "2026-03-01", To: "2026-04-30"}, Period: outcome.PeriodMonth}}
	march := outcome.Figures{Decisions: outcome.Histogram{48: 1, 3: 1, 216: 1}, CostCents: 80000, CostTransactions: 8, CostMonths: 1}
	march.Started, march.Ineligible, march.Submitted, march.Paper, march.Counter = 4, 1, 2, 1234, 2
	march.Satisfaction = [5]int64{1, 1, 0, 1, 1}
	rep.Periods = []outcome.PeriodFigures{
		{Start: "2026-03-01", End: "2026-03-31", Figures: march},
		{Start: "2026-04-01", End: "2026-04-30", Figures: outcome.Figures{Decisions: outcome.Histogram{}}},
	}
	rep.Total = march
	return outcomeweb.Build(w, rep, outcomeweb.Console)
}

// TestBuild: figures as a reader sees them, "No data" where a period has
// nothing to measure, in both languages.
func TestBuild(t *testing.T) {
	en := figures(t, i18n.English)
	byKey := map[string]outcomeweb.KPI{}
	for _, k := range en.KPIs {
		byKey[k.Key] = k
	}
	for key, want := range map[string]string{
		"takeup": "0.2%", "completion": "60%", "satisfaction": "50%", "cost": "$100.00",
		"median": "Within 3 days", "p90": "Within 10 days", "sla": "", "ontime": "",
	} {
		if got := byKey[key].Value; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := byKey["takeup"].Detail; got != "3 of 1,239 transactions done online" {
		t.Errorf("take-up detail = %q", got)
	}
	if len(en.Charts) == 0 || en.Charts[0].Table.Rows[1][1] != "No data" || en.Charts[0].Table.Rows[0][0] != "March 2026" {
		t.Errorf("take-up table = %v", en.Charts[0].Table.Rows)
	}
	if !strings.Contains(string(en.Charts[0].SVG), `role="img"`) || !strings.Contains(en.Charts[0].Chart.Desc, "1 of 2 periods") {
		t.Errorf("chart: %s / %s", en.Charts[0].SVG, en.Charts[0].Chart.Desc)
	}
	es := figures(t, i18n.Spanish)
	if es.KPIs[0].Name != "Adopción digital" || es.KPIs[0].Value != "0.2 %" || es.Charts[0].Table.Rows[1][1] != "Sin datos" || es.Charts[0].Table.Rows[0][0] != "marzo de 2026" {
		t.Errorf("Spanish: %+v %v", es.KPIs[0], es.Charts[0].Table.Rows)
	}
}

func TestParseQuery(t *testing.T) {
	today := outcome.Day("2026-12-05")
	for _, tt := range []struct {
		q     string
		from  outcome.Day
		to    outcome.Day
		p     outcome.Period
		field string // "" when valid
	}{
		{"", "2026-01-01", "2026-12-05", outcome.PeriodMonth, ""},
		{"period=week", "2026-09-14", "2026-12-05", outcome.PeriodWeek, ""},
		{"period=day", "2026-11-06", "2026-12-05", outcome.PeriodDay, ""},
		{"from=2026-03-01&to=2026-03-31&period=day", "2026-03-01", "2026-03-31", outcome.PeriodDay, ""},
		{"period=year", "", "", "", "period"},
		{"level=province", "", "", "", "level"},
		{"level=county&period=day", "2026-11-06", "2026-12-05", outcome.PeriodDay, ""},
		{"from=2026-03-01", "", "", "", "to"},
		{"from=2026-13-01&to=2026-12-01", "", "", "", "from"},
		{"from=2026-03-02&to=2026-03-01", "", "", "", "to"},
		{"from=2020-01-01&to=2026-01-01", "", "", "", "from"},
	} {
		q, _ := url.ParseQuery(tt.q)
		got, err := outcomeweb.ParseQuery(q, today)
		if tt.field != "" {
			var pe *platform.Error
			if platform.ErrorCode(err) != platform.CodeInvalid || !asError(err, &pe) || pe.Field != tt.field {
				t.Errorf("%q: %v, want invalid %s", tt.q, err, tt.field)
			}
			continue
		}
		if err != nil || got.From != tt.from || got.To != tt.to || got.Period != tt.p {
			t.Errorf("%q: %+v %v", tt.q, got, err)
		}
	}
}

func asError(err error, pe **platform.Error) bool {
	e, ok := err.(*platform.Error)
	*pe = e
	return ok
}

// FuzzParseQuery: any query string is refused as invalid or read as a
// checked range of at most MaxDays.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "period=week", "level=city", "level=%40state", "from=2026-03-01&to=2026-03-31", "from=9999-99-99&to=0000-00-00", "period=%00", "from=2026-02-29&to=2026-03-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		got, err := outcomeweb.ParseQuery(q, "2026-12-05")
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if got.Range.Check() != nil {
			t.Fatalf("%q: unchecked range %+v", s, got.Range)
		}
	})
}
