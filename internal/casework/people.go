package casework

import (
	"context"
	"slices"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// People names the people on a case: the applicant's identity and contact
// details from their account's profile, and the agency's staff (the
// identity block, adapted in internal/app; casework does not import it).
// Neither method checks who asks: ViewApplicant and NameActors decide and
// audit.
type People interface {
	Applicant(ctx context.Context, accountID string) (Applicant, error)
	AgencyStaff(ctx context.Context, agencyID string) ([]StaffMember, error)
}

// Applicant is who applied, as their account's profile says now.
type Applicant struct {
	AccountID   string
	Name        string
	Email       string
	Phone       string
	DateOfBirth string // YYYY-MM-DD, "" when not given
	Lang        string
	Residential Address
	Mailing     Address // zero: the same as the residential address
}

// Address is a postal address of an applicant.
type Address struct {
	Line1, Line2, City, State, ZIP string
}

// IsZero reports whether no part of the address is set.
func (a Address) IsZero() bool { return a == Address{} }

// Lines returns the address as the lines of an envelope.
func (a Address) Lines() []string {
	var out []string
	for _, l := range []string{a.Line1, a.Line2} {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	last := strings.TrimSpace(a.City)
	if st := strings.TrimSpace(strings.TrimSpace(a.State) + " " + strings.TrimSpace(a.ZIP)); st != "" {
		if last != "" {
			last += ", "
		}
		last += st
	}
	if last != "" {
		out = append(out, last)
	}
	return out
}

// StaffMember is a member of an agency's staff with their roles there.
type StaffMember struct {
	AccountID string
	Name      string
	Roles     []string
}

// ViewApplicant returns the identity and contact details of the person
// who applied for case caseID, for staff holding a role in the case's
// agency (auditors included: they read). Everyone else is refused: the
// applicant (who has their own profile) is forbidden, anyone who may not
// see the case is told it does not exist. Each call writes one audit
// entry (case.applicant.read) in actor's name about the applicant's
// account before anything is returned.
func (s *Service) ViewApplicant(ctx context.Context, actor platform.Actor, caseID string) (Applicant, error) {
	c, err := s.Case(ctx, caseID)
	if err != nil {
		return Applicant{}, err
	}
	if err := mayReadApplicant(actor, c); err != nil {
		return Applicant{}, err
	}
	if s.deps.People == nil {
		return Applicant{}, platform.Errorf(platform.CodeUnavailable, "applicant details are not available")
	}
	a, err := s.deps.People.Applicant(ctx, c.AccountID)
	if err != nil {
		return Applicant{}, err
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.applicant.read", Subject: "account:" + c.AccountID,
		AgencyID: c.AgencyID, Person: c.AccountID, Detail: map[string]any{"case": c.ID, "reference": c.Reference}}); err != nil {
		return Applicant{}, err
	}
	return a, nil
}

// mayReadApplicant: staff of c's agency (any role) read who applied; the
// applicant is forbidden (their details are on their profile, not here);
// anyone else is told the case does not exist.
func mayReadApplicant(actor platform.Actor, c Case) error {
	switch {
	case actor.Kind == platform.ActorStaff && actor.HasRole(c.AgencyID):
		return nil
	case maySee(actor, c):
		return platform.Errorf(platform.CodeForbidden, "applicant details are for the agency's staff")
	}
	return notFound()
}

// Who made a timeline entry.
const (
	ByApplicant = "applicant" // the citizen who applied
	ByStaff     = "staff"     // a member of the agency's staff
	BySystem    = "system"    // an automatic workflow step (a system transition, the SLA sweep, an on_enter action)
	ByPlatform  = "platform"  // a notice the platform sent on the workflow's behalf
)

// Who is the actor of a timeline entry, for people to read.
type Who struct {
	Kind  string   `json:"kind"`            // ByApplicant, ByStaff, BySystem or ByPlatform
	ID    string   `json:"id,omitempty"`    // the account of the applicant or staff member
	Name  string   `json:"name,omitempty"`  // their name, "" when not known
	Roles []string `json:"roles,omitempty"` // a staff member's roles in the case's agency
}

// automaticActions are on_enter actions the workflow runs by itself,
// whoever's step entered the state; notices are those that tell someone.
var (
	noticeActions    = []string{"notify", "notify_staff"}
	automaticActions = []string{"request_payment", "issue_document", "set_reminder", "call_plugin", "plugin_decision"}
)

// WhoOf works out who made entry e of case c, without names: the
// workflow's own steps (its on_enter actions run in the transaction of
// the step that entered the state, and were written in that person's
// name) are the system's, its notices the platform's.
func WhoOf(c Case, e Entry) Who {
	if a := e.Action(); slices.Contains(noticeActions, a) {
		return Who{Kind: ByPlatform}
	} else if slices.Contains(automaticActions, a) {
		return Who{Kind: BySystem}
	}
	kind, id, _ := strings.Cut(e.Actor, ":")
	switch platform.ActorKind(kind) {
	case platform.ActorCitizen:
		if id == c.AccountID {
			return Who{Kind: ByApplicant, ID: id}
		}
	case platform.ActorStaff:
		return Who{Kind: ByStaff, ID: id}
	}
	return Who{Kind: BySystem}
}

// NameActors sets By on each of entries of case c: the applicant by
// applicant.Name (give the zero Applicant where the viewer may not be
// told it; ViewApplicant audits reading it), each staff member by their
// name and roles in c's agency, the system and the platform by kind.
func (s *Service) NameActors(ctx context.Context, c Case, entries []Entry, applicant Applicant) error {
	staff, err := s.staffOf(ctx, c.AgencyID)
	if err != nil {
		return err
	}
	nameWith(staff, c, entries, applicant)
	return nil
}

// nameWith is NameActors with the agency's staff already read.
func nameWith(staff map[string]StaffMember, c Case, entries []Entry, applicant Applicant) {
	for i := range entries {
		w := WhoOf(c, entries[i])
		switch w.Kind {
		case ByApplicant:
			w.Name = applicant.Name
		case ByStaff:
			if m, ok := staff[w.ID]; ok {
				w.Name, w.Roles = m.Name, m.Roles
			}
		}
		entries[i].By = w
	}
}

// staffOf maps the account ids of agency's staff to them (empty when no
// People were given).
func (s *Service) staffOf(ctx context.Context, agency string) (map[string]StaffMember, error) {
	out := map[string]StaffMember{}
	if s.deps.People == nil {
		return out, nil
	}
	ms, err := s.deps.People.AgencyStaff(ctx, agency)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		out[m.AccountID] = m
	}
	return out, nil
}
