package application

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Policy: who may read or change an application. The block decides, with
// the acting principal its callers pass; HTTP edges only map the errors.
//
//   - The applicant (the person whose account started it: a citizen, or a
//     staff member applying for themselves) may read it in
//     any status, download its files, and withdraw it while it is a draft.
//   - Staff holding any role in the application's agency may read a
//     submitted (or later) application and its files: it is the evidence of
//     their agency's case. A draft is the applicant's private workspace and
//     is not shown to staff.
//   - Everyone else, including a platform administrator without a role in
//     the agency, is told the application is not found, exactly as for an
//     id that does not exist, so that ids reveal nothing.
//   - Someone not signed in is unauthorized, before any query.
//   - Only the applicant changes an application; staff who may read it and
//     try to withdraw it are forbidden.
//
// Every allowed read of an application's answers or files writes one audit
// entry in the name of the actor, whoever they are.

// Audit actions of reads.
const (
	auditRead     = "application.read"
	auditFileRead = "application.file.read"
)

// mayRead reports whether by may read app (see Policy).
func mayRead(by platform.Actor, app *Application) bool {
	if isApplicant(by, app) {
		return true
	}
	return app.Status != StatusDraft && by.HasRole(app.AgencyID)
}

// isApplicant reports whether by is the person who started app.
func isApplicant(by platform.Actor, app *Application) bool {
	return by.SignedIn() && by.ID == app.AccountID
}

// authorize loads application appID for by, applying the read policy; the
// caller audits.
func (s *Service) authorize(ctx context.Context, by platform.Actor, appID string) (*Application, error) {
	if !by.SignedIn() {
		return nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	if !platform.IsUUID(appID) {
		return nil, platform.Errorf(platform.CodeNotFound, "no such application")
	}
	app, err := scanApplication(s.db.Read().QueryRowContext(ctx, `SELECT `+columns+` FROM applications WHERE id = $1`, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, platform.Errorf(platform.CodeNotFound, "no such application")
	}
	if err != nil {
		return nil, fmt.Errorf("application: open: %w", err)
	}
	if !mayRead(by, app) {
		return nil, platform.Errorf(platform.CodeNotFound, "no such application")
	}
	return app, nil
}

// Open returns application appID and its form to by, if the policy lets
// by read it, and audits the read ("application.read"). Answers of a
// submitted application are as submitted (frozen).
func (s *Service) Open(ctx context.Context, by platform.Actor, appID string) (*Application, *Form, error) {
	app, err := s.authorize(ctx, by, appID)
	if err != nil {
		return nil, nil, err
	}
	form, err := s.Form(ctx, app.ServiceID, app.ServiceVersion)
	if err != nil {
		return nil, nil, err
	}
	if err := s.auditRead(ctx, by, auditRead, app, nil); err != nil {
		return nil, nil, err
	}
	return app, form, nil
}

// Download opens one file of application appID for by, if the policy lets
// by read the application, and audits the read ("application.file.read").
// The caller closes the reader and serves the file as a download
// (Content-Disposition: attachment, nosniff) with its ContentType.
func (s *Service) Download(ctx context.Context, by platform.Actor, appID, attachmentID string) (Attachment, io.ReadCloser, error) {
	app, err := s.authorize(ctx, by, appID)
	if err != nil {
		return Attachment{}, nil, err
	}
	if !platform.IsUUID(attachmentID) {
		return Attachment{}, nil, platform.Errorf(platform.CodeNotFound, "no such file")
	}
	a, rc, err := s.Attachment(ctx, app.ID, attachmentID)
	if err != nil {
		return Attachment{}, nil, err
	}
	if err := s.auditRead(ctx, by, auditFileRead, app, map[string]string{"file": a.ID}); err != nil {
		rc.Close()
		return Attachment{}, nil, err
	}
	return a, rc, nil
}

// auditRead records that by read app (in by's name, whatever actor the
// context carries).
func (s *Service) auditRead(ctx context.Context, by platform.Actor, action string, app *Application, detail any) error {
	_, err := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: action, Subject: "application:" + app.ID, AgencyID: app.AgencyID, Detail: detail,
		Person: othersRead(by, app.AccountID)})
	if err != nil {
		return fmt.Errorf("application: audit %s: %w", action, err)
	}
	return nil
}

// mayChange decides whether by may change application appID: the
// applicant may; anyone who may only read it is forbidden; to everyone else
// it is not found. It returns the application as loaded (unaudited: the
// change audits itself).
func (s *Service) mayChange(ctx context.Context, by platform.Actor, appID string) (*Application, error) {
	app, err := s.authorize(ctx, by, appID)
	if err != nil {
		return nil, err
	}
	if !isApplicant(by, app) {
		return nil, platform.Errorf(platform.CodeForbidden, "only the applicant may change an application")
	}
	return app, nil
}

// othersRead is the audit entry's Person for a read of account's
// application by by: the account when someone else reads it (it is then
// listed on the person's "Who has used my data"), "" for their own.
func othersRead(by platform.Actor, account string) string {
	if by.ID == account && by.Kind == platform.ActorCitizen {
		return ""
	}
	return account
}
