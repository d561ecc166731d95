package i18n_test

import (
	"math"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

func TestMoney(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		lang     i18n.Lang
		minor    int64
		currency string
		want     string
	}{
		{"en dollars", i18n.English, 1000, "USD", "$10.00"},
		{"es dollars (CLDR es-US)", i18n.Spanish, 1000, "USD", "$10.00"},
		{"en zero", i18n.English, 0, "USD", "$0.00"},
		{"es zero", i18n.Spanish, 0, "USD", "$0.00"},
		{"en cents", i18n.English, 5, "USD", "$0.05"},
		{"en negative refund", i18n.English, -4550, "USD", "-$45.50"},
		{"es negative refund", i18n.Spanish, -4550, "USD", "-$45.50"},
		{"en grouping", i18n.English, 123456789, "USD", "$1,234,567.89"},
		{"es grouping", i18n.Spanish, 123456789, "USD", "$1,234,567.89"},
		{"largest amount, exact", i18n.English, math.MaxInt64, "USD", "$92,233,720,368,547,758.07"},
		{"smallest amount, exact", i18n.English, math.MinInt64, "USD", "-$92,233,720,368,547,758.08"},
		{"default currency", i18n.English, 4500, "", "$45.00"},
		{"lowercase code", i18n.English, 4500, "usd", "$45.00"},
		{"euro in en", i18n.English, 4500, "EUR", "€45.00"},
		{"yen has no minor digits", i18n.English, 4500, "JPY", "¥4,500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := platform.NewMoney(tt.minor, tt.currency)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.For(tt.lang, nil).Money(m); got != tt.want {
				t.Fatalf("Money = %q; want %q", got, tt.want)
			}
			if got := c.For(tt.lang, nil).MoneyOf(tt.minor, tt.currency); got != tt.want {
				t.Fatalf("MoneyOf = %q; want %q", got, tt.want)
			}
		})
	}
	if got := c.For(i18n.English, nil).MoneyOf(4500, "ZZZ"); got != "ZZZ 45.00" {
		t.Fatalf("unknown currency = %q", got)
	}
}

func TestMoneyArithmetic(t *testing.T) {
	usd := func(n int64) platform.Money { return platform.MustMoney(n, "USD") }
	eur := platform.MustMoney(100, "EUR")
	if s, err := usd(4500).Add(usd(-500)); err != nil || s != usd(4000) {
		t.Fatalf("Add = %v, %v", s, err)
	}
	if s, err := usd(4500).Sub(usd(5000)); err != nil || s != usd(-500) {
		t.Fatalf("Sub = %v, %v", s, err)
	}
	for name, err := range map[string]error{
		"add mixed":    func() error { _, err := usd(1).Add(eur); return err }(),
		"sub mixed":    func() error { _, err := usd(1).Sub(eur); return err }(),
		"cmp mixed":    func() error { _, err := usd(1).Cmp(eur); return err }(),
		"add overflow": func() error { _, err := usd(math.MaxInt64).Add(usd(1)); return err }(),
		"sub overflow": func() error { _, err := usd(math.MinInt64).Sub(usd(1)); return err }(),
		"sub minint":   func() error { _, err := usd(0).Sub(usd(math.MinInt64)); return err }(),
	} {
		if platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("%s: err = %v; want an invalid error", name, err)
		}
	}
	if _, err := platform.NewMoney(1, "DOLLARS"); platform.ErrorCode(err) != platform.CodeInvalid {
		t.Errorf("NewMoney(DOLLARS) = %v", err)
	}
	if got := usd(-4550).String(); got != "USD -45.50" {
		t.Errorf("String = %q", got)
	}
}

func TestDates(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	honolulu, err := time.LoadLocation("Pacific/Honolulu")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		lang        i18n.Lang
		loc         *time.Location
		at          time.Time
		date, dtime string
	}{
		{"en winter, standard time", i18n.English, chicago, time.Date(2021, 3, 13, 21, 4, 0, 0, time.UTC),
			"March 13, 2021", "March 13, 2021, 3:04 PM"},
		{"en after spring forward", i18n.English, chicago, time.Date(2021, 3, 14, 20, 4, 0, 0, time.UTC),
			"March 14, 2021", "March 14, 2021, 3:04 PM"},
		{"es after spring forward, 24h", i18n.Spanish, chicago, time.Date(2021, 3, 27, 20, 4, 0, 0, time.UTC),
			"27 de marzo de 2021", "27 de marzo de 2021, 15:04"},
		{"fall back: 1:30 happens twice, first CDT", i18n.English, chicago, time.Date(2021, 11, 7, 6, 30, 0, 0, time.UTC),
			"November 7, 2021", "November 7, 2021, 1:30 AM"},
		{"fall back: then CST", i18n.English, chicago, time.Date(2021, 11, 7, 7, 30, 0, 0, time.UTC),
			"November 7, 2021", "November 7, 2021, 1:30 AM"},
		{"UTC evening is still the previous day in Chicago", i18n.English, chicago, time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC),
			"December 31, 2026", "December 31, 2026, 9:00 PM"},
		{"same instant in Honolulu (no DST)", i18n.Spanish, honolulu, time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC),
			"31 de diciembre de 2026", "31 de diciembre de 2026, 17:00"},
		{"same instant in New York", i18n.English, newYork, time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC),
			"December 31, 2026", "December 31, 2026, 10:00 PM"},
		{"nil zone is UTC", i18n.English, nil, time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC),
			"January 1, 2027", "January 1, 2027, 3:00 AM"},
		{"zero time is blank", i18n.English, chicago, time.Time{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.For(tt.lang, tt.loc)
			if got := f.Date(tt.at); got != tt.date {
				t.Errorf("Date = %q; want %q", got, tt.date)
			}
			if got := f.DateTime(tt.at); got != tt.dtime {
				t.Errorf("DateTime = %q; want %q", got, tt.dtime)
			}
		})
	}
	if got := c.For(i18n.Spanish, chicago).Day(1988, time.April, 12); got != "12 de abril de 1988" {
		t.Errorf("Day = %q", got)
	}
	if got := c.For(i18n.English, chicago).ISO(time.Date(2021, 3, 27, 20, 4, 0, 0, time.UTC)); got != "2021-03-27T15:04:00-05:00" {
		t.Errorf("ISO = %q", got)
	}
}
