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
	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/platform"
)

// feedbackCommands is `portico feedback …`: what people said at /feedback.
func feedbackCommands() *command {
	return &command{name: "feedback", summary: "read the feedback people give at /feedback", subs: []*command{
		{name: "list", summary: "list feedback, newest first (the read is audited)", run: runFeedbackList},
	}}
}

func runFeedbackList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var c feedback.Cursor
	fs := newFlags(e, "portico feedback list", "[--before ID | --after ID] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&c.Before, "before", "", "the page older than this feedback id (from the previous page's \"older\")")
	fs.StringVar(&c.After, "after", "", "the page newer than this feedback id (from the page's \"newer\")")
	asJSON := fs.Bool("json", false, "print as JSON: {items, older, newer}")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Before != "" && c.After != "" {
		return usagef("give --before or --after, not both")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		p, err := a.Feedback.List(ctx, platform.ActorFrom(ctx), c)
		if err != nil {
			return err
		}
		return output(e, *asJSON, p, func(w io.Writer) {
			if len(p.Items) == 0 {
				fmt.Fprintln(w, "No feedback.")
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tLANG\tPAGE\tEMAIL\tCOMMENT")
			for _, f := range p.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.CreatedAt.Format(time.RFC3339), f.Lang, dash(f.Page), dash(f.Email), oneLine(f.Comment, 60))
			}
			tw.Flush()
			if p.Older != "" {
				fmt.Fprintf(w, "\nOlder feedback: portico feedback list --before %s\n", p.Older)
			}
		})
	})
}

// oneLine shortens s to n characters on one line, for a table.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
