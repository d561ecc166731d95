package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed (or found a problem)
	exitUsage = 2 // the command line was wrong
)

// env is what every command gets.
type env struct {
	getenv config.Getenv
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one `portico` subcommand (or a group of them).
type command struct {
	name    string
	summary string
	// run receives the arguments after the command name.
	run  func(ctx context.Context, e env, args []string) error
	subs []*command
}

func commands() []*command {
	return []*command{
		{name: "demo", summary: "start a demo on the embedded defaults with the State of Example seeded", run: runDemo},
		{name: "serve", summary: "run the web server and background workers", run: runServe},
		{name: "migrate", summary: "apply database migrations", run: runMigrate},
		{name: "jurisdiction", summary: "create and list jurisdictions", subs: []*command{
			{name: "create", summary: "create a jurisdiction", run: runJurisdictionCreate},
			{name: "list", summary: "list jurisdictions", run: runJurisdictionList},
			{name: "time-zone", summary: "set the time zone of a jurisdiction's dates", run: runJurisdictionTimeZone},
		}},
		{name: "agency", summary: "create and list agencies, set how people reach them", subs: []*command{
			{name: "create", summary: "create an agency in a jurisdiction", run: runAgencyCreate},
			{name: "list", summary: "list agencies", run: runAgencyList},
			{name: "contact", summary: "set an agency's address, phone, email, website and opening hours", run: runAgencyContact},
		}},
		{name: "service", summary: "validate, publish and list service manifests", subs: []*command{
			{name: "validate", summary: "check manifest files; prints file:line: message for every problem", run: runServiceValidate},
			{name: "publish", summary: "publish a manifest as a new version of its service", run: runServicePublish},
			{name: "list", summary: "list the latest version of each published service", run: runServiceList},
		}},
		{name: "user", summary: "create and list staff accounts", subs: []*command{
			{name: "add", summary: "create a staff account or grant it a role", run: runUserAdd},
			{name: "list", summary: "list accounts", run: runUserList},
		}},
		{name: "oidc", summary: "manage OpenID Connect relying parties (agency systems, plug-ins, apps)", subs: []*command{
			{name: "client", summary: "register, list and revoke the tokens of clients", subs: []*command{
				{name: "add", summary: "register a client; prints its client_id and (once) its secret", run: runOIDCClientAdd},
				{name: "list", summary: "list registered clients", run: runOIDCClientList},
				{name: "revoke-tokens", summary: "refuse every token a client was issued until now, its own and people's (after a leak)", run: runOIDCClientRevokeTokens},
			}},
		}},
		{name: "keys", summary: "manage the keys that sign ID and access tokens", subs: []*command{
			{name: "rotate", summary: "make a new signing key, published at once and signing 2 minutes later (--now: at once); old keys stay published until their tokens expire", run: runKeysRotate},
			{name: "list", summary: "list signing keys", run: runKeysList},
		}},
		{name: "audit", summary: "verify and read the audit log", subs: []*command{
			{name: "verify", summary: "check the audit log's hash chain and signed checkpoints", run: runAuditVerify},
			{name: "checkpoint", summary: "sign the audit log's current head", run: runAuditCheckpoint},
			{name: "list", summary: "list audit entries", run: runAuditList},
		}},
		{name: "jobs", summary: "inspect the background job queue", subs: []*command{
			{name: "stats", summary: "count jobs by state (discarded = dead letters)", run: runJobsStats},
		}},
		eventsCommands(),
		notifyCommands(),
		feedbackCommands(),
		ledgerCommands(),
		obligationsCommands(),
		paymentsCommands(),
		open311Commands(),
		reportCommands(),
		pluginCommands(),
		backupCommand(),
		restoreCommand(),
		{name: "version", summary: "print the version", run: runVersion},
	}
}

// usageError is a mistake on the command line: exit 2 with usage.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := &command{name: "portico", summary: "a front door to government services", subs: commands()}
	return dispatch(ctx, e, root, "portico", args)
}

func dispatch(ctx context.Context, e env, c *command, path string, args []string) int {
	if c.run == nil {
		if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
			printGroupHelp(e.stdout, c, path)
			if len(args) == 0 {
				return exitUsage
			}
			return exitOK
		}
		for _, sub := range c.subs {
			if sub.name == args[0] {
				return dispatch(ctx, e, sub, path+" "+sub.name, args[1:])
			}
		}
		fmt.Fprintf(e.stderr, "%s: unknown command %q\n\n", path, args[0])
		printGroupHelp(e.stderr, c, path)
		return exitUsage
	}
	err := c.run(ctx, e, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "%s: %s\nRun '%s --help' for usage.\n", path, ue.msg, path)
		return exitUsage
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Code != platform.CodeInternal {
		fmt.Fprintf(e.stderr, "%s: %s\n", path, pe.Message)
		return exitError
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", path, err)
	return exitError
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

func printGroupHelp(w io.Writer, c *command, path string) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n", path)
	if c.summary != "" {
		fmt.Fprintf(w, "%s: %s.\n\n", path, c.summary)
	}
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, s := range c.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", path)
}

// newFlags returns a flag set whose errors and help go where they should:
// help to stdout (exit 0), mistakes to stderr (exit 2).
func newFlags(e env, path, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: %s %s\n\nFlags:\n", path, usage)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, turning flag errors into usage errors and rejecting
// stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp // the flag package has printed fs.Usage
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// output prints v as JSON when asJSON, otherwise calls text.
func output(e env, asJSON bool, v any, text func(w io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(e.stdout)
	return nil
}

// listFlag is a repeatable or comma-separated string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
