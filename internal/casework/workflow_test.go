package casework_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/examples/services"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; run go test ./internal/casework -update and review the diff\n--- got:\n%s", name, got)
	}
}

// demoRegistry is the real plug-in registry on a fresh SQLite database
// with the demo's agencies and plug-ins registered and enabled, as
// `portico demo` seeds it: the examples' plug-in uses are checked
// against it.
func demoRegistry(t *testing.T) *plugin.Service {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	ctx := context.Background()
	clock := platform.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := plugin.New(db, log, clock, box, plugin.Config{EventTypes: []string{"gov.portico.case.transitioned", "gov.portico.case.document_issued"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedPlugins(ctx, reg, nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// exampleWorkflows compiles every example manifest (resolving extend).
func exampleWorkflows(t *testing.T) []*casework.Workflow {
	t.Helper()
	files, err := services.All()
	if err != nil {
		t.Fatal(err)
	}
	var mf []manifest.File
	for _, f := range files {
		mf = append(mf, manifest.File{Name: f.Name, Src: f.Src})
	}
	res, err := manifest.ValidateFilesWithPlugins(context.Background(), mf, nil, nil, refs{demoRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	var out []*casework.Workflow
	for _, r := range res {
		if r.Result == nil {
			t.Fatalf("%s: %v", r.File, r.Problems)
		}
		m := r.Result.Manifest
		w, err := casework.Compile(m.ID, m.Version, m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

// TestOptionsGolden lists, for every example service, state, actor and
// fee state, the transitions the actor may take and why blocked ones are
// blocked, and what entering each state does; the golden file is the
// reviewable truth of the demo workflows.
func TestOptionsGolden(t *testing.T) {
	actors := []struct {
		name string
		a    casework.Actor
	}{
		{"citizen", casework.Actor{Kind: casework.ActorCitizen}},
		{"caseworker", casework.Staff("caseworker")},
		{"agency_admin", casework.Staff("agency_admin")},
		{"finance", casework.Staff("finance")},
		{"auditor", casework.Staff("auditor")},
		{"system", casework.Actor{Kind: casework.ActorSystem}},
		{"plugin", casework.Actor{Kind: casework.ActorPlugin}},
	}
	answers := map[string]map[string]any{
		"vehicle":  {"type": "car", "plate": "ABC123"},
		"licence":  {"residency": "visitor"},
		"bill":     {"parcel": "123-456-789", "amount": float64(123456)},
		"business": {"employees": float64(3)},
		"dog":      {"neutered": "yes"},
		"child":    {"copies": float64(2)},
	}
	var b strings.Builder
	for _, w := range exampleWorkflows(t) {
		m := w.Manifest
		fmt.Fprintf(&b, "# %s@%d\n", m.ID, m.Version)
		in := casework.Inputs{Person: manifest.Person{Age: 40}, Answers: answers, Now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		if fee, ok, err := w.Runtime().Fee(in.Answers, in.Person, in.Now); err != nil {
			t.Fatalf("%s fee: %v", m.ID, err)
		} else if ok {
			fmt.Fprintf(&b, "fee: %s\n", platform.Money{Minor: fee.Amount, Currency: fee.Currency}.String())
		}
		states := make([]string, 0, len(m.Workflow.States))
		for s := range m.Workflow.States {
			states = append(states, s)
		}
		sort.Strings(states)
		for _, st := range states {
			e, err := w.Enter(casework.Case{State: "x"}, st, in.Now)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: waiting on %s, sla due %s, closed %v, on enter %s\n", st, e.Case.WaitingOn, due(e.Case.SLADueAt, in.Now), e.Case.ClosedAt != nil, actions(e.Actions))
			for _, paid := range []bool{false, true} {
				in.Payment = manifest.Payment{Paid: paid, Amount: 4500}
				for _, ac := range actors {
					opts := w.Options(st, ac.a, in)
					if len(opts) == 0 {
						continue
					}
					var parts []string
					for _, o := range opts {
						s := o.Transition.ID + "→" + o.Transition.To
						for _, r := range o.Blocked {
							s += " (blocked: " + r.English() + ")"
						}
						parts = append(parts, s)
					}
					fmt.Fprintf(&b, "  paid=%v %s: %s\n", paid, ac.name, strings.Join(parts, "; "))
				}
				if t, ok := w.Automatic(st, in); ok {
					fmt.Fprintf(&b, "  paid=%v automatic: %s\n", paid, t.ID)
				}
			}
		}
		b.WriteString("\n")
	}
	golden(t, "options.golden", b.String())
}

func due(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return "+" + t.Sub(now).String()
}

func actions(as []manifest.Action) string {
	var out []string
	for _, a := range as {
		switch {
		case a.Notify != nil:
			out = append(out, "notify "+a.Notify.To)
		case a.RequestPayment != nil:
			out = append(out, "request_payment "+a.RequestPayment.Due)
		case a.IssueDocument != nil:
			out = append(out, "issue_document "+a.IssueDocument.Document)
		case a.SetReminder != nil:
			out = append(out, "set_reminder "+a.SetReminder.Reminder)
		case a.CallPlugin != nil:
			out = append(out, "call_plugin "+a.CallPlugin.Plugin+"."+a.CallPlugin.Operation)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

// TestCheck covers the refusals of Check with a workflow of its own, so
// each reason is pinned whatever the demo manifests become.
func TestCheck(t *testing.T) {
	amount := int64(1000)
	m := &manifest.Manifest{ID: "t", Version: 1, Fee: &manifest.Fee{Currency: "USD", Amount: &amount}, Workflow: manifest.Workflow{
		Initial: "a",
		States: map[string]manifest.State{
			"a": {SLA: "1d"}, "b": {Terminal: true}, "c": {Terminal: true},
		},
		Transitions: []manifest.Transition{
			{ID: "go", From: "a", To: "b", By: []string{"caseworker"}, Guard: `payment.paid && answers.p.n > 3 && person.age >= 18`},
			{ID: "stop", From: "a", To: "c", By: []string{"citizen", "finance"}},
			{ID: "bad", From: "a", To: "c", By: []string{"system"}, Guard: `answers.p.missing == 1`},
		},
	}}
	w, err := casework.Compile("t", 1, m)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := casework.Inputs{Person: manifest.Person{Age: 30}, Answers: map[string]map[string]any{"p": {"n": int64(5)}}, Payment: manifest.Payment{Paid: true}, Now: now}
	for _, c := range []struct {
		name, state, id string
		a               casework.Actor
		in              casework.Inputs
		want            string // "" for allowed
	}{
		{"allowed", "a", "go", casework.Staff("caseworker"), ok, ""},
		{"several roles", "a", "go", casework.Staff("auditor", "caseworker"), ok, ""},
		{"citizen", "a", "stop", casework.Actor{Kind: casework.ActorCitizen}, ok, ""},
		{"wrong role", "a", "go", casework.Staff("finance"), ok, "your role may not take this step"},
		{"citizen not staff", "a", "go", casework.Actor{Kind: casework.ActorCitizen}, ok, "your role may not take this step"},
		{"unpaid", "a", "go", casework.Staff("caseworker"), casework.Inputs{Person: ok.Person, Answers: ok.Answers, Now: now}, "the fee has not been paid yet"},
		{"condition", "a", "go", casework.Staff("caseworker"), casework.Inputs{Person: manifest.Person{Age: 30}, Answers: map[string]map[string]any{"p": {"n": int64(2)}}, Payment: ok.Payment, Now: now}, "this condition does not hold: answers.p.n > 3"},
		{"minor", "a", "go", casework.Staff("caseworker"), casework.Inputs{Answers: ok.Answers, Payment: ok.Payment, Now: now}, "this condition does not hold: person.age >= 18"},
		{"missing answer", "a", "go", casework.Staff("caseworker"), casework.Inputs{Person: ok.Person, Payment: ok.Payment, Now: now}, "this condition could not be checked (no such key: p): answers.p.n > 3"},
		{"no such step", "a", "nope", casework.Staff("caseworker"), ok, `there is no step "nope" from the state "a"`},
		{"wrong state", "b", "go", casework.Staff("caseworker"), ok, "the case is closed"},
		{"eval error", "a", "bad", casework.Actor{Kind: casework.ActorSystem}, ok, "this condition could not be checked (no such key: missing): answers.p.missing == 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := w.Check(c.state, c.id, c.a, c.in)
			got := ""
			if err != nil {
				got = err.(interface{ Unwrap() error }).Unwrap().Error()
			}
			if got != c.want {
				t.Errorf("Check = %q, want %q", got, c.want)
			}
		})
	}
	if _, ok := w.Automatic("a", ok); ok {
		t.Error("a failing system guard must not be automatic")
	}
}

// TestSLAStatus classifies cases by their due time.
func TestSLAStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	for _, c := range []struct {
		name string
		c    casework.Case
		want string
	}{
		{"no sla", casework.Case{WaitingOn: casework.WaitingOnAgency}, casework.SLANone},
		{"closed", casework.Case{ClosedAt: &now, SLADueAt: at(-time.Hour)}, casework.SLANone},
		{"on time", casework.Case{WaitingOn: casework.WaitingOnAgency, SLADueAt: at(48 * time.Hour)}, casework.SLAOnTime},
		{"due soon", casework.Case{WaitingOn: casework.WaitingOnAgency, SLADueAt: at(2 * time.Hour)}, casework.SLADueSoon},
		{"past due", casework.Case{WaitingOn: casework.WaitingOnAgency, SLADueAt: at(0)}, casework.SLAOverdue},
		{"marked", casework.Case{WaitingOn: casework.WaitingOnAgency, Overdue: true}, casework.SLAOverdue},
		{"paused", casework.Case{WaitingOn: casework.WaitingOnCitizen}, casework.SLAPaused},
	} {
		if got := casework.SLAStatus(c.c, now); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
