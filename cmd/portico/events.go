package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/events"
)

// eventsCommands is `portico events`: the event log's consumers, their
// cursors, and replaying one from a position (ADR 19).
func eventsCommands() *command {
	return &command{name: "events", summary: "inspect event consumers and replay one from a position", subs: []*command{
		{name: "list", summary: "list event consumers, their cursors and the log's head", run: runEventsList},
		{name: "replay", summary: "move a consumer's cursor so it handles events again from a position", run: runEventsReplay},
	}}
}

// eventsListing is what `portico events list --json` prints.
type eventsListing struct {
	Head      events.Head            `json:"head"`
	Consumers []events.ConsumerState `json:"consumers"`
}

func runEventsList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico events list", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		var l eventsListing
		var err error
		if l.Head, err = events.LogHead(ctx, a.DB); err != nil {
			return err
		}
		if l.Consumers, err = events.Consumers(ctx, a.DB); err != nil {
			return err
		}
		return output(e, *asJSON, l, func(w io.Writer) {
			fmt.Fprintf(w, "log head: position %d (%d committed events waiting for a position)\n\n", l.Head.Position, l.Head.Unsequenced)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CONSUMER\tPOSITION\tBEHIND\tATTEMPTS\tRETRY AT\tDRIVEN BY\tLAST ERROR")
			for _, c := range l.Consumers {
				retry := "-"
				if c.RetryAt != nil {
					retry = c.RetryAt.Format("2006-01-02 15:04:05Z07:00")
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", c.Name, c.Position, l.Head.Position-c.Position, c.Attempts, retry, dash(c.LeaseOwner), dash(c.LastError))
			}
			tw.Flush()
		})
	})
}

func runEventsReplay(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico events replay", "CONSUMER --from POSITION [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	from := fs.String("from", "", "the position of the first event to handle again (1 is the start of the log)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	// The consumer comes first, flags after it.
	if len(args) == 0 || isHelp(args[0]) {
		if err := parse(fs, args); err != nil {
			return err
		}
		return usagef("name the consumer to replay (see 'portico events list')")
	}
	name := args[0]
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *from == "" {
		return usagef("--from is required: the position to replay from")
	}
	pos, err := strconv.ParseInt(*from, 10, 64)
	if err != nil || pos < 1 {
		return usagef("--from must be a whole number of 1 or more, not %q", *from)
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		var old int64
		err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			if old, err = events.Replay(ctx, tx, name, pos, a.Clock.Now()); err != nil {
				return err
			}
			_, err = a.Audit.Append(ctx, tx, audit.Record{Action: "events.replay", Subject: "event-consumer:" + name,
				Detail: map[string]any{"from": pos, "previous_position": old}})
			return err
		})
		if err != nil {
			return err
		}
		res := map[string]any{"consumer": name, "from": pos, "previous_position": old}
		return output(e, *asJSON, res, func(w io.Writer) {
			fmt.Fprintf(w, "%s will handle events again from position %d (its cursor was at %d); a running worker picks it up within a second.\n", name, pos, old)
		})
	})
}
