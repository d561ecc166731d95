package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// withApp opens the configured database (without migrating, unless asked)
// and runs fn as the operator.
func withApp(ctx context.Context, e env, cfg config.Config, fn func(ctx context.Context, a *app.App) error) error {
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	cfg.LogLevel = 8 // commands print their own results; logs only on error
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, e.stderr), app.Options{})
	if err != nil {
		return err
	}
	defer a.DB.Close()
	// app.New refused an unmigrated database.
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorOperator, ID: "cli"})
	return fn(ctx, a)
}

func runMigrate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico migrate", "[--data DIR | --db URL] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	db, err := storage.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	return output(e, *asJSON, rep, func(w io.Writer) {
		if len(rep.Applied)+len(rep.RiverApplied) == 0 {
			fmt.Fprintf(w, "%s is up to date (version %d).\n", db, rep.Version)
			return
		}
		fmt.Fprintf(w, "Migrated %s to version %d: %d job-queue and %d Portico migrations applied.\n",
			db, rep.Version, len(rep.RiverApplied), len(rep.Applied))
	})
}

func runVersion(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "portico version", "[--json]")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	info := map[string]string{"version": version, "go": "", "revision": ""}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info["go"] = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info["revision"] = s.Value
			}
		}
	}
	return output(e, *asJSON, info, func(w io.Writer) {
		fmt.Fprintf(w, "portico %s (%s", info["version"], info["go"])
		if info["revision"] != "" {
			fmt.Fprintf(w, ", %s", info["revision"])
		}
		fmt.Fprintln(w, ")")
	})
}

func runJurisdictionCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var j tenancy.Jurisdiction
	var zips listFlag
	fs := newFlags(e, "portico jurisdiction create", "--id ID --kind state|county|city|town --name NAME [--parent ID] [--zip 70101,70102] [--time-zone America/Chicago] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&j.ID, "id", "", "identifier: lowercase letters, digits and hyphens (required)")
	kind := fs.String("kind", "", "state, county, city or town (required)")
	fs.StringVar(&j.Name, "name", "", "name in English (required)")
	fs.StringVar(&j.NameES, "name-es", "", "name in Spanish")
	fs.StringVar(&j.ParentID, "parent", "", "parent jurisdiction id (required unless a state)")
	fs.Var(&zips, "zip", "ZIP codes it covers, comma-separated or repeated")
	fs.StringVar(&j.TimeZone, "time-zone", "", "IANA time zone of its dates (America/Chicago); default: the parent's, UTC for a state")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if j.ID == "" || *kind == "" || j.Name == "" {
		return usagef("--id, --kind and --name are required")
	}
	j.Kind = tenancy.Kind(*kind)
	j.ZIPs = zips
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		created, err := a.Tenancy.CreateJurisdiction(ctx, j)
		if err != nil {
			return err
		}
		return output(e, *asJSON, created, func(w io.Writer) {
			fmt.Fprintf(w, "Created %s %s (%s).\n", created.Kind, created.ID, created.Name)
		})
	})
}

// runJurisdictionTimeZone sets the zone every date of a jurisdiction (and
// of its children without their own) is shown and due in.
func runJurisdictionTimeZone(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico jurisdiction time-zone", "--id ID --time-zone America/Chicago (\"\" to inherit the parent's)")
	cfg.RegisterStorage(fs, e.getenv, true)
	id := fs.String("id", "", "the jurisdiction (required)")
	zone := fs.String("time-zone", "", "IANA time zone name; empty to inherit the parent's")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usagef("--id is required")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		if err := a.Tenancy.SetTimeZone(ctx, *id, *zone); err != nil {
			return err
		}
		loc, err := a.Tenancy.Location(ctx, *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Jurisdiction %s now shows and sets dates in %s.\n", *id, loc)
		return nil
	})
}

func runJurisdictionList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico jurisdiction list", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		js, err := a.Tenancy.Jurisdictions(ctx)
		if err != nil {
			return err
		}
		return output(e, *asJSON, js, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tPARENT\tNAME\tZIPS\tTIME ZONE")
			for _, j := range js {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, dash(j.ParentID), j.Name, dash(strings.Join(j.ZIPs, ",")), dash(j.TimeZone))
			}
			tw.Flush()
		})
	})
}

func runAgencyCreate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var ag tenancy.Agency
	fs := newFlags(e, "portico agency create", "--id ID --jurisdiction ID --name NAME [--name-es NAME] [contact flags] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&ag.ID, "id", "", "identifier: lowercase letters, digits and hyphens (required)")
	fs.StringVar(&ag.JurisdictionID, "jurisdiction", "", "the jurisdiction it belongs to (required)")
	fs.StringVar(&ag.Name, "name", "", "name in English (required)")
	fs.StringVar(&ag.NameES, "name-es", "", "name in Spanish")
	contactFlags(fs, &ag.Contact)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if ag.ID == "" || ag.JurisdictionID == "" || ag.Name == "" {
		return usagef("--id, --jurisdiction and --name are required")
	}
	ag.Contact.Address = strings.ReplaceAll(ag.Contact.Address, `\n`, "\n")
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		created, err := a.Tenancy.CreateAgency(ctx, ag)
		if err != nil {
			return err
		}
		return output(e, *asJSON, created, func(w io.Writer) {
			fmt.Fprintf(w, "Created agency %s (%s) in %s.\n", created.ID, created.Name, created.JurisdictionID)
		})
	})
}

// contactFlags registers the flags of an agency's contact details.
func contactFlags(fs *flag.FlagSet, c *tenancy.Contact) {
	fs.StringVar(&c.Address, "address", "", `office address; separate lines with "\n" or a newline`)
	fs.StringVar(&c.Phone, "phone", "", "public phone number, as people dial it")
	fs.StringVar(&c.Email, "email", "", "public email address")
	fs.StringVar(&c.Website, "website", "", "website (https:// URL)")
	fs.StringVar(&c.Hours, "hours", "", `opening hours in English ("Monday to Friday, 8 a.m. to 4:30 p.m.")`)
	fs.StringVar(&c.HoursES, "hours-es", "", "opening hours in Spanish")
}

func runAgencyContact(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var c tenancy.Contact
	fs := newFlags(e, "portico agency contact", "--id ID [--address A] [--phone P] [--email E] [--website URL] [--hours H] [--hours-es H] [--json]\nEvery contact detail is replaced: one left out is cleared.")
	cfg.RegisterStorage(fs, e.getenv, true)
	id := fs.String("id", "", "the agency (required)")
	contactFlags(fs, &c)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usagef("--id is required")
	}
	c.Address = strings.ReplaceAll(c.Address, `\n`, "\n")
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		ag, err := a.Tenancy.SetContact(ctx, *id, c)
		if err != nil {
			return err
		}
		return output(e, *asJSON, ag, func(w io.Writer) {
			fmt.Fprintf(w, "Set the contact details of %s (%s).\n", ag.ID, ag.Name)
		})
	})
}

func runAgencyList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico agency list", "[--jurisdiction ID] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	jid := fs.String("jurisdiction", "", "only agencies of this jurisdiction")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		if *jid != "" {
			if _, err := a.Tenancy.Jurisdiction(ctx, *jid); err != nil {
				return err
			}
		}
		as, err := a.Tenancy.Agencies(ctx, *jid)
		if err != nil {
			return err
		}
		return output(e, *asJSON, as, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tJURISDICTION\tNAME")
			for _, ag := range as {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", ag.ID, ag.JurisdictionID, ag.Name)
			}
			tw.Flush()
		})
	})
}

