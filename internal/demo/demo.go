// Package demo seeds the demo jurisdiction, the State of Example, so that a
// fresh `portico demo` has something to show. All names, places and ZIP
// codes here are fictional. Seeding is idempotent: what exists is kept.
package demo

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
)

// Jurisdictions of the State of Example, parents before children.
var Jurisdictions = []tenancy.Jurisdiction{
	// The State of Example keeps Central time (America/Chicago); its
	// counties and cities inherit it.
	{ID: "example", Kind: tenancy.State, Name: "State of Example", NameES: "Estado de Example", TimeZone: "America/Chicago"},
	{ID: "adams-county", ParentID: "example", Kind: tenancy.County, Name: "Adams County", NameES: "Condado de Adams"},
	{ID: "baker-county", ParentID: "example", Kind: tenancy.County, Name: "Baker County", NameES: "Condado de Baker"},
	{ID: "clark-county", ParentID: "example", Kind: tenancy.County, Name: "Clark County", NameES: "Condado de Clark"},
	{ID: "springfield", ParentID: "adams-county", Kind: tenancy.City, Name: "City of Springfield", NameES: "Ciudad de Springfield", ZIPs: []string{"70101", "70102", "70103"}},
	{ID: "riverton", ParentID: "adams-county", Kind: tenancy.City, Name: "City of Riverton", NameES: "Ciudad de Riverton", ZIPs: []string{"70110"}},
	{ID: "lakeside", ParentID: "baker-county", Kind: tenancy.City, Name: "City of Lakeside", NameES: "Ciudad de Lakeside", ZIPs: []string{"70201", "70202"}},
	{ID: "millbrook", ParentID: "baker-county", Kind: tenancy.Town, Name: "Town of Millbrook", NameES: "Pueblo de Millbrook", ZIPs: []string{"70210"}},
	{ID: "cedar-falls", ParentID: "clark-county", Kind: tenancy.City, Name: "City of Cedar Falls", NameES: "Ciudad de Cedar Falls", ZIPs: []string{"70301", "70302"}},
	{ID: "pinecrest", ParentID: "clark-county", Kind: tenancy.Town, Name: "Town of Pinecrest", NameES: "Pueblo de Pinecrest", ZIPs: []string{"70310"}},
}

// RuralZIPs are ZIP codes outside any city or town: they resolve to a
// county and the state only.
var RuralZIPs = map[string][]string{
	"adams-county": {"70190"},
	"baker-county": {"70290"},
	"clark-county": {"70390"},
}

