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
	{ID: "dmv", JurisdictionID: "example", Name: "Department of Motor Vehicles", NameES: "Departamento de Vehículos Motorizados"},
	{ID: "revenue", JurisdictionID: "example", Name: "Department of Revenue", NameES: "Departamento de Ingresos"},
	{ID: "fish-wildlife", JurisdictionID: "example", Name: "Department of Fish & Wildlife", NameES: "Departamento de Pesca y Vida Silvestre"},
	{ID: "adams-treasurer", JurisdictionID: "adams-county", Name: "Adams County Treasurer", NameES: "Tesorería del Condado de Adams"},
	{ID: "adams-clerk", JurisdictionID: "adams-county", Name: "Adams County Clerk", NameES: "Secretaría del Condado de Adams"},
	{ID: "baker-treasurer", JurisdictionID: "baker-county", Name: "Baker County Treasurer", NameES: "Tesorería del Condado de Baker"},
	{ID: "baker-clerk", JurisdictionID: "baker-county", Name: "Baker County Clerk", NameES: "Secretaría del Condado de Baker"},
	{ID: "clark-treasurer", JurisdictionID: "clark-county", Name: "Clark County Treasurer", NameES: "Tesorería del Condado de Clark"},
	{ID: "clark-clerk", JurisdictionID: "clark-county", Name: "Clark County Clerk", NameES: "Secretaría del Condado de Clark"},
	{ID: "springfield-public-works", JurisdictionID: "springfield", Name: "Springfield Public Works", NameES: "Obras Públicas de Springfield"},
	{ID: "springfield-licensing", JurisdictionID: "springfield", Name: "Springfield Licensing", NameES: "Licencias de Springfield"},
	{ID: "lakeside-public-works", JurisdictionID: "lakeside", Name: "Lakeside Public Works", NameES: "Obras Públicas de Lakeside"},
	{ID: "lakeside-licensing", JurisdictionID: "lakeside", Name: "Lakeside Licensing", NameES: "Licencias de Lakeside"},
}

// Seeder is what seeding needs of the tenancy block.
type Seeder interface {
	CreateJurisdiction(ctx context.Context, j tenancy.Jurisdiction) (tenancy.Jurisdiction, error)
	CreateAgency(ctx context.Context, a tenancy.Agency) (tenancy.Agency, error)
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
		default:
			return res, fmt.Errorf("demo: seed %s: %w", a.ID, err)
		}
	}
	return res, nil
}
