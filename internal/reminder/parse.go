package reminder

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/platform"
)

// ImportRow is one amount owed as an agency writes it: a line of the CSV
// that `portico obligations import` reads, or an element of the array
// POST /api/v1/obligations takes. Every field is text, exactly as given;
// ParseRow checks and converts it (docs/payments.md, "Amounts owed:
// import").
type ImportRow struct {
	// Person is who owes it: the email address they sign in to Portico
	// with, or their Portico account id.
	Person string `json:"person"`
	// Kind is what is owed, a slug (property_tax, vehicle_tax, fee,
	// fine, or the agency's own); a known kind gives the titles.
	Kind string `json:"kind"`
	// TitleEN and TitleES are what the person reads; required when the
	// kind gives no title. A missing Spanish title repeats the English.
	TitleEN string `json:"title_en,omitempty"`
	TitleES string `json:"title_es,omitempty"`
	// Amount is in the currency's major units with its decimals, as
	// people write it: "612.50", "1,234.56", "$45".
	Amount string `json:"amount"`
	// Currency is an ISO 4217 code; empty means USD.
	Currency string `json:"currency,omitempty"`
	// Due is the due date, MM/DD/YYYY as Americans write it, or
	// YYYY-MM-DD.
	Due string `json:"due"`
	// Reference is what identifies the debt at the agency (a parcel
	// number, a bill number); with Due it is the obligation's key.
	Reference string `json:"reference"`
}

// ImportColumns are the CSV's columns, in the order the documentation
// lists them. The header row names them in any order; person, kind,
// amount, due and reference are required.
var ImportColumns = []string{"person", "kind", "title_en", "title_es", "amount", "currency", "due", "reference"}

var requiredColumns = []string{"person", "kind", "amount", "due", "reference"}

// KindTitles are the kinds whose titles Portico knows, so a file need not
// repeat them on every line.
var KindTitles = map[string]Text{
	"property_tax": {EN: "Pay your property tax", ES: "Pague su impuesto predial"},
	"vehicle_tax":  {EN: "Pay your vehicle tax", ES: "Pague su impuesto vehicular"},
	"fee":          {EN: "Pay a fee", ES: "Pague una tarifa"},
	"fine":         {EN: "Pay a fine", ES: "Pague una multa"},
}

