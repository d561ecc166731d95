package catalog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestUnmetAndAlternatives: a person who cannot use a service is told
// which rules they do not meet, and pointed at the services of the same
// purpose that do apply to them (a Baker County resident on Adams
// County's dog license finds Baker County's).
func TestUnmetAndAlternatives(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		cat := seedCatalog(t, db, 0)
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		baker := catalog.Profile{Person: manifest.Person{Age: 51, Residence: manifest.Address{ZIP: "70201", Jurisdictions: []string{"lakeside", "baker-county", "example"}}}, AgeKnown: true, ResidenceKnown: true}
		adams := catalog.Profile{Person: manifest.Person{Age: 38, Residence: manifest.Address{ZIP: "70101", Jurisdictions: []string{"springfield", "adams-county", "example"}}}, AgeKnown: true, ResidenceKnown: true}
		minor := adams
		minor.Person.Age = 15
		noDOB := adams
		noDOB.Person.Age, noDOB.AgeKnown = 0, false
		tests := []struct {
			name, service string
			prof          catalog.Profile
			unmet         string // reasons (EN), "?" marks undecided
			alternatives  string
		}{
			{"adams resident, adams dog", "adams-dog-licence", adams, "", ""},
			{"baker resident, adams dog", "adams-dog-licence", baker, "This license is for people who live in Adams County.", "baker-dog-licence"},
			{"adams resident, baker dog", "baker-dog-licence", adams, "This license is for people who live in Baker County.", "adams-dog-licence"},
			{"minor, adams dog", "adams-dog-licence", minor, "You must be 18 or older.", ""},
			{"no date of birth", "adams-dog-licence", noDOB, "?You must be 18 or older.", ""},
			{"plain expression", "adams-marriage-licence", minor, "person.age >= 18", "adams-birth-certificate"}, // the other family service at the same clerk
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := cat.Latest(ctx, tt.service)
				if err != nil {
					t.Fatal(err)
				}
				unmet, err := cat.Unmet(p, tt.prof, now)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, u := range unmet {
					s := u.Text
					if u.Reason != nil {
						s = u.Reason.EN
					}
					if u.Undecided {
						s = "?" + s
					}
					got = append(got, s)
				}
				if strings.Join(got, "|") != tt.unmet {
					t.Errorf("unmet = %q, want %q", got, tt.unmet)
				}
				alts, err := cat.Alternatives(ctx, p, tt.prof, "en", now)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, a := range alts {
					ids = append(ids, a.ID)
				}
				if strings.Join(ids, ",") != tt.alternatives {
					t.Errorf("alternatives = %v, want %q", ids, tt.alternatives)
				}
			})
		}
	})
}
