package reminder_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		want         int64
		wantCurrency string
		field        string // "" when it parses
	}{
		{"612.50", "", 61250, "USD", ""},
		{"612.5", "", 61250, "USD", ""},
		{"612", "usd", 61200, "USD", ""},
		{" $1,234.56 ", "", 123456, "USD", ""},
		{"12,345,678.90", "USD", 1234567890, "USD", ""},
		{"0.01", "", 1, "USD", ""},
		{"1500", "JPY", 1500, "JPY", ""},
		{"100000000.00", "", reminder.MaxImportMinor, "USD", ""},
		{"100000000.01", "", 0, "", "amount"},
		{"0", "", 0, "", "amount"},
		{"0.00", "", 0, "", "amount"},
		{"-5.00", "", 0, "", "amount"},
		{"5.001", "", 0, "", "amount"},
		{"15.5", "JPY", 0, "", "amount"},
		{"5.", "", 0, "", "amount"},
		{".50", "", 0, "", "amount"},
		{"1,23.00", "", 0, "", "amount"},
		{"1234,567", "", 0, "", "amount"},
		{"01,234", "", 0, "", "amount"},
		{"12e3", "", 0, "", "amount"},
		{"", "", 0, "", "amount"},
		{"$", "", 0, "", "amount"},
		{"€12", "EUR", 0, "", "amount"},
		{"999999999999999999999", "", 0, "", "amount"},
		{"12.00", "DOLLARS", 0, "", "currency"},
	} {
		t.Run(tc.in+"/"+tc.currency, func(t *testing.T) {
			m, err := reminder.ParseAmount(tc.in, tc.currency)
			if tc.field != "" {
				if err == nil || err.Field != tc.field {
					t.Fatalf("ParseAmount(%q, %q) = %v, %v; want an error about %s", tc.in, tc.currency, m, err, tc.field)
				}
				return
			}
			if err != nil || m.Minor != tc.want || m.Currency != tc.wantCurrency {
				t.Fatalf("ParseAmount(%q, %q) = %v, %v; want %d %s", tc.in, tc.currency, m, err, tc.want, tc.wantCurrency)
			}
		})
	}
}

func TestParseDue(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" for an error
	}{
		{"03/31/2027", "2027-03-31"},
		{"3/1/2027", "2027-03-01"},
		{" 12/01/2026 ", "2026-12-01"},
		{"2027-03-31", "2027-03-31"},
		{"02/29/2028", "2028-02-29"},
		{"02/29/2027", ""},
		{"31/03/2027", ""},
		{"13/01/2027", ""},
		{"00/10/2027", ""},
		{"03/00/2027", ""},
		{"03/31/27", ""},
		{"2027-3-31", ""},
		{"2027/03/31", ""},
		{"03-31-2027", ""},
		{"01/01/1999", ""},
		{"01/01/2201", ""},
		{"+3/01/2027", ""},
		{"", ""},
		{"March 31, 2027", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := reminder.ParseDue(tc.in)
			if tc.want == "" {
				if err == nil || err.Field != "due" {
					t.Fatalf("ParseDue(%q) = %v, %v; want an error about due", tc.in, d, err)
				}
				return
			}
			if err != nil || d.String() != tc.want {
				t.Fatalf("ParseDue(%q) = %v, %v; want %s", tc.in, d, err, tc.want)
			}
		})
	}
}

