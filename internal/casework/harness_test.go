package casework_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// env is the casework block over a real database with the demo catalog,
// the workflow's events captured by a consumer on the real bus.
type env struct {
	t      testing.TB
	db     *storage.DB
	clock  *platform.FakeClock
	cat    *catalog.Service
	cw     *casework.Service
	mailer *mailer
	ctx    context.Context
}

// submittedFee works out the fee of answers to svc as the applying block
// does when it submits (nil: no fee), for tests that open cases directly.
func submittedFee(t testing.TB, cat *catalog.Service, svc catalog.Published, answers map[string]map[string]any, now time.Time) *manifest.Charge {
	t.Helper()
	rt, err := cat.RuntimeOf(svc)
	if err != nil {
		t.Fatal(err)
	}
	fee, ok, err := rt.Fee(answers, manifest.Person{Age: 40, Language: "en"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return &fee
}

// citizens gives every applicant the same profile.
type citizens struct{ p manifest.Person }

func (c citizens) Person(context.Context, string) (manifest.Person, error) { return c.p, nil }

// people names the applicant acct-1 and the staff of every agency as the
// principals of the policy tests are (staff-AGENCY-ROLE) and staff-1.
type people struct{}

func (people) Applicant(_ context.Context, id string) (casework.Applicant, error) {
	if id != "acct-1" {
		return casework.Applicant{}, platform.Errorf(platform.CodeNotFound, "no such account")
	}
	return casework.Applicant{AccountID: id, Name: "Ana Citizen", Email: "ana@example.com", Phone: "+1 555 0100", DateOfBirth: "1988-04-12",
		Lang: "en", Residential: casework.Address{Line1: "12 Elm Street", City: "Springfield", State: "EX", ZIP: "70101"}}, nil
}

func (people) AgencyStaff(_ context.Context, agency string) ([]casework.StaffMember, error) {
	out := []casework.StaffMember{{AccountID: "staff-1", Name: "Sam Staff", Roles: []string{"caseworker", "finance"}}}
	for _, r := range []string{"agency_admin", "caseworker", "finance", "auditor"} {
		out = append(out, casework.StaffMember{AccountID: "staff-" + agency + "-" + r, Name: "Staff " + r, Roles: []string{r}})
	}
	return out, nil
}

// mailer records the emails casework asks for, in their transaction: a
// mail asked for in a transaction that rolls back is not recorded.
type mailer struct {
	mu   sync.Mutex
	sent []casework.Mail
}

func (m *mailer) MailCitizen(ctx context.Context, tx *sql.Tx, mail casework.Mail) error {
	// A real row in the same transaction proves the mail is in it.
	if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail)
	return nil
}

func (m *mailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func newEnv(t testing.TB, db *storage.DB) *env {
	t.Helper()
	clock := platform.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
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
	bus := events.NewBus(clock)
	m := &mailer{}
	cw, err := casework.New(db, log, bus, clock, casework.Deps{Runtimes: cat, Citizens: citizens{manifest.Person{Age: 40, Language: "en"}}, Mailer: m,
		People: people{}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, clock: clock, cat: cat, cw: cw, mailer: m, ctx: ctx}
}

// open submits an application to service with answers and opens its case.
func (e *env) open(id, service string, answers map[string]map[string]any) casework.Case {
	e.t.Helper()
	svc, err := e.cat.Latest(e.ctx, service)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(answers)
	var c casework.Case
	err = e.db.InTx(e.ctx, func(tx *sql.Tx) error {
		now := e.clock.Now()
		if _, err := tx.ExecContext(e.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'acct-1', 'submitted', $5, $6, $6)`, id, svc.ID, svc.Version, svc.AgencyID, string(b), now); err != nil {
			return err
		}
		var err error
		c, err = e.cw.Open(e.ctx, tx, casework.Opening{ApplicationID: id, AccountID: "acct-1", AgencyID: svc.AgencyID, ServiceID: svc.ID, Version: svc.Version,
			Fee: submittedFee(e.t, e.cat, svc, answers, now)})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// count returns a number from the database.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Read().QueryRowContext(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// emitted lists the types of the events emitted about a case, in log
// order.
func (e *env) emitted(caseID string) []string {
	e.t.Helper()
	if _, err := events.Sequence(e.ctx, e.db, 0); err != nil {
		e.t.Fatal(err)
	}
	log, err := events.Read(e.ctx, e.db, 0, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range log {
		if ev.Subject == "case:"+caseID {
			out = append(out, strings.TrimPrefix(ev.Type, "gov.portico.case."))
		}
	}
	return out
}

// principal is the signed-in party who acts as a in the workflow of c: the
// applicant acct-1, or staff-1 holding a's roles in c's agency.
func principal(a casework.Actor, c casework.Case) platform.Actor {
	if a.Kind == casework.ActorCitizen {
		return platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"}
	}
	p := platform.Actor{Kind: platform.ActorStaff, ID: "staff-1"}
	for _, r := range a.Roles {
		p.Grants = append(p.Grants, platform.Grant{Agency: c.AgencyID, Role: r})
	}
	return p
}

// caseOf reads case id.
func (e *env) caseOf(id string) casework.Case {
	e.t.Helper()
	c, err := e.cw.Case(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
