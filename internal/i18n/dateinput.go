package i18n

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DateInput is a calendar date as a person typed it into the USWDS
// memorable date pattern: three text boxes, kept exactly as typed so a
// page shown again after an error keeps them.
type DateInput struct {
	Month, Day, Year string
}

// Empty reports whether nothing was typed in any box.
func (in DateInput) Empty() bool {
	return strings.TrimSpace(in.Month) == "" && strings.TrimSpace(in.Day) == "" && strings.TrimSpace(in.Year) == ""
}

// DateInputOf splits a stored ISO date (YYYY-MM-DD) into the boxes, for a
// form that shows a stored or prefilled answer. Anything else gives empty
// boxes.
func DateInputOf(iso string) DateInput {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return DateInput{}
	}
	return DateInput{Month: strconv.Itoa(int(t.Month())), Day: strconv.Itoa(t.Day()), Year: strconv.Itoa(t.Year())}
}

// DateProblem says what is wrong with a typed date: Key is a catalogue
// message taking the field's label (date.error.*), Part the box to
// highlight ("month", "day" or "year"; "" for the whole date).
type DateProblem struct {
	Key  string
	Part string
}

// The date parts, in the order the memorable date pattern names them.
const (
	PartMonth = "month"
	PartDay   = "day"
	PartYear  = "year"
)

// ParseDate reads a date typed into the memorable date pattern and returns
// it as ISO 8601 (YYYY-MM-DD, JSON Schema's `format: date`). It takes
// what people type: leading zeros or not, spaces around the numbers, and
// a month written as a name or its first three letters in English or
// Spanish ("Mar", "marzo"). It is a parser of outside input and never
// panics. When the date cannot be read, the problem says which box is
// wrong and why. An empty input is a problem (date.error.required); callers
// that allow a blank date check Empty first.
func ParseDate(in DateInput) (string, *DateProblem) {
	m, d, y := tidyPart(in.Month), tidyPart(in.Day), tidyPart(in.Year)
	switch {
	case m == "" && d == "" && y == "":
		return "", &DateProblem{Key: "date.error.required"}
	case m == "":
		return "", &DateProblem{Key: "date.error.month_missing", Part: PartMonth}
	case d == "":
		return "", &DateProblem{Key: "date.error.day_missing", Part: PartDay}
	case y == "":
		return "", &DateProblem{Key: "date.error.year_missing", Part: PartYear}
	}
	month, ok := monthNumber(m)
	if !ok || month < 1 || month > 12 {
		return "", &DateProblem{Key: "date.error.month_range", Part: PartMonth}
	}
	day, ok := digits(d, 2)
	if !ok || day < 1 || day > 31 {
		return "", &DateProblem{Key: "date.error.day_range", Part: PartDay}
	}
	year, ok := digits(y, 4)
	if !ok || len(y) != 4 || year < 1000 {
		return "", &DateProblem{Key: "date.error.year_digits", Part: PartYear}
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month {
		return "", &DateProblem{Key: "date.error.real"} // April 31, February 29 of 2021
	}
	return t.Format(time.DateOnly), nil
}

// tidyPart trims what was typed in one box and drops a trailing dot or
// comma ("Mar." "27,").
func tidyPart(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, ".,/-")
	return strings.TrimSpace(s)
}

// digits reads up to max ASCII digits (leading zeros allowed beyond max:
// "0003" is 3).
func digits(s string, max int) (int, bool) {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		t = "0"
	}
	if t == "" || len(t) > max {
		return 0, false
	}
	for _, r := range t {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(t)
	return n, err == nil
}

// monthNames are the months as people write them, English and Spanish,
// without accents (matched after lower-casing).
var monthNames = [12][]string{
	{"january", "enero"}, {"february", "febrero"}, {"march", "marzo"}, {"april", "abril"},
	{"may", "mayo"}, {"june", "junio"}, {"july", "julio"}, {"august", "agosto"},
	{"september", "septiembre", "setiembre"}, {"october", "octubre"}, {"november", "noviembre"}, {"december", "diciembre"},
}

// monthNumber reads a month typed as a number or a name.
func monthNumber(s string) (int, bool) {
	if n, ok := digits(s, 2); ok {
		return n, true
	}
	w := strings.ToLower(s)
	if len(w) < 3 {
		return 0, false
	}
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return 0, false
		}
	}
	for i, names := range monthNames {
		for _, n := range names {
			if w == n || (len(w) >= 3 && strings.HasPrefix(n, w)) {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// DateParts is the order of the memorable date's boxes in the formatter's
// language: month, day, year in English; día, mes, año in Spanish.
func (f Formatter) DateParts() []string {
	parts := strings.Fields(f.T("date.input.order"))
	if len(parts) != 3 {
		return []string{PartMonth, PartDay, PartYear}
	}
	return parts
}

// DateAnswer writes a stored ISO date answer (a date of birth, a start
// date: a calendar day with no zone) as Day does: "March 27, 2021". Any
// other text is returned as it is.
func (f Formatter) DateAnswer(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	return f.Day(t.Date())
}
