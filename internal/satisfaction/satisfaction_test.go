package satisfaction_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var start = time.Date(2026, 3, 27, 15, 4, 0, 0, time.UTC)

// catalog is two published services of two agencies.
type catalog map[string]satisfaction.Service

var services = catalog{
	"dog-licence":   {ID: "dog-licence", AgencyID: "adams-clerk", Title: satisfaction.Text{EN: "Dog licence", ES: "Licencia de perro"}},
	"plate-renewal": {ID: "plate-renewal", AgencyID: "dmv", Title: satisfaction.Text{EN: "Renew a plate"}},
}

func (c catalog) Service(_ context.Context, slug string) (satisfaction.Service, error) {
	if s, ok := c[slug]; ok {
		return s, nil
	}
	return satisfaction.Service{}, platform.Errorf(platform.CodeNotFound, "service %q is not published", slug)
}

func (c catalog) List(_ context.Context, agency string) ([]satisfaction.Service, error) {
	var out []satisfaction.Service
	for _, id := range []string{"dog-licence", "plate-renewal"} {
		if agency == "" || c[id].AgencyID == agency {
			out = append(out, c[id])
		}
	}
	return out, nil
}

type fixture struct {
	survey *satisfaction.Survey
	db     *storage.DB
	log    *audit.Log
	clock  *platform.FakeClock
}

func newFixture(t *testing.T, db *storage.DB) fixture {
	t.Helper()
	clock := platform.NewFakeClock(start)
	log := audit.New(db, clock, nil)
	s, err := satisfaction.New(db, log, clock, events.NewBus(clock), services)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{survey: s, db: db, log: log, clock: clock}
}