func TestParseRow(t *testing.T) {
	good := reminder.ImportRow{Person: "ana@example.com", Kind: "property_tax", Amount: "612.50", Due: "03/31/2027", Reference: "01-234-567"}
	for _, tc := range []struct {
		name   string
		edit   func(r *reminder.ImportRow)
		field  string
		titles reminder.Text
	}{
		{"a known kind gives both titles", func(*reminder.ImportRow) {}, "", reminder.KindTitles["property_tax"]},
		{"own titles", func(r *reminder.ImportRow) { r.TitleEN, r.TitleES = "Sewer bill", "Factura de alcantarillado" }, "",
			reminder.Text{EN: "Sewer bill", ES: "Factura de alcantarillado"}},
		{"English only is repeated", func(r *reminder.ImportRow) { r.Kind, r.TitleEN = "sewer", "Sewer bill" }, "",
			reminder.Text{EN: "Sewer bill", ES: "Sewer bill"}},
		{"an unknown kind needs a title", func(r *reminder.ImportRow) { r.Kind = "sewer" }, "title_en", reminder.Text{}},
		{"kind is a slug", func(r *reminder.ImportRow) { r.Kind = "Property Tax" }, "kind", reminder.Text{}},
		{"person missing", func(r *reminder.ImportRow) { r.Person = "  " }, "person", reminder.Text{}},
		{"reference missing", func(r *reminder.ImportRow) { r.Reference = "" }, "reference", reminder.Text{}},
		{"amount missing", func(r *reminder.ImportRow) { r.Amount = "" }, "amount", reminder.Text{}},
		{"due missing", func(r *reminder.ImportRow) { r.Due = "" }, "due", reminder.Text{}},
		{"a line break in a title", func(r *reminder.ImportRow) { r.TitleEN = "a\nb" }, "title_en", reminder.Text{}},
		{"reference too long", func(r *reminder.ImportRow) { r.Reference = strings.Repeat("9", 101) }, "reference", reminder.Text{}},
		{"not UTF-8", func(r *reminder.ImportRow) { r.Person = "\xff@example.com" }, "person", reminder.Text{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			p, err := reminder.ParseRow(r)
			if tc.field != "" {
				if err == nil || err.Field != tc.field {
					t.Fatalf("ParseRow = %+v, %v; want an error about %s", p, err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Title != tc.titles || p.Amount.Minor != 61250 || p.Due.String() != "2027-03-31" || p.Source("adams-treasurer") != "import:adams-treasurer/01-234-567/2027-03-31" {
				t.Fatalf("ParseRow = %+v", p)
			}
		})
	}
}

func TestCSVHeader(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"unknown column", "person,kind,amount,due,reference,parcel\n", `unknown column "parcel"`},
		{"missing column", "person,kind,amount,reference\n", `"due" is missing`},
		{"twice", "person,kind,amount,due,reference,Person\n", "named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reminder.NewCSVRows(strings.NewReader(tc.file))
			if !errors.Is(err, reminder.ErrBadHeader) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewCSVRows = %v; want ErrBadHeader saying %q", err, tc.want)
			}
		})
	}
	// Any order, any case, a byte-order mark: all fine.
	rows, err := reminder.NewCSVRows(strings.NewReader("\ufeffReference,DUE,amount,kind,person\n9-9,1/2/2027,5,fee,ana@example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := rows.Next()
	if err != nil || l.Err != nil || l.Line != 2 || l.Row != (reminder.ImportRow{Person: "ana@example.com", Kind: "fee", Amount: "5", Due: "1/2/2027", Reference: "9-9"}) {
		t.Fatalf("Next = %+v, %v", l, err)
	}
	if _, err := rows.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last row: %v", err)
	}
}

// people is the identity block as an import sees it: email or account id
// to account.
type people struct {
	emails  map[string]string
	clients map[string]string
}

func (p people) Person(_ context.Context, person string) (string, error) {
	for email, id := range p.emails {
		if strings.EqualFold(email, person) || id == person {
			return id, nil
		}
	}
	return "", platform.Errorf(platform.CodeNotFound, "no such person")
}

func (p people) AgencyExists(_ context.Context, agency string) (bool, error) {
	return agency == "adams-treasurer" || agency == "dmv", nil
}

func (p people) ClientAgency(_ context.Context, id string) (string, error) {
	a, ok := p.clients[id]
	if !ok {
		return "", platform.Errorf(platform.CodeUnauthorized, "no such client")
	}
	return a, nil
}

