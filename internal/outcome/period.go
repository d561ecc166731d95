package outcome

import (
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/platform"
)

// Day is a calendar day in the jurisdiction's zone, as stored:
// "YYYY-MM-DD" (so days sort as text).
type Day string

// dayLayout is how days are stored (machine text, never shown).
const dayLayout = time.DateOnly

// DayOf is the calendar day of t in t's location.
func DayOf(t time.Time) Day { return Day(t.Format(dayLayout)) }

// ParseDay reads "YYYY-MM-DD".
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return "", fmt.Errorf("outcome: day %q is not YYYY-MM-DD", s)
	}
	return DayOf(t), nil
}

// Time is midnight UTC of the day (for arithmetic on calendar days).
func (d Day) Time() time.Time {
	t, _ := time.Parse(dayLayout, string(d))
	return t
}

// AddDays moves d by n calendar days.
func (d Day) AddDays(n int) Day { return DayOf(d.Time().AddDate(0, 0, n)) }

// Month is the day's month, "YYYY-MM".
func (d Day) Month() string { return string(d)[:7] }

// Period is how a report groups days.
type Period string

// The periods.
const (
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week" // Monday to Sunday
	PeriodMonth Period = "month"
)

// ParsePeriod reads a period's name; "" is the month.
func ParsePeriod(s string) (Period, error) {
	switch Period(s) {
	case "":
		return PeriodMonth, nil
	case PeriodDay, PeriodWeek, PeriodMonth:
		return Period(s), nil
	}
	return "", platform.Invalid("period", "period must be day, week or month")
}

// Start is the first day of the period that contains d.
func (p Period) Start(d Day) Day {
	t := d.Time()
	switch p {
	case PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return DayOf(t.AddDate(0, 0, -back))
	case PeriodMonth:
		return DayOf(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC))
	}
	return d
}

// Next is the first day of the period after the one that starts at start.
func (p Period) Next(start Day) Day {
	t := start.Time()
	switch p {
	case PeriodWeek:
		return DayOf(t.AddDate(0, 0, 7))
	case PeriodMonth:
		return DayOf(t.AddDate(0, 1, 0))
	}
	return DayOf(t.AddDate(0, 0, 1))
}

// MaxDays bounds a report's range: a little over two years of days.
const MaxDays = 800

// Range is the days From..To, both included.
type Range struct {
	From, To Day
}

// Check refuses a range that is backwards or too long.
func (r Range) Check() error {
	if r.From == "" || r.To == "" {
		return platform.Invalid("from", "a report needs a first and a last day")
	}
	if r.To < r.From {
		return platform.Invalid("to", "the last day must not be before the first")
	}
	if r.To.Time().Sub(r.From.Time()) > MaxDays*24*time.Hour {
		return platform.Invalid("from", fmt.Sprintf("a report covers at most %d days", MaxDays))
	}
	return nil
}
