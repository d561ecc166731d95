package caseweb

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

func TestParseMoney(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"45", 4500, true},
		{"45.5", 4550, true},
		{"45.00", 4500, true},
		{"$1,234.56", 123456, true},
		{" 0.07 ", 7, true},
		{"", 0, false},
		{".5", 0, false},
		{"45.123", 0, false},
		{"-5", 0, false},
		{"4e3", 0, false},
		{"forty", 0, false},
		{"1234567890123", 0, false},
	} {
		got, err := ParseMoney(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseMoney(%q) = %d, %v", c.in, got, err)
		}
		if err != nil && platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("ParseMoney(%q): error is not invalid input: %v", c.in, err)
		}
	}
}

// TestReasonsTranslated: every reason the engine can give has its
// message in both catalogues, and the English one says what the engine
// says in errors.
func TestReasonsTranslated(t *testing.T) {
	cat := map[string]map[string]string{}
	for _, lang := range []string{"en", "es"} {
		b, err := os.ReadFile("../../i18n/messages/casework." + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		// Plural messages are objects; reasons are plain strings.
		raw := map[string]any{}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				m[k] = s
			}
		}
		cat[lang] = m
	}
	for _, key := range []string{"case.reason.closed", "case.reason.nosuch", "case.reason.notyours", "case.reason.unpaid", "case.reason.paid", "case.reason.condition", "case.reason.unknown"} {
		r := casework.Reason{Key: key}
		// Formatted without arguments both sides show the same placeholders.
		if got := r.English(); got != fmt.Sprintf(cat["en"][key], r.Args...) || cat["en"][key] == "" || cat["es"][key] == "" {
			t.Errorf("%s: English %q, catalogue en %q es %q", key, got, cat["en"][key], cat["es"][key])
		}
		if strings.Count(cat["en"][key], "%") != strings.Count(cat["es"][key], "%") {
			t.Errorf("%s: the languages take different arguments", key)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{"text", "text"},
		{float64(4), "4"},
		{2.5, "2.5"},
		{map[string]any{"zip": "70101", "street": "1 Main St", "city": "Springfield"}, "1 Main St, Springfield, 70101"},
		{nil, ""},
	} {
		if got := formatValueRaw(c.in); got != c.want {
			t.Errorf("formatValueRaw(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := attachmentName(map[string]any{"name": "rabies.pdf", "id": "att-1"}); got != "rabies.pdf" {
		t.Errorf("attachment name %q", got)
	}
}

// FuzzParseMoney: any typed amount is refused or read as a non-negative
// amount that reads back the same once formatted.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"45", "45.5", "$1,234.56", "", ".", "1.2.3", "٣", "999999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseMoney(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseMoney(%q) = %d", s, n)
		}
		back, err := ParseMoney(i18n.Messages().For(i18n.English, nil).MoneyOf(n, ""))
		if err != nil || back != n {
			t.Fatalf("ParseMoney(%q) = %d; formatted %q reads %d, %v", s, n, i18n.Messages().For(i18n.English, nil).MoneyOf(n, ""), back, err)
		}
	})
}
