package casework_test

import (
	"fmt"
	"testing"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// principals are the parties the read policy distinguishes, for a case of
// account acct-1 in agency agency.
func principals(agency string) map[string]platform.Actor {
	staff := func(ag, role string) platform.Actor {
		return platform.Actor{Kind: platform.ActorStaff, ID: "staff-" + ag + "-" + role, Grants: []platform.Grant{{Agency: ag, Role: role}}}
	}
	return map[string]platform.Actor{
		"owner citizen":           {Kind: platform.ActorCitizen, ID: "acct-1"},
		"other citizen":           {Kind: platform.ActorCitizen, ID: "acct-2"},
		"agency_admin":            staff(agency, "agency_admin"),
		"caseworker":              staff(agency, "caseworker"),
		"finance":                 staff(agency, "finance"),
		"auditor":                 staff(agency, "auditor"),
		"staff of another agency": staff("elsewhere", "caseworker"),
		"platform admin":          {Kind: platform.ActorStaff, ID: "admin-1", PlatformAdmin: true},
		"anonymous":               {Kind: platform.ActorAnonymous},
		"citizen without id":      {Kind: platform.ActorCitizen},
	}
}

// TestReadPolicy walks each protected read × principal: allowed, or the
// case is not found (so ids do not leak); an allowed view writes exactly
// one audit entry naming the principal, a refused one none.
func TestReadPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		c := e.open("p1", "springfield-pothole", potholeAnswers)
		mayRead := map[string]bool{"owner citizen": true, "agency_admin": true, "caseworker": true, "finance": true, "auditor": true}
		applicantOnly := map[string]bool{"owner citizen": true}
		mayDownload := map[string]bool{"agency_admin": true, "caseworker": true, "finance": true, "auditor": true}
		type read struct {
			action string // the audit action an allowed read writes ("" none)
			allow  map[string]bool
			do     func(a platform.Actor) error
		}
		reads := map[string]read{
			"CaseFor": {"", mayRead, func(a platform.Actor) error { _, err := e.cw.CaseFor(e.ctx, a, c.ID); return err }},
			"ViewCase": {"case.read", mayRead, func(a platform.Actor) error {
				got, err := e.cw.ViewCase(e.ctx, a, c.ID)
				if err == nil && got.ID != c.ID {
					t.Errorf("ViewCase returned case %s, want %s", got.ID, c.ID)
				}
				return err
			}},
			"ApplicantCase": {"", applicantOnly, func(a platform.Actor) error { _, err := e.cw.ApplicantCase(e.ctx, a, c.ID); return err }},
			"ViewApplicantCase": {"case.read", applicantOnly, func(a platform.Actor) error {
				_, err := e.cw.ViewApplicantCase(e.ctx, a, c.ID)
				return err
			}},
			"ViewFile": {"case.file.read", mayDownload, func(a platform.Actor) error { return e.cw.ViewFile(e.ctx, a, c, "file-1", "photo.jpg") }},
		}
		for method, rd := range reads {
			for name, actor := range principals(c.AgencyID) {
				t.Run(method+"/"+name, func(t *testing.T) {
					before := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1`, actor.String())
					err := rd.do(actor)
					after := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1`, actor.String())
					if rd.allow[name] {
						if err != nil {
							t.Fatalf("allowed read refused: %v", err)
						}
						want := 0
						if rd.action != "" {
							want = 1
							if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1 AND action = $2 AND subject = $3`, actor.String(), rd.action, "case:"+c.ID); n < 1 {
								t.Errorf("no %s entry for %s", rd.action, actor)
							}
						}
						if after-before != want {
							t.Errorf("allowed read wrote %d audit entries, want %d", after-before, want)
						}
						return
					}
					if platform.ErrorCode(err) != platform.CodeNotFound {
						t.Fatalf("got %v, want not found", err)
					}
					if after != before {
						t.Errorf("refused read wrote %d audit entries", after-before)
					}
				})
			}
		}
		// A case that does not exist is not found for everyone, as one
		// the principal may not see.
		if _, err := e.cw.ViewCase(e.ctx, principals(c.AgencyID)["caseworker"], "no-such-case"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("missing case: %v", err)
		}
	})
}

// TestQueuePolicy: staff list only their agencies' cases, naming another
// agency is invalid, anyone but staff is forbidden, and each listing is
// audited once.
func TestQueuePolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		c := e.open("p1", "springfield-pothole", potholeAnswers)
		ps := principals(c.AgencyID)
		tests := []struct {
			name     string
			actor    platform.Actor
			agencies []string
			code     platform.Code // "" allowed
			cases    int
		}{
			{"caseworker", ps["caseworker"], nil, "", 1},
			{"auditor", ps["auditor"], nil, "", 1},
			{"finance, own agency named", ps["finance"], []string{c.AgencyID}, "", 1},
			{"caseworker names another agency", ps["caseworker"], []string{"elsewhere"}, platform.CodeInvalid, 0},
			{"staff of another agency", ps["staff of another agency"], nil, "", 0},
			{"staff of another agency names this one", ps["staff of another agency"], []string{c.AgencyID}, platform.CodeInvalid, 0},
			{"platform admin without a role", ps["platform admin"], nil, "", 0},
			{"owner citizen", ps["owner citizen"], nil, platform.CodeForbidden, 0},
			{"anonymous", ps["anonymous"], nil, platform.CodeForbidden, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1 AND action = 'case.queue.read'`, tt.actor.String())
				page, err := e.cw.QueueFor(e.ctx, tt.actor, casework.QueueFilter{Agencies: tt.agencies})
				after := e.count(`SELECT COUNT(*) FROM audit_entries WHERE actor = $1 AND action = 'case.queue.read'`, tt.actor.String())
				if tt.code != "" {
					if platform.ErrorCode(err) != tt.code {
						t.Fatalf("got %v, want %s", err, tt.code)
					}
					if after != before {
						t.Errorf("refused listing audited")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Cases) != tt.cases {
					t.Errorf("%d cases, want %d", len(page.Cases), tt.cases)
				}
				if after-before != 1 {
					t.Errorf("listing wrote %d queue audit entries, want 1", after-before)
				}
			})
		}
	})
}

