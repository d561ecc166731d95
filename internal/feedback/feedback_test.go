package feedback_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var start = time.Date(2026, 3, 27, 15, 4, 0, 0, time.UTC)

type fixture struct {
	svc   *feedback.Service
	log   *audit.Log
	clock *platform.FakeClock
}

func newFixture(t *testing.T, db *storage.DB) fixture {
	t.Helper()
	clock := platform.NewFakeClock(start)
	log := audit.New(db, clock, nil)
	svc, err := feedback.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, log: log, clock: clock}
}

var admin = platform.Actor{Kind: platform.ActorStaff, ID: "staff-admin", PlatformAdmin: true}

func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := feedback.New(nil, nil, nil); err == nil || !strings.Contains(err.Error(), "database") || !strings.Contains(err.Error(), "audit log") || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("New(nil...) = %v", err)
	}
}

func TestCheck(t *testing.T) {
	ok := feedback.Input{Doing: "Renewing my car", Comment: "The fee was not shown", Email: "ana@example.com", Page: "/services/x?token=secret#top", Lang: "es"}
	for _, tt := range []struct {
		name string
		edit func(*feedback.Input)
		want map[string]string // field → message key; nil: valid
	}{
		{"valid", func(*feedback.Input) {}, nil},
		{"only the comment", func(in *feedback.Input) { in.Doing, in.Email, in.Page = "", "", "" }, nil},
		{"comment missing", func(in *feedback.Input) { in.Comment = "   " }, map[string]string{"comment": "feedback.error.comment.required"}},
		{"comment too long", func(in *feedback.Input) { in.Comment = strings.Repeat("é", feedback.MaxComment+1) }, map[string]string{"comment": "feedback.error.comment.toolong"}},
		{"comment at the limit", func(in *feedback.Input) { in.Comment = strings.Repeat("é", feedback.MaxComment) }, nil},
		{"doing too long", func(in *feedback.Input) { in.Doing = strings.Repeat("a", feedback.MaxDoing+1) }, map[string]string{"doing": "feedback.error.doing.toolong"}},
		{"invalid UTF-8", func(in *feedback.Input) { in.Doing, in.Comment = "caf\xe9", "bad \xff" }, map[string]string{"doing": "feedback.error.doing.invalid", "comment": "feedback.error.comment.invalid"}},
		{"NUL", func(in *feedback.Input) { in.Comment = "a\x00b" }, map[string]string{"comment": "feedback.error.comment.invalid"}},
		{"bad email", func(in *feedback.Input) { in.Email = "ana at example" }, map[string]string{"email": "feedback.error.email.invalid"}},
		{"email with a name", func(in *feedback.Input) { in.Email = "Ana <ana@example.com>" }, map[string]string{"email": "feedback.error.email.invalid"}},
		{"email without a domain dot", func(in *feedback.Input) { in.Email = "ana@localhost" }, map[string]string{"email": "feedback.error.email.invalid"}},
		{"everything wrong", func(in *feedback.Input) { in.Comment, in.Email = "", "x" }, map[string]string{"comment": "feedback.error.comment.required", "email": "feedback.error.email.invalid"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.edit(&in)
			got, err := feedback.Check(in)
			fe, isFE := feedback.IsFieldErrors(err)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				if in.Page != "" && got.Page != "/services/x" {
					t.Errorf("page %q: the query and fragment must go", got.Page)
				}
				return
			}
			if !isFE || platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("Check = %v, want field errors", err)
			}
			if fmt.Sprint(map[string]string(fe)) != fmt.Sprint(tt.want) {
				t.Errorf("errors %v, want %v", fe, tt.want)
			}
		})
	}
}

func TestSafePage(t *testing.T) {
	for in, want := range map[string]string{
		"/services/dog-license":        "/services/dog-license",
		"/account?token=abc":           "/account",
		"/a#b":                         "/a",
		"":                             "",
		"services":                     "",
		"//evil.example/x":             "",
		"https://evil.example/":        "",
		"/\\evil":                      "",
		"/a\nb":                        "",
		"/" + strings.Repeat("a", 600): "",
	} {
		if got := feedback.SafePage(in); got != want {
			t.Errorf("SafePage(%q) = %q, want %q", in, got, want)
		}
	}
}

