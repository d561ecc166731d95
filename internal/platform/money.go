package platform

import (
	"fmt"
	"math"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an amount in a currency's minor units (cents for US dollars)
// with its ISO 4217 code. Amounts are integers so that sums balance
// exactly; arithmetic refuses to mix currencies. The zero Money has no
// currency and is only a placeholder: NewMoney always sets one.
//
// Money is formatted for people by i18n (one formatter per locale), never
// by fmt: String is for logs and errors only.
type Money struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// DefaultCurrency is the currency of an amount whose source names none
// (a manifest fee without a currency, a payment recorded at the counter).
// Portico serves US governments.
const DefaultCurrency = "USD"

// NewMoney returns minor units of currency. The code must be a known ISO
// 4217 currency ("USD"; lowercase is accepted); an empty code means
// DefaultCurrency.
func NewMoney(minor int64, code string) (Money, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		code = DefaultCurrency
	}
	u, err := currency.ParseISO(code)
	if err != nil {
		return Money{}, Invalid("currency", fmt.Sprintf("currency %q is not an ISO 4217 code", code))
	}
	return Money{Minor: minor, Currency: u.String()}, nil
}

// MustMoney is NewMoney for constants in code and tests; it panics on an
// unknown currency.
func MustMoney(minor int64, code string) Money {
	m, err := NewMoney(minor, code)
	if err != nil {
		panic(err)
	}
	return m
}

// Scale is how many minor-unit digits the currency has (2 for USD, 0 for
// JPY), from CLDR through x/text/currency.
func (m Money) Scale() int {
	u, err := currency.ParseISO(m.Currency)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Minor == 0 }

// Negative reports whether the amount is below zero.
func (m Money) Negative() bool { return m.Minor < 0 }

// same checks that n can be combined with m.
func (m Money) same(op string, n Money) error {
	if m.Currency != n.Currency {
		return Errorf(CodeInvalid, "money: cannot %s %s and %s", op, m.Currency, n.Currency)
	}
	return nil
}

// Add returns m + n. Different currencies or an overflow are errors, never
// a silently wrong sum.
func (m Money) Add(n Money) (Money, error) {
	if err := m.same("add", n); err != nil {
		return Money{}, err
	}
	if (n.Minor > 0 && m.Minor > math.MaxInt64-n.Minor) || (n.Minor < 0 && m.Minor < math.MinInt64-n.Minor) {
		return Money{}, Errorf(CodeInvalid, "money: %s + %s overflows", m, n)
	}
	return Money{Minor: m.Minor + n.Minor, Currency: m.Currency}, nil
}

// Sub returns m - n, with the same refusals as Add.
func (m Money) Sub(n Money) (Money, error) {
	if n.Minor == math.MinInt64 {
		return Money{}, Errorf(CodeInvalid, "money: %s - %s overflows", m, n)
	}
	return m.Add(Money{Minor: -n.Minor, Currency: n.Currency})
}

// Cmp compares m and n: -1, 0 or +1. Different currencies are an error.
func (m Money) Cmp(n Money) (int, error) {
	if err := m.same("compare", n); err != nil {
		return 0, err
	}
	switch {
	case m.Minor < n.Minor:
		return -1, nil
	case m.Minor > n.Minor:
		return 1, nil
	}
	return 0, nil
}

// String is "USD 45.00": unambiguous for logs, errors and the CLI; pages
// and emails use i18n's locale formatter instead.
func (m Money) String() string {
	scale := m.Scale()
	minor := m.Minor
	sign := ""
	if minor < 0 {
		sign = "-"
	}
	abs := uint64(minor)
	if minor < 0 {
		abs = uint64(-(minor + 1)) + 1 // MinInt64 has no positive int64
	}
	div := uint64(1)
	for range scale {
		div *= 10
	}
	if scale == 0 {
		return fmt.Sprintf("%s %s%d", m.Currency, sign, abs)
	}
	return fmt.Sprintf("%s %s%d.%0*d", m.Currency, sign, abs/div, scale, abs%div)
}
