package application_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// TestDecodeAndValidate posts pages of the example services and checks
// the typed answers and the problems (by message key and input id).
func TestDecodeAndValidate(t *testing.T) {
	marriage := exampleForm(t, "marriage-licence.yaml")
	business := exampleForm(t, "business-licence.yaml")
	fishing := exampleForm(t, "fishing-licence.yaml")
	tests := []struct {
		name    string
		form    *application.Form
		page    string
		post    string
		answers string // JSON of the typed answers
		probs   string // "input:key" sorted as shown, comma separated
	}{
		{"empty page", marriage, "you", "", `{}`, "f-name:apply.error.required,f-born-month:date.error.required,f-address-line1:apply.error.required"},
		{"all good", marriage, "you", "name=+Ana+Citizen+&born-day=12&born-month=4&born-year=1988&address-line1=12+Elm+Street&address-city=Springfield&address-state=EX&address-zip=70101",
			`{"address":{"city":"Springfield","line1":"12 Elm Street","state":"EX","zip":"70101"},"born":"1988-04-12","name":"Ana Citizen"}`, ""},
		{"date that does not exist", marriage, "you", "name=A&born-day=31&born-month=4&born-year=1988&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"name":"A"}`, "f-born-month:date.error.real"},
		{"two-digit year", marriage, "you", "name=A&born-day=1&born-month=4&born-year=88&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"name":"A"}`, "f-born-year:date.error.year_digits"},
		{"US order with leading zeros", marriage, "you", "name=A&born-month=03&born-day=27&born-year=2021&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"born":"2021-03-27","name":"A"}`, ""},
		{"day typed in the month box", marriage, "you", "name=A&born-month=27&born-day=03&born-year=2021&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"name":"A"}`, "f-born-month:date.error.month_range"},
		{"year left out", marriage, "you", "name=A&born-month=3&born-day=27&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"name":"A"}`, "f-born-year:date.error.year_missing"},
		{"address part pattern and missing", marriage, "you", "name=A&born-day=1&born-month=4&born-year=1988&address-line1=x&address-zip=7010",
			`{"address":{"line1":"x","zip":"7010"},"born":"1988-04-01","name":"A"}`, "f-address-city:apply.error.required,f-address-zip:apply.error.pattern"},
		{"control characters dropped", marriage, "you", "name=%00Ana%0A%09Cit&born-day=1&born-month=1&born-year=2000&address-line1=x&address-city=y&address-zip=70101",
			`{"address":{"city":"y","line1":"x","zip":"70101"},"born":"2000-01-01","name":"Ana  Cit"}`, ""},
		{"email format", marriage, "partner", "name=Bo&born-day=1&born-month=2&born-year=1990&email=not-an-email",
			`{"born":"1990-02-01","email":"not-an-email","name":"Bo"}`, "f-email:apply.error.email"},
		{"radios: nothing chosen", marriage, "previous", "", `{}`, "f-married_before-0:apply.error.choose"},
		{"radios: not an option", marriage, "previous", "married_before=maybe", `{"married_before":"maybe"}`, "f-married_before-0:apply.error.enum"},
		{"radios: chosen", marriage, "previous", "married_before=yes", `{"married_before":"yes"}`, ""},
		{"file: nothing uploaded", marriage, "divorce", "", `{}`, "f-decree:apply.error.file"},
		{"number with letters", business, "business", "name=Shop&activity=food&employees=ten&address-street=1+Main&address-zip=70101",
			`{"activity":"food","address":{"street":"1 Main","zip":"70101"},"name":"Shop"}`, "f-employees:apply.error.integer"},
		{"number with a thousands comma", business, "business", "name=Shop&activity=retail&employees=1%2C200&address-street=1+Main&address-zip=70101",
			`{"activity":"retail","address":{"street":"1 Main","zip":"70101"},"employees":1200,"name":"Shop"}`, ""},
		{"number below minimum", business, "business", "name=Shop&activity=retail&employees=-1&address-street=1+Main&address-zip=70101",
			`{"activity":"retail","address":{"street":"1 Main","zip":"70101"},"employees":-1,"name":"Shop"}`, "f-employees:apply.error.minimum"},
		{"select left on its prompt", business, "business", "name=Shop&activity=&employees=1&address-street=1+Main&address-zip=70101",
			`{"address":{"street":"1 Main","zip":"70101"},"employees":1,"name":"Shop"}`, "f-activity:apply.error.choose"},
		{"too long", business, "business", "name=" + strings.Repeat("x", 201) + "&activity=retail&employees=1&address-street=1+Main&address-zip=70101",
			`{"activity":"retail","address":{"street":"1 Main","zip":"70101"},"employees":1,"name":"` + strings.Repeat("x", 201) + `"}`, "f-name:apply.error.maxlength"},
		{"boolean checkbox unticked", fishing, "licence", "residency=resident", `{"residency":"resident","senior":false}`, ""},
		{"boolean checkbox ticked", fishing, "licence", "residency=visitor&senior=true", `{"residency":"visitor","senior":true}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := tc.form.Page(tc.page)
			post, err := url.ParseQuery(tc.post)
			if err != nil {
				t.Fatal(err)
			}
			answers, probs := page.Check(post)
			js, _ := json.Marshal(answers)
			if string(js) != tc.answers {
				t.Errorf("answers = %s\nwant      %s", js, tc.answers)
			}
			if got := problemList(probs); got != tc.probs {
				t.Errorf("problems = %s\nwant       %s", got, tc.probs)
			}
		})
	}
}

func problemList(probs []application.Problem) string {
	var parts []string
	for _, p := range probs {
		parts = append(parts, p.Field+":"+p.Key)
	}
	return strings.Join(parts, ",")
}

// TestConditionalPages checks `when` over answers, and that a hidden
// page's answers do not steer later conditions.
func TestConditionalPages(t *testing.T) {
	marriage := exampleForm(t, "marriage-licence.yaml")
	business := exampleForm(t, "business-licence.yaml")
	person := application.Applicant{DateOfBirth: "1988-04-12"}.Person(now)
	tests := []struct {
		name    string
		form    *application.Form
		answers string
		want    string
	}{
		{"nothing answered", marriage, `{}`, "you,partner,previous"},
		{"married before", marriage, `{"previous":{"married_before":"yes"}}`, "you,partner,previous,divorce"},
		{"not married before", marriage, `{"previous":{"married_before":"no"}}`, "you,partner,previous"},
		{"food business", business, `{"business":{"activity":"food"}}`, "business,food"},
		{"shop", business, `{"business":{"activity":"retail"}}`, "business"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var answers map[string]map[string]any
			if err := json.Unmarshal([]byte(tc.answers), &answers); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range tc.form.Visible(answers, person, now) {
				ids = append(ids, p.ID)
			}
			if got := strings.Join(ids, ","); got != tc.want {
				t.Errorf("visible = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFee computes fees, fixed and by CEL over answers and the person.
func TestFee(t *testing.T) {
	tests := []struct {
		file    string
		dob     string
		answers string
		want    int64
	}{
		{"marriage-licence.yaml", "1988-04-12", `{}`, 6000},
		{"vehicle-registration-renewal.yaml", "1988-04-12", `{"vehicle":{"type":"truck"}}`, 7500},
		{"business-licence.yaml", "1988-04-12", `{"business":{"employees":3}}`, 8000},
		{"fishing-licence.yaml", "1950-01-01", `{"licence":{"residency":"visitor"}}`, 500},
		{"fishing-licence.yaml", "1990-01-01", `{"licence":{"residency":"visitor"}}`, 6000},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.answers, func(t *testing.T) {
			f := exampleForm(t, tc.file)
			var answers map[string]map[string]any
			if err := json.Unmarshal([]byte(tc.answers), &answers); err != nil {
				t.Fatal(err)
			}
			got, ok, err := f.Fee(answers, application.Applicant{DateOfBirth: tc.dob}.Person(now), now)
			if err != nil || !ok || got.Amount != tc.want || got.Currency != "USD" {
				t.Fatalf("fee = %+v %v %v, want %d USD", got, ok, err, tc.want)
			}
		})
	}
	if _, ok, err := exampleForm(t, "report-a-pothole.yaml").Fee(nil, application.Applicant{}.Person(now), now); ok || err != nil {
		t.Fatalf("pothole has no fee: %v %v", ok, err)
	}
}

// TestPrefill offers profile facts for the fields that ask for them.
func TestPrefill(t *testing.T) {
	page := exampleForm(t, "marriage-licence.yaml").Page("you")
	got := page.Prefilled(application.Applicant{LegalName: "Ana Citizen", DateOfBirth: "1988-04-12", Phone: "",
		Residential: application.Address{Line1: "12 Elm Street", City: "Springfield", State: "EX", ZIP: "70101"}})
	js, _ := json.Marshal(got)
	want := `{"address":{"city":"Springfield","line1":"12 Elm Street","state":"EX","zip":"70101"},"born":"1988-04-12","name":"Ana Citizen"}`
	if string(js) != want {
		t.Fatalf("prefilled = %s\nwant        %s", js, want)
	}
	// What is shown is what Decode reads back: the person submits it
	// only by posting the page.
	again, probs := page.Decode(page.Typed(got))
	if js2, _ := json.Marshal(again); string(js2) != want || len(probs) > 0 {
		t.Fatalf("round trip = %s %v", js2, probs)
	}
}

// TestValidationMessages renders the problems of bad posts in English and
// Spanish and compares them with testdata/messages.golden.
func TestValidationMessages(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	marriage := exampleForm(t, "marriage-licence.yaml")
	business := exampleForm(t, "business-licence.yaml")
	posts := []struct {
		form *application.Form
		page string
		post string
	}{
		{marriage, "you", ""},
		{marriage, "you", "name=A&born-day=31&born-month=2&born-year=2001&address-line1=x&address-city=y&address-zip=1"},
		{marriage, "partner", "name=" + strings.Repeat("n", 201) + "&born-day=1&born-month=1&born-year=1990&email=bad"},
		{marriage, "previous", "married_before=maybe"},
		{marriage, "divorce", ""},
		{business, "business", "name=Shop&employees=1.5&address-street=1+Main&address-zip=99999"},
		{business, "business", "name=Shop&activity=retail&employees=100001&address-zip=70101"},
	}
	var b strings.Builder
	for _, p := range posts {
		page := p.form.Page(p.page)
		post, _ := url.ParseQuery(p.post)
		_, probs := page.Check(post)
		fmt.Fprintf(&b, "== %s/%s %s\n", p.form.ServiceID, p.page, p.post)
		for _, lang := range i18n.Supported {
			for _, pr := range probs {
				label := pr.Label.EN
				if lang == i18n.Spanish {
					label = pr.Label.ES
				}
				if pr.Part != "" {
					label += " – " + cat.T(lang, "apply.address."+pr.Part)
				}
				msg := cat.T(lang, pr.Key, label)
				if pr.Arg != "" {
					msg = cat.T(lang, pr.Key, label, pr.Arg)
				}
				fmt.Fprintf(&b, "%s %s: %s\n", lang, pr.Field, msg)
			}
		}
	}
	golden := filepath.Join("testdata", "messages.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("messages differ from %s (run with -update and review the diff):\n%s", golden, b.String())
	}
	if strings.Contains(b.String(), "%!") {
		t.Errorf("a message has a formatting error:\n%s", b.String())
	}
}
