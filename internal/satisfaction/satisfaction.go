// Package satisfaction is the block that asks people, at every end of a
// transaction, how satisfied they were: one question on the five-point
// scale of the GOV.UK user-satisfaction KPI (very satisfied … very
// dissatisfied), an optional comment, and the optional customer
// experience statements of OMB Circular A-11 §280 (trust, effectiveness,
// ease, efficiency, equity, helpful employees) on a five-point agreement
// scale.
//
// Anyone may answer, signed in or not, and nothing ties an answer to a
// person: no account, no address; the comment is redacted before it is
// stored. Every answer at an end point is announced, in the transaction
// that stores it, as the event gov.portico.satisfaction.answered, from
// which the outcomes block counts satisfaction per service. The agency
// that owns a service (and platform administrators) read its comments;
// every read is audited.
package satisfaction

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// EventAnswered is the event of an answer given at an end point. Its data
// is EventData: the service, its agency, the end point and the scores,
// nothing about the person.
const EventAnswered = "gov.portico.satisfaction.answered"

// EventTypes lists the block's event types.
func EventTypes() []string { return []string{EventAnswered} }

// End points: where in a transaction the survey was offered.
const (
	AfterSubmitted  = "submitted"  // an application was sent
	AfterDecided    = "decided"    // the case was decided (closed)
	AfterPaid       = "paid"       // a payment went through
	AfterReported   = "reported"   // a problem was reported
	AfterIneligible = "ineligible" // the service said the person is not eligible
	AfterWithdrawn  = "withdrawn"  // the person withdrew their application
	// AfterBanner is the survey reached from a new service's beta banner:
	// not the end of a transaction, so it is stored for the agency to read
	// but not announced (the KPI counts end points only; ADR 0056).
	AfterBanner = ""
)

// EndPoints are the end points of a transaction, in the order pages list
// them.
var EndPoints = []string{AfterSubmitted, AfterDecided, AfterPaid, AfterReported, AfterIneligible, AfterWithdrawn}

// IsEndPoint reports whether after is one of EndPoints.
func IsEndPoint(after string) bool { return slices.Contains(EndPoints, after) }

// Questions are the optional A-11 §280 statements, by the names the
// event and the form use.
var Questions = []string{"trust", "effectiveness", "ease", "efficiency", "equity", "employees"}

// Limits.
const (
	MaxComment = 1200 // characters
	// At most Burst answers from one client address per Window.
	Burst    = 20
	Window   = time.Hour
	PageSize = 20 // comments per page in the console
)

// Service is what the block needs to know of a published service.
type Service struct {
	ID       string
	AgencyID string
	Title    Text
	Agency   Text // the agency's name
}

// Text is a sentence in English and Spanish.
type Text struct{ EN, ES string }

// In returns t in lang ("es" or English), falling back to English.
func (t Text) In(lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// Catalog finds published services (the catalog block, adapted in
// internal/app). Service returns a CodeNotFound error for a slug that is
// not published; List the latest published services of an agency, or of
// every agency for "".
type Catalog interface {
	Service(ctx context.Context, slug string) (Service, error)
	List(ctx context.Context, agency string) ([]Service, error)
}

// Answer is what a person sends from the survey.
type Answer struct {
	// Token is the form's one-time id (a UUID given with the form): the
	// same form sent twice is stored once. A missing or malformed one is
	// replaced, so the answer counts but is not protected from a repeat.
	Token   string
	Service string
	After   string // one of EndPoints, or AfterBanner
	Score   int    // 1..5, 5 = very satisfied
	// CX holds the answered A-11 statements (names from Questions), 1..5
	// with 5 = strongly agree; unanswered ones are absent.
	CX      map[string]int
	Comment string
	Lang    string
}

// Response is a stored answer.
type Response struct {
	ID        string         `json:"id"`
	CreatedAt time.Time      `json:"created_at"`
	Service   string         `json:"service"`
	Agency    string         `json:"agency"`
	After     string         `json:"after"`
	Lang      string         `json:"lang"`
	Score     int            `json:"score"`
	CX        map[string]int `json:"cx,omitempty"`
	Comment   string         `json:"comment"` // redacted
}

// EventData is the data of EventAnswered. The CX answers are absent when
// not given.
type EventData struct {
	Service       string `json:"service"`
	Agency        string `json:"agency"`
	After         string `json:"after"`
	Score         int    `json:"score"`
	Trust         *int   `json:"trust,omitempty"`
	Effectiveness *int   `json:"effectiveness,omitempty"`
	Ease          *int   `json:"ease,omitempty"`
	Efficiency    *int   `json:"efficiency,omitempty"`
	Equity        *int   `json:"equity,omitempty"`
	Employees     *int   `json:"employees,omitempty"`
}

// FieldErrors maps form fields ("score", a question's name, "comment") to
// message keys (satisfaction.error.*). It is the invalid-input error of
// Give.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("satisfaction: invalid answer:")
	for f, k := range fe {
		b.WriteString(" " + f + "=" + k)
	}
	return b.String()
}