// RowError is why one row cannot be loaded: the field at fault (empty
// for the row as a whole) and a reason an agency's clerk can act on.
type RowError struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func rowErr(field, format string, args ...any) *RowError {
	return &RowError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Parsed is a row that passed ParseRow.
type Parsed struct {
	Person    string
	Kind      string
	Title     Text
	Amount    platform.Money
	Due       Date
	Reference string
}

// Source is the obligation's key among imported obligations: one per
// agency, reference and due date. It names the agency because Set is
// idempotent per account and source: two agencies' bills of the same
// number to one person are two obligations.
func (p Parsed) Source(agency string) string {
	return importPrefix + agency + "/" + p.Reference + "/" + p.Due.String()
}

const importPrefix = "import:"

// MaxImportMinor bounds an amount owed: 100 million in major units.
const MaxImportMinor = 100_000_000_00

// ParseRow checks every field of r and converts it. The person is not
// looked up here (that needs the identity block); everything else that
// can be wrong with a row is found here.
func ParseRow(r ImportRow) (Parsed, *RowError) {
	var p Parsed
	for _, f := range []struct {
		name, v  string
		max      int
		required bool
	}{
		{"person", r.Person, 254, true}, {"kind", r.Kind, 32, true}, {"title_en", r.TitleEN, 200, false},
		{"title_es", r.TitleES, 200, false}, {"amount", r.Amount, 40, true}, {"currency", r.Currency, 3, false},
		{"due", r.Due, 10, true}, {"reference", r.Reference, 100, true},
	} {
		v := strings.TrimSpace(f.v)
		switch {
		case f.required && v == "":
			return p, rowErr(f.name, "missing: give the %s", f.name)
		case !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return p, rowErr(f.name, "must be one line of text")
		case len(v) > f.max:
			return p, rowErr(f.name, "too long: at most %d characters", f.max)
		}
	}
	p.Person = strings.TrimSpace(r.Person)
	p.Kind = strings.TrimSpace(r.Kind)
	if !validKind(p.Kind) {
		return p, rowErr("kind", "%q is not a kind: use lowercase letters, digits and underscores, starting with a letter", clip(p.Kind))
	}
	p.Title = Text{EN: strings.TrimSpace(r.TitleEN), ES: strings.TrimSpace(r.TitleES)}
	if p.Title.EN == "" {
		t, ok := KindTitles[p.Kind]
		if !ok {
			return p, rowErr("title_en", "missing: kind %q has no standard title, so give title_en (and title_es)", p.Kind)
		}
		if p.Title.ES == "" {
			p.Title = t
		} else {
			p.Title.EN = t.EN
		}
	}
	if p.Title.ES == "" {
		p.Title.ES = p.Title.EN
	}
	var err *RowError
	if p.Amount, err = ParseAmount(r.Amount, r.Currency); err != nil {
		return p, err
	}
	if p.Due, err = ParseDue(r.Due); err != nil {
		return p, err
	}
	p.Reference = strings.TrimSpace(r.Reference)
	return p, nil
}

func validKind(k string) bool {
	if k == "" || len(k) > 32 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseAmount reads an amount owed written in the currency's major units
// ("612.50", "612.5", "612", "1,234.56", "$45.00" for dollars) as minor
// units. Thousands separators must group by three; there are at most as
// many decimals as the currency has (two for USD, none for JPY). The
// amount is more than zero and at most MaxImportMinor. An empty currency
// is USD.
func ParseAmount(s, currency string) (platform.Money, *RowError) {
	m, err := platform.NewMoney(0, currency)
	if err != nil {
		return m, rowErr("currency", "%q is not an ISO 4217 currency code (like USD)", clip(currency))
	}
	scale := m.Scale()
	bad := rowErr("amount", "%q is not an amount: write it like 612.50", clip(s))
	s = strings.TrimSpace(s)
	if m.Currency == "USD" {
		s = strings.TrimPrefix(s, "$")
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && (frac == "" || len(frac) > scale)) {
		if dot && len(frac) > scale {
			return m, rowErr("amount", "%q has more than %d decimal places", clip(s), scale)
		}
		return m, bad
	}
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		if len(groups[0]) < 1 || len(groups[0]) > 3 || groups[0][0] == '0' {
			return m, bad
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return m, bad
			}
		}
		whole = strings.Join(groups, "")
	}
	for len(frac) < scale {
		frac += "0"
	}
	digits := whole + frac
	if len(digits) > 15 {
		return m, rowErr("amount", "%q is more than can be owed", clip(s))
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return m, bad
		}
	}
	n, perr := strconv.ParseInt(digits, 10, 64)
	if perr != nil {
		return m, bad
	}
	if n <= 0 {
		return m, rowErr("amount", "must be more than zero")
	}
	if n > MaxImportMinor || n > math.MaxInt64/10 {
		return m, rowErr("amount", "%q is more than can be owed", clip(s))
	}
	m.Minor = n
	return m, nil
}

// ParseDue reads a due date written MM/DD/YYYY (as Americans write it;
// one-digit month and day too: 3/1/2027) or YYYY-MM-DD. The date must
// exist (no February 30) and lie between 2000 and 2200.
func ParseDue(s string) (Date, *RowError) {
	s = strings.TrimSpace(s)
	bad := rowErr("due", "%q is not a date: write it as MM/DD/YYYY, like 03/31/2027", clip(s))
	var y, mo, d int
	var ok bool
	if strings.Contains(s, "/") {
		parts := strings.Split(s, "/")
		if len(parts) != 3 || len(parts[2]) != 4 {
			return Date{}, bad
		}
		mo, ok = smallNumber(parts[0], 2)
		if !ok {
			return Date{}, bad
		}
		if d, ok = smallNumber(parts[1], 2); !ok {
			return Date{}, bad
		}
		if y, ok = smallNumber(parts[2], 4); !ok {
			return Date{}, bad
		}
	} else {
		parts := strings.Split(s, "-")
		if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) != 2 || len(parts[2]) != 2 {
			return Date{}, bad
		}
		if y, ok = smallNumber(parts[0], 4); !ok {
			return Date{}, bad
		}
		if mo, ok = smallNumber(parts[1], 2); !ok {
			return Date{}, bad
		}
		if d, ok = smallNumber(parts[2], 2); !ok {
			return Date{}, bad
		}
	}
	if mo < 1 || mo > 12 || d < 1 {
		return Date{}, bad
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != mo {
		return Date{}, rowErr("due", "%q is not a day of the calendar", clip(s))
	}
	if y < 2000 || y > 2200 {
		return Date{}, rowErr("due", "%q is not a due date between 2000 and 2200", clip(s))
	}
	return Date{y, time.Month(mo), d}, nil
}

