package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

func pluginCommands() *command {
	return &command{name: "plugin", summary: "validate, register, enable and remove plug-ins (agency systems and private providers' services)", subs: []*command{
		{name: "validate", summary: "check a plug-in manifest and its OpenAPI document; prints file:line: message for every problem", run: runPluginValidate},
		{name: "register", summary: "register a plug-in, or a new version of it; prints its webhook secret once", run: runPluginRegister},
		{name: "list", summary: "list registered plug-ins and the agencies using them", run: runPluginList},
		{name: "show", summary: "show a plug-in: operations, data, enablements and access rights", run: runPluginShow},
		{name: "enable", summary: "enable a plug-in for an agency, approving the data it may receive and granting operations", run: runPluginEnable},
		{name: "disable", summary: "disable a plug-in for an agency (kept as history)", run: runPluginDisable},
		{name: "remove", summary: "remove a plug-in no agency uses (--force: even so)", run: runPluginRemove},
		{name: "deliveries", summary: "list a plug-in's recent event deliveries by webhook (--dead: dead letters only)", run: runPluginDeliveries},
		{name: "replay", summary: "send a plug-in's delivery (--delivery DID) or every dead letter (--all-dead) again", run: runPluginReplay},
		{name: "call", summary: "call a plug-in operation through the gateway as an agency's service (audited as the operator)", run: runPluginCall},
	}}
}

// readPlugin reads a manifest file and returns it with the loader for the
// OpenAPI document it names (relative to the file).
func readPlugin(file string) ([]byte, plugin.Loader, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, platform.Errorf(platform.CodeInvalid, "cannot read %s: %v", file, err)
	}
	return src, plugin.FileLoader(filepath.Dir(file)), nil
}

func printPluginProblems(e env, asJSON bool, probs []plugin.Problem) error {
	if probs == nil {
		probs = []plugin.Problem{}
	}
	return output(e, asJSON, probs, func(w io.Writer) {
		for _, p := range probs {
			fmt.Fprintln(w, p)
		}
	})
}

func runPluginValidate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "portico plugin validate", "FILE [--json]")
	asJSON := fs.Bool("json", false, "print the problems as a JSON list of {file, line, path, message}")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("name one plug-in manifest file")
	}
	src, load, err := readPlugin(files[0])
	if err != nil {
		return err
	}
	chk, probs := plugin.Validate(ctx, files[0], src, plugin.Options{Load: load, EventTypes: app.EventTypes()})
	if len(probs) > 0 {
		if err := printPluginProblems(e, *asJSON, probs); err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintf(e.stderr, "%d problem(s) in %s.\n", len(probs), files[0])
		}
		return errProblems
	}
	m := chk.Manifest
	out := map[string]any{"id": m.ID, "version": m.Version, "operations": len(m.Operations), "openapi_sha256": chk.OpenAPISHA256, "problems": []plugin.Problem{}}
	return output(e, *asJSON, out, func(w io.Writer) {
		fmt.Fprintf(w, "%s is valid: plug-in %s with %d operation(s), its OpenAPI document agrees.\n", files[0], m.ID, len(m.Operations))
	})
}

func runPluginRegister(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin register", "FILE [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print the registration (or the problems) as JSON")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("name one plug-in manifest file")
	}
	src, load, err := readPlugin(files[0])
	if err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		reg, err := a.Plugins.Register(ctx, platform.ActorFrom(ctx), files[0], src, load)
		var pe *plugin.ProblemsError
		if errors.As(err, &pe) {
			if err := printPluginProblems(e, *asJSON, pe.Problems); err != nil {
				return err
			}
			return pe.Unwrap()
		}
		if err != nil {
			return err
		}
		return output(e, *asJSON, reg, func(w io.Writer) {
			if reg.Replaced {
				fmt.Fprintf(w, "Registered plug-in %s again (revision %d, version %s) from %s.\n", reg.ID, reg.Revision, orDash(reg.Version), reg.Provider)
				if len(reg.DataAdded) > 0 {
					fmt.Fprintf(w, "It now also asks for: %s.\n", strings.Join(reg.DataAdded, ", "))
				}
				if len(reg.NeedApproval) > 0 {
					fmt.Fprintf(w, "Until they approve it again (portico plugin enable), calls are refused for: %s.\n", strings.Join(reg.NeedApproval, ", "))
				}
				fmt.Fprintln(w, "The webhook secret is unchanged.")
				return
			}
			fmt.Fprintf(w, "Registered plug-in %s (version %s) from %s.\n", reg.ID, orDash(reg.Version), reg.Provider)
			fmt.Fprintf(w, "Webhook secret (shown only now; give it to the plug-in to verify Portico's webhooks): %s\n", reg.WebhookSecret)
			fmt.Fprintf(w, "No agency uses it yet: portico plugin enable %s --agency AGENCY\n", reg.ID)
		})
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runPluginList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin list", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		ps, err := a.Plugins.List(ctx, platform.ActorFrom(ctx))
		if err != nil {
			return err
		}
		return output(e, *asJSON, ps, func(w io.Writer) {
			if len(ps) == 0 {
				fmt.Fprintln(w, "No plug-ins are registered. Register one with: portico plugin register FILE")
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tPROVIDER\tOPERATIONS\tDATA\tAGENCIES")
			for _, p := range ps {
				var agencies []string
				for _, en := range p.Enablements {
					a := en.Agency
					if en.Status != plugin.StatusEnabled {
						a += " (" + strings.ReplaceAll(en.Status, "_", " ") + ")"
					}
					agencies = append(agencies, a)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.ID, orDash(p.Version), p.Provider, len(p.Operations), orDash(strings.Join(p.Data, ",")), orDash(strings.Join(agencies, ", ")))
			}
			tw.Flush()
		})
	})
}