var testPeople = people{
	emails:  map[string]string{"ana@example.com": "ana", "beto@example.com": "beto"},
	clients: map[string]string{"pc_treasurer": "adams-treasurer", "pc_dmv": "dmv"},
}

var operator = platform.Actor{Kind: platform.ActorOperator, ID: "cli"}

// importFile is a file with good rows and one of every kind of bad row.
const importFile = `person,kind,title_en,title_es,amount,currency,due,reference
ana@example.com,property_tax,,,612.50,,03/31/2027,01-234-567
beto@example.com,property_tax,,,"1,204.00",USD,2027-03-31,02-468-135
nobody@example.com,property_tax,,,10.00,,03/31/2027,03-000-001
ana@example.com,property_tax,,,12.3.4,,03/31/2027,03-000-002
ana@example.com,property_tax,,,10.00,,02/30/2027,03-000-003
ana@example.com,property_tax,,,10.00,,03/31/2027,
beto@example.com,property_tax,,,99.00,,3/31/2027,01-234-567
ana@example.com,sewer,Sewer bill,Factura de alcantarillado,45,,09/30/2027,SW-17
ana@example.com,property_tax,,,10.00,,03/31/2027
ana@example.com,pro"perty_tax,,,10.00,,03/31/2027,03-000-004
ana@example.com,property_tax,,,612.50,,09/30/2027,01-234-567
`