// answered returns the data of every EventAnswered in the log.
func answered(t *testing.T, db *storage.DB) []map[string]any {
	t.Helper()
	ctx := context.Background()
	if _, err := events.Sequence(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	evs, err := events.Read(ctx, db, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if e.Type != satisfaction.EventAnswered {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if e.AgencyID != d["agency"] || e.Subject != "service:"+d["service"].(string) {
			t.Errorf("event %+v does not match its data %v", e, d)
		}
		out = append(out, d)
	}
	return out
}

func count(t *testing.T, db *storage.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	_, err := satisfaction.New(nil, nil, nil, nil, nil)
	for _, want := range []string{"database", "audit log", "clock", "event bus", "catalog"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(nil...) = %v, want it to name %q", err, want)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := satisfaction.Answer{Score: 4, CX: map[string]int{"trust": 5, "employees": 1}, Comment: "  Quick. Call me on 555-867-5309  ", Lang: "es"}
	for _, tt := range []struct {
		name string
		edit func(*satisfaction.Answer)
		want map[string]string // nil: valid
	}{
		{"valid", func(*satisfaction.Answer) {}, nil},
		{"only the score", func(a *satisfaction.Answer) { a.CX, a.Comment = nil, "" }, nil},
		{"no score", func(a *satisfaction.Answer) { a.Score = 0 }, map[string]string{"score": "satisfaction.error.score.required"}},
		{"score too high", func(a *satisfaction.Answer) { a.Score = 6 }, map[string]string{"score": "satisfaction.error.score.required"}},
		{"question out of range", func(a *satisfaction.Answer) { a.CX = map[string]int{"ease": 9} }, map[string]string{"ease": "satisfaction.error.question.invalid"}},
		{"comment too long", func(a *satisfaction.Answer) { a.Comment = strings.Repeat("é", satisfaction.MaxComment+1) }, map[string]string{"comment": "satisfaction.error.comment.toolong"}},
		{"comment at the limit", func(a *satisfaction.Answer) { a.Comment = strings.Repeat("é", satisfaction.MaxComment) }, nil},
		{"invalid UTF-8", func(a *satisfaction.Answer) { a.Comment = "bad \xff" }, map[string]string{"comment": "satisfaction.error.comment.invalid"}},
		{"NUL", func(a *satisfaction.Answer) { a.Comment = "a\x00b" }, map[string]string{"comment": "satisfaction.error.comment.invalid"}},
		{"everything wrong", func(a *satisfaction.Answer) { a.Score, a.CX, a.Comment = -1, map[string]int{"equity": 0}, "\xff" },
			map[string]string{"score": "satisfaction.error.score.required", "equity": "satisfaction.error.question.invalid", "comment": "satisfaction.error.comment.invalid"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ok
			tt.edit(&a)
			got, err := satisfaction.Check(a)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				if strings.Contains(got.Comment, "867") || strings.HasPrefix(got.Comment, " ") {
					t.Errorf("comment %q: not trimmed and redacted", got.Comment)
				}
				return
			}
			fe, isFE := satisfaction.IsFieldErrors(err)
			if !isFE || platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("Check = %v, want field errors", err)
			}
			if fmt.Sprint(map[string]string(fe)) != fmt.Sprint(tt.want) {
				t.Errorf("errors %v, want %v", fe, tt.want)
			}
		})
	}
	// A question the form does not have is dropped, not an error.
	got, err := satisfaction.Check(satisfaction.Answer{Score: 3, CX: map[string]int{"colour": 2, "ease": 2}})
	if err != nil || len(got.CX) != 1 || got.CX["ease"] != 2 || got.Lang != "en" {
		t.Errorf("Check = %+v, %v", got, err)
	}
}

func TestGiveStoresAndAnnouncesOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		token := uuid.NewString()
		a := satisfaction.Answer{Token: token, Service: "dog-licence", After: satisfaction.AfterSubmitted, Score: 5,
			CX: map[string]int{"ease": 4, "employees": 2}, Comment: "Write to ana@example.com", Lang: "es"}
		r, err := f.survey.Give(ctx, a, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if r.Agency != "adams-clerk" || r.Comment != "Write to [email]" || r.Lang != "es" || !r.CreatedAt.Equal(start) {
			t.Errorf("response %+v", r)
		}
		// The same form again (a double click), even concurrently: the
		// first answer stands.
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				again := a
				again.Score = 1
				got, err := f.survey.Give(ctx, again, "192.0.2.1")
				if err != nil || got.ID != r.ID || got.Score != 5 {
					t.Errorf("the same form again = %+v, %v; want the first answer", got, err)
				}
			}()
		}
		wg.Wait()
		if n := count(t, db, "satisfaction_responses"); n != 1 {
			t.Errorf("%d responses stored, want 1", n)
		}
		evs := answered(t, db)
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1: %v", len(evs), evs)
		}
		want := `map[after:submitted agency:adams-clerk ease:4 employees:2 score:5 service:dog-licence]`
		if got := fmt.Sprint(evs[0]); got != want {
			t.Errorf("event data %s, want %s", got, want)
		}

		// Every end point is announced; the banner's answers are kept
		// but not announced (they are not the end of a transaction).
		for _, after := range append(satisfaction.EndPoints, satisfaction.AfterBanner) {
			if _, err := f.survey.Give(ctx, satisfaction.Answer{Token: uuid.NewString(), Service: "plate-renewal", After: after, Score: 2}, "192.0.2.2"); err != nil {
				t.Fatalf("%q: %v", after, err)
			}
		}
		evs = answered(t, db)
		if len(evs) != 1+len(satisfaction.EndPoints) {
			t.Fatalf("%d events, want %d", len(evs), 1+len(satisfaction.EndPoints))
		}
		for i, after := range satisfaction.EndPoints {
			if d := evs[1+i]; d["after"] != after || d["agency"] != "dmv" || d["score"] != 2.0 || len(d) != 4 {
				t.Errorf("event %d = %v", i, d)
			}
		}
		// A form without a usable token still counts.
		for _, tok := range []string{"", "not-a-uuid"} {
			if _, err := f.survey.Give(ctx, satisfaction.Answer{Token: tok, Service: "plate-renewal", After: "paid", Score: 3}, "192.0.2.3"); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, db, "satisfaction_responses"); n != 2+len(satisfaction.EndPoints)+2 {
			t.Errorf("%d responses", n)
		}
	})
}