// smallNumber parses 1 to max ASCII digits.
func smallNumber(s string, max int) (int, bool) {
	if s == "" || len(s) > max {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// clip shortens what an agency sent for a message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}

// CSVRows reads an import file a line at a time: a header row naming
// ImportColumns, then one amount owed per row. It holds one row in
// memory, however long the file.
type CSVRows struct {
	r      *csv.Reader
	cols   map[string]int
	header []string
	width  int
}

// MaxImportLine bounds one CSV record, so a file without line breaks
// cannot make the reader hold it whole.
const MaxImportLine = 8 << 10

// ErrBadHeader is a header row that is not an import file's.
var ErrBadHeader = errors.New("reminder: bad import header")

// NewCSVRows reads the header row of r. A header that lacks a required
// column, repeats one or names one Portico does not know is refused with
// an error wrapping ErrBadHeader that says which. The columns "line" and
// "error" that a rejects file adds are ignored, so a corrected rejects
// file is loaded as it is.
func NewCSVRows(r io.Reader) (*CSVRows, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty; the first row names the columns: %s", ErrBadHeader, strings.Join(ImportColumns, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the header row: %v", ErrBadHeader, err)
	}
	c := &CSVRows{r: cr, cols: map[string]int{}, header: header, width: len(header)}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a byte-order mark from spreadsheet exports
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "line" || h == "error" {
			continue // a rejects file's own columns: fixed rows load again as they are
		}
		known := false
		for _, k := range ImportColumns {
			known = known || k == h
		}
		if !known {
			return nil, fmt.Errorf("%w: unknown column %q; the columns are %s", ErrBadHeader, clip(h), strings.Join(ImportColumns, ","))
		}
		if _, dup := c.cols[h]; dup {
			return nil, fmt.Errorf("%w: column %q is named twice", ErrBadHeader, h)
		}
		c.cols[h] = i
	}
	for _, k := range requiredColumns {
		if _, ok := c.cols[k]; !ok {
			return nil, fmt.Errorf("%w: the column %q is missing; required are %s", ErrBadHeader, k, strings.Join(requiredColumns, ","))
		}
	}
	return c, nil
}

// Header is the header row as read.
func (c *CSVRows) Header() []string { return c.header }

// Next returns the next row: its line number (of the record's first
// line), the record as read and the row; or a *RowError for a line that
// is not a usable record (wrong number of fields, a broken quote), which
// does not stop the reading; or io.EOF after the last row.
func (c *CSVRows) Next() (ImportLine, error) {
	rec, err := c.r.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return ImportLine{Line: pe.StartLine, Record: rec, Err: rowErr("", "has %d fields; the header has %d", len(rec), c.width)}, nil
		}
		return ImportLine{Line: pe.StartLine, Record: rec, Err: rowErr("", "is not a CSV record: %v", pe.Err)}, nil
	}
	if err != nil {
		return ImportLine{}, err
	}
	line, _ := c.r.FieldPos(0) // a record read without error has a field 0
	if len(rec) != c.width {
		return ImportLine{Line: line, Record: rec, Err: rowErr("", "has %d fields; the header has %d", len(rec), c.width)}, nil
	}
	size := 0
	for _, f := range rec {
		size += len(f)
	}
	if size > MaxImportLine {
		return ImportLine{Line: line, Record: rec, Err: rowErr("", "is longer than %d bytes", MaxImportLine)}, nil
	}
	field := func(name string) string {
		if i, ok := c.cols[name]; ok {
			return rec[i]
		}
		return ""
	}
	return ImportLine{Line: line, Record: rec, Row: ImportRow{Person: field("person"), Kind: field("kind"), TitleEN: field("title_en"),
		TitleES: field("title_es"), Amount: field("amount"), Currency: field("currency"), Due: field("due"), Reference: field("reference")}}, nil
}

// ImportLine is one row of an import: where it came from and what it
// says, or why it could not be read.
type ImportLine struct {
	// Line is the CSV line number (the header is line 1), or the
	// 0-based index of an element of an API request.
	Line   int
	Record []string // the CSV record as read, for the rejects file
	Row    ImportRow
	Err    *RowError // the line is not a usable record
}
