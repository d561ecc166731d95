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
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// obligations records what casework hands the reminder block.
type obligations struct {
	mu                   sync.Mutex
	set                  map[string]casework.Obligation // by source
	completed, cancelled []string
}

func (o *obligations) Set(_ context.Context, _ *sql.Tx, ob casework.Obligation) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.set[ob.Source] = ob
	return nil
}

func (o *obligations) Complete(_ context.Context, _ *sql.Tx, _, source string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.completed = append(o.completed, source)
	return nil
}

func (o *obligations) Cancel(_ context.Context, _ *sql.Tx, _, source string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cancelled = append(o.cancelled, source)
	return nil
}

// openFor opens a case of service for account, as the applying block's
// submission does.
func openFor(t *testing.T, e *env, cw *casework.Service, id, account, service string, answers map[string]map[string]any) casework.Case {
	t.Helper()
	svc, err := e.cat.Latest(e.ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(answers)
	var c casework.Case
	err = e.db.InTx(e.ctx, func(tx *sql.Tx) error {
		now := e.clock.Now()
		if _, err := tx.ExecContext(e.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7, $7)`, id, svc.ID, svc.Version, svc.AgencyID, account, string(b), now); err != nil {
			return err
		}
		var err error
		c, err = cw.Open(e.ctx, tx, casework.Opening{ApplicationID: id, AccountID: account, AgencyID: svc.AgencyID, ServiceID: svc.ID, Version: svc.Version,
			Fee: submittedFee(t, e.cat, svc, answers, now)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func staffOf(c casework.Case, role string) platform.Actor {
	return platform.Actor{Kind: platform.ActorStaff, ID: "staff-1", Grants: []platform.Grant{{Agency: c.AgencyID, Role: role}}}
}

var owedDogAnswers = map[string]map[string]any{"dog": {"name": "Rex", "sex": "male", "neutered": "yes"}, "rabies": {"certificate": "file-1"}}

// TestOwing: a person's unpaid fees across their open cases, with amount,
// agency, reference and due date; a fee with a due date is handed to the
// reminder block as a payment obligation; paying it, or the case
// closing, takes it off the list and ends the obligation; another
// person's fees never appear; each listing is audited.
func TestOwing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		obs := &obligations{set: map[string]casework.Obligation{}}
		log := audit.New(db, e.clock, nil)
		cw, err := casework.New(db, log, events.NewBus(e.clock), e.clock, casework.Deps{Runtimes: e.cat,
			Citizens: citizens{manifest.Person{Age: 40, Language: "en"}}, Obligations: obs})
		if err != nil {
			t.Fatal(err)
		}
		ana := platform.Actor{Kind: platform.ActorCitizen, ID: "acct-ana"}
		beto := platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}
		start := e.clock.Now()
		dog := openFor(t, e, cw, "d1", ana.ID, "adams-dog-licence", owedDogAnswers)
		e.clock.Advance(time.Hour)
		fish := openFor(t, e, cw, "f1", ana.ID, "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}})
		openFor(t, e, cw, "p1", ana.ID, "springfield-pothole", potholeAnswers) // no fee
		betoDog := openFor(t, e, cw, "d2", beto.ID, "adams-dog-licence", owedDogAnswers)

		owed, err := cw.Owing(e.ctx, ana)
		if err != nil {
			t.Fatal(err)
		}
		if len(owed) != 2 {
			t.Fatalf("Ana owes %d fees, want 2: %+v", len(owed), owed)
		}
		want := map[string]struct {
			amount int64
			agency string
			due    time.Time
		}{
			dog.ID:  {1000, "adams-clerk", start.Add(14 * 24 * time.Hour)},
			fish.ID: {2500, "fish-wildlife", start.Add(time.Hour + 2*24*time.Hour)},
		}
		for _, o := range owed {
			w, ok := want[o.CaseID]
			if !ok {
				t.Fatalf("owed for case %s, not Ana's", o.CaseID)
			}
			if o.Amount != platform.MustMoney(w.amount, "USD") || o.AgencyID != w.agency || o.DueAt == nil || !o.DueAt.Equal(w.due) ||
				o.Reference == "" || o.Service.EN == "" {
				t.Errorf("owed %+v, want %+v", o, w)
			}
			ob, ok := obs.set[casework.PaymentSource(o.CaseID, o.PaymentID)]
			if !ok || ob.Kind != "payment" || ob.Amount == nil || *ob.Amount != o.Amount || ob.Reference != o.Reference ||
				!ob.Due.Equal(*o.DueAt) || ob.AccountID != ana.ID || ob.URL != "/applications/"+o.CaseID {
				t.Errorf("obligation of %s: %+v", o.CaseID, ob)
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.payment.list' AND subject = 'account:acct-ana' AND actor = $1`, ana.String()); n != 1 {
			t.Errorf("Ana's listing audited %d times", n)
		}

		// Another person's fees never appear, whichever way round.
		bo, err := cw.Owing(e.ctx, beto)
		if err != nil || len(bo) != 1 || bo[0].CaseID != betoDog.ID {
			t.Fatalf("Beto owes %+v, %v", bo, err)
		}
		if _, err := cw.Owing(e.ctx, platform.Actor{}); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Errorf("anonymous: %v", err)
		}

		// Paid at the counter: it leaves the list, its obligation is done.
		if _, err := cw.RecordPayment(e.ctx, staffOf(fish, "finance"), fish.ID, 2500, "CASH-7"); err != nil {
			t.Fatal(err)
		}
		// Rejected: the case closes, its fee is no longer owed.
		if _, err := cw.Take(e.ctx, staffOf(dog, "caseworker"), dog.ID, "reject"); err != nil {
			t.Fatal(err)
		}
		owed, err = cw.Owing(e.ctx, ana)
		if err != nil || len(owed) != 0 {
			t.Fatalf("after paying and closing, Ana owes %+v, %v", owed, err)
		}
		if src := paymentSourceOf(obs, fish.ID); src == "" || !contains(obs.completed, src) {
			t.Errorf("paid fee's obligation %q not completed: %v", src, obs.completed)
		}
		if src := paymentSourceOf(obs, dog.ID); src == "" || !contains(obs.cancelled, src) || !contains(obs.cancelled, casework.RequestSource(dog.ID)) {
			t.Errorf("closed case's obligations not cancelled: %v", obs.cancelled)
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.payment.list' AND subject = 'account:acct-ana'`); n != 2 {
			t.Errorf("Ana's listings audited %d times, want 2", n)
		}
	})
}