func count(t *testing.T, log *audit.Log, action string) int {
	t.Helper()
	es, err := log.List(context.Background(), audit.Filter{Subject: "feedback", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}

func TestGiveAndListNewestFirstInPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const n = feedback.PageSize*2 + 5
		var ids []string
		for i := range n {
			fb, err := f.svc.Give(ctx, feedback.Input{Comment: fmt.Sprintf("comment %d", i), Doing: "doing", Email: "", Page: "/services", Lang: "en"}, fmt.Sprintf("192.0.2.%d", i%200))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, fb.ID)
			if i%3 != 0 { // some share a time: the id breaks the tie
				f.clock.Advance(time.Minute)
			}
		}
		// Newest first, three pages, then back.
		var seen []string
		c := feedback.Cursor{}
		var pages []feedback.Page
		for {
			p, err := f.svc.List(ctx, admin, c)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, p)
			for _, it := range p.Items {
				seen = append(seen, it.ID)
			}
			if p.Older == "" {
				break
			}
			c = feedback.Cursor{Before: p.Older}
		}
		if len(pages) != 3 || len(pages[0].Items) != feedback.PageSize || len(pages[2].Items) != 5 {
			t.Fatalf("pages of %d, %d, ... (%d pages)", len(pages[0].Items), len(pages[1].Items), len(pages))
		}
		if len(seen) != n {
			t.Fatalf("saw %d of %d", len(seen), n)
		}
		for i := range seen {
			if seen[i] != ids[n-1-i] {
				t.Fatalf("item %d is %s, want %s (newest first)", i, seen[i], ids[n-1-i])
			}
		}
		if pages[0].Newer != "" || pages[1].Newer == "" || pages[2].Newer == "" {
			t.Errorf("newer cursors: %q %q %q", pages[0].Newer, pages[1].Newer, pages[2].Newer)
		}
		// Going back from the last page gives the middle page again.
		back, err := f.svc.List(ctx, admin, feedback.Cursor{After: pages[2].Newer})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(back.Items) != fmt.Sprint(pages[1].Items) || back.Older != pages[1].Older || back.Newer != pages[1].Newer {
			t.Errorf("back from page 3 is not page 2: %d items, older %q newer %q", len(back.Items), back.Older, back.Newer)
		}
		first := pages[0].Items[0]
		if first.Comment != fmt.Sprintf("comment %d", n-1) || first.Page != "/services" || first.Lang != "en" || first.CreatedAt.IsZero() {
			t.Errorf("stored %+v", first)
		}
		// Every list was audited in the administrator's name.
		if got := count(t, f.log, "feedback.list"); got != 4 {
			t.Errorf("%d audit entries for 4 lists", got)
		}
		// A cursor that is not an id is the reader's mistake.
		if _, err := f.svc.List(ctx, admin, feedback.Cursor{Before: "'; DROP TABLE feedback"}); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// TestPolicy: anyone may give feedback; only platform administrators and
// the operator may read it, and every allowed read is audited in the
// reader's name; a refused one writes nothing.
func TestPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if _, err := f.svc.Give(ctx, feedback.Input{Comment: "hello", Email: "ana@example.com"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			by   platform.Actor
			want platform.Code // "" allowed
		}{
			{"platform admin", admin, ""},
			{"operator", platform.Actor{Kind: platform.ActorOperator, ID: "cli"}, ""},
			{"citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}, platform.CodeForbidden},
			{"caseworker", platform.Actor{Kind: platform.ActorStaff, ID: "eli", Grants: []platform.Grant{{Agency: "adams-clerk", Role: "caseworker"}}}, platform.CodeForbidden},
			{"agency administrator", platform.Actor{Kind: platform.ActorStaff, ID: "dana", Grants: []platform.Grant{{Agency: "dmv", Role: "agency_admin"}}}, platform.CodeForbidden},
			{"admin flag without an id", platform.Actor{Kind: platform.ActorStaff, PlatformAdmin: true}, platform.CodeUnauthorized},
			{"app acting for an admin", platform.Actor{Kind: platform.ActorClient, ID: "app"}, platform.CodeForbidden},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, platform.CodeUnauthorized},
			{"system", platform.Actor{Kind: platform.ActorSystem}, platform.CodeUnauthorized},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := count(t, f.log, "feedback.list")
				p, err := f.svc.List(ctx, tt.by, feedback.Cursor{})
				if got := platform.ErrorCode(err); got != tt.want {
					t.Fatalf("List = %v (%s), want %q", err, got, tt.want)
				}
				wantEntries := 0
				if tt.want == "" {
					wantEntries = 1
					if len(p.Items) != 1 || p.Items[0].Email != "ana@example.com" {
						t.Errorf("items %+v", p.Items)
					}
				}
				if got := count(t, f.log, "feedback.list") - before; got != wantEntries {
					t.Errorf("%d audit entries, want %d", got, wantEntries)
				}
				if wantEntries == 1 {
					es, _ := f.log.List(ctx, audit.Filter{Subject: "feedback", Limit: 1000})
					if last := es[len(es)-1]; last.Actor != tt.by.String() {
						t.Errorf("audited as %q, want %q", last.Actor, tt.by.String())
					}
				}
			})
		}
	})
}

func TestGiveIsRateLimitedPerAddress(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		give := func(ip string) error {
			_, err := f.svc.Give(ctx, feedback.Input{Comment: "again"}, ip)
			return err
		}
		for i := range feedback.Burst {
			if err := give("192.0.2.9"); err != nil {
				t.Fatalf("feedback %d: %v", i+1, err)
			}
		}
		if err := give("192.0.2.9"); platform.ErrorCode(err) != platform.CodeRateLimited {
			t.Fatalf("feedback %d: %v, want rate_limited", feedback.Burst+1, err)
		}
		if err := give("192.0.2.10"); err != nil {
			t.Fatalf("another address is not limited: %v", err)
		}
		// Invalid input does not count and is refused before the limit.
		if _, err := f.svc.Give(ctx, feedback.Input{}, "192.0.2.9"); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("empty feedback while throttled: %v", err)
		}
		f.clock.Advance(feedback.Window)
		if err := give("192.0.2.9"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		p, err := f.svc.List(ctx, admin, feedback.Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != feedback.Burst+2 || p.Older != "" {
			t.Fatalf("stored: %d on the first page", len(p.Items))
		}
	})
}
