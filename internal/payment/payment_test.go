package payment_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var start = time.Date(2026, 12, 4, 15, 4, 0, 0, time.UTC)

var agencySystem = platform.Actor{Kind: platform.ActorStaff, ID: "system-dmv"}

type fixture struct {
	db    *storage.DB
	svc   *payment.Service
	clock *platform.FakeClock
}

func newFixture(t *testing.T, db *storage.DB) fixture {
	t.Helper()
	clock := platform.NewFakeClock(start)
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db: db, svc: svc, clock: clock}
}

func ok(agency string, amount int64) payment.New {
	return payment.New{Agency: agency, Amount: amount, Reference: "DMV-2026-000123", Description: "Vehicle registration renewal",
		ReturnURL: "https://portico.example.gov/pay/return", Metadata: map[string]any{"case": "c1", "instalment": 2.0, "urgent": true}}
}

func (f fixture) create(t *testing.T, n payment.New) payment.Payment {
	t.Helper()
	var p payment.Payment
	if err := f.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		p, err = f.svc.Create(context.Background(), tx, agencySystem, n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f fixture) move(p payment.Payment, from, to payment.Status, code string) (payment.Payment, error) {
	var out payment.Payment
	err := f.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, err = f.svc.Move(context.Background(), tx, agencySystem, p.ID, from, to, code)
		return err
	})
	return out, err
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*payment.New)
		field  string
		code   string
		status int
	}{
		{"ok", func(*payment.New) {}, "", "", 0},
		{"amount zero", func(n *payment.New) { n.Amount = 0 }, "amount", "P0102", 422},
		{"amount too large", func(n *payment.New) { n.Amount = 10_000_001 }, "amount", "P0102", 422},
		{"amount largest", func(n *payment.New) { n.Amount = 10_000_000 }, "", "", 0},
		{"no reference", func(n *payment.New) { n.Reference = " " }, "reference", "P0101", 400},
		{"reference a URL", func(n *payment.New) { n.Reference = "https://evil.example" }, "reference", "P0102", 422},
		{"long description", func(n *payment.New) { n.Description = strings.Repeat("d", 256) }, "description", "P0102", 422},
		{"no return URL", func(n *payment.New) { n.ReturnURL = "" }, "return_url", "P0101", 400},
		{"return URL not a URL", func(n *payment.New) { n.ReturnURL = "pay/return" }, "return_url", "P0102", 422},
		{"live needs https", func(n *payment.New) { n.Live = true; n.ReturnURL = "http://x.example/r" }, "return_url", "P0920", 422},
		{"language", func(n *payment.New) { n.Language = "cy" }, "language", "P0102", 422},
		{"metadata value type", func(n *payment.New) { n.Metadata = map[string]any{"k": []any{1}} }, "metadata", "P0102", 422},
		{"metadata key long", func(n *payment.New) { n.Metadata = map[string]any{strings.Repeat("k", 31): "v"} }, "metadata", "P0102", 422},
		{"currency", func(n *payment.New) { n.Currency = "XYZ1" }, "currency", "P0102", 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok("dmv", 4500)
			tt.edit(&n)
			got, err := payment.Validate(n)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if got.Language != "en" || got.Currency != "USD" || got.Provider != "sandbox" {
					t.Errorf("defaults not applied: %+v", got)
				}
				return
			}
			var fe *payment.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Code != tt.code || fe.Status != tt.status {
				t.Fatalf("Validate = %v (%+v), want %s %s %d", err, fe, tt.field, tt.code, tt.status)
			}
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("code %s, want invalid", platform.ErrorCode(err))
			}
		})
	}
}

func TestPaymentLifecycleAndLedger(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		p := f.create(t, ok("dmv", 4500))
		if p.State.Status != payment.Created || len(p.ID) != 26 {
			t.Fatalf("created %+v", p)
		}
		got, err := f.svc.Get(ctx, "dmv", p.ID)
		if err != nil || got.Amount != 4500 || got.Metadata["urgent"] != true || got.Metadata["instalment"] != 2.0 {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if _, err := f.svc.Get(ctx, "adams-clerk", p.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("another agency's Get = %v, want not found", err)
		}
		// Only valid moves; a stale mover loses.
		if _, err := f.move(p, payment.Created, payment.Success, ""); platform.ErrorCode(err) != platform.CodeConflict {
			t.Errorf("created → success: %v, want conflict", err)
		}
		for _, step := range [][2]payment.Status{{payment.Created, payment.Started}, {payment.Started, payment.Submitted}, {payment.Submitted, payment.Success}} {
			if _, err := f.move(p, step[0], step[1], ""); err != nil {
				t.Fatalf("%s → %s: %v", step[0], step[1], err)
			}
		}
		if _, err := f.move(p, payment.Submitted, payment.Success, ""); !errors.Is(err, payment.ErrStale) {
			t.Errorf("second success: %v, want ErrStale", err)
		}
		// A failed one posts nothing.
		q := f.create(t, ok("adams-clerk", 1200))
		if _, err := f.move(q, payment.Created, payment.Started, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.move(q, payment.Started, payment.Failed, payment.CodeRejected); err != nil {
			t.Fatal(err)
		}
		rep, err := payment.Check(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Payments != 1 || rep.Postings != 1 {
			t.Fatalf("Check = %+v", rep)
		}
		want := map[string]int64{"provider_clearing": 4500, "revenue": -4500}
		for _, b := range rep.Balances {
			if b.Agency != "dmv" || want[b.Account] != b.Amount {
				t.Errorf("balance %+v", b)
			}
		}
	})
}

// TestCheckFindsTampering: the books are proven against the payments;
// rows changed behind the block's back are named.
func TestCheckFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		kind   string
	}{
		{"charge deleted", `DELETE FROM ledger_entries`, "missing_charge"},
		{"line changed", `UPDATE ledger_entries SET amount = amount + 1 WHERE account = 'provider_clearing'`, "unbalanced"},
		{"both lines changed", `UPDATE ledger_entries SET amount = amount * 2`, "charge_mismatch"},
		{"payment undone", `UPDATE payments SET status = 'failed', code = 'P0010'`, "charge_without_payment"},
		{"charge doubled", `INSERT INTO ledger_entries (txn, agency_id, kind, payment_id, account, amount, currency, at) SELECT 'x' || txn, agency_id, kind, payment_id, account, amount, currency, at FROM ledger_entries`, "duplicate_charge"},
		{"other agency", `UPDATE ledger_entries SET agency_id = 'adams-clerk' WHERE account = 'revenue'`, "unbalanced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				f := newFixture(t, db)
				p := f.create(t, ok("dmv", 4500))
				for _, step := range [][2]payment.Status{{payment.Created, payment.Started}, {payment.Started, payment.Submitted}, {payment.Submitted, payment.Success}} {
					if _, err := f.move(p, step[0], step[1], ""); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := db.Write().Exec(tt.tamper); err != nil {
					t.Fatal(err)
				}
				rep, err := payment.Check(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, fd := range rep.Findings {
					found = found || fd.Kind == tt.kind
				}
				if !found {
					t.Errorf("findings %+v lack %s", rep.Findings, tt.kind)
				}
			})
		})
	}
}
