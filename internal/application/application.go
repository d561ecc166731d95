// Package application is the block in which citizens apply for services:
// a draft started from the latest published version of a service (and
// pinned to it for ever), answers saved page by page, files uploaded as
// answers, and submission, which freezes the answers, computes the fee and
// opens a case in the casework block in the same transaction.
//
// The form engine (Form) is compiled once per service version: page
// schemas (JSON Schema 2020-12), `when` conditions (CEL) and the fee
// expression. Its decoder turns form posts into typed answers (Decode).
//
// Drafts expire DraftLifetime after their last change; the sweep job
// emails a reminder ReminderBefore that and marks drafts expired after it.
package application

import (
	"context"
	"database/sql"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// Statuses of an application.
const (
	StatusDraft     = "draft"
	StatusSubmitted = "submitted"
	StatusWithdrawn = "withdrawn"
	StatusExpired   = "expired"
)

// How long drafts live. Documented in docs/services.md ("Applying").
const (
	// DraftLifetime is how long a draft is kept after its last change.
	DraftLifetime = 30 * 24 * time.Hour
	// ReminderBefore is how long before expiry the reminder email goes.
	ReminderBefore = 7 * 24 * time.Hour
)

// CheckPage is the pseudo page id of the check-your-answers page, where a
// draft whose pages are all answered resumes.
const CheckPage = "check"

// Application is a person's application for one service version.
type Application struct {
	ID             string
	ServiceID      string
	ServiceVersion int
	AgencyID       string
	AccountID      string
	Status         string
	// Answers maps page id to that page's answers (property → value).
	Answers map[string]map[string]any
	// Page is where the person resumes: a page id or CheckPage.
	Page        string
	Reference   string
	Revision    int
	FeeAmount   *int64
	FeeCurrency string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   *time.Time
	SubmittedAt *time.Time
}

// Applicant is the signed-in person applying, as far as prefill and CEL
// expressions need to know them. The web side fills it from the identity
// block, so this block does not read accounts.
type Applicant struct {
	AccountID   string
	Email       string
	Lang        string
	LegalName   string
	DateOfBirth string // YYYY-MM-DD or ""
	Phone       string
	Residential Address
	Mailing     Address
	// Jurisdictions the residential address is in, most local first.
	Jurisdictions []string
}

// Address is a postal address, with the keys an address widget uses.
type Address struct {
	Line1, Line2, City, State, ZIP string
}

// Cases is what applying needs of the casework block.
type Cases interface {
	Open(ctx context.Context, tx *sql.Tx, o casework.Opening) (casework.Case, error)
	ForAccount(ctx context.Context, account string) ([]casework.Case, error)
}

// Services is what applying needs of the catalog block: published
// versions and the runtime each compiles to (shared with the catalog's
// "services for you" and the workflow).
type Services interface {
	Service(ctx context.Context, id string, version int) (catalog.Published, error)
	Latest(ctx context.Context, id string) (catalog.Published, error)
	RuntimeOf(p catalog.Published) (*manifest.Runtime, error)
	// CountSubmission counts one submission of a service, in the
	// submission's transaction (the front door's "most used").
	CountSubmission(ctx context.Context, tx *sql.Tx, serviceID string, at time.Time, zone *time.Location) error
}

// Mailer sends a message in tx (the notification block's outbox); app
// adapts the notify block to it. A message with an AccountID goes to that
// person's inbox on this site and the channels they chose; one without
// is an email to To.
type Mailer interface {
	SendEmail(ctx context.Context, tx *sql.Tx, m Email) error
}

// Email is a message to a citizen.
type Email struct {
	To, Subject, Text, Lang, AgencyID, Reference string
	AccountID                                    string
}

// Agencies names the agency an application goes to, for the confirmation
// (the tenancy block).
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Contacts gives the address and language to email an account at.
type Contacts interface {
	Contact(ctx context.Context, accountID string) (email, lang string, err error)
}

// Config is the block's wiring.
type Config struct {
	DB       *storage.DB
	Audit    *audit.Log
	Clock    platform.Clock
	Services Services
	Cases    Cases
	Files    *Files
	// Jobs queues the deletion of a closed draft's files in the
	// transaction that closes it (the insert-only client made before the
	// blocks). New registers the block's workers in Registry, from which
	// the working client is built.
	Jobs     *jobs.Inserter
	Registry *jobs.Registry
	Mailer   Mailer
	Contacts Contacts
	Agencies Agencies
	// Obligations, when set, lists drafts in the person's "Coming up" and
	// calendar until they are submitted, withdrawn or expire.
	Obligations Obligations
	// PublicURL is the site's address, for links in emails.
	PublicURL string
	// Zone is the time zone of the dates in its emails (the home
	// jurisdiction's, tenancy.Service.Zone). Nil means UTC.
	Zone func(context.Context) *time.Location
	// Plugins calls the plug-in operations forms use (prefill_from,
	// check, fee.call); nil: every such call is unavailable.
	Plugins Plugins
	// Consent says whether a person's consents cover a call carrying
	// personal data; nil: such calls are never made (the page starts
	// empty, as if declined).
	Consent Consents
	// Bus, when set, receives the block's events (EventStarted, …) in the
	// transaction of the change they record; nil emits none.
	Bus *events.Bus
}

// Obligations is what the applying block needs of the reminder block.
// Both calls run in the draft change's transaction. The block sends its
// own expiry reminder (Sweep), so a draft's obligation reminds nothing.
type Obligations interface {
	DraftDue(ctx context.Context, tx *sql.Tx, d DraftDue) error
	DraftClosed(ctx context.Context, tx *sql.Tx, accountID, appID string, submitted bool) error
}

// DraftDue is a draft and the day it expires unless changed.
type DraftDue struct {
	AccountID, AgencyID, AppID string
	Service                    manifest.Text // the service's title
	Expires                    time.Time
}

// draftDue records (or moves) the obligation of a draft, if there is a
// reminder block.
func (s *Service) draftDue(ctx context.Context, tx *sql.Tx, app *Application, f *Form, expires time.Time) error {
	if s.cfg.Obligations == nil {
		return nil
	}
	return s.cfg.Obligations.DraftDue(ctx, tx, DraftDue{AccountID: app.AccountID, AgencyID: app.AgencyID, AppID: app.ID,
		Service: f.Manifest.Title, Expires: expires})
}

func (s *Service) draftClosed(ctx context.Context, tx *sql.Tx, accountID, appID string, submitted bool) error {
	if s.cfg.Obligations == nil {
		return nil
	}
	return s.cfg.Obligations.DraftClosed(ctx, tx, accountID, appID, submitted)
}

// Service is the application block.
type Service struct {
	cfg   Config
	db    *storage.DB
	clock platform.Clock
	forms *formCache
}

// New returns the application block and registers its draft sweep and
// file deletion workers in cfg.Registry. Every field of cfg is required
// except Obligations, PublicURL and Zone; a nil one is refused with an
// error naming it.
func New(cfg Config) (*Service, error) {
	if err := platform.Required("application",
		platform.Dep{Name: "database", Missing: cfg.DB == nil},
		platform.Dep{Name: "audit log", Missing: cfg.Audit == nil},
		platform.Dep{Name: "clock", Missing: cfg.Clock == nil},
		platform.Dep{Name: "services", Missing: cfg.Services == nil},
		platform.Dep{Name: "cases", Missing: cfg.Cases == nil},
		platform.Dep{Name: "files", Missing: cfg.Files == nil},
		platform.Dep{Name: "job inserter", Missing: cfg.Jobs == nil},
		platform.Dep{Name: "job registry", Missing: cfg.Registry == nil},
		platform.Dep{Name: "mailer", Missing: cfg.Mailer == nil},
		platform.Dep{Name: "contacts", Missing: cfg.Contacts == nil},
		platform.Dep{Name: "agencies", Missing: cfg.Agencies == nil}); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: cfg.DB, clock: cfg.Clock, forms: newFormCache()}
	jobs.Register(cfg.Registry, &SweepWorker{Service: s})
	jobs.Register(cfg.Registry, &DeleteFilesWorker{Service: s})
	return s, nil
}

// Now is the platform clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }
