package application

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

const columns = `id, service_id, service_version, agency_id, account_id, status, answers, page, COALESCE(reference, ''),
	revision, fee_amount, COALESCE(fee_currency, ''), created_at, updated_at, expires_at, submitted_at`

func scanApplication(r interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var answers string
	var fee sql.NullInt64
	var expires, submitted sql.NullTime
	err := r.Scan(&a.ID, &a.ServiceID, &a.ServiceVersion, &a.AgencyID, &a.AccountID, &a.Status, &answers, &a.Page, &a.Reference,
		&a.Revision, &fee, &a.FeeCurrency, &a.CreatedAt, &a.UpdatedAt, &expires, &submitted)
	if err != nil {
		return nil, err
	}
	if a.Answers, err = decodeAnswers(answers); err != nil {
		return nil, fmt.Errorf("answers of %s: %w", a.ID, err)
	}
	if fee.Valid {
		a.FeeAmount = &fee.Int64
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if expires.Valid {
		t := expires.Time.UTC()
		a.ExpiresAt = &t
	}
	if submitted.Valid {
		t := submitted.Time.UTC()
		a.SubmittedAt = &t
	}
	return &a, nil
}

// decodeAnswers reads stored answers with whole numbers as int64, as
// Decode makes them, so CEL and the form see the same types either way.
func decodeAnswers(s string) (map[string]map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var raw map[string]map[string]any
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		raw = map[string]map[string]any{}
	}
	for _, page := range raw {
		for k, v := range page {
			page[k] = numbers(v)
		}
	}
	return raw, nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// Start returns the person's draft of the latest published version of
// serviceID, starting one if they have none: there is at most one draft
// per person and service, so "Start now" pressed twice, or on two
// devices, leads to the same draft.
func (s *Service) Start(ctx context.Context, a Applicant, serviceID string) (*Application, error) {
	pub, err := s.cfg.Services.Latest(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	form, err := s.forms.get(pub, s.cfg.Services)
	if err != nil {
		return nil, err
	}
	if existing, err := s.DraftOf(ctx, a.AccountID, serviceID); err == nil {
		return existing, nil
	} else if platform.ErrorCode(err) != platform.CodeNotFound {
		return nil, err
	}
	now := s.clock.Now().UTC()
	if !form.Eligible(a.Person(now), now) {
		if s.cfg.Bus != nil {
			if err := s.db.InTx(ctx, func(tx *sql.Tx) error {
				return s.emit(ctx, tx, EventIneligible, pub.AgencyID, eventData{Service: pub.ID, Version: pub.Version})
			}); err != nil {
				return nil, fmt.Errorf("application: start: %w", err)
			}
		}
		return nil, ErrNotEligible
	}
	expires := now.Add(DraftLifetime)
	app := &Application{
		ID: uuid.Must(uuid.NewV7()).String(), ServiceID: pub.ID, ServiceVersion: pub.Version, AgencyID: pub.AgencyID,
		AccountID: a.AccountID, Status: StatusDraft, Answers: map[string]map[string]any{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: &expires,
	}
	app.Page = form.resumePage(app.Answers, a.Person(now), now)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, created_at, updated_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, 'draft', '{}', $6, $7, $7, $8)`,
			app.ID, app.ServiceID, app.ServiceVersion, app.AgencyID, app.AccountID, app.Page, now, expires); err != nil {
			return err
		}
		if err := s.draftDue(ctx, tx, app, form, expires); err != nil {
			return err
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "application.start", Subject: "application:" + app.ID, AgencyID: app.AgencyID,
			Detail: map[string]any{"service": app.ServiceID, "version": app.ServiceVersion}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventStarted, app.AgencyID, eventData{ApplicationID: app.ID, Service: app.ServiceID, Version: app.ServiceVersion})
	})
	if storage.IsUniqueViolation(err) { // a concurrent start won: use its draft
		return s.DraftOf(ctx, a.AccountID, serviceID)
	}
	if err != nil {
		return nil, fmt.Errorf("application: start: %w", err)
	}
	return app, nil
}

// DraftOf returns the person's draft of a service, or a CodeNotFound error.
func (s *Service) DraftOf(ctx context.Context, accountID, serviceID string) (*Application, error) {
	app, err := scanApplication(s.db.Read().QueryRowContext(ctx, `SELECT `+columns+` FROM applications WHERE account_id = $1 AND service_id = $2 AND status = 'draft'`, accountID, serviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, platform.Errorf(platform.CodeNotFound, "no draft")
	}
	if err != nil {
		return nil, fmt.Errorf("application: draft: %w", err)
	}
	return app, nil
}

// owned returns the person's application and its form, for the changes
// the applicant makes (save, attach, submit), which audit themselves.
// Someone else's application is not found, exactly like one that does not
// exist. Reads for display go through Open, which applies the policy and
// audits.
func (s *Service) owned(ctx context.Context, accountID, appID string) (*Application, *Form, error) {
	app, err := scanApplication(s.db.Read().QueryRowContext(ctx, `SELECT `+columns+` FROM applications WHERE id = $1 AND account_id = $2`, appID, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, platform.Errorf(platform.CodeNotFound, "no such application")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("application: get: %w", err)
	}
	form, err := s.Form(ctx, app.ServiceID, app.ServiceVersion)
	if err != nil {
		return nil, nil, err
	}
	return app, form, nil
}

// ForCase returns an application and its form without checking who asks,
// for the staff console: the caller has checked the viewer works for the
// case's agency, and audits the view. Answers are as submitted (frozen).
func (s *Service) ForCase(ctx context.Context, appID string) (*Application, *Form, error) {
	app, err := scanApplication(s.db.Read().QueryRowContext(ctx, `SELECT `+columns+` FROM applications WHERE id = $1`, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, platform.Errorf(platform.CodeNotFound, "no such application")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("application: for case: %w", err)
	}
	form, err := s.Form(ctx, app.ServiceID, app.ServiceVersion)
	if err != nil {
		return nil, nil, err
	}
	return app, form, nil
}

// Form returns the compiled form of a service version.
func (s *Service) Form(ctx context.Context, serviceID string, version int) (*Form, error) {
	if f, ok := s.forms.lookup(serviceID, version); ok { // versions never change
		return f, nil
	}
	pub, err := s.cfg.Services.Service(ctx, serviceID, version)
	if err != nil {
		return nil, fmt.Errorf("application: form: %w", err)
	}
	return s.forms.get(pub, s.cfg.Services)
}

// resumePage is where a draft with answers resumes: the first shown page
// without answers, or the check-your-answers page.
func (f *Form) resumePage(answers map[string]map[string]any, person manifest.Person, now time.Time) string {
	for _, p := range f.Visible(answers, person, now) {
		if _, ok := answers[p.ID]; !ok {
			return p.ID
		}
	}
	return CheckPage
}

// Next is the page after pageID among those shown for answers, or
// CheckPage after the last.
func (f *Form) Next(pageID string, answers map[string]map[string]any, person manifest.Person, now time.Time) string {
	vis := f.Visible(answers, person, now)
	for i, p := range vis {
		if p.ID == pageID && i+1 < len(vis) {
			return vis[i+1].ID
		}
	}
	return CheckPage
}

// Shown reports whether pageID is among the pages shown for answers.
func (f *Form) Shown(pageID string, answers map[string]map[string]any, person manifest.Person, now time.Time) bool {
	return slices.ContainsFunc(f.Visible(answers, person, now), func(p *Page) bool { return p.ID == pageID })
}

// SaveResult is the outcome of posting a page.
type SaveResult struct {
	App      *Application
	Problems []Problem // non-empty: nothing was saved
	// Typed is the form as posted, to show again with the problems.
	Typed url.Values
	// Next is the page to show next (or CheckPage).
	Next string
	// Unavailable: the page's check could not be made (the plug-in is
	// down). The answers were saved, the page is shown again with the
	// message; the person can try again or come back later. Submit
	// checks again. For a page whose choices come from a plug-in
	// (choices_from) the page is not saved: a choice cannot be kept
	// unconfirmed. The rest of the draft is kept either way.
	Unavailable *Unavailable
}

// SavePage decodes and validates one page's post and, when it is valid,
// saves it into the draft: every valid page post is saved, so a draft
// resumes from any device. File fields carry the id of a file attached to
// this draft's same field (Attach); any other id is a problem.
func (s *Service) SavePage(ctx context.Context, a Applicant, appID, pageID string, form url.Values) (SaveResult, error) {
	app, f, err := s.owned(ctx, a.AccountID, appID)
	if err != nil {
		return SaveResult{}, err
	}
	if app.Status != StatusDraft {
		return SaveResult{}, platform.Errorf(platform.CodeConflict, "apply.error.submitted")
	}
	now := s.clock.Now().UTC()
	person := a.Person(now)
	page := f.Page(pageID)
	if page == nil || !f.Shown(pageID, app.Answers, person, now) {
		return SaveResult{}, platform.Errorf(platform.CodeNotFound, "no such page")
	}
	answers, probs := page.Decode(form)
	probs = append(probs, s.checkFiles(ctx, app.ID, page, answers)...)
	probs = page.tidy(append(probs, page.Validate(answers)...))
	res := SaveResult{App: app, Typed: form}
	if len(probs) > 0 {
		res.Problems = probs
		return res, nil
	}
	// A choice from a plug-in's list must still be on it (a time taken
	// meanwhile is not); while the plug-in is down the page is not saved.
	if probs, un, err := s.checkChoice(ctx, a, app, f, page, answers); err != nil || un != nil || len(probs) > 0 {
		res.Problems, res.Unavailable = probs, un
		return res, err
	}
	// The page's plug-in check runs once its answers hold by the schema.
	probs, err = s.checkPage(ctx, a, app, f, page, answers)
	if !errors.As(err, &res.Unavailable) && err != nil {
		return SaveResult{}, err
	}
	if len(probs) > 0 {
		res.Problems = probs
		return res, nil
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Re-read under the row lock (PostgreSQL; SQLite has one writer)
		// so saves of two pages from two devices never lose one.
		q := `SELECT ` + columns + ` FROM applications WHERE id = $1 AND account_id = $2`
		if s.db.Dialect == storage.Postgres {
			q += ` FOR UPDATE`
		}
		cur, err := scanApplication(tx.QueryRowContext(ctx, q, app.ID, a.AccountID))
		if err != nil {
			return err
		}
		if cur.Status != StatusDraft {
			return platform.Errorf(platform.CodeConflict, "apply.error.submitted")
		}
		cur.Answers[pageID] = answers
		cur.Page = f.resumePage(cur.Answers, person, now)
		js, err := json.Marshal(cur.Answers)
		if err != nil {
			return err
		}
		expires := now.Add(DraftLifetime)
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET answers = $1, page = $2, revision = revision + 1, updated_at = $3, expires_at = $4, reminded_at = NULL
			WHERE id = $5`, string(js), cur.Page, now, expires, cur.ID); err != nil {
			return err
		}
		cur.Revision++
		cur.UpdatedAt, cur.ExpiresAt = now, &expires
		res.App = cur
		return s.draftDue(ctx, tx, cur, f, expires)
	})
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeConflict {
			return SaveResult{}, err
		}
		return SaveResult{}, fmt.Errorf("application: save page: %w", err)
	}
	res.Next = f.Next(pageID, res.App.Answers, person, now)
	if res.Unavailable != nil {
		res.Next = pageID
	}
	return res, nil
}

// checkFiles refuses file answers that are not files uploaded to this
// application's field (a forged id would otherwise borrow another
// person's file).
func (s *Service) checkFiles(ctx context.Context, appID string, page *Page, answers map[string]any) []Problem {
	var probs []Problem
	var files map[string]Attachment
	for _, f := range page.Fields {
		id, ok := answers[f.Name].(string)
		if f.Widget != "file" || !ok {
			continue
		}
		if files == nil {
			var err error
			if files, err = s.Attachments(ctx, appID); err != nil {
				files = map[string]Attachment{}
			}
		}
		if at, ok := files[id]; !ok || at.Page != page.ID || at.Field != f.Name {
			delete(answers, f.Name)
			probs = append(probs, page.problem(f.Name, "", "apply.error.file", ""))
		}
	}
	return probs
}

// IncompleteError is returned by Submit when a page shown for the answers
// is missing or no longer valid: the person is sent back to Page.
type IncompleteError struct {
	Page     string
	Problems []Problem
}

func (e *IncompleteError) Error() string {
	return "application: submit: page " + e.Page + " needs answers"
}

// ErrNotEligible is returned by Start when the person does not meet the
// service's eligibility rule.
var ErrNotEligible = platform.Errorf(platform.CodeForbidden, "apply.error.ineligible")

