package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
)

// payWebhookCommands is `portico payments webhook …`.
func payWebhookCommands() *command {
	return &command{name: "webhook", summary: "payment webhooks to an agency's systems (GOV.UK Pay style)", subs: []*command{
		{name: "create", summary: "subscribe a URL to an agency's payment events; prints the signing secret once", run: runPayWebhookCreate},
		{name: "list", summary: "list an agency's payment webhooks", run: runPayWebhookList},
		{name: "delete", summary: "stop sending to a payment webhook", run: runPayWebhookDelete},
		{name: "messages", summary: "the latest messages of a payment webhook and how their delivery went", run: runPayWebhookMessages},
	}}
}

func runPayWebhookCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments webhook create", "--agency A --url URL [--events card_payment_succeeded,...] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency whose payments are announced (required)")
	url := fs.String("url", "", "where to POST the messages: https://, or http:// to localhost (required)")
	var evs listFlag
	fs.Var(&evs, "events", "event types, comma-separated (default: all of card_payment_started, succeeded, captured, refunded, failed, expired)")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || *url == "" {
		return usagef("give --agency and --url")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		w, err := a.PayHooks.Create(ctx, platform.ActorFrom(ctx), *agency, *url, evs)
		if err != nil {
			return err
		}
		return output(e, *asJSON, w, func(out io.Writer) {
			fmt.Fprintf(out, "Payment webhook %s for %s: %s\nEvents: %s\n", w.ID, w.Agency, w.URL, strings.Join(w.Events, ", "))
			fmt.Fprintf(out, "Signing secret (shown only now): %s\n", w.SigningSecret)
			fmt.Fprintln(out, "Each message carries Pay-Signature: the lower-case hex HMAC-SHA256 of the raw body keyed by this secret.")
		})
	})
}

func runPayWebhookList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments webhook list", "--agency A [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" {
		return usagef("give --agency")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		list, err := a.PayHooks.List(ctx, platform.ActorFrom(ctx), *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, list, func(out io.Writer) {
			if len(list) == 0 {
				fmt.Fprintf(out, "%s has no payment webhooks.\n", *agency)
				return
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
			for _, w := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, w.URL, strings.Join(w.Events, ","), w.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
		})
	})
}

func runPayWebhookDelete(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments webhook delete", "--agency A ID")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if *agency == "" || len(ids) != 1 {
		return usagef("give --agency and one webhook id")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		if err := a.PayHooks.Delete(ctx, platform.ActorFrom(ctx), *agency, ids[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Payment webhook %s deleted: nothing more is sent to it.\n", ids[0])
		return nil
	})
}

func runPayWebhookMessages(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico payments webhook messages", "--agency A ID [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	asJSON := fs.Bool("json", false, "print as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if *agency == "" || len(ids) != 1 {
		return usagef("give --agency and one webhook id")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		msgs, err := a.PayHooks.Messages(ctx, platform.ActorFrom(ctx), *agency, ids[0])
		if err != nil {
			return err
		}
		return output(e, *asJSON, msgs, func(out io.Writer) {
			if len(msgs) == 0 {
				fmt.Fprintln(out, "No messages yet.")
				return
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MESSAGE\tEVENT\tPAYMENT\tSTATUS\tATTEMPTS\tLAST ANSWER")
			for _, m := range msgs {
				last := m.LastError
				if last == "" && m.LastStatus != 0 {
					last = fmt.Sprint(m.LastStatus)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.ID, m.EventType, m.PaymentID, m.Status, m.Attempts, orDash(last))
			}
			tw.Flush()
		})
	})
}
