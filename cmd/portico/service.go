package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
)

// errProblems makes a command exit 1 after it has printed the problems.
var errProblems = &platform.Error{Code: platform.CodeInvalid, Message: "the manifests have problems"}

// readManifests reads every named file; an unreadable file is a problem on
// line 0 of that file.
func readManifests(names []string) ([]manifest.File, []manifest.Problem) {
	var files []manifest.File
	var probs []manifest.Problem
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			probs = append(probs, manifest.Problem{File: n, Message: "cannot read the file: " + errors.Unwrap(err).Error()})
			continue
		}
		files = append(files, manifest.File{Name: n, Src: src})
	}
	return files, probs
}

// parseWithArgs parses flags that may come before, between or after the
// positional arguments, which it returns.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// printProblems prints problems as file:line: message, or as a JSON list.
func printProblems(e env, asJSON bool, probs []manifest.Problem) error {
	if probs == nil {
		probs = []manifest.Problem{}
	}
	return output(e, asJSON, probs, func(w io.Writer) {
		for _, p := range probs {
			fmt.Fprintln(w, p)
		}
	})
}

// runServiceValidate checks manifests without a database: a manifest that
// extends another is resolved against the other files named.
func runServiceValidate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico service validate", "FILE... [--json] [--data DIR | --db URL]")
	cfg.RegisterStorage(fs, e.getenv, true)
	asJSON := fs.Bool("json", false, "print the problems as a JSON list of {file, line, message}")
	names, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("name at least one manifest file")
	}
	files, probs := readManifests(names)
	results, err := manifest.ValidateFiles(ctx, files, nil, nil)
	if err != nil {
		return err
	}
	// Manifests that use plug-in operations are checked against the
	// plug-in registry in the database, when there is one.
	checkedPlugins := false
	if usesPlugins(ctx, files) {
		err := noDatabase(cfg)
		if err == nil {
			err = withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
				var err error
				results, err = manifest.ValidateFilesWithPlugins(ctx, files, nil, nil, a.PluginRefs())
				return err
			})
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "The plug-in operations these manifests use were not checked against the plug-in registry: %s\n", platform.ErrorMessage(err))
			if platform.ErrorCode(err) == platform.CodeInternal {
				fmt.Fprintf(e.stderr, "(%v)\n", err)
			}
		} else {
			checkedPlugins = true
		}
	}
	for _, r := range results {
		probs = append(probs, r.Problems...)
	}
	if err := printProblems(e, *asJSON, probs); err != nil {
		return err
	}
	if len(probs) > 0 {
		if !*asJSON {
			fmt.Fprintf(e.stderr, "%d problem(s) in %d file(s).\n", len(probs), len(names))
		}
		return errProblems
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "%d manifest(s) valid.\n", len(files))
		if checkedPlugins {
			fmt.Fprintln(e.stdout, "Plug-in operations were checked against the plug-in registry; publishing a service that calls them waits for the plug-in gateway.")
		}
	}
	return nil
}

func runServicePublish(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico service publish", "FILE --agency ID [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency publishing the service (required)")
	asJSON := fs.Bool("json", false, "print the result (or the problems) as JSON")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 || *agency == "" {
		return usagef("give exactly one FILE and --agency")
	}
	file := files[0]
	src, err := os.ReadFile(file)
	if err != nil {
		return platform.Errorf(platform.CodeInvalid, "cannot read %s: %v", file, errors.Unwrap(err))
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		p, err := a.Catalog.Publish(ctx, *agency, file, src)
		var pe *catalog.ProblemsError
		if errors.As(err, &pe) {
			if err := printProblems(e, *asJSON, pe.Problems); err != nil {
				return err
			}
			return pe.Err
		}
		if err != nil {
			return err
		}
		// The service's messages to applicants become its agency's
		// templates (new or new versions); the publish itself is done.
		templates, err := a.ManifestTemplates(ctx, p)
		if err != nil {
			return fmt.Errorf("published %s version %d, but its message templates were not updated (publish again to retry): %w", p.ID, p.Version, err)
		}
		out := map[string]any{"id": p.ID, "version": p.Version, "agency": p.AgencyID, "published_at": p.PublishedAt, "templates_changed": templates}
		return output(e, *asJSON, out, func(w io.Writer) {
			fmt.Fprintf(w, "Published %s version %d for %s (%d message template(s) new or changed).\n", p.ID, p.Version, p.AgencyID, templates)
		})
	})
}

func runServiceList(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico service list", "[--agency ID] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "only services of this agency")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		ps, err := a.Catalog.List(ctx, *agency)
		if err != nil {
			return err
		}
		type row struct {
			ID          string `json:"id"`
			Version     int    `json:"version"`
			Agency      string `json:"agency"`
			Kind        string `json:"kind"`
			Maturity    string `json:"maturity"`
			Title       string `json:"title"`
			PublishedAt string `json:"published_at"`
		}
		rows := []row{}
		for _, p := range ps {
			rows = append(rows, row{p.ID, p.Version, p.AgencyID, string(p.Manifest.Kind), p.Manifest.Maturity, p.Manifest.Title.EN, p.PublishedAt.Format("2006-01-02T15:04:05Z")})
		}
		return output(e, *asJSON, rows, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tAGENCY\tKIND\tMATURITY\tTITLE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Version, r.Agency, r.Kind, r.Maturity, r.Title)
			}
			tw.Flush()
		})
	})
}

// usesPlugins reports whether any of files names a plug-in operation
// (validated with a registry that allows everything, to learn just that).
func usesPlugins(ctx context.Context, files []manifest.File) bool {
	var rec recordUses
	if _, err := manifest.ValidateFilesWithPlugins(ctx, files, nil, nil, &rec); err != nil {
		return false
	}
	return rec.used
}

type recordUses struct{ used bool }

func (r *recordUses) CheckPluginUse(context.Context, string, string, string, string, []string) (string, error) {
	r.used = true
	return "", nil
}

// noDatabase says why there is no database to check against when the
// default SQLite file in --data does not exist (opening it would create it).
func noDatabase(cfg config.Config) error {
	if cfg.DB != "" {
		return nil
	}
	p := filepath.Join(cfg.DataDir, "portico.db")
	if _, err := os.Stat(p); err != nil {
		return platform.Errorf(platform.CodeInvalid, "there is no database at %s; give --data DIR or --db URL", p)
	}
	return nil
}
