package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
)

// open311Commands is `portico open311 …`: agencies' API keys for Open311
// GeoReport v2 (docs/open311.md).
func open311Commands() *command {
	return &command{name: "open311", summary: "agencies' Open311 GeoReport v2 API keys", subs: []*command{
		{name: "key", summary: "create, list and revoke Open311 API keys", subs: []*command{
			{name: "create", summary: "create an Open311 API key for an agency; prints it once", run: runOpen311KeyCreate},
			{name: "list", summary: "list an agency's Open311 API keys (never the keys themselves)", run: runOpen311KeyList},
			{name: "revoke", summary: "revoke an Open311 API key at once", run: runOpen311KeyRevoke},
		}},
	}}
}

type createdOpen311Key struct {
	report.Key
	Secret string `json:"key"`
}

func runOpen311KeyCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico open311 key create", "--agency ID [--name NAME] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency whose services the key may report to (required)")
	name := fs.String("name", "", `a name for the key, e.g. the app or partner that uses it (default "Key N")`)
	asJSON := fs.Bool("json", false, "print the result as JSON: the key's fields and the key itself")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" {
		return usagef("--agency is required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		k, key, err := a.Reports.CreateKey(ctx, platform.ActorFrom(ctx), *agency, *name)
		if err != nil {
			return err
		}
		return output(e, *asJSON, createdOpen311Key{k, key}, func(w io.Writer) {
			fmt.Fprintf(w, "Created Open311 API key %q (id %s) for agency %s.\n", k.Name, k.ID, k.Agency)
			fmt.Fprintf(w, "Key (shown only now; give it to the app as its api_key):\n%s\n", key)
		})
	})
}

func runOpen311KeyList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico open311 key list", "--agency ID [--json]")
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
		ks, err := a.Reports.Keys(ctx, platform.ActorFrom(ctx), *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, ks, func(w io.Writer) {
			if len(ks) == 0 {
				fmt.Fprintf(w, "Agency %s has no Open311 API keys. Create one with `portico open311 key create --agency %s`.\n", *agency, *agency)
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTARTS\tCREATED\tREVOKED")
			for _, k := range ks {
				revoked := "-"
				if !k.RevokedAt.IsZero() {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, k.CreatedAt.Format(time.RFC3339), revoked)
			}
			tw.Flush()
		})
	})
}

func runOpen311KeyRevoke(ctx context.Context, e env, args []string) error {
	return runKeyRevoke(ctx, e, args, "open311", "Open311 API key", func(ctx context.Context, a *app.App, agency, id string) error {
		return a.Reports.RevokeKey(ctx, platform.ActorFrom(ctx), agency, id)
	})
}
