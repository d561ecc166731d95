// Package report is the block for reporting a problem in a public place (a
// pothole, a broken streetlight, graffiti): the report-a-problem services
// agencies offer, each with its Open311 attributes, and the requests people
// make to them, from the web without an account or from an app through
// Open311 GeoReport v2 (internal/report/open311api; docs/open311.md).
//
// The contract:
//   - A request is open or closed (Open311's two statuses); its state is
//     finer (open, in_progress, fixed, not_fixed, duplicate) and every change
//     has a note, which is Open311's status_notes.
//   - A reporter needs no account. They get a private follow link (its
//     token's SHA-256 is kept) by email if they give one, can read their
//     report's history there and reopen it when it was closed without being
//     fixed.
//   - Public answers (Open311 GET, reports nearby) never carry the
//     reporter's email, name or phone, nor their photos. Staff of the
//     owning agency read them, and every such read is audited.
//   - Submission, status change and reopening each write the request, its
//     history, the audit entry, the reporter's email (notify's outbox) and
//     the event (gov.portico.report.*, no personal data) in one transaction.
package report

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Events this block emits. Their data never holds personal data: the
// request's number, service, agency, state and location only.
const (
	EventSubmitted     = "gov.portico.report.submitted"
	EventStatusChanged = "gov.portico.report.status_changed"
	EventReopened      = "gov.portico.report.reopened"
	source             = "/portico/report"
)

// EventTypes lists the block's events (for plug-ins' subscriptions).
func EventTypes() []string { return []string{EventSubmitted, EventStatusChanged, EventReopened} }

// Open311 statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// States: the finer status a request is in.
const (
	StateOpen       = "open"
	StateInProgress = "in_progress"
	StateFixed      = "fixed"
	StateNotFixed   = "not_fixed" // closed without being fixed: the reporter may reopen it
	StateDuplicate  = "duplicate"
)

// States lists every state in the order the console offers them.
var States = []string{StateOpen, StateInProgress, StateFixed, StateNotFixed, StateDuplicate}

// StatusOf is the Open311 status of a state.
func StatusOf(state string) string {
	switch state {
	case StateFixed, StateNotFixed, StateDuplicate:
		return StatusClosed
	}
	return StatusOpen
}

// Limits.
const (
	MaxDescription = 4000
	MaxNote        = 2000
	MaxAddress     = 500
	MaxName        = 100
	MaxPhone       = 30
	MaxEmail       = 254
	MaxURL         = 2000
	MaxPhotos      = 5
	MaxPhotoBytes  = 10 << 20
	MaxAttrValue   = 1000
	// Burst reports at most from one client address per Window on the web.
	Burst  = 20
	Window = time.Hour
)

// PhotoTypes are the sniffed types a photo may have.
var PhotoTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}

// Mailer sends the reporter's emails in the caller's transaction (the
// notify block's outbox, adapted by internal/app).
type Mailer interface {
	SendEmail(ctx context.Context, tx *sql.Tx, m Message) error
}

// Message is one email to a reporter.
type Message struct {
	To, Subject, Text, Lang, AgencyID, Reference string
}

// Agencies is what the block needs of tenancy: an agency's jurisdiction
// and name.
type Agencies interface {
	AgencyPlace(ctx context.Context, id string) (jurisdiction, name, nameES string, err error)
}

// Config is the block's wiring.
type Config struct {
	DB     *storage.DB
	Audit  *audit.Log
	Bus    *events.Bus
	Clock  platform.Clock
	Mailer Mailer
	// Photos is the attachments bucket (keys under reports/).
	Photos   *blob.Bucket
	Agencies Agencies
	// PublicURL is the site's address, for the follow link in emails.
	PublicURL func() string
	// Zone is the jurisdiction's time zone, for dates in emails and
	// Open311's datetimes.
	Zone func(ctx context.Context) *time.Location
}

// Service is the block.
type Service struct {
	cfg Config
	db  *storage.DB
}

// New returns the block. Every field of cfg is required.
func New(cfg Config) (*Service, error) {
	if err := platform.Required("report",
		platform.Dep{Name: "database", Missing: cfg.DB == nil},
		platform.Dep{Name: "audit log", Missing: cfg.Audit == nil},
		platform.Dep{Name: "event bus", Missing: cfg.Bus == nil},
		platform.Dep{Name: "clock", Missing: cfg.Clock == nil},
		platform.Dep{Name: "mailer", Missing: cfg.Mailer == nil},
		platform.Dep{Name: "photo bucket", Missing: cfg.Photos == nil},
		platform.Dep{Name: "agencies", Missing: cfg.Agencies == nil},
		platform.Dep{Name: "public URL", Missing: cfg.PublicURL == nil},
		platform.Dep{Name: "zone", Missing: cfg.Zone == nil}); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, db: cfg.DB}, nil
}

// Zone is the time zone of dates shown.
func (s *Service) Zone(ctx context.Context) *time.Location { return s.cfg.Zone(ctx) }

// FieldErrors maps fields to message keys (report.error.*); attribute
// fields are "attribute[CODE]". It is the invalid-input error of Submit.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("report: invalid input:")
	for f, k := range fe {
		b.WriteString(" " + f + "=" + k)
	}
	return b.String()
}

// Unwrap gives the invalid code to every edge.
func (fe FieldErrors) Unwrap() error {
	return platform.Errorf(platform.CodeInvalid, "Check what you entered.")
}

// IsFieldErrors returns the field errors in err, if it is one.
func IsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	ok := errors.As(err, &fe)
	return fe, ok
}

// ErrThrottled is returned by Submit when a client address has sent Burst
// reports within Window.
var ErrThrottled = platform.Errorf(platform.CodeRateLimited, "You have sent a lot of reports in a short time. Please try again later.")

// errNotFound is the one answer for a request, service or link that does
// not exist or that the caller may not know exists.
func errNotFound(what string) error {
	return platform.Errorf(platform.CodeNotFound, "No such %s.", what)
}
