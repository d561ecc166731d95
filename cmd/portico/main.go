// Command portico is the whole platform in one binary: the web server and
// workers (serve, demo) and the operator's tools (migrate, jurisdiction,
// agency, audit, jobs, events, version). Run `portico help` for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// Jurisdictions name IANA time zones; embed the zone database so the
	// binary works on machines (containers) without /usr/share/zoneinfo.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
