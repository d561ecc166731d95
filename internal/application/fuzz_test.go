package application_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/application"
)

// FuzzDecode feeds arbitrary form posts to every page of the example
// services. The decoder must never panic; what it returns must be JSON
// that both engines store (valid UTF-8, no NUL); and it must be stable:
// showing the answers again (Typed) and posting them back gives the same
// answers.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"",
		"name=Ana&born-day=12&born-month=4&born-year=1988&address-line1=12+Elm&address-city=Springfield&address-zip=70101",
		"born-day=31&born-month=2&born-year=2001",
		"employees=1%2C200&activity=food&address-street=%00x",
		"employees=0x1p-2&senior=true&residency=visitor",
		"married_before=yes&married_before=no&decree=abc",
		"name=" + strings.Repeat("%E2%80%A8", 50) + "&details=a%0D%0Ab",
		"amount=9223372036854775808&parcel=123-456-789",
		"size=small&location=%FF%FE&photo=..%2F..%2Fetc%2Fpasswd",
	} {
		f.Add(seed)
	}
	var pages []*application.Page
	for _, file := range []string{"marriage-licence.yaml", "business-licence.yaml", "fishing-licence.yaml", "report-a-pothole.yaml", "property-tax-payment.yaml", "adams-dog-licence.yaml"} {
		pages = append(pages, exampleForm(f, file).Pages...)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		post, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, page := range pages {
			answers, probs := page.Check(post)
			js, err := json.Marshal(answers)
			if err != nil {
				t.Fatalf("%s: answers do not marshal: %v", page.ID, err)
			}
			if !utf8.Valid(js) || strings.Contains(string(js), `\u0000`) {
				t.Fatalf("%s: answers not storable: %s", page.ID, js)
			}
			for _, p := range probs {
				if p.Key == "" || p.Field == "" {
					t.Fatalf("%s: problem without key or input: %+v", page.ID, p)
				}
			}
			again, _ := page.Decode(page.Typed(answers))
			js2, _ := json.Marshal(again)
			if string(js) != string(js2) {
				t.Fatalf("%s: not stable:\n%s\n%s", page.ID, js, js2)
			}
		}
	})
}
