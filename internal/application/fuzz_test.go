package application_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/application"
)

// FuzzDecode feeds arbitrary form posts to every page of the example
// services. The decoder must never panic; what it returns must be JSON
// that both engines store (valid UTF-8, no NUL); and it must be stable:
// showing the answers again (Typed) and posting them back gives the same
// answers. Every value posted is also tried as an uploaded file's name:
// its label must be a short, non-empty base name without control or
// format characters, and stable.
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
		"decree=invoice%E2%80%AEfdp.exe&photo=%E2%81%A6a%E2%81%A9%E2%80%8F.png&file=..%5C..%5C%C2%85x",
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
		for _, values := range post {
			for _, v := range values {
				checkFilename(t, v)
			}
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

// checkFilename checks the label CleanFilename keeps for name.
func checkFilename(t *testing.T, name string) {
	t.Helper()
	label := application.CleanFilename(name)
	if label == "" || label == "." || label == ".." || !utf8.ValidString(label) || utf8.RuneCountInString(label) > 200 ||
		strings.ContainsAny(label, `/\`) || label != strings.TrimSpace(label) {
		t.Fatalf("CleanFilename(%+q) = %+q", name, label)
	}
	for _, r := range label {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("CleanFilename(%+q) = %+q keeps %U", name, label, r)
		}
	}
	if again := application.CleanFilename(label); again != label {
		t.Fatalf("CleanFilename not stable: %+q then %+q", label, again)
	}
}
