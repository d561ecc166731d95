package catalog_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// summary writes a match as "id: reasons / needs" for comparison.
func summary(ms []catalog.Match) []string {
	out := []string{}
	for _, m := range ms {
		var parts []string
		for _, r := range m.Reasons {
			parts = append(parts, strings.TrimSuffix(r.Kind+" "+r.Arg, " "))
		}
		s := m.Service.ID + ": " + strings.Join(parts, ", ")
		if len(m.Needs) > 0 {
			s += " / needs " + strings.Join(m.Needs, ", ")
		}
		out = append(out, s)
	}
	return out
}

func TestForYou(t *testing.T) {
	springfield := []string{"springfield", "adams-county", "example"}
	lakeside := []string{"lakeside", "baker-county", "example"}
	tests := []struct {
		name string
		prof catalog.Profile
		want []string
	}{
		{"adult in Springfield", catalog.Profile{Person: manifest.Person{Age: 38, Residence: manifest.Address{ZIP: "70101", Jurisdictions: springfield}}, AgeKnown: true, ResidenceKnown: true}, []string{
			"learners-permit: lives_in example, age 15",
			"adams-marriage-licence: lives_in adams-county, age 18",
			"kids-health-coverage: lives_in example",
			"adams-passport-appointment: lives_in adams-county, no_rules",
			"fishing-licence: lives_in example, age 16",
			"dmv-change-of-address: lives_in example, age 15",
			"adams-dog-licence: lives_in adams-county, age 18",
			"adams-birth-certificate: lives_in adams-county, no_rules",
			"adams-property-tax: lives_in adams-county, no_rules",
			"business-registration: lives_in example, age 18",
			"adams-voter-registration: lives_in adams-county, age 16",
			"vehicle-registration-renewal: lives_in example, age 16",
			"springfield-pothole: lives_in springfield, no_rules",
		}},
		{"teenager in Springfield", catalog.Profile{Person: manifest.Person{Age: 16, Residence: manifest.Address{ZIP: "70101", Jurisdictions: springfield}}, AgeKnown: true, ResidenceKnown: true}, []string{
			"learners-permit: lives_in example, age 15",
			"kids-health-coverage: lives_in example",
			"adams-passport-appointment: lives_in adams-county, no_rules",
			"fishing-licence: lives_in example, age 16",
			"dmv-change-of-address: lives_in example, age 15",
			"adams-birth-certificate: lives_in adams-county, no_rules",
			"adams-property-tax: lives_in adams-county, no_rules",
			"adams-voter-registration: lives_in adams-county, age 16",
			"vehicle-registration-renewal: lives_in example, age 16",
			"springfield-pothole: lives_in springfield, no_rules",
		}},
		{"adult in Lakeside", catalog.Profile{Person: manifest.Person{Age: 51, Residence: manifest.Address{ZIP: "70201", Jurisdictions: lakeside}}, AgeKnown: true, ResidenceKnown: true}, []string{
			"learners-permit: lives_in example, age 15",
			"kids-health-coverage: lives_in example",
			"fishing-licence: lives_in example, age 16",
			"dmv-change-of-address: lives_in example, age 15",
			"baker-dog-licence: lives_in baker-county, age 18",
			"business-registration: lives_in example, age 18",
			"vehicle-registration-renewal: lives_in example, age 16",
		}},
		{"no date of birth", catalog.Profile{Person: manifest.Person{Residence: manifest.Address{ZIP: "70201", Jurisdictions: lakeside}}, ResidenceKnown: true}, []string{
			"kids-health-coverage: lives_in example",
			"learners-permit:  / needs date_of_birth",
			"fishing-licence:  / needs date_of_birth",
			"dmv-change-of-address:  / needs date_of_birth",
			"baker-dog-licence:  / needs date_of_birth",
			"business-registration:  / needs date_of_birth",
			"vehicle-registration-renewal:  / needs date_of_birth",
		}},
		{"no address", catalog.Profile{Person: manifest.Person{Age: 30}, AgeKnown: true}, []string{
			"learners-permit:  / needs address",
			"adams-marriage-licence:  / needs address",
			"kids-health-coverage:  / needs address",
			"adams-passport-appointment:  / needs address",
			"fishing-licence:  / needs address",
			"dmv-change-of-address:  / needs address",
			"baker-dog-licence:  / needs address",
			"adams-dog-licence:  / needs address",
			"adams-birth-certificate:  / needs address",
			"adams-property-tax:  / needs address",
			"business-registration:  / needs address",
			"adams-voter-registration:  / needs address",
			"vehicle-registration-renewal:  / needs address",
			"springfield-pothole:  / needs address",
		}},
		{"nothing known", catalog.Profile{}, []string{
			"learners-permit:  / needs address, date_of_birth",
			"adams-marriage-licence:  / needs address, date_of_birth",
			"kids-health-coverage:  / needs address",
			"adams-senior-exemption:  / needs address, date_of_birth",
			"adams-passport-appointment:  / needs address",
			"fishing-licence:  / needs address, date_of_birth",
			"dmv-change-of-address:  / needs address, date_of_birth",
			"baker-dog-licence:  / needs address, date_of_birth",
			"adams-dog-licence:  / needs address, date_of_birth",
			"adams-birth-certificate:  / needs address",
			"adams-property-tax:  / needs address",
			"business-registration:  / needs address, date_of_birth",
			"adams-voter-registration:  / needs address, date_of_birth",
			"vehicle-registration-renewal:  / needs address, date_of_birth",
			"springfield-pothole:  / needs address",
		}},
		{"outside the state", catalog.Profile{Person: manifest.Person{Age: 30, Residence: manifest.Address{ZIP: "12345"}}, AgeKnown: true, ResidenceKnown: true}, []string{}},
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := cat.ForYou(context.Background(), tt.prof, "en", now)
				if err != nil {
					t.Fatal(err)
				}
				if s := summary(got); !reflect.DeepEqual(s, tt.want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	})
}

func TestRequirements(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	cat := seedCatalog(t, db, 0)
	// Rules the manifest explains are stated in its words; a plain
	// expression is explained part by part.
	tests := map[string]string{
		"adams-dog-licence":            "[{stated You must be 18 or older.} {stated This license is for people who live in Adams County.}]",
		"springfield-business-licence": "[{stated You must be 18 or older.} {stated Your identity must be verified before you can get a business license.}]",
		"springfield-pothole":          "[]",
		"vehicle-registration-renewal": "[{stated You must be 16 or older.} {stated You must live in the State of Example to register a vehicle here.}]",
		"adams-marriage-licence":       "[{age 18 <nil>}]",
	}
	for id, want := range tests {
		p, err := cat.Latest(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := cat.Requirements(p)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, r := range rs {
			if r.Text != nil {
				parts = append(parts, "{"+r.Kind+" "+r.Text.EN+"}")
				continue
			}
			parts = append(parts, fmt.Sprint(r))
		}
		if got := "[" + strings.Join(parts, " ") + "]"; got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
}