// TestChangePolicy walks taking a transition, recording a payment,
// staff work (a note) and the applicant's answer × principal: the block works out the principal's workflow roles itself,
// so only staff of the case's agency holding a role the step names may
// take it; auditors are forbidden; anyone who may not see the case gets
// not found. Every allowed change is audited once.
func TestChangePolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		tests := []struct {
			method string
			want   map[string]platform.Code // principal → code; "ok" allowed
		}{
			// springfield-pothole: "schedule" is the caseworker's.
			{"Take", map[string]platform.Code{
				"owner citizen": platform.CodeConflict, "other citizen": platform.CodeNotFound,
				"agency_admin": platform.CodeConflict, "caseworker": "ok", "finance": platform.CodeConflict,
				"auditor": platform.CodeForbidden, "staff of another agency": platform.CodeNotFound,
				"platform admin": platform.CodeNotFound, "anonymous": platform.CodeNotFound, "citizen without id": platform.CodeNotFound,
			}},
			{"RecordPayment", map[string]platform.Code{
				"owner citizen": platform.CodeNotFound, "other citizen": platform.CodeNotFound,
				"agency_admin": "ok", "caseworker": platform.CodeForbidden, "finance": "ok",
				"auditor": platform.CodeForbidden, "staff of another agency": platform.CodeNotFound,
				"platform admin": platform.CodeNotFound, "anonymous": platform.CodeNotFound, "citizen without id": platform.CodeNotFound,
			}},
			// Assign, Note, Message and RequestInfo share one policy.
			{"Note", map[string]platform.Code{
				"owner citizen": platform.CodeNotFound, "other citizen": platform.CodeNotFound,
				"agency_admin": "ok", "caseworker": "ok", "finance": "ok",
				"auditor": platform.CodeForbidden, "staff of another agency": platform.CodeNotFound,
				"platform admin": platform.CodeNotFound, "anonymous": platform.CodeNotFound, "citizen without id": platform.CodeNotFound,
			}},
			{"Respond", map[string]platform.Code{
				"owner citizen": "ok", "other citizen": platform.CodeNotFound,
				"agency_admin": platform.CodeNotFound, "caseworker": platform.CodeNotFound, "finance": platform.CodeNotFound,
				"auditor": platform.CodeNotFound, "staff of another agency": platform.CodeNotFound,
				"platform admin": platform.CodeNotFound, "anonymous": platform.CodeNotFound, "citizen without id": platform.CodeNotFound,
			}},
		}
		n := 0
		for _, tt := range tests {
			for name, code := range tt.want {
				n++
				t.Run(tt.method+"/"+name, func(t *testing.T) {
					var c casework.Case
					var err error
					action := "case.transition"
					switch tt.method {
					case "Take":
						c = e.open(fmt.Sprintf("p%d", n), "springfield-pothole", potholeAnswers)
						_, err = e.cw.Take(e.ctx, principals(c.AgencyID)[name], c.ID, "schedule")
					case "RecordPayment":
						c = e.open(fmt.Sprintf("f%d", n), "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}})
						action = "case.payment.record"
						_, err = e.cw.RecordPayment(e.ctx, principals(c.AgencyID)[name], c.ID, c.Fee.Amount, "R-1")
					case "Note":
						c = e.open(fmt.Sprintf("n%d", n), "springfield-pothole", potholeAnswers)
						action = "case.note"
						_, err = e.cw.Note(e.ctx, principals(c.AgencyID)[name], c.ID, "a note")
					case "Respond":
						c = e.open(fmt.Sprintf("r%d", n), "springfield-pothole", potholeAnswers)
						if _, err := e.cw.RequestInfo(e.ctx, principals(c.AgencyID)["caseworker"], c.ID, "Which side?"); err != nil {
							t.Fatal(err)
						}
						action = "case.respond"
						_, err = e.cw.Respond(e.ctx, principals(c.AgencyID)[name], c.ID, "North")
					}
					audited := e.count(`SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action = $2 AND actor = $3`,
						"case:"+c.ID, action, principals(c.AgencyID)[name].String())
					if code == "ok" {
						if err != nil {
							t.Fatalf("allowed change refused: %v", err)
						}
						if audited != 1 {
							t.Errorf("%s audited %d times for the principal, want 1", action, audited)
						}
						return
					}
					if got := platform.ErrorCode(err); got != code {
						t.Fatalf("got %v (%s), want %s", err, got, code)
					}
					if audited != 0 {
						t.Errorf("refused change audited")
					}
				})
			}
		}
	})
}

