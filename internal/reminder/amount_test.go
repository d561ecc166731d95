package reminder_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestObligationAmounts: an obligation may carry an amount owed and a
// reference; List returns them with the person's own obligations only,
// soonest first; a new amount updates the obligation; a negative amount
// or an unknown currency is refused; Calendar says the amount.
func TestObligationAmounts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, reminder.Config{})
		ctx := context.Background()
		today := f.svc.Today()
		tax := platform.MustMoney(123550, "USD")
		f.set(t, reminder.Obligation{AccountID: "ana", AgencyID: "adams-treasurer", Kind: reminder.KindPayment, Source: "tax:2",
			Title: reminder.Text{EN: "Pay your property tax"}, Due: today.AddDays(45), Amount: &tax, Reference: "Parcel 01-234-567"})
		f.set(t, reminder.Obligation{AccountID: "ana", AgencyID: "dmv", Kind: reminder.KindRenewal, Source: "reg",
			Title: reminder.Text{EN: "Renew your registration"}, Due: today.AddDays(21)})
		other := platform.MustMoney(999, "USD")
		f.set(t, reminder.Obligation{AccountID: "beto", AgencyID: "baker-treasurer", Kind: reminder.KindPayment, Source: "tax:2",
			Title: reminder.Text{EN: "Pay your property tax"}, Due: today.AddDays(1), Amount: &other})

		ana := platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}
		list, err := f.svc.List(ctx, ana, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Source != "reg" || list[0].Amount != nil || list[1].Source != "tax:2" ||
			list[1].Amount == nil || *list[1].Amount != tax || list[1].Reference != "Parcel 01-234-567" {
			t.Fatalf("Ana's list: %+v", list)
		}
		for _, o := range list {
			if o.AccountID != "ana" {
				t.Fatalf("another person's obligation listed: %+v", o)
			}
		}

		// A new amount (the instalment was recalculated) updates it.
		less := platform.MustMoney(100000, "USD")
		f.set(t, reminder.Obligation{AccountID: "ana", AgencyID: "adams-treasurer", Kind: reminder.KindPayment, Source: "tax:2",
			Title: reminder.Text{EN: "Pay your property tax"}, Due: today.AddDays(45), Amount: &less, Reference: "Parcel 01-234-567"})
		list, _ = f.svc.List(ctx, ana, false)
		if *list[1].Amount != less {
			t.Errorf("amount after update: %v", list[1].Amount)
		}

		for _, bad := range []platform.Money{{Minor: -1, Currency: "USD"}, {Minor: 100, Currency: "XYZ1"}} {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := f.svc.Set(ctx, tx, reminder.Obligation{AccountID: "ana", Kind: reminder.KindPayment, Source: "bad",
					Title: reminder.Text{EN: "Pay"}, Due: today.AddDays(3), Amount: &bad})
				return err
			})
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("amount %v: %v", bad, err)
			}
		}

		cal, err := f.svc.Calendar(ctx, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if s := string(cal); !strings.Contains(s, `$1\,000.00`) || !strings.Contains(s, "Parcel 01-234-567") {
			t.Errorf("calendar lacks the amount or reference:\n%s", s)
		}
	})
}
