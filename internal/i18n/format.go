package i18n

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"github.com/portico-gov/portico/internal/platform"
)

// Formatter writes messages, dates, times and money for one reader: a
// language and the time zone of the jurisdiction they deal with. It is the
// only place Portico turns a time.Time or a platform.Money into text for a
// person, so every page and email agrees:
//
//	en: March 27, 2021 · March 27, 2021, 3:04 PM · $1,234.50
//	es: 27 de marzo de 2021 · 27 de marzo de 2021, 15:04 · $1,234.50
//
// Month names and the order of day, month and year are catalogue messages
// (kernel.LANG.json), checked like every other text; the CLDR number
// symbols and currency data come from golang.org/x/text.
type Formatter struct {
	c    *Catalog
	lang Lang
	loc  *time.Location
}

// For returns the formatter for lang in loc (UTC when nil).
func (c *Catalog) For(lang Lang, loc *time.Location) Formatter {
	if loc == nil {
		loc = time.UTC
	}
	return Formatter{c: c, lang: lang, loc: loc}
}

// Lang is the formatter's language.
func (f Formatter) Lang() Lang { return f.lang }

// Location is the time zone dates are shown in.
func (f Formatter) Location() *time.Location { return f.loc }

// T translates key (see Catalog.T).
func (f Formatter) T(key string, args ...any) string { return f.c.T(f.lang, key, args...) }

// N translates a plural message for count n (see Catalog.N).
func (f Formatter) N(key string, n int64, args ...any) string { return f.c.N(f.lang, key, n, args...) }

// Date writes the calendar date of t in the formatter's zone: "March 27,
// 2021", "27 de marzo de 2021". The zero time is "".
func (f Formatter) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	y, m, d := t.In(f.loc).Date()
	return f.Day(y, m, d)
}

// Day writes a calendar date that has no zone (a due date, a date of
// birth) as Date does.
func (f Formatter) Day(year int, month time.Month, day int) string {
	return f.c.T(f.lang, "date.long", day, f.c.T(f.lang, "date.month."+strconv.Itoa(int(month))), year)
}

// Time writes the local time of day of t in the jurisdiction's zone, which
// every reader shares, so no zone name is shown: "3:04 PM" in
// English, "15:04" in Spanish.
func (f Formatter) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format(f.c.T(f.lang, "date.time_layout"))
}

// DateTime writes date and time of t: "March 27, 2021, 3:04 PM".
func (f Formatter) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return f.c.T(f.lang, "date.date_time", f.Date(t), f.Time(t))
}

// ISO writes t for machines (a <time datetime> attribute): RFC 3339 in
// the formatter's zone, so the offset matches the text beside it.
func (f Formatter) ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format(time.RFC3339)
}

// Money writes m by CLDR for the language: the currency's symbol and
// number of decimals, the locale's grouping and decimal separators.
// x/text has the symbols and separators but not CLDR's currency pattern,
// so the symbol's place comes from the catalogue ("money.pattern").
// Negative amounts (refunds, credits) get a leading minus.
func (f Formatter) Money(m platform.Money) string {
	p := message.NewPrinter(f.lang.Tag())
	unit, err := currency.ParseISO(m.Currency)
	if err != nil {
		return m.String()
	}
	scale := m.Scale()
	minor := m.Minor
	sign := ""
	if minor < 0 {
		sign = "-"
	}
	abs := uint64(minor)
	if minor < 0 {
		abs = uint64(-(minor + 1)) + 1
	}
	div := uint64(1)
	for range scale {
		div *= 10
	}
	// The whole part goes through x/text as an integer, so no amount is
	// rounded through a float; the fraction is exact digits.
	num := p.Sprint(number.Decimal(abs / div))
	if scale > 0 {
		frac := strconv.FormatUint(abs%div, 10)
		num += decimalSeparator(p) + strings.Repeat("0", scale-len(frac)) + frac
	}
	symbol := p.Sprint(currency.Symbol(unit))
	return sign + f.c.T(f.lang, "money.pattern", symbol, num)
}

// MoneyOf formats minor units of currency (DefaultCurrency when empty);
// an unknown currency is written with its code.
func (f Formatter) MoneyOf(minor int64, code string) string {
	m, err := platform.NewMoney(minor, code)
	if err != nil {
		return platform.Money{Minor: minor, Currency: strings.ToUpper(code)}.String()
	}
	return f.Money(m)
}

// decimalSeparator is the locale's decimal mark, read from x/text's
// formatting of 1.5.
func decimalSeparator(p *message.Printer) string {
	s := p.Sprint(number.Decimal(1.5, number.Scale(1)))
	return strings.TrimSuffix(strings.TrimPrefix(s, "1"), "5")
}
