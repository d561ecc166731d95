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
	"github.com/portico-gov/portico/internal/webhook"
)

func runPluginDeliveries(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin deliveries", "ID [--dead] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	dead := fs.Bool("dead", false, "only dead letters (every attempt failed)")
	asJSON := fs.Bool("json", false, "print as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name one plug-in id")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		ov, err := a.Webhooks.List(ctx, platform.ActorFrom(ctx), ids[0], *dead)
		if err != nil {
			return err
		}
		return output(e, *asJSON, ov, func(w io.Writer) {
			for _, st := range ov.Stops {
				if st.Active {
					fmt.Fprintf(w, "Stopped for %s since %s: the plug-in answered 410 Gone. Enable it again for the agency to resume deliveries.\n",
						st.Agency, st.StoppedAt.Format(time.RFC3339))
				}
			}
			if len(ov.Deliveries) == 0 {
				if *dead {
					fmt.Fprintf(w, "Plug-in %s has no dead letters.\n", ids[0])
				} else {
					fmt.Fprintf(w, "No events have been delivered to plug-in %s.\n", ids[0])
				}
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DELIVERY\tEVENT TYPE\tAGENCY\tSTATUS\tATTEMPTS\tLAST ANSWER\tUPDATED")
			for _, d := range ov.Deliveries {
				last := d.LastError
				if d.LastStatus != 0 && last == "" {
					last = fmt.Sprint(d.LastStatus)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Type, d.Agency, d.Status, d.Attempts, orDash(last), d.UpdatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			fmt.Fprintf(w, "%d dead letter(s). Replay with: portico plugin replay %s --delivery ID | --all-dead\n", ov.DeadCount, ids[0])
		})
	})
}

func runPluginReplay(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin replay", "ID (--delivery DID | --all-dead) [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	delivery := fs.String("delivery", "", "the delivery to send again")
	allDead := fs.Bool("all-dead", false, "send every dead letter of the plug-in again")
	asJSON := fs.Bool("json", false, "print the replayed deliveries as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name one plug-in id")
	}
	if (*delivery == "") == !*allDead {
		return usagef("give either --delivery DID or --all-dead")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		ds, err := a.Webhooks.Replay(ctx, platform.ActorFrom(ctx), ids[0], webhook.ReplayRequest{Delivery: *delivery, AllDead: *allDead})
		if err != nil {
			return err
		}
		return output(e, *asJSON, ds, func(w io.Writer) {
			if len(ds) == 0 {
				fmt.Fprintf(w, "Plug-in %s has no dead letters to replay.\n", ids[0])
				return
			}
			fmt.Fprintf(w, "Queued %d delivery(ies) of plug-in %s again; the workers send them with fresh attempts.\n", len(ds), ids[0])
		})
	})
}