// Agencies at every level.
var Agencies = []tenancy.Agency{
	{ID: "dmv", JurisdictionID: "example", Name: "Department of Motor Vehicles", NameES: "Departamento de Vehículos Motorizados",
		Contact: tenancy.Contact{Address: "1200 Capitol Avenue\nSpringfield, EX 70103", Phone: "(555) 010-2000", Email: "dmv@example.gov", Website: "https://dmv.example.gov", Hours: "Monday to Friday, 8 a.m. to 5 p.m.", HoursES: "De lunes a viernes, de 8:00 a 17:00"}},
	{ID: "revenue", JurisdictionID: "example", Name: "Department of Revenue", NameES: "Departamento de Ingresos",
		Contact: tenancy.Contact{Address: "1300 Capitol Avenue\nSpringfield, EX 70103", Phone: "(555) 010-3000", Email: "revenue@example.gov", Website: "https://revenue.example.gov", Hours: "Monday to Friday, 8 a.m. to 4:30 p.m.", HoursES: "De lunes a viernes, de 8:00 a 16:30"}},
	{ID: "fish-wildlife", JurisdictionID: "example", Name: "Department of Fish & Wildlife", NameES: "Departamento de Pesca y Vida Silvestre",
		Contact: tenancy.Contact{Address: "45 Lakeshore Drive\nSpringfield, EX 70103", Phone: "(555) 010-4000", Email: "licenses@fishwildlife.example.gov", Website: "https://fishwildlife.example.gov", Hours: "Monday to Saturday, 7 a.m. to 3 p.m.", HoursES: "De lunes a sábado, de 7:00 a 15:00"}},
	{ID: "health", JurisdictionID: "example", Name: "Department of Health", NameES: "Departamento de Salud",
		Contact: tenancy.Contact{Address: "1400 Capitol Avenue\nSpringfield, EX 70103", Phone: "(555) 010-3500", Email: "health@example.gov", Website: "https://health.example.gov", Hours: "Monday to Friday, 8 a.m. to 5 p.m.", HoursES: "De lunes a viernes, de 8:00 a 17:00"}},
	{ID: "adams-treasurer", JurisdictionID: "adams-county", Name: "Adams County Treasurer", NameES: "Tesorería del Condado de Adams",
		Contact: tenancy.Contact{Address: "100 Main Street, Room 102\nSpringfield, EX 70101", Phone: "(555) 010-5100", Email: "treasurer@adams.example.gov", Website: "https://adams.example.gov/treasurer", Hours: "Monday to Friday, 8 a.m. to 4:30 p.m.", HoursES: "De lunes a viernes, de 8:00 a 16:30"}},
	{ID: "adams-clerk", JurisdictionID: "adams-county", Name: "Adams County Clerk", NameES: "Secretaría del Condado de Adams",
		Contact: tenancy.Contact{Address: "100 Main Street, Room 110\nSpringfield, EX 70101", Phone: "(555) 010-5200", Email: "clerk@adams.example.gov", Website: "https://adams.example.gov/clerk", Hours: "Monday to Friday, 8 a.m. to 4:30 p.m.", HoursES: "De lunes a viernes, de 8:00 a 16:30"}},
	{ID: "baker-treasurer", JurisdictionID: "baker-county", Name: "Baker County Treasurer", NameES: "Tesorería del Condado de Baker",
		Contact: tenancy.Contact{Address: "20 Courthouse Square\nMillbrook, EX 70210", Phone: "(555) 010-6100", Email: "treasurer@baker.example.gov", Website: "https://baker.example.gov/treasurer", Hours: "Monday to Thursday, 7:30 a.m. to 5:30 p.m.", HoursES: "De lunes a jueves, de 7:30 a 17:30"}},
	{ID: "baker-clerk", JurisdictionID: "baker-county", Name: "Baker County Clerk", NameES: "Secretaría del Condado de Baker",
		Contact: tenancy.Contact{Address: "20 Courthouse Square\nMillbrook, EX 70210", Phone: "(555) 010-6200", Email: "clerk@baker.example.gov", Website: "https://baker.example.gov/clerk", Hours: "Monday to Thursday, 7:30 a.m. to 5:30 p.m.", HoursES: "De lunes a jueves, de 7:30 a 17:30"}},
	{ID: "clark-treasurer", JurisdictionID: "clark-county", Name: "Clark County Treasurer", NameES: "Tesorería del Condado de Clark",
		Contact: tenancy.Contact{Address: "5 Government Plaza\nCedar Falls, EX 70301", Phone: "(555) 010-7100", Email: "treasurer@clark.example.gov", Website: "https://clark.example.gov/treasurer", Hours: "Monday to Friday, 9 a.m. to 5 p.m.", HoursES: "De lunes a viernes, de 9:00 a 17:00"}},
	{ID: "clark-clerk", JurisdictionID: "clark-county", Name: "Clark County Clerk", NameES: "Secretaría del Condado de Clark",
		Contact: tenancy.Contact{Address: "5 Government Plaza\nCedar Falls, EX 70301", Phone: "(555) 010-7200", Email: "clerk@clark.example.gov", Website: "https://clark.example.gov/clerk", Hours: "Monday to Friday, 9 a.m. to 5 p.m.", HoursES: "De lunes a viernes, de 9:00 a 17:00"}},
	{ID: "springfield-public-works", JurisdictionID: "springfield", Name: "Springfield Public Works", NameES: "Obras Públicas de Springfield",
		Contact: tenancy.Contact{Address: "300 Elm Street\nSpringfield, EX 70102", Phone: "(555) 010-8100", Email: "publicworks@springfield.example.gov", Website: "https://springfield.example.gov/public-works", Hours: "Monday to Friday, 7 a.m. to 3:30 p.m.", HoursES: "De lunes a viernes, de 7:00 a 15:30"}},
	{ID: "springfield-licensing", JurisdictionID: "springfield", Name: "Springfield Licensing", NameES: "Licencias de Springfield",
		Contact: tenancy.Contact{Address: "250 Elm Street\nSpringfield, EX 70102", Phone: "(555) 010-8200", Email: "licensing@springfield.example.gov", Website: "https://springfield.example.gov/licensing", Hours: "Monday to Friday, 8 a.m. to 4 p.m.", HoursES: "De lunes a viernes, de 8:00 a 16:00"}},
	{ID: "lakeside-public-works", JurisdictionID: "lakeside", Name: "Lakeside Public Works", NameES: "Obras Públicas de Lakeside",
		Contact: tenancy.Contact{Address: "12 Harbor Road\nLakeside, EX 70201", Phone: "(555) 010-9100", Email: "publicworks@lakeside.example.gov", Website: "https://lakeside.example.gov/public-works", Hours: "Monday to Friday, 7 a.m. to 3:30 p.m.", HoursES: "De lunes a viernes, de 7:00 a 15:30"}},
	{ID: "lakeside-licensing", JurisdictionID: "lakeside", Name: "Lakeside Licensing", NameES: "Licencias de Lakeside",
		Contact: tenancy.Contact{Address: "10 Harbor Road\nLakeside, EX 70201", Phone: "(555) 010-9200", Email: "licensing@lakeside.example.gov", Website: "https://lakeside.example.gov/licensing", Hours: "Tuesday to Friday, 9 a.m. to 4 p.m.", HoursES: "De martes a viernes, de 9:00 a 16:00"}},
}

