package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

func runServe(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico serve", "[flags]")
	cfg.RegisterServe(fs, e.getenv, true)
	migrate := fs.Bool("migrate", true, "apply pending migrations before serving")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	return serve(ctx, e, cfg, app.Options{Migrate: *migrate, Work: cfg.Role != "web"}, nil)
}

func runDemo(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico demo", "[flags]")
	cfg.RegisterServe(fs, e.getenv, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	cfg.Role = "all"
	return serve(ctx, e, cfg, app.Options{Migrate: true, Work: true}, func(ctx context.Context, a *app.App) error {
		res, err := demo.Seed(ctx, a.Tenancy)
		if err != nil {
			return err
		}
		if res.Jurisdictions+res.Agencies > 0 {
			a.Logger.Info("demo seeded", "jurisdictions", res.Jurisdictions, "agencies", res.Agencies)
		}
		return nil
	})
}

// serve runs a Portico process until ctx ends (SIGINT/SIGTERM), then drains.
func serve(ctx context.Context, e env, cfg config.Config, opts app.Options, prepare func(context.Context, *app.App) error) error {
	logger := app.NewLogger(cfg, e.stderr)
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
			a.Stop(context.Background())
			return err
		}
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(context.Background())
		return err
	}
	if prepare != nil {
		printDemoBanner(e.stdout, a)
	} else if a.URL() != "" {
		logger.Info("portico serving", "url", a.URL(), "public_url", cfg.PublicURL, "db", a.DB.String(), "role", cfg.Role)
	}
	werr := a.Wait(ctx)
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Stop(sctx); err != nil && werr == nil {
		werr = err
	}
	return werr
}

func printDemoBanner(w io.Writer, a *app.App) {
	fmt.Fprintf(w, `
Portico demo is running at %s/

  Data:      %s
  Database:  %s

  Try:
    %s/                         home page (English; add ?lang=es for Spanish)
    %s/government/lookup?zip=70101   who serves ZIP 70101
    %s/healthz  /readyz  /metrics

  Demo sign-ins: none yet. Citizen and staff accounts arrive with the identity
  block; until then every page here is public.

Press Ctrl+C to stop.
`, a.URL(), a.Config.DataDir, a.DB.String(), a.URL(), a.URL(), a.URL())
}
