package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/payment"
)

// ledgerCommands is `portico ledger …`: the agencies' books.
func ledgerCommands() *command {
	return &command{name: "ledger", summary: "prove the agencies' books of online payments", subs: []*command{
		{name: "check", summary: "check every posting balances and every successful payment is in the ledger once, for its amount", run: runLedgerCheck},
	}}
}

// errBooks makes `ledger check` exit non-zero when it finds something.
type errBooks int

func (e errBooks) Error() string { return fmt.Sprintf("the books have %d problem(s)", int(e)) }

func runLedgerCheck(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico ledger check", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON: {postings, payments, balances, findings}")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		rep, err := payment.Check(ctx, a.DB)
		if err != nil {
			return err
		}
		if rep.Balances == nil {
			rep.Balances = []payment.Balance{}
		}
		if rep.Findings == nil {
			rep.Findings = []payment.Finding{}
		}
		if err := output(e, *asJSON, rep, func(w io.Writer) {
			fmt.Fprintf(w, "%d posting(s), %d successful payment(s), %d refund(s) checked.\n", rep.Postings, rep.Payments, rep.Refunds)
			if len(rep.Balances) > 0 {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "AGENCY\tACCOUNT\tCURRENCY\tBALANCE (MINOR UNITS)")
				for _, b := range rep.Balances {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", b.Agency, b.Account, b.Currency, b.Amount)
				}
				tw.Flush()
			}
			if rep.OK() {
				fmt.Fprintln(w, "The books balance and match the payments.")
				return
			}
			fmt.Fprintln(w, "Problems:")
			for _, f := range rep.Findings {
				fmt.Fprintf(w, "  %s: agency %s, payment %s, refund %s, posting %s: %s\n", f.Kind, dash(f.Agency), dash(f.Payment), dash(f.Refund), dash(f.Txn), f.Detail)
			}
		}); err != nil {
			return err
		}
		if !rep.OK() {
			return errBooks(len(rep.Findings))
		}
		return nil
	})
}