// TestApplicantCasesPolicy: a signed-in person lists only the cases they
// applied for, each listing audited once; nobody signed in lists nothing.
func TestApplicantCasesPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		c := e.open("p1", "springfield-pothole", potholeAnswers)
		tests := []struct {
			name  string
			want  int
			code  platform.Code
			audit int
		}{
			{"owner citizen", 1, "", 1},
			{"other citizen", 0, "", 1},
			{"caseworker", 0, "", 1},
			{"anonymous", 0, platform.CodeUnauthorized, 0},
			{"citizen without id", 0, platform.CodeUnauthorized, 0},
		}
		for _, tt := range tests {
			actor := principals(c.AgencyID)[tt.name]
			before := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.list'`)
			got, err := e.cw.ApplicantCases(e.ctx, actor)
			after := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.list'`)
			if platform.ErrorCode(err) != tt.code || (tt.code == "" && err != nil) {
				t.Errorf("%s: err %v, want code %q", tt.name, err, tt.code)
			}
			if len(got) != tt.want || (tt.want == 1 && got[0].ID != c.ID) {
				t.Errorf("%s: %d cases, want %d", tt.name, len(got), tt.want)
			}
			if after-before != tt.audit {
				t.Errorf("%s: %d case.list entries, want %d", tt.name, after-before, tt.audit)
			}
		}
	})
}
