package app

import (
	"context"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
)

// DemoBlocks returns the applying and casework blocks wired exactly as
// New wires a.Applications and a.Casework (same database, audit log, event
// bus, outbox, reminders, identity and catalog) but reading time from
// clock, so that `portico demo` can seed cases with a history: an
// application submitted last week, an SLA already missed. Their job
// workers are registered in a registry of their own that never runs (the
// app's workers do the work the jobs they enqueue ask for).
func (a *App) DemoBlocks(ctx context.Context, clock platform.Clock) (*application.Service, *casework.Service, error) {
	cases, err := casework.New(a.DB, a.Audit, a.Bus, clock, a.caseworkDeps(clock))
	if err != nil {
		return nil, nil, err
	}
	apps, err := application.New(a.applicationConfig(clock, cases, a.inserter, jobs.NewRegistry()))
	if err != nil {
		return nil, nil, err
	}
	return apps, cases, nil
}
