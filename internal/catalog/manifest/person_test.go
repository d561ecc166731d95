package manifest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// TestAge pins the age around birthdays: the day before, the day of and
// the day after, for people born before and from 1 March (where a
// day-of-year comparison is off by one in leap years), on 29 February,
// and across a time zone's midnight.
func TestAge(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	at := func(s string) time.Time { return day(s).Add(12 * time.Hour) } // noon UTC
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		born string
		at   time.Time
		zone *time.Location
		want int
		ok   bool
	}{
		// Born 1 March in a non-leap year; the birthday falls in a leap year.
		{"2007-03-01", at("2024-02-29"), nil, 16, true}, // day of the year 60 both: YearDay said 17
		{"2007-03-01", at("2025-02-28"), nil, 17, true},
		{"2007-03-01", at("2025-03-01"), nil, 18, true},
		{"2006-03-01", at("2024-03-01"), nil, 18, true},
		{"2008-03-01", at("2026-02-28"), nil, 17, true},
		{"2008-03-01", at("2026-03-01"), nil, 18, true}, // day 60 < day 61 of a leap year: YearDay said 17
		{"2008-12-31", at("2026-12-30"), nil, 17, true},
		{"2008-12-31", at("2026-12-31"), nil, 18, true}, // day 365 < 366: YearDay said 17
		{"2008-06-15", at("2026-06-14"), nil, 17, true},
		{"2008-06-15", at("2026-06-15"), nil, 18, true},
		{"2008-06-15", at("2026-06-16"), nil, 18, true},
		// Born before 1 March.
		{"2008-02-28", at("2026-02-27"), nil, 17, true},
		{"2008-02-28", at("2026-02-28"), nil, 18, true},
		{"2008-01-01", at("2026-01-01"), nil, 18, true},
		// Born on 29 February.
		{"2008-02-29", at("2026-02-28"), nil, 17, true},
		{"2008-02-29", at("2026-03-01"), nil, 18, true},
		{"2008-02-29", at("2028-02-28"), nil, 19, true},
		{"2008-02-29", at("2028-02-29"), nil, 20, true},
		// The calendar of the zone decides: 02:00 UTC on the birthday is
		// still the day before in New York.
		{"2008-06-15", day("2026-06-15").Add(2 * time.Hour), nil, 18, true},
		{"2008-06-15", day("2026-06-15").Add(2 * time.Hour), newYork, 17, true},
		{"2008-06-15", day("2026-06-16").Add(2 * time.Hour), newYork, 18, true},
		// Born today, and not yet born.
		{"2026-06-15", at("2026-06-15"), nil, 0, true},
		{"2026-06-16", at("2026-06-15"), nil, 0, false},
		{"2027-01-01", at("2026-06-15"), nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s at %s %v", tc.born, tc.at.Format(time.RFC3339), tc.zone), func(t *testing.T) {
			got, ok := manifest.Age(day(tc.born), tc.at, tc.zone)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Age = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
			p, known := manifest.PersonOf(manifest.Facts{DateOfBirth: tc.born, Zone: tc.zone}, tc.at)
			if p.Age != int64(tc.want) || known != tc.ok {
				t.Errorf("PersonOf: age %d known %v; want %d, %v", p.Age, known, tc.want, tc.ok)
			}
		})
	}
}

// TestPersonOf: the person value every block builds from the same facts.
func TestPersonOf(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		facts manifest.Facts
		want  manifest.Person
		known bool
	}{
		{"nothing known", manifest.Facts{}, manifest.Person{Language: "en", Residence: manifest.Address{Jurisdictions: []string{}}}, false},
		{"unreadable date", manifest.Facts{DateOfBirth: "01/03/2008", Language: "fr"}, manifest.Person{Language: "en", Residence: manifest.Address{Jurisdictions: []string{}}}, false},
		{"everything", manifest.Facts{DateOfBirth: "2008-03-01", Language: "es", Verified: true, ZIP: "70101", Jurisdictions: []string{"springfield", "adams-county", "example"}},
			manifest.Person{Age: 18, Verified: true, Language: "es", Residence: manifest.Address{ZIP: "70101", Jurisdictions: []string{"springfield", "adams-county", "example"}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, known := manifest.PersonOf(tc.facts, now)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || known != tc.known {
				t.Errorf("PersonOf = %+v, %v; want %+v, %v", got, known, tc.want, tc.known)
			}
		})
	}
}
