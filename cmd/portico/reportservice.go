package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
)

// reportCommands is `portico report …`: agencies' report-a-problem
// services (Open311 services and their definitions; docs/open311.md).
func reportCommands() *command {
	return &command{name: "report", summary: "agencies' report-a-problem services (Open311)", subs: []*command{
		{name: "service", summary: "create, list, update and disable report-a-problem services", subs: []*command{
			{name: "create", summary: "define a new report-a-problem service from a YAML file", run: runReportServiceCreate},
			{name: "list", summary: "list an agency's report-a-problem services", run: runReportServiceList},
			{name: "update", summary: "replace a service's definition from a YAML file (takes reports again if disabled)", run: runReportServiceUpdate},
			{name: "disable", summary: "stop a service taking reports (its reports stay)", run: runReportServiceDisable},
		}},
	}}
}

func runReportServiceCreate(ctx context.Context, e env, args []string) error {
	return runReportServiceDefine(ctx, e, args, "create", report.Create)
}

func runReportServiceUpdate(ctx context.Context, e env, args []string) error {
	return runReportServiceDefine(ctx, e, args, "update", report.Replace)
}

func runReportServiceDefine(ctx context.Context, e env, args []string, verb string, mode int) error {
	var cfg config.Config
	fs := newFlags(e, "portico report service "+verb, "--agency ID --file FILE.yaml [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency that offers the service (required)")
	file := fs.String("file", "", "the service's definition in YAML, or - for standard input (required; see docs/open311.md)")
	asJSON := fs.Bool("json", false, "print the service as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || *file == "" {
		return usagef("--agency and --file are required")
	}
	src, err := readDefinition(e, *file)
	if err != nil {
		return err
	}
	d, err := report.ParseDefinition(src)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if d.Agency != "" && d.Agency != *agency {
		return fmt.Errorf("%s: the file says agency %q, not --agency %q", *file, d.Agency, *agency)
	}
	d.Agency = *agency
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		got, err := a.Reports.DefineAs(ctx, platform.ActorFrom(ctx), d, mode)
		if err != nil {
			return err
		}
		return output(e, *asJSON, got, func(w io.Writer) {
			done := map[string]string{"create": "Created", "update": "Updated"}[verb]
			fmt.Fprintf(w, "%s report-a-problem service %s (%s) for agency %s, with %d question(s); people report at /report/%s.\n",
				done, got.Code, got.Name, got.Agency, len(got.Attributes), got.Slug)
		})
	})
}

// readDefinition reads a definition file (- is standard input), at most
// report.MaxDefinitionBytes and one byte more to tell it is too large.
func readDefinition(e env, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, report.MaxDefinitionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return b, nil
}

func runReportServiceList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico report service list", "--agency ID [--json]")
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
		svcs, err := a.Reports.AgencyServices(ctx, platform.ActorFrom(ctx), *agency)
		if err != nil {
			return err
		}
		return output(e, *asJSON, svcs, func(w io.Writer) {
			if len(svcs) == 0 {
				fmt.Fprintf(w, "Agency %s has no report-a-problem services. Define one with `portico report service create --agency %s --file FILE.yaml`.\n", *agency, *agency)
				return
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tNAME\tADDRESS\tQUESTIONS\tKEYWORDS\tSTATUS")
			for _, s := range svcs {
				status := "taking reports"
				if s.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t/report/%s\t%d\t%s\t%s\n", s.Code, s.Name, s.Slug, len(s.Attributes), strings.Join(s.Keywords, ", "), status)
			}
			tw.Flush()
		})
	})
}

func runReportServiceDisable(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico report service disable", "--agency ID --code CODE [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	code := fs.String("code", "", "the service's code (required)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || *code == "" {
		return usagef("--agency and --code are required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		if err := a.Reports.Disable(ctx, platform.ActorFrom(ctx), *agency, *code); err != nil {
			return err
		}
		return output(e, *asJSON, map[string]any{"service_code": *code, "agency": *agency, "disabled": true}, func(w io.Writer) {
			fmt.Fprintf(w, "Disabled report-a-problem service %s of agency %s: it takes no new reports; its reports stay.\n", *code, *agency)
		})
	})
}