func runImport(t *testing.T, im *reminder.Importer, actor platform.Actor, agency, file string, dry bool) (reminder.ImportSummary, []reminder.RowResult, error) {
	t.Helper()
	rows, err := reminder.NewCSVRows(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var got []reminder.RowResult
	sum, err := im.Import(context.Background(), actor, agency, rows, reminder.ImportOptions{DryRun: dry, Name: "test.csv",
		OnRow: func(r reminder.RowResult) error { got = append(got, r); return nil }})
	return sum, got, err
}

func countRows(t *testing.T, db *storage.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImport loads a file with good and bad rows in batches of two, on
// each engine: the good rows become obligations with reminders planned,
// each bad row is reported with its line and field, loading the file
// again changes nothing, a dry run commits nothing, and each import is
// one audit entry.
func TestImport(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, reminder.Config{})
		im, err := reminder.NewImporter(f.svc, testPeople, 2)
		if err != nil {
			t.Fatal(err)
		}
		audits := func() int {
			return countRows(t, db, `SELECT COUNT(*) FROM audit_entries WHERE action = 'obligation.import'`)
		}
		obligations := func() int { return countRows(t, db, `SELECT COUNT(*) FROM obligations`) }

		// A dry run: every verdict, nothing stored.
		sum, res, err := runImport(t, im, operator, "adams-treasurer", importFile, true)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Valid != 4 || sum.Rejected != 7 || sum.Created != 0 || obligations() != 0 || audits() != 1 {
			t.Fatalf("dry run: %+v, %d obligations, %d audit entries", sum, obligations(), audits())
		}
		wantRejected := map[int]string{4: "person", 5: "amount", 6: "due", 7: "reference", 8: "reference", 10: "", 11: ""}
		check := func(res []reminder.RowResult, okStatus string) {
			t.Helper()
			for _, r := range res {
				field, bad := wantRejected[r.Line]
				if !bad {
					if r.Status != okStatus {
						t.Errorf("line %d: %s %+v; want %s", r.Line, r.Status, r.Error, okStatus)
					}
					continue
				}
				if r.Status != reminder.RowRejected || r.Error == nil || r.Error.Field != field || r.Error.Reason == "" {
					t.Errorf("line %d: %s %+v; want rejected about %q", r.Line, r.Status, r.Error, field)
				}
			}
			if len(res) != 11 {
				t.Errorf("%d results for 11 rows: %+v", len(res), res)
			}
		}
		check(res, reminder.RowValid)
		if r := res[6]; r.Line != 8 || !strings.Contains(r.Error.Reason, "line 2") {
			t.Errorf("the duplicate of line 2: %+v", r)
		}

		sum, res, err = runImport(t, im, operator, "adams-treasurer", importFile, false)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 4 || sum.Rejected != 7 || sum.Rows != 11 || obligations() != 4 || audits() != 2 {
			t.Fatalf("import: %+v, %d obligations, %d audit entries", sum, obligations(), audits())
		}
		check(res, reminder.RowCreated)
		// Not one audit entry per row.
		if n := countRows(t, db, `SELECT COUNT(*) FROM audit_entries WHERE action = 'obligation.set'`); n != 0 {
			t.Errorf("%d obligation.set entries; an import audits once", n)
		}
		list, err := f.svc.List(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("ana owes %d; want 3: %+v", len(list), list)
		}
		tax := list[0]
		if tax.Kind != "property_tax" || tax.AgencyID != "adams-treasurer" || tax.Amount == nil || *tax.Amount != platform.MustMoney(61250, "USD") ||
			tax.Reference != "01-234-567" || tax.Due.String() != "2027-03-31" || tax.Title != reminder.KindTitles["property_tax"] {
			t.Errorf("the instalment: %+v", tax)
		}
		pending, err := f.svc.Pending(context.Background(), tax.ID)
		if err != nil || len(pending) != 5 { // 30 and 7 days before, on the day, a week after, and 60 days before (passed: sent at the next sweep)
			t.Errorf("reminders planned: %v, %v", pending, err)
		}

		// The same file again: nothing changes.
		sum, res, err = runImport(t, im, operator, "adams-treasurer", importFile, false)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Unchanged != 4 || sum.Created+sum.Updated != 0 || obligations() != 4 {
			t.Fatalf("again: %+v, %d obligations", sum, obligations())
		}
		check(res, reminder.RowUnchanged)

		// A corrected amount updates; the parcel for another person is refused.
		sum, res, err = runImport(t, im, operator, "adams-treasurer", "person,kind,amount,due,reference\n"+
			"ana@example.com,property_tax,600.00,03/31/2027,01-234-567\nbeto@example.com,property_tax,600.00,09/30/2027,01-234-567\n", false)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Updated != 1 || sum.Rejected != 1 || res[1].Error.Field != "reference" || !strings.Contains(res[1].Error.Reason, "another person") {
			t.Fatalf("correction: %+v %+v", sum, res)
		}
		// Another agency's bill of the same number and date to the same
		// person is its own obligation, and leaves the first alone.
		if sum, _, err = runImport(t, im, operator, "dmv", "person,kind,amount,due,reference\nana@example.com,fee,5,03/31/2027,01-234-567\n", false); err != nil || sum.Created != 1 {
			t.Fatalf("another agency: %+v, %v", sum, err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM obligations WHERE account_id = 'ana' AND reference = '01-234-567' AND due_on = '2027-03-31'`); n != 2 {
			t.Fatalf("%d obligations for two agencies' bills", n)
		}
	})
}

// TestImportPolicy: who may load amounts for which agency.
func TestImportPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, reminder.Config{})
		im, err := reminder.NewImporter(f.svc, testPeople, 0)
		if err != nil {
			t.Fatal(err)
		}
		file := "person,kind,amount,due,reference\nana@example.com,fee,5,03/31/2027,F-1\n"
		for _, tc := range []struct {
			name   string
			actor  platform.Actor
			agency string
			code   platform.Code
		}{
			{"operator", operator, "adams-treasurer", ""},
			{"operator, unknown agency", operator, "atlantis", platform.CodeNotFound},
			{"the agency's client", platform.Actor{Kind: platform.ActorClient, ID: "pc_treasurer"}, "adams-treasurer", ""},
			{"another agency's client", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, "adams-treasurer", platform.CodeForbidden},
			{"an app acting for a person", platform.Actor{Kind: platform.ActorCitizen, ID: "ana", Client: "pc_treasurer"}, "adams-treasurer", platform.CodeForbidden},
			{"a citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}, "adams-treasurer", platform.CodeForbidden},
			{"staff", platform.Actor{Kind: platform.ActorStaff, ID: "s1"}, "adams-treasurer", platform.CodeForbidden},
			{"nobody", platform.Actor{}, "adams-treasurer", platform.CodeForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := runImport(t, im, tc.actor, tc.agency, file, false)
				if platform.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v; want code %q", err, tc.code)
				}
			})
		}
		// The API's path: the client's own agency.
		sum, err := im.ForClient(context.Background(), platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"},
			&reminder.Lines{Rows: []reminder.ImportRow{{Person: "beto@example.com", Kind: "fee", Amount: "5", Due: "2027-03-31", Reference: "D-1"}}},
			reminder.ImportOptions{})
		if err != nil || sum.Created != 1 || sum.Agency != "dmv" {
			t.Fatalf("ForClient = %+v, %v", sum, err)
		}
	})
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"612.50", "$1,234.56", "0", "-1", "1e9", "12,34", "99999999999999999999", "5."} {
		f.Add(s, "USD")
	}
	f.Add("1500", "JPY")
	f.Fuzz(func(t *testing.T, s, currency string) {
		m, err := reminder.ParseAmount(s, currency)
		if err != nil {
			if err.Field == "" || err.Reason == "" {
				t.Fatalf("an error without field or reason: %+v", err)
			}
			return
		}
		if m.Minor <= 0 || m.Minor > reminder.MaxImportMinor || m.Currency == "" {
			t.Fatalf("ParseAmount(%q, %q) = %+v", s, currency, m)
		}
	})
}

func FuzzParseDue(f *testing.F) {
	for _, s := range []string{"03/31/2027", "3/1/2027", "2027-03-31", "02/30/2027", "13/01/2027", "2027-3-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := reminder.ParseDue(s)
		if err != nil {
			return
		}
		back, perr := reminder.ParseDate(d.String())
		if perr != nil || back != d || d.Year < 2000 || d.Year > 2200 {
			t.Fatalf("ParseDue(%q) = %v, which does not round-trip", s, d)
		}
	})
}

// FuzzCSVRows reads arbitrary files: the reader never panics, every row
// is either parsed or rejected with a reason, and line numbers only grow.
func FuzzCSVRows(f *testing.F) {
	f.Add(importFile)
	f.Add("person,kind,amount,due,reference\n\"a\"\"b\",fee,5,1/1/2027,x\n")
	f.Add("person,kind,amount,due,reference\n\"unterminated\n")
	f.Add("reference,due,amount,kind,person\r\nx,2027-01-01,1,fee,a@b\r\n")
	f.Fuzz(func(t *testing.T, file string) {
		rows, err := reminder.NewCSVRows(strings.NewReader(file))
		if err != nil {
			if !errors.Is(err, reminder.ErrBadHeader) {
				t.Fatalf("a header error that is not ErrBadHeader: %v", err)
			}
			return
		}
		last := 1
		for i := 0; ; i++ {
			l, err := rows.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if i > len(file) {
				t.Fatal("more rows than bytes")
			}
			if l.Line < last {
				t.Fatalf("line %d after line %d", l.Line, last)
			}
			last = l.Line
			if l.Err != nil {
				if l.Err.Reason == "" {
					t.Fatal("a rejection without a reason")
				}
				continue
			}
			p, rerr := reminder.ParseRow(l.Row)
			if rerr == nil {
				if _, err := json.Marshal(p); err != nil || p.Amount.Minor <= 0 || p.Reference == "" {
					t.Fatalf("parsed %+v", p)
				}
			}
		}
	})
}