// ErrStale is returned by Submit when the draft changed (in another tab or
// on another device) after the person checked their answers.
var ErrStale = platform.Errorf(platform.CodeConflict, "apply.error.stale")

// Submit freezes the person's draft and opens its case. revision is the
// draft revision shown on the check-your-answers page (the submission
// token). Every shown page is validated again; answers of pages not shown
// are dropped; the fee is computed; the application is marked submitted,
// the case opened (casework.Open) and the reference stored, all in one
// transaction. Submit is idempotent per draft: a second call, or a
// concurrent one, returns the application as first submitted and opens
// nothing.
func (s *Service) Submit(ctx context.Context, a Applicant, appID string, revision int) (*Application, error) {
	app, f, err := s.owned(ctx, a.AccountID, appID)
	if err != nil {
		return nil, err
	}
	switch app.Status {
	case StatusSubmitted:
		return app, nil
	case StatusDraft:
	default:
		return nil, ErrClosed
	}
	if revision != app.Revision {
		return nil, ErrStale
	}
	now := s.clock.Now().UTC()
	person := a.Person(now)
	frozen := map[string]map[string]any{}
	for _, p := range f.Visible(app.Answers, person, now) {
		ans, ok := app.Answers[p.ID]
		if !ok {
			return nil, &IncompleteError{Page: p.ID, Problems: p.Validate(map[string]any{})}
		}
		probs := append(s.checkFiles(ctx, app.ID, p, ans), p.Validate(ans)...)
		if len(probs) > 0 {
			return nil, &IncompleteError{Page: p.ID, Problems: p.tidy(probs)}
		}
		frozen[p.ID] = ans
	}
	// Plug-in checks again: a page saved while its check's plug-in was
	// down was saved unchecked, and what the other system holds may have
	// changed. An unavailable plug-in makes the submission wait.
	for _, p := range f.Visible(app.Answers, person, now) {
		probs, err := s.checkPage(ctx, a, &Application{AgencyID: app.AgencyID, ServiceID: app.ServiceID, Answers: frozen}, f, p, frozen[p.ID])
		if err != nil {
			return nil, err
		}
		if len(probs) > 0 {
			return nil, &IncompleteError{Page: p.ID, Problems: probs}
		}
	}
	charge, hasFee, err := s.Fee(ctx, a, app, f, frozen)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(frozen)
	if err != nil {
		return nil, fmt.Errorf("application: submit: %w", err)
	}
	var fee, cur any
	var opening *manifest.Charge
	if hasFee {
		fee, cur, opening = charge.Amount, charge.Currency, &charge
	}
	to, err := s.confirmationRecipient(ctx, app)
	if err != nil {
		return nil, err
	}
	won := false
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The status check is the lock: of two submissions of one draft,
		// the second waits for the first's row lock (PostgreSQL) or the
		// single writer (SQLite), then finds no draft and changes nothing.
		res, err := tx.ExecContext(ctx, `UPDATE applications SET status = 'submitted', answers = $1, fee_amount = $2, fee_currency = $3,
			submitted_at = $4, updated_at = $4, expires_at = NULL, page = $5 WHERE id = $6 AND account_id = $7 AND status = 'draft' AND revision = $8`,
			string(js), fee, cur, now, CheckPage, app.ID, a.AccountID, revision)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		won = true
		c, err := s.cfg.Cases.Open(ctx, tx, casework.Opening{
			ApplicationID: app.ID, AccountID: app.AccountID, AgencyID: app.AgencyID,
			ServiceID: app.ServiceID, Version: app.ServiceVersion, Fee: opening,
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET reference = $1 WHERE id = $2`, c.Reference, app.ID); err != nil {
			return err
		}
		app.Reference = c.Reference
		if err := s.draftClosed(ctx, tx, app.AccountID, app.ID, true); err != nil {
			return err
		}
		if err := s.cfg.Services.CountSubmission(ctx, tx, app.ServiceID, now, s.zone(ctx)); err != nil {
			return err
		}
		if _, err = s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "application.submit", Subject: "application:" + app.ID, AgencyID: app.AgencyID,
			Detail: map[string]any{"reference": c.Reference, "service": app.ServiceID, "version": app.ServiceVersion, "fee": fee}}); err != nil {
			return err
		}
		sub := eventData{ApplicationID: app.ID, Service: app.ServiceID, Version: app.ServiceVersion, Reference: c.Reference}
		if hasFee {
			sub.FeeAmount, sub.FeeCurrency = &charge.Amount, charge.Currency
		}
		if err := s.emit(ctx, tx, EventSubmitted, app.AgencyID, sub); err != nil {
			return err
		}
		// The confirmation is queued with the submission it confirms, once:
		// only the transaction that turned the draft into a submission
		// gets here.
		return s.cfg.Mailer.SendEmail(ctx, tx, confirmation(to, f, app, c, opening, now, s.cfg.PublicURL, s.zone(ctx)))
	})
	if err != nil {
		return nil, fmt.Errorf("application: submit: %w", err)
	}
	if won {
		app.Status, app.Answers, app.Page = StatusSubmitted, frozen, CheckPage
		app.SubmittedAt, app.UpdatedAt, app.ExpiresAt = &now, now, nil
		if hasFee {
			app.FeeAmount, app.FeeCurrency = &charge.Amount, charge.Currency
		}
		return app, nil
	}
	// Another submission of the same draft won the race: answer with it.
	after, _, err := s.owned(ctx, a.AccountID, appID)
	if err != nil {
		return nil, err
	}
	switch after.Status {
	case StatusSubmitted:
		return after, nil
	case StatusDraft:
		return nil, ErrStale // the draft changed between reading and submitting
	default:
		return nil, ErrClosed // withdrawn or expired at the same moment
	}
}

// LatestForm returns the form of the latest published version of a service.
func (s *Service) LatestForm(ctx context.Context, serviceID string) (*Form, error) {
	pub, err := s.cfg.Services.Latest(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	return s.forms.get(pub, s.cfg.Services)
}

// Withdraw deletes the person's draft: it is marked withdrawn (kept for
// the audit trail) and no longer listed, and its files are deleted by a
// job queued in the same transaction (DeleteFilesArgs), so only once the
// change has committed. Submitted applications are withdrawn through
// their case, not here. A draft submitted (perhaps at the same moment, in
// another tab) is ErrSubmitted; one already withdrawn or expired is
// ErrClosed; either way nothing is changed.
//
// Only the applicant (by) may withdraw; see Policy for what others are told.
func (s *Service) Withdraw(ctx context.Context, by platform.Actor, appID string) error {
	app, err := s.mayChange(ctx, by, appID)
	if err != nil {
		return err
	}
	accountID := app.AccountID
	if err := closedError(app.Status); err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The status condition is the lock: a concurrent submission either
		// commits first (this changes no row) or waits for this one.
		res, err := tx.ExecContext(ctx, `UPDATE applications SET status = 'withdrawn', updated_at = $1, expires_at = NULL WHERE id = $2 AND account_id = $3 AND status = 'draft'`, now, app.ID, accountID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 { // lost the race: say to what
			var status string
			if err := tx.QueryRowContext(ctx, `SELECT status FROM applications WHERE id = $1`, app.ID).Scan(&status); err != nil {
				return err
			}
			if err := closedError(status); err != nil {
				return err
			}
			return fmt.Errorf("draft %s unchanged by a conditional update", app.ID)
		}
		if err := s.draftClosed(ctx, tx, accountID, app.ID, false); err != nil {
			return err
		}
		if err := s.enqueueDeleteFiles(ctx, tx, app.ID, StatusWithdrawn); err != nil {
			return err
		}
		if _, err = s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "application.withdraw", Subject: "application:" + app.ID, AgencyID: app.AgencyID}); err != nil {
			return err
		}
		return s.emit(ctx, tx, EventWithdrawn, app.AgencyID, eventData{ApplicationID: app.ID, Service: app.ServiceID, Version: app.ServiceVersion})
	})
	if platform.ErrorCode(err) == platform.CodeConflict {
		return err
	}
	if err != nil {
		return fmt.Errorf("application: withdraw: %w", err)
	}
	return nil
}
