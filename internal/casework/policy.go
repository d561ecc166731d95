package casework

import (
	"context"
	"slices"
	"strconv"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// The block's read policy. Who may see a case:
//   - the citizen who applied (platform.Actor.IsCitizen of the case's
//     account);
//   - staff holding any role in the case's agency (auditors included:
//     they read, they do not change).
//
// Everyone else (another citizen, staff of another agency, a platform
// administrator without a role in the agency, as before, a client or an
// anonymous visitor) is told the case does not exist, so case ids do not
// leak. The edges (caseweb, the API) only map the errors.

// notFound is the one answer for a case the actor may not see.
func notFound() error { return platform.Errorf(platform.CodeNotFound, "no such case") }

// maySee reports whether actor may see c under the read policy.
func maySee(actor platform.Actor, c Case) bool {
	return actor.IsCitizen(c.AccountID) || actor.HasRole(c.AgencyID)
}

// isApplicant is the policy of the citizen's own pages: only the
// applicant, whoever else may see the case elsewhere.
func isApplicant(actor platform.Actor, c Case) bool { return actor.IsCitizen(c.AccountID) }

// CaseFor returns case id when actor may see it, without auditing: for
// changes, which audit themselves, and for decisions that show nothing of
// the case. Anything shown to a person goes through ViewCase.
func (s *Service) CaseFor(ctx context.Context, actor platform.Actor, id string) (Case, error) {
	return s.caseIf(ctx, actor, id, maySee)
}

// ApplicantCase is CaseFor for the citizen's own pages and API: only the
// applicant may see the case there (staff use the console).
func (s *Service) ApplicantCase(ctx context.Context, actor platform.Actor, id string) (Case, error) {
	return s.caseIf(ctx, actor, id, isApplicant)
}

// ViewCase is CaseFor for showing the case to actor: it writes one audit
// entry (case.read) naming actor before returning, and returns an error
// rather than the case when the read cannot be put on the record.
func (s *Service) ViewCase(ctx context.Context, actor platform.Actor, id string) (Case, error) {
	return s.view(ctx, actor, id, maySee)
}

// ViewApplicantCase is ViewCase for the citizen's own case page.
func (s *Service) ViewApplicantCase(ctx context.Context, actor platform.Actor, id string) (Case, error) {
	return s.view(ctx, actor, id, isApplicant)
}

func (s *Service) caseIf(ctx context.Context, actor platform.Actor, id string, may func(platform.Actor, Case) bool) (Case, error) {
	c, err := s.Case(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if !may(actor, c) {
		return Case{}, notFound()
	}
	return c, nil
}

func (s *Service) view(ctx context.Context, actor platform.Actor, id string, may func(platform.Actor, Case) bool) (Case, error) {
	c, err := s.caseIf(ctx, actor, id, may)
	if err != nil {
		return Case{}, err
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.read", Subject: "case:" + c.ID, AgencyID: c.AgencyID, Person: othersRead(actor, c.AccountID),
		Detail: map[string]any{"reference": c.Reference}}); err != nil {
		return Case{}, err
	}
	return c, nil
}

// ApplicantCases lists the cases actor applied for, newest first, and
// audits the listing (case.list, with how many were shown). Only a
// signed-in person has cases of their own.
func (s *Service) ApplicantCases(ctx context.Context, actor platform.Actor) ([]Case, error) {
	if !actor.SignedIn() {
		return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	cases, err := s.ForAccount(ctx, actor.ID)
	if err != nil {
		return nil, err
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.list", Subject: "account:" + actor.ID,
		Detail: map[string]any{"count": len(cases)}}); err != nil {
		return nil, err
	}
	return cases, nil
}

// QueueFor lists the queue for staff actor and audits the listing
// (case.queue.read, with the filter and how many cases were shown).
// f.Agencies empty means every agency actor holds a role in; naming an
// agency actor holds no role in is invalid. Staff holding no role (a
// platform administrator) get an empty page; anyone else is forbidden.
func (s *Service) QueueFor(ctx context.Context, actor platform.Actor, f QueueFilter) (QueuePage, error) {
	mine := actor.Agencies()
	if actor.Kind != platform.ActorStaff {
		return QueuePage{}, platform.Errorf(platform.CodeForbidden, "the queue is for agency staff")
	}
	if len(f.Agencies) == 0 {
		f.Agencies = mine
	}
	for _, ag := range f.Agencies {
		if !slices.Contains(mine, ag) {
			return QueuePage{}, platform.Invalid("agency", "you hold no role in agency "+strconv.Quote(ag))
		}
	}
	page, err := s.Queue(ctx, f)
	if err != nil {
		return QueuePage{}, err
	}
	if err := s.queueViewed(platform.WithActor(ctx, actor), f.Agencies, f, len(page.Cases)); err != nil {
		return QueuePage{}, err
	}
	return page, nil
}

// ViewFile authorizes actor, staff of the case's agency, to download
// fileID (named name) of case c and audits it (case.file.read). The
// applicant downloads their files through the applying block.
func (s *Service) ViewFile(ctx context.Context, actor platform.Actor, c Case, fileID, name string) error {
	if !actor.HasRole(c.AgencyID) {
		return notFound()
	}
	return s.fileViewed(platform.WithActor(ctx, actor), c, fileID, name)
}

// Roles, as the identity block names them (casework does not import it).
const (
	roleAgencyAdmin = "agency_admin"
	roleFinance     = "finance"
	roleAuditor     = "auditor"
)

// workflowActor is who actor is to c's workflow: the applicant is the
// citizen, staff of the case's agency act through their roles there. An
// auditor only reads (forbidden); anyone who may not see the case is told
// it does not exist.
func workflowActor(actor platform.Actor, c Case) (Actor, error) {
	if actor.IsCitizen(c.AccountID) {
		return Actor{Kind: ActorCitizen}, nil
	}
	if !actor.HasRole(c.AgencyID) {
		return Actor{}, notFound()
	}
	var roles []string
	for _, g := range actor.Grants {
		if g.Agency == c.AgencyID && g.Role != roleAuditor {
			roles = append(roles, g.Role)
		}
	}
	if len(roles) == 0 {
		return Actor{}, platform.Errorf(platform.CodeForbidden, "auditors read cases; they do not change them")
	}
	return Staff(roles...), nil
}

// MayRecordPayment says whether actor may record a payment on c, for an
// edge that must answer before it reads the form (RecordPayment decides
// the same again, on the locked case).
func MayRecordPayment(actor platform.Actor, c Case) error { return mayRecordPayment(actor, c) }

// mayRecordPayment: finance staff and agency administrators of c's agency.
func mayRecordPayment(actor platform.Actor, c Case) error {
	switch {
	case actor.HasRole(c.AgencyID, roleFinance, roleAgencyAdmin):
		return nil
	case actor.HasRole(c.AgencyID):
		return platform.Errorf(platform.CodeForbidden, "only finance staff record payments")
	}
	return notFound()
}

// mayWork: staff of c's agency holding a role other than auditor change
// it (assign, note, message, ask for information); auditors are
// forbidden; anyone else is told the case does not exist.
func mayWork(actor platform.Actor, c Case) error {
	for _, g := range actor.Grants {
		if actor.Kind == platform.ActorStaff && g.Agency == c.AgencyID && g.Role != roleAuditor {
			return nil
		}
	}
	if actor.HasRole(c.AgencyID) {
		return platform.Errorf(platform.CodeForbidden, "auditors read cases; they do not change them")
	}
	return notFound()
}

// isTheApplicant: only the applicant answers the agency's questions.
func isTheApplicant(actor platform.Actor, c Case) error {
	if isApplicant(actor, c) {
		return nil
	}
	return notFound()
}

// othersRead is the audit entry's Person for a read of account's case by
// actor: the account when someone else reads it (it is then listed on
// the person's "Who has used my data"), "" when they read their own.
func othersRead(actor platform.Actor, account string) string {
	if actor.ID == account && actor.Kind == platform.ActorCitizen {
		return ""
	}
	return account
}
