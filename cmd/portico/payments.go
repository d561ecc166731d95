package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/payment/payapi"
	"github.com/portico-gov/portico/internal/platform"
)

// paymentsCommands is `portico payments …`: agencies' keys for the
// GOV.UK Pay-compatible API and their payment webhooks (docs/payments.md).
func paymentsCommands() *command {
	return &command{name: "payments", summary: "agencies' payments API keys and payment webhooks", subs: []*command{
		{name: "key", summary: "create, list and revoke payments API keys (test and live)", subs: []*command{
			{name: "create", summary: "create a test (or --live) API key for an agency; prints it once", run: runPaymentsKeyCreate},
			{name: "list", summary: "list an agency's payments API keys (never the keys themselves)", run: runPaymentsKeyList},
			{name: "revoke", summary: "revoke a payments API key at once", run: runPaymentsKeyRevoke},
		}},
		payWebhookCommands(),
	}}
}

type createdPaymentKey struct {
	payapi.Key
	Mode   string `json:"mode"`
	Secret string `json:"key"`
}

func runPaymentsKeyCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments key create", "--agency ID [--live] [--name NAME] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency whose payments the key creates (required)")
	live := fs.Bool("live", false, "a live key: real payments through the configured live provider (default: a test key, the sandbox)")
	name := fs.String("name", "", `a name for the key, e.g. the system that uses it (default "Key N")`)
	asJSON := fs.Bool("json", false, "print the result as JSON: the key's fields and the key itself")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" {
		return usagef("--agency is required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		k, key, err := a.PaymentKeys.Create(ctx, platform.ActorFrom(ctx), *agency, *name, *live)
		if err != nil {
			return err
		}
		return output(e, *asJSON, createdPaymentKey{k, k.Mode(), key}, func(w io.Writer) {
			fmt.Fprintf(w, "Created %s payments API key %q (id %s) for agency %s.\n", k.Mode(), k.Name, k.ID, k.Agency)
			fmt.Fprintf(w, "Key (shown only now; store it as a secret):\n%s\n", key)
		})
	})
}

func runPaymentsKeyList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments key list", "--agency ID [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" {
		return usagef("--agency is required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		ks, err := a.PaymentKeys.List(ctx, *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, ks, func(w io.Writer) {
			if len(ks) == 0 {
				fmt.Fprintf(w, "Agency %s has no payments API keys. Create one with `portico payments key create --agency %s`.\n", *agency, *agency)
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tMODE\tSTARTS\tCREATED\tREVOKED")
			for _, k := range ks {
				revoked := "-"
				if !k.RevokedAt.IsZero() {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Mode(), k.Hint, k.CreatedAt.Format(time.RFC3339), revoked)
			}
			tw.Flush()
		})
	})
}

func runPaymentsKeyRevoke(ctx context.Context, e env, args []string) error {
	return runKeyRevoke(ctx, e, args, "payments", "payments API key", func(ctx context.Context, a *app.App, agency, id string) error {
		return a.PaymentKeys.Revoke(ctx, platform.ActorFrom(ctx), agency, id)
	})
}