// Seeder is what seeding needs of the tenancy block.
type Seeder interface {
	CreateJurisdiction(ctx context.Context, j tenancy.Jurisdiction) (tenancy.Jurisdiction, error)
	CreateAgency(ctx context.Context, a tenancy.Agency) (tenancy.Agency, error)
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
	SetContact(ctx context.Context, agencyID string, c tenancy.Contact) (tenancy.Agency, error)
}

// Result counts what Seed created.
type Result struct {
	Jurisdictions int `json:"jurisdictions"`
	Agencies      int `json:"agencies"`
}

// Seed creates whatever part of the demo jurisdiction is missing.
func Seed(ctx context.Context, s Seeder) (Result, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"})
	var res Result
	for _, j := range Jurisdictions {
		j.ZIPs = append(append([]string(nil), j.ZIPs...), RuralZIPs[j.ID]...)
		_, err := s.CreateJurisdiction(ctx, j)
		switch platform.ErrorCode(err) {
		case "":
			res.Jurisdictions++
		case platform.CodeConflict:
		default:
			return res, fmt.Errorf("demo: seed %s: %w", j.ID, err)
		}
	}
	for _, a := range Agencies {
		_, err := s.CreateAgency(ctx, a)
		switch platform.ErrorCode(err) {
		case "":
			res.Agencies++
		case platform.CodeConflict:
			// A data directory seeded before agencies had contact
			// details gets them once; an operator's own edits stay.
			if err := fillContact(ctx, s, a); err != nil {
				return res, fmt.Errorf("demo: seed %s: %w", a.ID, err)
			}
		default:
			return res, fmt.Errorf("demo: seed %s: %w", a.ID, err)
		}
	}
	return res, nil
}

func fillContact(ctx context.Context, s Seeder, a tenancy.Agency) error {
	have, err := s.Agency(ctx, a.ID)
	if err != nil || !have.Contact.Empty() {
		return err
	}
	_, err = s.SetContact(ctx, a.ID, a.Contact)
	return err
}
