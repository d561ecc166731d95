package application_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/examples/services"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// exampleForm compiles an example manifest without a database.
func exampleForm(t testing.TB, file string) *application.Form {
	t.Helper()
	all, err := services.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if f.Name != file {
			continue
		}
		res, probs, err := manifest.Validate(context.Background(), f.Name, f.Src, manifest.Options{Plugins: demoEnabled{}})
		if err != nil || len(probs) > 0 {
			t.Fatalf("%s: %v %v", file, probs, err)
		}
		rt, err := manifest.Compile(res.Manifest.ID, res.Manifest.Version, res.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		form, err := application.Compile(rt)
		if err != nil {
			t.Fatal(err)
		}
		return form
	}
	t.Fatalf("no example %s", file)
	return nil
}

// env is the applying block on a real database with the real catalog,
// casework, audit, notification outbox and a file:// bucket.
type env struct {
	db     *storage.DB
	reg    *jobs.Registry
	clock  *platform.FakeClock
	svc    *application.Service
	cat    *catalog.Service
	cases  *casework.Service
	notify *notify.Service
	ctx    context.Context
	cfg    application.Config // the block's wiring, for variants
	ten    *tenancy.Service
}

// birthdays tells workflow guards an applicant's age today from a date of
// birth, as internal/app does from the account (manifest.PersonOf).
type birthdays struct {
	clock platform.Clock
	born  map[string]string // account id → YYYY-MM-DD
}

func (b birthdays) Person(_ context.Context, accountID string) (manifest.Person, error) {
	p, _ := manifest.PersonOf(manifest.Facts{DateOfBirth: b.born[accountID]}, b.clock.Now())
	return p, nil
}

// contactBook answers Contacts from a map (the identity block is not
// needed to prove the sweep).
type contactBook map[string][2]string

func (c contactBook) Contact(_ context.Context, id string) (string, string, error) {
	v, ok := c[id]
	if !ok {
		return "", "", platform.Errorf(platform.CodeNotFound, "no account")
	}
	return v[0], v[1], nil
}

// notifyMailer queues email in the real notification outbox.
type notifyMailer struct{ n *notify.Service }

func (m notifyMailer) SendEmail(ctx context.Context, tx *sql.Tx, e application.Email) error {
	if e.AccountID != "" {
		_, err := m.n.SendTextToAccount(ctx, tx, notify.AccountText{AccountID: e.AccountID, Email: e.To, Subject: e.Subject, Text: e.Text,
			Lang: e.Lang, AgencyID: e.AgencyID, Reference: e.Reference})
		return err
	}
	_, err := m.n.SendEmail(ctx, tx, notify.Email{To: e.To, Subject: e.Subject, Text: e.Text, Lang: e.Lang, AgencyID: e.AgencyID, Reference: e.Reference})
	return err
}

func newEnv(t testing.TB, db *storage.DB) *env {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: "test"})
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedExamples(ctx, cat); err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(clock)
	n, err := notify.New(db, ins, reg, clock, notify.Config{From: "test@example.gov"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(t.TempDir(), "files")), RawQuery: "create_dir=1&no_tmp_dir=1"}
	files, err := application.OpenFiles(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	cases, err := casework.New(db, log, bus, clock, casework.Deps{Runtimes: cat,
		Citizens: birthdays{clock, map[string]string{"acct-ana": ana.DateOfBirth, gil.AccountID: gil.DateOfBirth}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := application.Config{
		DB: db, Audit: log, Clock: clock, Services: cat, Cases: cases, Files: files,
		Mailer: notifyMailer{n}, Contacts: contactBook{"acct-ana": {"ana@example.com", "en"}, "acct-beto": {"beto@example.com", "es"}, gil.AccountID: {"gil@example.com", "en"}},
		Agencies:  ten,
		PublicURL: "https://services.example.gov", Jobs: ins, Registry: reg, Bus: bus,
	}
	svc, err := application.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, reg: reg, clock: clock, svc: svc, cat: cat, cases: cases, notify: n, ctx: ctx, cfg: cfg, ten: ten}
}

// runFileDeletions works the queued file deletions with a real River
// client on the env's registry, as the server does, and returns when none
// is left to run.
func (e *env) runFileDeletions(t testing.TB) {
	t.Helper()
	c, err := jobs.New(e.db, e.reg, jobs.Config{Work: true, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(e.ctx); err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var left int
		if err := e.db.Read().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'application.delete_files'
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d file deletions still queued", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// citizen is the signed-in citizen with account id, as the session puts
// it in the request context.
func citizen(id string) platform.Actor {
	return platform.Actor{Kind: platform.ActorCitizen, ID: id}
}

// demoEnabled allows the plug-in uses the demo enables
// (demo.PluginEnablements) and no other, as the registry would once
// `portico demo` has seeded it.
type demoEnabled struct{}

func (demoEnabled) CheckPluginUse(_ context.Context, agency, service, plugin, operation string, data []string) (string, error) {
	for _, en := range demo.PluginEnablements {
		if en.Plugin == plugin && en.Agency == agency && (en.Service == "" || en.Service == service) &&
			slices.Contains(en.Operations, operation) && !slices.ContainsFunc(data, func(d string) bool { return !slices.Contains(en.Data, d) }) {
			return "", nil
		}
	}
	return "the demo does not enable this use", nil
}
