package demo

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
)

// DemoObligation is a demo citizen's due date, DueIn days from the day the
// demo is first seeded.
type DemoObligation struct {
	Email string
	DueIn int
	reminder.Obligation
}

// Obligations are what the demo's citizens have coming up: Ana (English)
// has a vehicle registration and a property tax installment ($1,235.50)
// ahead; Beto (Spanish) has a registration due within the week (so its
// 7-day reminder goes at once and shows in the development mailbox), a tax
// installment ($842.75), and a document a caseworker asked for that is
// overdue. Renewals lead to the service's start page.
var Obligations = []DemoObligation{
	{Email: "ana.citizen@example.com", DueIn: 21, Obligation: reminder.Obligation{AgencyID: "dmv", Kind: reminder.KindRenewal, Source: "demo:vehicle-registration",
		Title: reminder.Text{EN: "Renew your vehicle registration (EX 4KQ-218)", ES: "Renueve el registro de su vehículo (EX 4KQ-218)"},
		URL:   "/services/vehicle-registration-renewal"}},
	{Email: "ana.citizen@example.com", DueIn: 45, Obligation: reminder.Obligation{AgencyID: "adams-treasurer", Kind: reminder.KindPayment, Source: "demo:property-tax-2",
		Title:  reminder.Text{EN: "Pay your property tax, second installment", ES: "Pague su impuesto predial, segunda cuota"},
		Amount: &platform.Money{Minor: 123550, Currency: "USD"}, Reference: "Parcel 01-234-567"}},
	{Email: "beto.ciudadano@example.com", DueIn: 5, Obligation: reminder.Obligation{AgencyID: "dmv", Kind: reminder.KindRenewal, Source: "demo:vehicle-registration",
		Title: reminder.Text{EN: "Renew your vehicle registration (EX 7MB-904)", ES: "Renueve el registro de su vehículo (EX 7MB-904)"},
		URL:   "/services/vehicle-registration-renewal"}},
	{Email: "beto.ciudadano@example.com", DueIn: 30, Obligation: reminder.Obligation{AgencyID: "baker-treasurer", Kind: reminder.KindPayment, Source: "demo:property-tax-2",
		Title:  reminder.Text{EN: "Pay your property tax, second installment", ES: "Pague su impuesto predial, segunda cuota"},
		Amount: &platform.Money{Minor: 84275, Currency: "USD"}, Reference: "Parcel 02-468-135"}},
	{Email: "beto.ciudadano@example.com", DueIn: -2, Obligation: reminder.Obligation{AgencyID: "lakeside-licensing", Kind: reminder.KindAction, Source: "demo:proof-of-address",
		Title: reminder.Text{EN: "Send proof of address for your business license", ES: "Envíe un comprobante de domicilio para su licencia comercial"}}},
}

// Reminders is what seeding obligations needs of the reminder block.
type Reminders interface {
	HasObligations(ctx context.Context, accountID string) (bool, error)
	Set(ctx context.Context, tx *sql.Tx, o reminder.Obligation) (reminder.Obligation, error)
	Today() reminder.Date
}

// SeedObligations gives each demo citizen who has none their obligations,
// due relative to today, and returns how many it created.
func SeedObligations(ctx context.Context, db *storage.DB, ids Accounts, r Reminders) (int, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"})
	accounts := map[string]*identity.Account{}
	skip := map[string]bool{}
	created := 0
	for _, d := range Obligations {
		if skip[d.Email] {
			continue
		}
		a, ok := accounts[d.Email]
		if !ok {
			var err error
			if a, err = ids.AccountByEmail(ctx, d.Email); err != nil {
				return created, fmt.Errorf("demo: obligations: %s: %w", d.Email, err)
			}
			existing, err := r.HasObligations(ctx, a.ID)
			if err != nil {
				return created, err
			}
			if existing { // seeded before: leave the dates as they are
				skip[d.Email] = true
				continue
			}
			accounts[d.Email] = a
		}
		o := d.Obligation
		o.AccountID = a.ID
		o.Due = r.Today().AddDays(d.DueIn)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := r.Set(ctx, tx, o); return err }); err != nil {
			return created, fmt.Errorf("demo: obligations: %s: %w", d.Email, err)
		}
		created++
	}
	return created, nil
}