// Unwrap gives the invalid code to every edge.
func (fe FieldErrors) Unwrap() error {
	return platform.Errorf(platform.CodeInvalid, "Check your answers.")
}

// IsFieldErrors returns the field errors in err, if it is one.
func IsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	ok := errors.As(err, &fe)
	return fe, ok
}

// ErrThrottled is returned by Give when the client address has sent Burst
// answers within Window.
var ErrThrottled = platform.Errorf(platform.CodeRateLimited, "You have sent a lot of answers in a short time. Please try again later.")

// ErrUnknownEndPoint is returned for an end point that is not one of
// EndPoints (nor the banner's).
var ErrUnknownEndPoint = platform.Invalid("after", "There is no survey for that step.")

// Survey is the satisfaction block.
type Survey struct {
	db      *storage.DB
	audit   *audit.Log
	clock   platform.Clock
	bus     *events.Bus
	catalog Catalog
}

// New returns the block. Every argument is required.
func New(db *storage.DB, log *audit.Log, clock platform.Clock, bus *events.Bus, catalog Catalog) (*Survey, error) {
	if err := platform.Required("satisfaction",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "catalog", Missing: catalog == nil}); err != nil {
		return nil, err
	}
	return &Survey{db: db, audit: log, clock: clock, bus: bus, catalog: catalog}, nil
}

// Offer returns the published service a survey is about, checking the end
// point: ErrUnknownEndPoint, or CodeNotFound for a service that is not
// published.
func (s *Survey) Offer(ctx context.Context, after, slug string) (Service, error) {
	if after != AfterBanner && !IsEndPoint(after) {
		return Service{}, ErrUnknownEndPoint
	}
	if slug == "" || len(slug) > 200 || !utf8.ValidString(slug) {
		return Service{}, platform.Errorf(platform.CodeNotFound, "no such service")
	}
	svc, err := s.catalog.Service(ctx, slug)
	if err != nil {
		return Service{}, fmt.Errorf("satisfaction: service: %w", err)
	}
	return svc, nil
}

// Check validates a's answers (not its service or end point) and returns
// it tidied: the comment trimmed and redacted, the language "en" or "es".
// Its error is FieldErrors.
func Check(a Answer) (Answer, error) {
	fe := FieldErrors{}
	if a.Score < 1 || a.Score > 5 {
		fe["score"] = "satisfaction.error.score.required"
	}
	cx := map[string]int{}
	for q, v := range a.CX {
		switch {
		case !slices.Contains(Questions, q):
			// A field the form does not have: not the person's mistake.
		case v < 1 || v > 5:
			fe[q] = "satisfaction.error.question.invalid"
		default:
			cx[q] = v
		}
	}
	a.CX = cx
	a.Comment = strings.TrimSpace(a.Comment)
	switch {
	case !utf8.ValidString(a.Comment) || strings.ContainsRune(a.Comment, 0):
		fe["comment"] = "satisfaction.error.comment.invalid"
	case utf8.RuneCountInString(a.Comment) > MaxComment:
		fe["comment"] = "satisfaction.error.comment.toolong"
	}
	if a.Lang != "es" {
		a.Lang = "en"
	}
	if len(fe) > 0 {
		return a, fe
	}
	a.Comment = Redact(a.Comment)
	return a, nil
}

