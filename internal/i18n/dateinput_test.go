package i18n_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name             string
		month, day, year string
		want             string
		key, part        string
	}{
		{"US order with zeros", "03", "27", "2021", "2021-03-27", "", ""},
		{"no zeros", "3", "27", "2021", "2021-03-27", "", ""},
		{"spaces around", " 3 ", " 7", "2021 ", "2021-03-07", "", ""},
		{"extra leading zeros", "003", "007", "2021", "2021-03-07", "", ""},
		{"month name", "March", "27", "2021", "2021-03-27", "", ""},
		{"month abbreviation with dot", "Mar.", "27", "2021", "2021-03-27", "", ""},
		{"Spanish month name", "marzo", "27", "2021", "2021-03-27", "", ""},
		{"Spanish abbreviation", "dic", "1", "1999", "1999-12-01", "", ""},
		{"leap day", "2", "29", "2024", "2024-02-29", "", ""},
		{"nothing", "", "", "", "", "date.error.required", ""},
		{"blank spaces", " ", " ", " ", "", "date.error.required", ""},
		{"no month", "", "27", "2021", "", "date.error.month_missing", "month"},
		{"no day", "3", "", "2021", "", "date.error.day_missing", "day"},
		{"no year", "3", "27", "", "", "date.error.year_missing", "year"},
		{"day and month swapped", "27", "03", "2021", "", "date.error.month_range", "month"},
		{"month zero", "0", "1", "2021", "", "date.error.month_range", "month"},
		{"month letters", "xx", "1", "2021", "", "date.error.month_range", "month"},
		{"too short a name", "ma", "1", "2021", "", "date.error.month_range", "month"},
		{"day 32", "1", "32", "2021", "", "date.error.day_range", "day"},
		{"day zero", "1", "0", "2021", "", "date.error.day_range", "day"},
		{"day with letters", "1", "2a", "2021", "", "date.error.day_range", "day"},
		{"negative day", "1", "-2", "2021", "", "date.error.day_range", "day"},
		{"two-digit year", "3", "27", "21", "", "date.error.year_digits", "year"},
		{"five-digit year", "3", "27", "20211", "", "date.error.year_digits", "year"},
		{"year 0999", "3", "27", "0999", "", "date.error.year_digits", "year"},
		{"April 31", "4", "31", "2021", "", "date.error.real", ""},
		{"February 29, not a leap year", "2", "29", "2021", "", "date.error.real", ""},
		{"full-width digits are not read", "３", "27", "2021", "", "date.error.month_range", "month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, prob := i18n.ParseDate(i18n.DateInput{Month: tt.month, Day: tt.day, Year: tt.year})
			if tt.key == "" {
				if prob != nil || got != tt.want {
					t.Fatalf("ParseDate = %q, %+v; want %q", got, prob, tt.want)
				}
				return
			}
			if prob == nil || prob.Key != tt.key || prob.Part != tt.part || got != "" {
				t.Fatalf("ParseDate = %q, %+v; want problem %s on %q", got, prob, tt.key, tt.part)
			}
		})
	}
}

// TestDateInputRoundTrip: a stored answer shown in the boxes reads back
// as the same answer.
func TestDateInputRoundTrip(t *testing.T) {
	for _, iso := range []string{"2021-03-27", "1999-12-01", "2024-02-29", "1000-01-01"} {
		in := i18n.DateInputOf(iso)
		if got, prob := i18n.ParseDate(in); prob != nil || got != iso {
			t.Errorf("ParseDate(DateInputOf(%s)) = %q, %+v", iso, got, prob)
		}
	}
	if in := i18n.DateInputOf("27/03/2021"); !in.Empty() {
		t.Errorf("DateInputOf(not ISO) = %+v; want empty", in)
	}
}

func TestDatePartsAndAnswers(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang        i18n.Lang
		parts       string
		answer      string
		realMessage string
	}{
		{i18n.English, "month day year", "March 27, 2021", "“Date of birth” must be a real date."},
		{i18n.Spanish, "day month year", "27 de marzo de 2021", "«Date of birth» debe ser una fecha real."},
	}
	for _, tt := range tests {
		f := c.For(tt.lang, time.UTC)
		if got := strings.Join(f.DateParts(), " "); got != tt.parts {
			t.Errorf("%s: DateParts = %q; want %q", tt.lang, got, tt.parts)
		}
		if got := f.DateAnswer("2021-03-27"); got != tt.answer {
			t.Errorf("%s: DateAnswer = %q; want %q", tt.lang, got, tt.answer)
		}
		if got := f.DateAnswer("soon"); got != "soon" {
			t.Errorf("%s: DateAnswer(not a date) = %q", tt.lang, got)
		}
		if got := f.T("date.error.real", "Date of birth"); got != tt.realMessage {
			t.Errorf("%s: date.error.real = %q", tt.lang, got)
		}
	}
}

// FuzzParseDate: whatever is typed, ParseDate never panics, and a date
// it accepts is a real ISO date that reads back the same through the boxes.
func FuzzParseDate(f *testing.F) {
	for _, s := range [][3]string{{"03", "27", "2021"}, {"3", "27", "2021"}, {"Mar.", "27", "2021"}, {"2", "29", "2021"}, {"", "", ""}, {"-1", "00", "99999"}, {"septiembre", "1", "0001"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, m, d, y string) {
		got, prob := i18n.ParseDate(i18n.DateInput{Month: m, Day: d, Year: y})
		if (prob == nil) == (got == "") {
			t.Fatalf("ParseDate(%q, %q, %q) = %q, %+v: want exactly one of a date and a problem", m, d, y, got, prob)
		}
		if prob != nil {
			switch prob.Part {
			case "", i18n.PartMonth, i18n.PartDay, i18n.PartYear:
			default:
				t.Fatalf("problem part %q", prob.Part)
			}
			return
		}
		tm, err := time.Parse(time.DateOnly, got)
		if err != nil || tm.Format(time.DateOnly) != got {
			t.Fatalf("ParseDate(%q, %q, %q) = %q: not an ISO date", m, d, y, got)
		}
		if again, prob := i18n.ParseDate(i18n.DateInputOf(got)); prob != nil || again != got {
			t.Fatalf("round trip of %s = %q, %+v", got, again, prob)
		}
	})
}