func runPluginShow(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin show", "ID [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name one plug-in id")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		p, err := a.Plugins.Get(ctx, platform.ActorFrom(ctx), ids[0])
		if err != nil {
			return err
		}
		return output(e, *asJSON, p, func(w io.Writer) {
			fmt.Fprintf(w, "%s: %s (revision %d, version %s)\n", p.ID, p.Name.EN, p.Revision, orDash(p.Version))
			prov := p.Provider.String()
			if p.Provider.Private() {
				prov = fmt.Sprintf("%s (%s, %s)", p.Provider.Name, p.Provider.Website, p.Provider.Email)
			}
			fmt.Fprintf(w, "Provider:  %s\nBase URL:  %s\nData:      %s\nEvents:    %s\nWebhook:   %s\n\nOperations:\n",
				prov, p.BaseURL, orDash(strings.Join(p.Data, ", ")), orDash(strings.Join(p.Events, ", ")), orDash(p.Webhook))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, o := range p.Operations {
				idem := "not idempotent"
				if o.Idempotent {
					idem = "idempotent"
				}
				fmt.Fprintf(tw, "  %s\t%s %s\t%s\t%s\t%s\n", o.ID, o.Method, o.Path, o.OperationID, o.Timeout, idem)
			}
			tw.Flush()
			fmt.Fprintln(w, "\nEnabled for:")
			if len(p.Enablements) == 0 {
				fmt.Fprintln(w, "  no agency")
			}
			for _, en := range p.Enablements {
				fmt.Fprintf(w, "  %s: %s, data approved: %s\n", en.Agency, strings.ReplaceAll(en.Status, "_", " "), orDash(strings.Join(en.Data, ", ")))
			}
			if len(p.Access) > 0 {
				fmt.Fprintln(w, "\nAccess rights:")
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, r := range p.Access {
					fmt.Fprintf(tw, "  %s\tservice %s\tmay call %s\tcarrying %s\n", r.Agency, r.Service, r.Operation, orDash(strings.Join(r.Data, ", ")))
				}
				tw.Flush()
			}
		})
	})
}

func runPluginEnable(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin enable", "ID --agency A [--data name,address] [--service S] [--operation OP] [--json]")
	// --data is the data approved here, so the data directory is
	// --data-dir (or PORTICO_DATA).
	cfg.DataDir = config.DefaultData
	if v := e.getenv("PORTICO_DATA"); v != "" {
		cfg.DataDir = v
	}
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data `directory` for the SQLite database and keys (env PORTICO_DATA)")
	fs.StringVar(&cfg.DB, "db", e.getenv("PORTICO_DB"), "database `URL` (env PORTICO_DB; default sqlite in the data directory)")
	cfg.Attachments, cfg.AuditAnchor = e.getenv("PORTICO_ATTACHMENTS"), e.getenv("PORTICO_AUDIT_ANCHOR")
	agency := fs.String("agency", "", "the agency enabling the plug-in (required)")
	var data, ops listFlag
	fs.Var(&data, "data", "personal data the agency approves the plug-in may receive, comma-separated or repeated (default: none)")
	service := fs.String("service", "", "the agency's service the operations are granted to (default * : every service)")
	fs.Var(&ops, "operation", "an operation the service may call, comma-separated or repeated (default: none yet)")
	asJSON := fs.Bool("json", false, "print the enablement and access rights as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 || *agency == "" {
		return usagef("give one plug-in ID and --agency")
	}
	if *service != "" && len(ops) == 0 {
		return usagef("--service needs at least one --operation to grant it")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		en, err := a.Plugins.Enable(ctx, platform.ActorFrom(ctx), plugin.EnableRequest{Plugin: ids[0], Agency: *agency, Data: data, Service: *service, Operations: ops})
		if err != nil {
			return err
		}
		return output(e, *asJSON, en, func(w io.Writer) {
			fmt.Fprintf(w, "Enabled %s for %s; data approved: %s.\n", ids[0], *agency, orDash(strings.Join(en.Enablement.Data, ", ")))
			if len(en.Access) == 0 {
				fmt.Fprintf(w, "No service may call it yet: grant operations with --operation OP [--service S].\n")
			}
			for _, r := range en.Access {
				fmt.Fprintf(w, "Service %s may call %s carrying %s.\n", r.Service, r.Operation, orDash(strings.Join(r.Data, ", ")))
			}
		})
	})
}

func runPluginDisable(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin disable", "ID --agency A [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency disabling the plug-in (required)")
	asJSON := fs.Bool("json", false, "print the enablement as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 || *agency == "" {
		return usagef("give one plug-in ID and --agency")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		en, err := a.Plugins.Disable(ctx, platform.ActorFrom(ctx), ids[0], *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, en, func(w io.Writer) {
			fmt.Fprintf(w, "Disabled %s for %s: its services' calls are refused. The approval and access rights are kept as history; enable it again to use it.\n", ids[0], *agency)
		})
	})
}

func runPluginRemove(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin remove", "ID [--force] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	force := fs.Bool("force", false, "remove it even though agencies have it enabled (platform administrators only)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usagef("name one plug-in id")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		if err := a.Plugins.Remove(ctx, platform.ActorFrom(ctx), ids[0], *force); err != nil {
			return err
		}
		return output(e, *asJSON, map[string]any{"id": ids[0], "removed": true}, func(w io.Writer) {
			fmt.Fprintf(w, "Removed plug-in %s. Its history stays in the audit log.\n", ids[0])
		})
	})
}