// Give stores an answer from anyone (no actor is recorded) and, at an end
// point, emits EventAnswered in the same transaction. client is the
// sender's address, for the rate limit. The same form (Token) sent again
// returns the first response and stores and emits nothing more. Errors:
// ErrUnknownEndPoint, CodeNotFound for a service that is not published,
// FieldErrors, ErrThrottled.
func (s *Survey) Give(ctx context.Context, a Answer, client string) (Response, error) {
	svc, err := s.Offer(ctx, a.After, a.Service)
	if err != nil {
		return Response{}, err
	}
	a, err = Check(a)
	if err != nil {
		return Response{}, err
	}
	if !platform.IsUUID(a.Token) {
		a.Token = uuid.NewString()
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Response{}, fmt.Errorf("satisfaction: id: %w", err)
	}
	now := s.clock.Now().UTC()
	r := Response{ID: id.String(), CreatedAt: now, Service: svc.ID, Agency: svc.AgencyID, After: a.After, Lang: a.Lang, Score: a.Score, CX: a.CX, Comment: a.Comment}
	var throttled bool
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM satisfaction_throttles WHERE window_start <= $1`, now.Add(-Window)); err != nil {
			return err
		}
		var sent int
		if err := tx.QueryRowContext(ctx, `INSERT INTO satisfaction_throttles (key, window_start, sent) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET sent = satisfaction_throttles.sent + 1
			RETURNING sent`, "ip:"+client, now).Scan(&sent); err != nil {
			return err
		}
		if sent > Burst {
			throttled = true
			return nil // keep the count
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO satisfaction_responses
			(id, token, created_at, service_id, agency_id, end_point, lang, score, trust, effectiveness, ease, efficiency, equity, employees, comment)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (token) DO NOTHING`,
			r.ID, a.Token, r.CreatedAt, r.Service, r.Agency, r.After, r.Lang, r.Score,
			cxArg(r.CX, "trust"), cxArg(r.CX, "effectiveness"), cxArg(r.CX, "ease"), cxArg(r.CX, "efficiency"), cxArg(r.CX, "equity"), cxArg(r.CX, "employees"),
			r.Comment)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// Sent before (a double click, or back and send again): the
			// first answer stands, announced once.
			first, err := scanResponse(tx.QueryRowContext(ctx, `SELECT `+responseColumns+` FROM satisfaction_responses WHERE token = $1`, a.Token))
			if err != nil {
				return err
			}
			r = first
			return nil
		}
		if r.After == AfterBanner {
			return nil
		}
		return s.emit(ctx, tx, r)
	})
	if err != nil {
		return Response{}, fmt.Errorf("satisfaction: give: %w", err)
	}
	if throttled {
		return Response{}, ErrThrottled
	}
	return r, nil
}

func cxArg(cx map[string]int, q string) any {
	if v, ok := cx[q]; ok {
		return v
	}
	return nil
}

func (s *Survey) emit(ctx context.Context, tx *sql.Tx, r Response) error {
	d := EventData{Service: r.Service, Agency: r.Agency, After: r.After, Score: r.Score}
	for q, p := range map[string]**int{"trust": &d.Trust, "effectiveness": &d.Effectiveness, "ease": &d.Ease,
		"efficiency": &d.Efficiency, "equity": &d.Equity, "employees": &d.Employees} {
		if v, ok := r.CX[q]; ok {
			*p = &v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/satisfaction", Type: EventAnswered, Subject: "service:" + r.Service, AgencyID: r.Agency, Data: b})
}

const responseColumns = `id, created_at, service_id, agency_id, end_point, lang, score, trust, effectiveness, ease, efficiency, equity, employees, comment`

type scanner interface{ Scan(...any) error }

func scanResponse(row scanner) (Response, error) {
	var r Response
	var cx [6]sql.NullInt64
	if err := row.Scan(&r.ID, &r.CreatedAt, &r.Service, &r.Agency, &r.After, &r.Lang, &r.Score,
		&cx[0], &cx[1], &cx[2], &cx[3], &cx[4], &cx[5], &r.Comment); err != nil {
		return Response{}, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	for i, q := range Questions {
		if cx[i].Valid {
			if r.CX == nil {
				r.CX = map[string]int{}
			}
			r.CX[q] = int(cx[i].Int64)
		}
	}
	return r, nil
}
