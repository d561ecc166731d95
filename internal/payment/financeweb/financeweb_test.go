package financeweb_test

import (
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/financeweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata)")

func TestParseDollars(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // -1: refused
	}{
		{"12", 1200}, {"12.5", 1250}, {"12.50", 1250}, {"$1,234.56", 123456}, {" 0.01 ", 1}, {".5", 50}, {"0", 0},
		{"", -1}, {".", -1}, {"12.345", -1}, {"-5", -1}, {"1e3", -1}, {"12.5.0", -1}, {"abc", -1}, {"100001", -1}, {"100000", 10_000_000},
		{"９", -1}, {"1 000", 100000},
	} {
		got, err := financeweb.ParseDollars(c.in)
		switch {
		case c.want < 0 && err == nil:
			t.Errorf("%q: %d, want refused", c.in, got)
		case c.want >= 0 && (err != nil || got != c.want):
			t.Errorf("%q: %d %v, want %d", c.in, got, err, c.want)
		case err != nil && platform.ErrorCode(err) != platform.CodeInvalid:
			t.Errorf("%q: %v is not invalid", c.in, err)
		}
	}
}

// FuzzParseDollars: any typed amount is refused or read as cents between
// 0 and payment.MaxAmount.
func FuzzParseDollars(f *testing.F) {
	for _, s := range []string{"12.50", "$1,234.56", "", ".", "-1", "99999999999999999999", "1.", "0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := financeweb.ParseDollars(s)
		if err == nil && (got < 0 || got > payment.MaxAmount) {
			t.Fatalf("%q: %d", s, got)
		}
	})
}

func TestParseUSDate(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12/05/2026", "2026-12-05"}, {"2/9/2027", "2027-02-09"}, {" 12/5/2026 ", "2026-12-05"},
		{"2026-12-05", ""}, {"13/01/2026", ""}, {"02/30/2026", ""}, {"12/05", ""}, {"", ""}, {"12/05/26", ""}, {"a/b/c", ""},
	} {
		got, err := financeweb.ParseUSDate(c.in)
		if c.want == "" {
			if err == nil || platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("%q: %q %v, want invalid", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
}

// FuzzParseUSDate: any query parameter is refused or read as a real ISO
// date.
func FuzzParseUSDate(f *testing.F) {
	for _, s := range []string{"12/05/2026", "2/29/2028", "//", "1/1/1", "99/99/9999", "marzo/1/2026"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := financeweb.ParseUSDate(s)
		if err != nil {
			return
		}
		if _, perr := time.Parse(time.DateOnly, got); perr != nil {
			t.Fatalf("%q gave %q, not a date", s, got)
		}
	})
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")", "+1+2": "'+1+2", "-1+2": "'-1+2", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "-12.50": "-12.50", "12": "12", "DMV-1": "DMV-1", "": "",
	} {
		if got := web.CSVCell(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestReportCSVs renders a reconciliation and a remittance as the
// downloads serve them and compares them with the golden files: columns,
// amounts as plain decimals (refunds negative), local times, totals, and
// a reference an agency system set to a formula, neutralised.
func TestReportCSVs(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 6, 15, 0, 0, time.UTC)
	rec := payment.Reconciliation{Agency: "adams-clerk", Day: "2026-12-02", Movements: []payment.Movement{
		{Kind: payment.KindCharge, PaymentID: "p1", Reference: "ADAMS-CLERK-2026-000001", Provider: "sandbox", ProviderRef: "sbx_1", Status: payment.Success, Amount: 4500, Currency: "USD", At: at},
		{Kind: payment.KindCharge, PaymentID: "p2", Reference: "=HYPERLINK(\"http://evil.example\",\"x\")", Provider: "stripe", ProviderRef: "pi_2", Status: payment.Success, Amount: 7, Currency: "USD", At: at.Add(time.Hour)},
		{Kind: payment.KindRefund, PaymentID: "p1", Reference: "ADAMS-CLERK-2026-000001", Provider: "sandbox", ProviderRef: "sbx_1", Status: payment.Success, Amount: 500, Currency: "USD", At: at.Add(2 * time.Hour)},
	}, Totals: []payment.DayTotal{{Day: "2026-12-02", Currency: "USD", Charges: 4507, Refunds: 500, Net: 4007, ChargeCount: 2, RefundCount: 1}}}
	rem := payment.Remittance{Agency: "adams-clerk", From: "2026-11-26", To: "2026-12-02", Days: []payment.DayTotal{
		{Day: "2026-11-30", Currency: "USD", Charges: 12000, Net: 12000, ChargeCount: 3},
		{Day: "2026-12-02", Currency: "USD", Charges: 4507, Refunds: 500, Net: 4007, ChargeCount: 2, RefundCount: 1},
	}, Totals: []payment.DayTotal{{Currency: "USD", Charges: 16507, Refunds: 500, Net: 16007, ChargeCount: 5, RefundCount: 1}}}
	for _, c := range []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{"reconciliation.csv", financeweb.ReconciliationHeader, financeweb.ReconciliationRows(rec, chicago)},
		{"remittance.csv", financeweb.RemittanceHeader, financeweb.RemittanceRows(rem)},
	} {
		w := httptest.NewRecorder()
		web.WriteCSV(w, httptest.NewRequest("GET", "/x", nil), nil, c.name, c.header, c.rows)
		if ct, cd := w.Header().Get("Content-Type"), w.Header().Get("Content-Disposition"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(cd, "attachment") {
			t.Errorf("%s: %q, %q", c.name, ct, cd)
		}
		golden := filepath.Join("testdata", c.name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, w.Body.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got := w.Body.String(); got != string(want) {
			t.Errorf("%s differs from %s:\n%s", c.name, golden, got)
		}
	}
}