func runAuditVerify(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico audit verify", "[--audit-anchor URL] [--max-checkpoint-age D] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	cfg.RegisterAuditVerify(fs, e.getenv)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		rep, err := a.Audit.Verify(ctx)
		if err != nil {
			return err
		}
		if err := output(e, *asJSON, rep, func(w io.Writer) {
			if rep.OK {
				fmt.Fprintf(w, "Audit log OK: %d entries, head %d (%s), %d signed checkpoints (%d anchored in %s), last at entry %d.\n",
					rep.Entries, rep.HeadSeq, short(rep.HeadHash), rep.Checkpoints, rep.Anchors, redactURL(a.Config.AuditAnchor), rep.LastCheckpoint)
				if rep.Unanchored > 0 {
					fmt.Fprintf(w, "Note: %d signed checkpoints are not in the anchor store (taken before this version, or while the store was unreachable); later anchored checkpoints cover their entries.\n", rep.Unanchored)
				}
				return
			}
			fmt.Fprintf(w, "Audit log FAILED at entry %d: %s\n", rep.Problem.Seq, rep.Problem.Reason)
			if len(rep.Problems) > 1 {
				fmt.Fprintln(w, "Also found:")
				for _, p := range rep.Problems[1:] {
					fmt.Fprintf(w, "- %s\n", p.Reason)
				}
			}
		}); err != nil {
			return err
		}
		if !rep.OK {
			return &platform.Error{Code: platform.CodeConflict, Message: "audit log verification FAILED: " + rep.Problem.Reason}
		}
		return nil
	})
}

// redactURL drops a URL's password, should an operator put one there.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func runAuditCheckpoint(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico audit checkpoint", "[--audit-anchor URL] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		cp, err := a.Audit.Checkpoint(ctx)
		if err != nil {
			return err
		}
		return output(e, *asJSON, cp, func(w io.Writer) {
			if cp.Seq == 0 {
				fmt.Fprintln(w, "The audit log is empty; nothing to sign.")
				return
			}
			fmt.Fprintf(w, "Signed checkpoint at entry %d (%s) with key %s.\n", cp.Seq, short(cp.Hash), cp.KeyID)
		})
	})
}

func runAuditList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	var f audit.Filter
	fs := newFlags(e, "portico audit list", "[--subject S] [--agency A] [--after N] [--limit N] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	fs.StringVar(&f.Subject, "subject", "", "only entries about this subject, e.g. agency:dmv")
	fs.StringVar(&f.AgencyID, "agency", "", "only entries of this agency")
	fs.Int64Var(&f.AfterSeq, "after", 0, "only entries after this sequence number")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many entries (max 1000)")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return usagef("--limit must be between 1 and 1000")
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		entries, err := a.Audit.List(ctx, f)
		if err != nil {
			return err
		}
		if entries == nil {
			entries = []audit.Entry{}
		}
		return output(e, *asJSON, entries, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tAT\tACTOR\tACTION\tSUBJECT")
			for _, en := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", en.Seq, en.At.Format("2006-01-02 15:04:05Z07:00"), en.Actor, en.Action, en.Subject)
			}
			tw.Flush()
		})
	})
}

func runJobsStats(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico jobs stats", "[--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		counts, err := jobs.Counts(ctx, a.DB)
		if err != nil {
			return err
		}
		if counts == nil {
			counts = []jobs.StateCount{}
		}
		return output(e, *asJSON, counts, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "STATE\tJOBS")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%d\n", c.State, c.Count)
			}
			tw.Flush()
		})
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// runKeyRevoke is `portico GROUP key revoke --agency A --id ID` for every
// kind of agency API key (Notify, payments, Open311): the same flags,
// checks and answer; revoke does the block's own revocation (audited
// there).
func runKeyRevoke(ctx context.Context, e env, args []string, group, label string, revoke func(ctx context.Context, a *app.App, agency, id string) error) error {
	var cfg config.Config
	fs := newFlags(e, "portico "+group+" key revoke", "--agency ID --id KEY_ID")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency (required)")
	id := fs.String("id", "", "the key's id, from `portico "+group+" key list` (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agency == "" || *id == "" {
		return usagef("--agency and --id are required")
	}
	return withAgency(ctx, e, cfg, *agency, func(ctx context.Context, a *app.App) error {
		if err := revoke(ctx, a, *agency, *id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Revoked %s %s of agency %s. Requests with it are refused from now on.\n", label, *id, *agency)
		return nil
	})
}