func TestGiveRefuses(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		for _, tt := range []struct {
			name string
			a    satisfaction.Answer
			want platform.Code
		}{
			{"unknown end point", satisfaction.Answer{Service: "dog-licence", After: "finished", Score: 5}, platform.CodeInvalid},
			{"unknown service", satisfaction.Answer{Service: "no-such-thing", After: "paid", Score: 5}, platform.CodeNotFound},
			{"no service", satisfaction.Answer{After: "paid", Score: 5}, platform.CodeNotFound},
			{"no score", satisfaction.Answer{Service: "dog-licence", After: "paid"}, platform.CodeInvalid},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.survey.Give(ctx, tt.a, "192.0.2.9"); platform.ErrorCode(err) != tt.want {
					t.Errorf("Give = %v, want %s", err, tt.want)
				}
			})
		}
		if n := count(t, db, "satisfaction_responses"); n != 0 {
			t.Errorf("%d responses stored from bad input", n)
		}
		if evs := answered(t, db); len(evs) != 0 {
			t.Errorf("events from bad input: %v", evs)
		}
	})
}

func TestGiveIsRateLimitedPerAddress(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		give := func(client string) error {
			_, err := f.survey.Give(ctx, satisfaction.Answer{Token: uuid.NewString(), Service: "dog-licence", After: "paid", Score: 4}, client)
			return err
		}
		for i := range satisfaction.Burst {
			if err := give("192.0.2.1"); err != nil {
				t.Fatalf("answer %d: %v", i+1, err)
			}
		}
		if err := give("192.0.2.1"); err != satisfaction.ErrThrottled {
			t.Fatalf("answer %d = %v, want throttled", satisfaction.Burst+1, err)
		}
		if err := give("192.0.2.2"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		f.clock.Advance(satisfaction.Window + time.Second)
		if err := give("192.0.2.1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		if n := len(answered(t, db)); n != satisfaction.Burst+2 {
			t.Errorf("%d events, want %d (none for the refused answer)", n, satisfaction.Burst+2)
		}
	})
}

func auditCount(t *testing.T, log *audit.Log, subject string) int {
	t.Helper()
	es, err := log.List(context.Background(), audit.Filter{Subject: subject, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == "satisfaction.comments" {
			n++
		}
	}
	return n
}

func TestCommentsNewestFirstInPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		n := satisfaction.PageSize*2 + 3
		for i := range n {
			f.clock.Advance(time.Minute)
			a := satisfaction.Answer{Token: uuid.NewString(), Service: "dog-licence", After: "decided", Score: 1 + i%5, Comment: fmt.Sprintf("comment %d", i)}
			if _, err := f.survey.Give(ctx, a, fmt.Sprintf("192.0.2.%d", i)); err != nil {
				t.Fatal(err)
			}
			// Answers without a comment, and other services' comments,
			// are not listed.
			if _, err := f.survey.Give(ctx, satisfaction.Answer{Token: uuid.NewString(), Service: "dog-licence", After: "paid", Score: 3}, "198.51.100.1"); err != nil && err != satisfaction.ErrThrottled {
				t.Fatal(err)
			}
		}
		if _, err := f.survey.Give(ctx, satisfaction.Answer{Service: "plate-renewal", After: "paid", Score: 3, Comment: "other agency"}, "198.51.100.2"); err != nil {
			t.Fatal(err)
		}
		clerk := platform.Actor{Kind: platform.ActorStaff, ID: "eli", Grants: []platform.Grant{{Agency: "adams-clerk", Role: "caseworker"}}}
		var seen []string
		p, err := f.survey.Comments(ctx, clerk, "dog-licence", satisfaction.Cursor{})
		for page := 0; ; page++ {
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Items {
				seen = append(seen, r.Comment)
			}
			if page == 0 && p.Newer != "" {
				t.Errorf("the newest page has a newer link")
			}
			if p.Older == "" {
				break
			}
			p, err = f.survey.Comments(ctx, clerk, "dog-licence", satisfaction.Cursor{Before: p.Older})
		}
		if len(seen) != n || seen[0] != fmt.Sprintf("comment %d", n-1) || seen[n-1] != "comment 0" {
			t.Fatalf("saw %d comments, first %q", len(seen), seen[:1])
		}
		// Back from the last page.
		back, err := f.survey.Comments(ctx, clerk, "dog-licence", satisfaction.Cursor{After: p.Items[0].ID})
		if err != nil || len(back.Items) != satisfaction.PageSize || back.Items[0].Comment != "comment 22" ||
			back.Items[satisfaction.PageSize-1].Comment != "comment 3" || back.Newer == "" || back.Older != back.Items[satisfaction.PageSize-1].ID {
			t.Errorf("the page before the last: %+v, %v", back, err)
		}
		if _, err := f.survey.Comments(ctx, clerk, "dog-licence", satisfaction.Cursor{Before: "nonsense"}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("a bad cursor = %v", err)
		}
		if got := auditCount(t, f.log, "service:dog-licence"); got != 4 {
			t.Errorf("%d audited reads, want 4", got)
		}
	})
}

func TestCommentsPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if _, err := f.survey.Give(ctx, satisfaction.Answer{Service: "plate-renewal", After: "paid", Score: 2, Comment: "slow"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name     string
			by       platform.Actor
			want     platform.Code // "" allowed
			services int           // how many services Services lists
		}{
			{"platform admin", platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}, "", 2},
			{"operator", platform.Actor{Kind: platform.ActorOperator, ID: "cli"}, "", 2},
			{"the agency's caseworker", platform.Actor{Kind: platform.ActorStaff, ID: "dan", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}, "", 1},
			{"the agency's finance staff", platform.Actor{Kind: platform.ActorStaff, ID: "fin", Grants: []platform.Grant{{Agency: "dmv", Role: "finance"}}}, "", 1},
			{"another agency's administrator", platform.Actor{Kind: platform.ActorStaff, ID: "eli", Grants: []platform.Grant{{Agency: "adams-clerk", Role: "agency_admin"}}}, platform.CodeForbidden, 1},
			{"staff of no agency", platform.Actor{Kind: platform.ActorStaff, ID: "new"}, platform.CodeForbidden, 0},
			{"citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}, platform.CodeForbidden, -1},
			{"admin flag without an id", platform.Actor{Kind: platform.ActorStaff, PlatformAdmin: true}, platform.CodeUnauthorized, -1},
			{"an app", platform.Actor{Kind: platform.ActorClient, ID: "app"}, platform.CodeUnauthorized, -1},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, platform.CodeUnauthorized, -1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := auditCount(t, f.log, "service:plate-renewal")
				p, err := f.survey.Comments(ctx, tt.by, "plate-renewal", satisfaction.Cursor{})
				if got := platform.ErrorCode(err); got != tt.want {
					t.Fatalf("Comments = %v (%s), want %q", err, got, tt.want)
				}
				want := 0
				if tt.want == "" {
					want = 1
					if len(p.Items) != 1 || p.Items[0].Comment != "slow" {
						t.Errorf("items %+v", p.Items)
					}
				}
				if got := auditCount(t, f.log, "service:plate-renewal") - before; got != want {
					t.Errorf("%d audit entries, want %d", got, want)
				}
				svcs, err := f.survey.Services(ctx, tt.by)
				switch {
				case tt.services < 0 && err == nil:
					t.Errorf("Services = %v, want refused", svcs)
				case tt.services >= 0 && (err != nil || len(svcs) != tt.services):
					t.Errorf("Services = %v, %v; want %d", svcs, err, tt.services)
				}
			})
		}
		if _, err := f.survey.Comments(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}, "no-such", satisfaction.Cursor{}); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("unknown service = %v", err)
		}
	})
}
