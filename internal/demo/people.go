package demo

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
)

// Demo sign-ins. These are printed by `portico demo`; they exist only in
// demo data directories.
const (
	CitizenPassword = "demo citizen passphrase"
	StaffPassword   = "demo staff password"
	// StaffTOTPSecret is every demo staff account's authenticator key, so
	// a person trying the demo can add it to an app (or compute codes with
	// `oathtool --totp -b KEY`).
	StaffTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// Person is a demo account.
type Person struct {
	Email    string
	Name     string
	Staff    bool
	AgencyID string
	Role     identity.Role
	Admin    bool
	Profile  *identity.Profile
}

// People are the demo's citizens and staff: two citizens in different
// cities, staff in three agencies, and a platform administrator.
var People = []Person{
	{Email: "ana.citizen@example.com", Name: "Ana Citizen", Profile: &identity.Profile{LegalName: "Ana Citizen", DateOfBirth: "1988-04-12", Lang: "en",
		Residential: identity.Address{Line1: "12 Elm Street", City: "Springfield", State: "EX", ZIP: "70101"}}},
	{Email: "beto.ciudadano@example.com", Name: "Beto Ciudadano", Profile: &identity.Profile{LegalName: "Beto Ciudadano", DateOfBirth: "1975-09-30", Lang: "es",
		Residential: identity.Address{Line1: "40 Lake Road", City: "Lakeside", State: "EX", ZIP: "70201"}}},
	{Email: "casey.dmv@example.gov", Name: "Casey Caseworker", Staff: true, AgencyID: "dmv", Role: identity.Caseworker},
	{Email: "dana.dmv-admin@example.gov", Name: "Dana Administrator", Staff: true, AgencyID: "dmv", Role: identity.AgencyAdmin},
	{Email: "eli.clerk@example.gov", Name: "Eli Clerk", Staff: true, AgencyID: "adams-clerk", Role: identity.Caseworker},
	{Email: "fay.clerk-finance@example.gov", Name: "Fay Finance", Staff: true, AgencyID: "adams-clerk", Role: identity.Finance},
	{Email: "rosa.publicworks@example.gov", Name: "Rosa Roads", Staff: true, AgencyID: "springfield-public-works", Role: identity.Caseworker},
	{Email: "pat.admin@example.gov", Name: "Pat Platform", Staff: true, Admin: true},
}

// Accounts is what seeding people needs of the identity block.
type Accounts interface {
	AccountByEmail(ctx context.Context, email string) (*identity.Account, error)
	CreateCitizen(ctx context.Context, n identity.NewCitizen) (*identity.Account, error)
	AddStaff(ctx context.Context, n identity.NewStaff) (*identity.Account, error)
	SetTOTPSecret(ctx context.Context, accountID, secret string) ([]string, error)
}

// SeedPeople creates the demo accounts that do not exist yet and returns
// how many it created.
func SeedPeople(ctx context.Context, ids Accounts) (int, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"})
	created := 0
	for _, p := range People {
		if _, err := ids.AccountByEmail(ctx, p.Email); err == nil {
			continue
		} else if platform.ErrorCode(err) != platform.CodeNotFound {
			return created, fmt.Errorf("demo: %s: %w", p.Email, err)
		}
		if !p.Staff {
			if _, err := ids.CreateCitizen(ctx, identity.NewCitizen{Email: p.Email, LegalName: p.Name, Password: CitizenPassword, Profile: p.Profile}); err != nil {
				return created, fmt.Errorf("demo: %s: %w", p.Email, err)
			}
			created++
			continue
		}
		a, err := ids.AddStaff(ctx, identity.NewStaff{Email: p.Email, LegalName: p.Name, Password: StaffPassword, AgencyID: p.AgencyID, Role: p.Role, PlatformAdmin: p.Admin})
		if err != nil {
			return created, fmt.Errorf("demo: %s: %w", p.Email, err)
		}
		if _, err := ids.SetTOTPSecret(ctx, a.ID, StaffTOTPSecret); err != nil {
			return created, fmt.Errorf("demo: %s: %w", p.Email, err)
		}
		created++
	}
	return created, nil
}
