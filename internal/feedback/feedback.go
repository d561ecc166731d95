// Package feedback is the block that keeps what people tell us about the
// site: what they were doing, what went wrong or what we could improve,
// and, only if they want a reply, an email address. Anyone may give
// feedback, signed in or not, and nothing ties it to an account. Platform
// administrators (and the operator at the CLI) read it; every read is
// audited, because feedback may hold an email address or whatever else a
// person chose to type.
//
// The form is public, so Give is rate-limited per client address the way
// sign-up and sign-in are (a fixed window in the database, shared by every
// replica).
package feedback

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Limits on what one piece of feedback may hold, in characters.
const (
	MaxDoing   = 1000
	MaxComment = 3000
	MaxEmail   = 254
	MaxPage    = 500
)

// Rate limit: at most Burst pieces of feedback from one client address per
// Window.
const (
	Burst  = 10
	Window = time.Hour
)

// PageSize is how many pieces of feedback List returns at a time.
const PageSize = 20

// Feedback is one piece of feedback.
type Feedback struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Lang      string    `json:"lang"`  // the language of the page it was given on
	Page      string    `json:"page"`  // the path of the page the person came from, or ""
	Doing     string    `json:"doing"` // what they were doing (optional)
	Comment   string    `json:"comment"`
	Email     string    `json:"email"` // for a reply, or ""
}

// Input is what a person sends from the form.
type Input struct {
	Doing   string
	Comment string
	Email   string
	Page    string // the page they came from (a path on this site)
	Lang    string
}

// FieldErrors maps form fields ("doing", "comment", "email") to message
// keys (feedback.error.*). It is the invalid-input error of Give.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("feedback: invalid input:")
	for f, k := range fe {
		b.WriteString(" " + f + "=" + k)
	}
	return b.String()
}

// Unwrap gives the invalid code to every edge.
func (fe FieldErrors) Unwrap() error {
	return platform.Errorf(platform.CodeInvalid, "Check what you entered.")
}

// ErrThrottled is returned by Give when the client address has sent Burst
// pieces of feedback within Window.
var ErrThrottled = platform.Errorf(platform.CodeRateLimited, "You have sent a lot of feedback in a short time. Please try again later.")

// Service is the feedback block.
type Service struct {
	db    *storage.DB
	audit *audit.Log
	clock platform.Clock
}

