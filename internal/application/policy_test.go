package application_test

import (
	"io"
	"testing"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// principal is one kind of actor in the policy table.
type principal struct {
	name string
	by   platform.Actor
	// agencyStaff: holds a role in the application's agency, so may read
	// it once submitted (but never change it).
	agencyStaff bool
}

// principals lists, for an application of agency, its applicant, another
// citizen, staff of the agency in each role, staff of another agency, a
// platform administrator without a role in the agency, and someone not
// signed in.
func principals(agency string) []principal {
	ps := []principal{
		{name: "applicant", by: citizen(ana.AccountID)},
		{name: "other citizen", by: citizen("acct-beto")},
	}
	for _, role := range identity.Roles {
		ps = append(ps, principal{name: "agency " + string(role), agencyStaff: true,
			by: platform.Actor{Kind: platform.ActorStaff, ID: "staff-" + string(role), Grants: []platform.Grant{{Agency: agency, Role: string(role)}}}})
	}
	return append(ps,
		principal{name: "other agency", by: platform.Actor{Kind: platform.ActorStaff, ID: "staff-other",
			Grants: []platform.Grant{{Agency: "another-agency", Role: string(identity.AgencyAdmin)}}}},
		principal{name: "platform admin", by: platform.Actor{Kind: platform.ActorStaff, ID: "staff-admin", PlatformAdmin: true}},
		principal{name: "anonymous", by: platform.Actor{Kind: platform.ActorAnonymous}},
	)
}

// outcome is what the block answers: allowed (nil error) or an error code.
func outcome(err error) string {
	if err == nil {
		return "allowed"
	}
	return string(platform.ErrorCode(err))
}

// TestReadPolicy checks, for every protected read and every kind of
// principal, against a draft and a submitted application, that the block
// allows exactly what its policy says, answers not-found (never
// forbidden) to those who may not know the application exists, and that
// an allowed read wrote one audit entry in the reader's name while a
// refused one wrote none.
func TestReadPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		filled := fillMarriage(t, e)
		files, err := e.svc.Attachments(e.ctx, filled.ID)
		if err != nil || len(files) != 1 {
			t.Fatalf("attachments: %v %v", files, err)
		}
		var fileID string
		for id := range files {
			fileID = id
		}
		submitted, err := e.svc.Submit(e.ctx, ana, filled.ID, filled.Revision)
		if err != nil {
			t.Fatal(err)
		}
		draft, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence")
		if err != nil {
			t.Fatal(err)
		}
		log := audit.New(db, e.clock, nil)

		reads := []struct {
			name   string
			action string
			read   func(by platform.Actor, appID string) error
		}{
			{"Open", "application.read", func(by platform.Actor, appID string) error {
				_, _, err := e.svc.Open(e.ctx, by, appID)
				return err
			}},
			{"Download", "application.file.read", func(by platform.Actor, appID string) error {
				// The fresh draft has no file: asking it for the submitted
				// application's file is not found even for its applicant.
				_, rc, err := e.svc.Download(e.ctx, by, appID, fileID)
				if err == nil {
					_, _ = io.Copy(io.Discard, rc)
					rc.Close()
				}
				return err
			}},
		}
		for _, rd := range reads {
			for _, app := range []*application.Application{draft, submitted} {
				for _, p := range principals(submitted.AgencyID) {
					want := "not_found"
					switch {
					case p.by.Kind == platform.ActorAnonymous:
						want = "unauthorized"
					case p.name == "applicant":
						want = "allowed"
					case p.agencyStaff && app.Status != application.StatusDraft:
						want = "allowed"
					}
					if rd.name == "Download" && app.ID == draft.ID && want == "allowed" {
						want = "not_found" // the file belongs to the other application
					}
					t.Run(rd.name+"/"+app.Status+"/"+p.name, func(t *testing.T) {
						before := auditCount(t, e, log, app.ID, rd.action)
						if got := outcome(rd.read(p.by, app.ID)); got != want {
							t.Fatalf("%s by %s of a %s application = %s, want %s", rd.name, p.name, app.Status, got, want)
						}
						after := auditCount(t, e, log, app.ID, rd.action)
						wantEntries := 0
						if want == "allowed" {
							wantEntries = 1
						}
						if len(after)-len(before) != wantEntries {
							t.Fatalf("%d audit entries written, want %d", len(after)-len(before), wantEntries)
						}
						if wantEntries == 1 && after[len(after)-1].Actor != p.by.String() {
							t.Fatalf("audited as %q, want %q", after[len(after)-1].Actor, p.by.String())
						}
					})
				}
			}
		}
		// An id of the wrong shape is not found before any query.
		if _, _, err := e.svc.Open(e.ctx, citizen(ana.AccountID), "\xff"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("malformed id: %v", err)
		}
	})
}

// TestWithdrawPolicy checks who may withdraw: only the applicant, and
// only a draft. Staff who may read a submitted application are forbidden
// to withdraw it; everyone else is told it is not found.
func TestWithdrawPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		filled := fillMarriage(t, e)
		submitted, err := e.svc.Submit(e.ctx, ana, filled.ID, filled.Revision)
		if err != nil {
			t.Fatal(err)
		}
		for _, status := range []string{application.StatusDraft, application.StatusSubmitted} {
			for _, p := range principals(submitted.AgencyID) {
				t.Run(status+"/"+p.name, func(t *testing.T) {
					appID := submitted.ID
					if status == application.StatusDraft {
						d, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence")
						if err != nil {
							t.Fatal(err)
						}
						appID = d.ID
					}
					want := "not_found"
					switch {
					case p.by.Kind == platform.ActorAnonymous:
						want = "unauthorized"
					case p.name == "applicant" && status == application.StatusDraft:
						want = "allowed"
					case p.name == "applicant":
						want = "conflict" // ErrSubmitted: withdrawn through its case
					case p.agencyStaff && status != application.StatusDraft:
						want = "forbidden"
					}
					if got := outcome(e.svc.Withdraw(e.ctx, p.by, appID)); got != want {
						t.Fatalf("Withdraw by %s of a %s application = %s, want %s", p.name, status, got, want)
					}
					cur, _, err := e.svc.Open(e.ctx, citizen(ana.AccountID), appID)
					if err != nil {
						t.Fatal(err)
					}
					if (cur.Status == application.StatusWithdrawn) != (want == "allowed") {
						t.Fatalf("after Withdraw by %s the application is %s", p.name, cur.Status)
					}
				})
			}
		}
	})
}

// auditCount lists the audit entries of action about application appID.
func auditCount(t *testing.T, e *env, log *audit.Log, appID, action string) []audit.Entry {
	t.Helper()
	all, err := log.List(e.ctx, audit.Filter{Subject: "application:" + appID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for _, en := range all {
		if en.Action == action {
			out = append(out, en)
		}
	}
	return out
}

// TestDashboardPolicy: the dashboard lists only the signed-in person's own
// applications and each listing is audited; nobody signed in gets none.
func TestDashboardPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		if _, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence"); err != nil {
			t.Fatal(err)
		}
		count := func() (n int) {
			if err := db.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action = 'application.list'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		tests := []struct {
			name   string
			by     platform.Actor
			drafts int
			code   platform.Code
			audit  int
		}{
			{"owner", platform.Actor{Kind: platform.ActorCitizen, ID: ana.AccountID}, 1, "", 1},
			{"other citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}, 0, "", 1},
			{"anonymous", platform.Actor{}, 0, platform.CodeUnauthorized, 0},
			{"client without a person", platform.Actor{Kind: platform.ActorClient, ID: "app"}, 0, platform.CodeUnauthorized, 0},
		}
		for _, tt := range tests {
			before := count()
			drafts, _, err := e.svc.Dashboard(e.ctx, tt.by)
			if platform.ErrorCode(err) != tt.code {
				t.Errorf("%s: err %v, want code %q", tt.name, err, tt.code)
			}
			if len(drafts) != tt.drafts {
				t.Errorf("%s: %d drafts, want %d", tt.name, len(drafts), tt.drafts)
			}
			if got := count() - before; got != tt.audit {
				t.Errorf("%s: %d application.list entries, want %d", tt.name, got, tt.audit)
			}
		}
	})
}
