package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/notify"
)

// notifyCommands is `portico notify …`: API keys, templates and delivery
// receipts of the notification block (docs/notify.md).
func notifyCommands() *command {
	return &command{name: "notify", summary: "manage notification templates, Notify API keys and delivery callbacks", subs: []*command{
		{name: "key", summary: "create, list and revoke GOV.UK Notify-compatible API keys", subs: []*command{
			{name: "create", summary: "create an API key; prints it once", run: runNotifyKeyCreate},
			{name: "list", summary: "list an agency's API keys (never their secrets)", run: runNotifyKeyList},
			{name: "revoke", summary: "revoke an API key", run: runNotifyKeyRevoke},
		}},
		{name: "template", summary: "create, update and list message templates", subs: []*command{
			{name: "create", summary: "create an email or sms template; prints its id", run: runNotifyTemplateCreate},
			{name: "update", summary: "store a new version of a template", run: runNotifyTemplateUpdate},
			{name: "list", summary: "list an agency's templates (latest versions)", run: runNotifyTemplateList},
		}},
		{name: "callback", summary: "set where an agency's delivery receipts are posted", run: runNotifyCallback},
	}}
}

// withAgency runs fn after checking the agency exists.
func withAgency(ctx context.Context, e env, cfg config.Config, agency string, fn func(ctx context.Context, a *app.App) error) error {
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		if _, err := a.Tenancy.Agency(ctx, agency); err != nil {
			return err
		}
		return fn(ctx, a)
	})
}

type createdKey struct {
	notify.APIKey
	Key string `json:"key"`
}

func runNotifyKeyCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico notify key create", "--agency ID --name NAME [--type live|team|test] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency the key sends for (required)")
	name := fs.String("name", "", "a name for the key, e.g. the system that uses it (required)")
	typ := fs.String("type", "live", "live (anyone), team (the agency's staff only) or test (sends nothing)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || *name == "" {
		return usagef("--agency and --name are required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		k, key, err := a.Notify.CreateAPIKey(ctx, *agency, *name, notify.KeyType(*typ))
		if err != nil {
			return err
		}
		return output(e, *asJSON, createdKey{k, key}, func(w io.Writer) {
			fmt.Fprintf(w, "Created %s API key %q for agency %s (service id %s).\n", k.Type, k.Name, k.AgencyID, k.ServiceID)
			fmt.Fprintf(w, "Key (shown only now; store it as a secret):\n%s\n", key)
		})
	})
}

func runNotifyKeyList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico notify key list", "--agency ID [--json]")
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
		ks, err := a.Notify.APIKeys(ctx, *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, ks, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTYPE\tCREATED\tREVOKED")
			for _, k := range ks {
				revoked := "-"
				if !k.RevokedAt.IsZero() {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Type, k.CreatedAt.Format(time.RFC3339), revoked)
			}
			tw.Flush()
		})
	})
}

func runNotifyKeyRevoke(ctx context.Context, e env, args []string) error {
	return runKeyRevoke(ctx, e, args, "notify", "API key", func(ctx context.Context, a *app.App, agency, id string) error {
		return a.Notify.RevokeAPIKey(ctx, agency, id)
	})
}

// templateFlags registers the content flags shared by create and update.
func templateFlags(fs interface {
	StringVar(p *string, name, value, usage string)
}, in *notify.TemplateInput) {
	fs.StringVar(&in.Name, "name", "", "the template's name (required)")
	fs.StringVar(&in.Subject, "subject", "", "email subject; may use ((placeholders)) (required for email)")
	fs.StringVar(&in.Body, "body", "", "message text with ((placeholders)) and ((name??conditional text)) (required)")
	fs.StringVar(&in.SubjectES, "subject-es", "", "Spanish subject (email)")
	fs.StringVar(&in.BodyES, "body-es", "", "Spanish text; without it Spanish speakers get the English text")
}

func printTemplate(e env, asJSON bool, verb string, t notify.Template) error {
	return output(e, asJSON, t, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s template %q version %d for agency %s.\nTemplate id: %s\n", verb, t.Type, t.Name, t.Version, t.AgencyID, t.ID)
	})
}

func runNotifyTemplateCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var in notify.TemplateInput
	fs := newFlags(e, "portico notify template create", "--agency ID --type email|sms --name NAME [--subject S] --body B [--subject-es S] [--body-es B] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&in.AgencyID, "agency", "", "the agency the template belongs to (required)")
	typ := fs.String("type", "", "email or sms (required)")
	templateFlags(fs, &in)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if in.AgencyID == "" || *typ == "" || in.Name == "" || in.Body == "" {
		return usagef("--agency, --type, --name and --body are required")
	}
	in.Type, in.CreatedBy = notify.TemplateType(*typ), "operator:cli"
	return withAgency(ctx, e, cfg, in.AgencyID, func(ctx context.Context, a *app.App) error {
		t, err := a.Notify.CreateTemplate(ctx, in)
		if err != nil {
			return err
		}
		return printTemplate(e, *asJSON, "Created", t)
	})
}

func runNotifyTemplateUpdate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var in notify.TemplateInput
	fs := newFlags(e, "portico notify template update", "--id TEMPLATE_ID --name NAME [--subject S] --body B [--subject-es S] [--body-es B] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	id := fs.String("id", "", "the template (required)")
	templateFlags(fs, &in)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || in.Name == "" || in.Body == "" {
		return usagef("--id, --name and --body are required")
	}
	in.CreatedBy = "operator:cli"
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		t, err := a.Notify.UpdateTemplate(ctx, *id, in)
		if err != nil {
			return err
		}
		return printTemplate(e, *asJSON, "Stored", t)
	})
}

func runNotifyTemplateList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico notify template list", "--agency ID [--type email|sms] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	typ := fs.String("type", "", "only email or sms templates")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" {
		return usagef("--agency is required")
	}
	if *typ != "" && *typ != "email" && *typ != "sms" {
		return usagef("--type must be email or sms")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		ts, err := a.Notify.Templates(ctx, *agency, notify.TemplateType(*typ))
		if err != nil {
			return err
		}
		return output(e, *asJSON, ts, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tVERSION\tNAME\tSPANISH")
			for _, t := range ts {
				es := "no"
				if t.BodyES != "" {
					es = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.ID, t.Type, t.Version, t.Name, es)
			}
			tw.Flush()
		})
	})
}

func runNotifyCallback(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico notify callback", "--agency ID --url https://… (token in PORTICO_NOTIFY_CALLBACK_TOKEN) | --agency ID --off")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	u := fs.String("url", "", "https URL that receives delivery receipts")
	off := fs.Bool("off", false, "stop sending delivery receipts")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || (*u == "") == !*off {
		return usagef("--agency and one of --url or --off are required")
	}
	token := e.getenv("PORTICO_NOTIFY_CALLBACK_TOKEN") // environment only: flags show in ps
	if *u != "" && token == "" {
		return usagef("set the bearer token in PORTICO_NOTIFY_CALLBACK_TOKEN")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		if err := a.Notify.SetCallback(ctx, *agency, *u, token); err != nil {
			return err
		}
		if *off {
			fmt.Fprintf(e.stdout, "Delivery receipts for agency %s are off.\n", *agency)
		} else {
			fmt.Fprintf(e.stdout, "Delivery receipts for agency %s go to %s.\n", *agency, *u)
		}
		return nil
	})
}
