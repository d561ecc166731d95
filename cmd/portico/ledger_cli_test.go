package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
)

// TestLedgerCheck: `portico ledger check` proves the books after real
// payments, and names what is wrong (exit 1) once a row is tampered with.
func TestLedgerCheck(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, out, errOut := cli(t, env, "migrate"); code != exitOK {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, env, "ledger", "check"); code != exitOK || !strings.Contains(out, "0 posting(s)") || !strings.Contains(out, "The books balance") {
		t.Fatalf("empty books: %d\n%s\n%s", code, out, errOut)
	}
	cfg := config.Config{DataDir: data, LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	actor := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
	for _, amount := range []int64{4500, 1200} {
		err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			p, err := a.Payments.Create(ctx, tx, actor, payment.New{Agency: "dmv", Amount: amount, Reference: "R", Description: "D", ReturnURL: "https://x.example/r"})
			if err != nil {
				return err
			}
			for _, s := range [][2]payment.Status{{payment.Created, payment.Started}, {payment.Started, payment.Submitted}, {payment.Submitted, payment.Success}} {
				if _, err := a.Payments.Move(ctx, tx, actor, p.ID, s[0], s[1], ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a.Stop(ctx)

	code, out, errOut := cli(t, env, "ledger", "check")
	if code != exitOK || !strings.Contains(out, "2 posting(s), 2 successful payment(s)") || !strings.Contains(out, "provider_clearing  USD       5700") {
		t.Fatalf("books: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = cli(t, env, "ledger", "check", "--json")
	var rep payment.Report
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil || !rep.OK() || len(rep.Balances) != 2 {
		t.Fatalf("--json: %d %v\n%s", code, err, out)
	}

	a, err = app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Write().Exec(`DELETE FROM ledger_entries WHERE amount = 1200 OR amount = -1200`); err != nil {
		t.Fatal(err)
	}
	a.Stop(ctx)
	code, out, errOut = cli(t, env, "ledger", "check")
	if code != exitError || !strings.Contains(out, "missing_charge: agency dmv") || !strings.Contains(errOut, "the books have 1 problem(s)") {
		t.Fatalf("tampered: %d\n%s\n%s", code, out, errOut)
	}
}