// New returns the block. Every argument is required.
func New(db *storage.DB, log *audit.Log, clock platform.Clock) (*Service, error) {
	if err := platform.Required("feedback",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	return &Service{db: db, audit: log, clock: clock}, nil
}

// Check validates in and returns it tidied (trimmed; the page reduced to a
// safe path). Its error is FieldErrors.
func Check(in Input) (Input, error) {
	fe := FieldErrors{}
	in.Doing = strings.TrimSpace(in.Doing)
	in.Comment = strings.TrimSpace(in.Comment)
	in.Email = strings.TrimSpace(in.Email)
	text := func(field, v string, max int, required bool) {
		switch {
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			fe[field] = "feedback.error." + field + ".invalid"
		case required && v == "":
			fe[field] = "feedback.error." + field + ".required"
		case utf8.RuneCountInString(v) > max:
			fe[field] = "feedback.error." + field + ".toolong"
		}
	}
	text("doing", in.Doing, MaxDoing, false)
	text("comment", in.Comment, MaxComment, true)
	if in.Email != "" {
		if _, bad := fe["email"]; !bad && !validEmail(in.Email) {
			fe["email"] = "feedback.error.email.invalid"
		}
	}
	in.Page = SafePage(in.Page)
	if in.Lang != "es" {
		in.Lang = "en"
	}
	if len(fe) > 0 {
		return in, fe
	}
	return in, nil
}

// validEmail accepts one bare address (no display name), as typed.
func validEmail(s string) bool {
	if len(s) > MaxEmail || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n<>\x00") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

// SafePage returns p if it is a path on this site (one leading slash, no
// scheme, host, backslash or control character), without its query and
// fragment, which may hold tokens or personal data; otherwise "".
func SafePage(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" || len(p) > MaxPage || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || !utf8.ValidString(p) {
		return ""
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	return p
}

// Give stores a piece of feedback from anyone (the actor is not recorded:
// feedback is anonymous unless the person leaves an email address). client
// is the sender's address, for the rate limit. It returns FieldErrors when
// the input is wrong, ErrThrottled when the address has sent too much.
func (s *Service) Give(ctx context.Context, in Input, client string) (Feedback, error) {
	in, err := Check(in)
	if err != nil {
		return Feedback{}, err
	}
	now := s.clock.Now().UTC()
	id, err := uuid.NewV7()
	if err != nil {
		return Feedback{}, fmt.Errorf("feedback: id: %w", err)
	}
	f := Feedback{ID: id.String(), CreatedAt: now, Lang: in.Lang, Page: in.Page, Doing: in.Doing, Comment: in.Comment, Email: in.Email}
	var throttled bool
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM feedback_throttles WHERE window_start <= $1`, now.Add(-Window)); err != nil {
			return err
		}
		var sent int
		if err := tx.QueryRowContext(ctx, `INSERT INTO feedback_throttles (key, window_start, sent) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET sent = feedback_throttles.sent + 1
			RETURNING sent`, "ip:"+client, now).Scan(&sent); err != nil {
			return err
		}
		if sent > Burst {
			throttled = true
			return nil // keep the count
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO feedback (id, created_at, lang, page, doing, comment, email) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			f.ID, f.CreatedAt, f.Lang, f.Page, f.Doing, f.Comment, f.Email)
		return err
	})
	if err != nil {
		return Feedback{}, fmt.Errorf("feedback: give: %w", err)
	}
	if throttled {
		return Feedback{}, ErrThrottled
	}
	return f, nil
}

// Page is one page of the list, newest first.
type Page struct {
	Items []Feedback `json:"items"`
	// Older is the cursor of the next (older) page, "" on the last;
	// Newer that of the previous (newer) page, "" on the first.
	Older string `json:"older,omitempty"`
	Newer string `json:"newer,omitempty"`
}

// Cursor says where a page starts: before (older than) or after (newer
// than) the feedback with this id. The zero Cursor is the newest page.
type Cursor struct {
	Before string
	After  string
}

// may reports whether by may read feedback: platform administrators and
// the operator at the server's CLI.
func may(by platform.Actor) error {
	switch {
	case by.Kind == platform.ActorStaff && by.PlatformAdmin && by.ID != "":
		return nil
	case by.Kind == platform.ActorOperator:
		return nil
	case !by.SignedIn() && by.Kind != platform.ActorClient:
		return platform.Errorf(platform.CodeUnauthorized, "Sign in to read feedback.")
	default:
		return platform.Errorf(platform.CodeForbidden, "Only platform administrators may read feedback.")
	}
}

// List returns a page of feedback, newest first, for a platform
// administrator or the operator, and audits the read in their name.
func (s *Service) List(ctx context.Context, by platform.Actor, c Cursor) (Page, error) {
	if err := may(by); err != nil {
		return Page{}, err
	}
	for _, id := range []string{c.Before, c.After} {
		if id != "" && !platform.IsUUID(id) {
			return Page{}, platform.Invalid("page", "That page of feedback does not exist.")
		}
	}
	const cols = `id, created_at, lang, page, doing, comment, email`
	var q string
	var args []any
	switch {
	case c.Before != "":
		q = `SELECT ` + cols + ` FROM feedback WHERE (created_at, id) < (SELECT created_at, id FROM feedback WHERE id = $1)
			ORDER BY created_at DESC, id DESC LIMIT $2`
		args = []any{c.Before, PageSize + 1}
	case c.After != "":
		q = `SELECT ` + cols + ` FROM feedback WHERE (created_at, id) > (SELECT created_at, id FROM feedback WHERE id = $1)
			ORDER BY created_at, id LIMIT $2`
		args = []any{c.After, PageSize + 1}
	default:
		q = `SELECT ` + cols + ` FROM feedback ORDER BY created_at DESC, id DESC LIMIT $1`
		args = []any{PageSize + 1}
	}
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("feedback: list: %w", err)
	}
	defer rows.Close()
	var items []Feedback
	for rows.Next() {
		var f Feedback
		if err := rows.Scan(&f.ID, &f.CreatedAt, &f.Lang, &f.Page, &f.Doing, &f.Comment, &f.Email); err != nil {
			return Page{}, fmt.Errorf("feedback: list: %w", err)
		}
		f.CreatedAt = f.CreatedAt.UTC()
		items = append(items, f)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("feedback: list: %w", err)
	}
	more := len(items) > PageSize
	if more {
		items = items[:PageSize]
	}
	var p Page
	if c.After != "" {
		// Read oldest first from the cursor; show newest first.
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
		if more {
			p.Newer = items[0].ID
		}
		if len(items) > 0 {
			p.Older = items[len(items)-1].ID
		}
	} else {
		if more {
			p.Older = items[len(items)-1].ID
		}
		if c.Before != "" && len(items) > 0 {
			p.Newer = items[0].ID
		}
	}
	if items == nil {
		items = []Feedback{}
	}
	p.Items = items
	detail := map[string]any{"items": len(items)}
	if c.Before != "" {
		detail["before"] = c.Before
	}
	if c.After != "" {
		detail["after"] = c.After
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "feedback.list", Subject: "feedback", Detail: detail})
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("feedback: audit: %w", err)
	}
	return p, nil
}

// IsFieldErrors returns the field errors in err, if it is one.
func IsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	ok := errors.As(err, &fe)
	return fe, ok
}