// TestAwaitingReply: a request for more information waits on the
// person until they answer; only their own cases; audited.
func TestAwaitingReply(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		obs := &obligations{set: map[string]casework.Obligation{}}
		cw, err := casework.New(db, audit.New(db, e.clock, nil), events.NewBus(e.clock), e.clock, casework.Deps{Runtimes: e.cat,
			Citizens: citizens{manifest.Person{Age: 40, Language: "en"}}, Obligations: obs})
		if err != nil {
			t.Fatal(err)
		}
		ana := platform.Actor{Kind: platform.ActorCitizen, ID: "acct-ana"}
		beto := platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}
		c := openFor(t, e, cw, "p1", ana.ID, "springfield-pothole", potholeAnswers)
		openFor(t, e, cw, "p2", beto.ID, "springfield-pothole", potholeAnswers)
		e.clock.Advance(3 * time.Hour)
		asked := e.clock.Now()
		if _, err := cw.RequestInfo(e.ctx, staffOf(c, "caseworker"), c.ID, "Which side of the street?"); err != nil {
			t.Fatal(err)
		}
		got, err := cw.AwaitingReply(e.ctx, ana)
		if err != nil || len(got) != 1 || got[0].CaseID != c.ID || !got[0].AskedAt.Equal(asked) || !got[0].DueAt.Equal(asked.Add(casework.RequestDue)) ||
			got[0].Reference != c.Reference || got[0].Service.EN == "" {
			t.Fatalf("Ana awaits %+v, %v", got, err)
		}
		if b, err := cw.AwaitingReply(e.ctx, beto); err != nil || len(b) != 0 {
			t.Fatalf("Beto awaits %+v, %v", b, err)
		}
		if _, err := cw.Respond(e.ctx, ana, c.ID, "The north side."); err != nil {
			t.Fatal(err)
		}
		if got, err := cw.AwaitingReply(e.ctx, ana); err != nil || len(got) != 0 {
			t.Fatalf("after answering, Ana awaits %+v, %v", got, err)
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.request.list'`); n != 3 {
			t.Errorf("listings audited %d times, want 3", n)
		}
		if _, err := cw.AwaitingReply(e.ctx, platform.Actor{}); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Errorf("anonymous: %v", err)
		}
	})
}

// paymentSourceOf is the source of the payment obligation set for case id.
func paymentSourceOf(o *obligations, id string) string {
	for src := range o.set {
		if strings.HasPrefix(src, "case:"+id+"/payment:") {
			return src
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
