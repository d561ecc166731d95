package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/platform"
)

// TemplateType is what a template sends: email or sms.
type TemplateType string

// Template types.
const (
	TemplateEmail TemplateType = "email"
	TemplateSMS   TemplateType = "sms"
)

// Limits on templates.
const (
	MaxTemplateNameBytes = 255
	MaxTemplateBodyBytes = 64 << 10
	MaxSMSBodyBytes      = 918 // six concatenated GSM-7 segments, as Notify allows ~918 characters
)

// Template is one version of an agency's message template. English is
// Subject and Body; SubjectES and BodyES are the Spanish version ("" when
// there is none: English is then used for everyone).
type Template struct {
	ID        string       `json:"id"`
	AgencyID  string       `json:"agency_id"`
	Type      TemplateType `json:"type"`
	Version   int          `json:"version"`
	Name      string       `json:"name"`
	Subject   string       `json:"subject,omitempty"`
	Body      string       `json:"body"`
	SubjectES string       `json:"subject_es,omitempty"`
	BodyES    string       `json:"body_es,omitempty"`
	CreatedBy string       `json:"created_by,omitempty"`
	CreatedAt time.Time    `json:"created_at"` // the template's first version
	UpdatedAt time.Time    `json:"updated_at"` // this version
}

// TemplateInput is a new template or a new version of one.
type TemplateInput struct {
	AgencyID  string
	Type      TemplateType
	Name      string
	Subject   string
	Body      string
	SubjectES string
	BodyES    string
	CreatedBy string // who made the change, for the record
}

func (in *TemplateInput) check() error {
	if in.AgencyID == "" {
		return platform.Invalid("agency_id", "Choose the agency the template belongs to")
	}
	if in.Type != TemplateEmail && in.Type != TemplateSMS {
		return platform.Invalid("type", fmt.Sprintf("The template type %q must be email or sms", in.Type))
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := checkText("name", in.Name, MaxTemplateNameBytes, true); err != nil {
		return err
	}
	limit := MaxTemplateBodyBytes
	if in.Type == TemplateSMS {
		limit = MaxSMSBodyBytes
	}
	if err := checkText("body", in.Body, limit, true); err != nil {
		return err
	}
	if err := checkText("body_es", in.BodyES, limit, false); err != nil {
		return err
	}
	if in.Type == TemplateEmail {
		if err := checkText("subject", in.Subject, MaxSubjectBytes, true); err != nil {
			return err
		}
		if err := checkText("subject_es", in.SubjectES, MaxSubjectBytes, false); err != nil {
			return err
		}
		if in.BodyES != "" && strings.TrimSpace(in.SubjectES) == "" {
			return platform.Invalid("subject_es", "Give the Spanish version a subject too")
		}
	} else if in.Subject != "" || in.SubjectES != "" {
		return platform.Invalid("subject", "Text message templates have no subject")
	}
	return nil
}

// CreateTemplate stores version 1 of a new template.
func (s *Service) CreateTemplate(ctx context.Context, in TemplateInput) (Template, error) {
	if err := in.check(); err != nil {
		return Template{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	t := Template{ID: uuid.NewString(), AgencyID: in.AgencyID, Type: in.Type, Version: 1, Name: in.Name, Subject: in.Subject, Body: in.Body,
		SubjectES: in.SubjectES, BodyES: in.BodyES, CreatedBy: in.CreatedBy, CreatedAt: now, UpdatedAt: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_templates (id, agency_id, type, version, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)`,
			t.ID, t.AgencyID, t.Type, now); err != nil {
			return err
		}
		return insertVersion(ctx, tx, t)
	})
	if err != nil {
		return Template{}, fmt.Errorf("notify: create template: %w", err)
	}
	return t, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, t Template) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notify_template_versions (template_id, version, name, subject, body, subject_es, body_es, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, t.Version, t.Name, t.Subject, t.Body, t.SubjectES, t.BodyES, t.CreatedBy, t.UpdatedAt)
	return err
}

// UpdateTemplate stores a new version of template id; earlier versions stay
// as they were, and notifications keep the version they were made from. The
// agency and type cannot change.
func (s *Service) UpdateTemplate(ctx context.Context, id string, in TemplateInput) (Template, error) {
	cur, err := s.Template(ctx, id, 0)
	if err != nil {
		return Template{}, err
	}
	in.AgencyID, in.Type = cur.AgencyID, cur.Type
	if err := in.check(); err != nil {
		return Template{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	t := cur
	t.Name, t.Subject, t.Body, t.SubjectES, t.BodyES, t.CreatedBy, t.UpdatedAt = in.Name, in.Subject, in.Body, in.SubjectES, in.BodyES, in.CreatedBy, now
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The version is taken under the row's write lock, so two updates
		// never make the same version.
		if err := tx.QueryRowContext(ctx, `UPDATE notify_templates SET version = version + 1, updated_at = $1 WHERE id = $2 RETURNING version`, now, id).Scan(&t.Version); err != nil {
			return err
		}
		return insertVersion(ctx, tx, t)
	})
	if err != nil {
		return Template{}, fmt.Errorf("notify: update template %s: %w", id, err)
	}
	return t, nil
}

const templateColumns = `t.id, t.agency_id, t.type, v.version, v.name, v.subject, v.body, v.subject_es, v.body_es, v.created_by, t.created_at, v.created_at`

func scanTemplate(row scanner) (Template, error) {
	var t Template
	err := row.Scan(&t.ID, &t.AgencyID, &t.Type, &t.Version, &t.Name, &t.Subject, &t.Body, &t.SubjectES, &t.BodyES, &t.CreatedBy, &t.CreatedAt, &t.UpdatedAt)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// Template returns version of template id (0: the latest), or CodeNotFound.
//
// Every send reads its template, so versions are kept in memory once read
// (templateCache): a version is never changed once written, so a kept one
// is right on every replica. Which version is the latest is read from the
// database every time (one indexed row), so an update takes effect on
// every replica from the next send on.
func (s *Service) Template(ctx context.Context, id string, version int) (Template, error) {
	if version <= 0 {
		err := s.db.HotRead().QueryRowContext(ctx, `SELECT version FROM notify_templates WHERE id = $1`, id).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return Template{}, platform.Errorf(platform.CodeNotFound, "template %q version %d does not exist", id, 0)
		}
		if err != nil {
			return Template{}, fmt.Errorf("notify: template %s: %w", id, err)
		}
	}
	if t, ok := s.templates.get(id, version); ok {
		return t, nil
	}
	q := `SELECT ` + templateColumns + ` FROM notify_templates t JOIN notify_template_versions v ON v.template_id = t.id WHERE t.id = $1 AND v.version = $2`
	t, err := scanTemplate(s.db.HotRead().QueryRowContext(ctx, q, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return t, platform.Errorf(platform.CodeNotFound, "template %q version %d does not exist", id, version)
	}
	if err != nil {
		return t, fmt.Errorf("notify: template %s: %w", id, err)
	}
	s.templates.put(t)
	return t, nil
}

// templateCache holds template versions read, by id and version. Only
// versions that exist are kept, so unknown ids cannot grow it; it is
// emptied when it grows past a bound anyway.
type templateCache struct {
	mu sync.Mutex
	m  map[templateKey]Template
}

type templateKey struct {
	id      string
	version int
}

// maxCachedTemplates bounds templateCache.
const maxCachedTemplates = 10000

func (c *templateCache) get(id string, version int) (Template, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[templateKey{id, version}]
	return t, ok
}

func (c *templateCache) put(t Template) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTemplates {
		c.m = map[templateKey]Template{}
	}
	c.m[templateKey{t.ID, t.Version}] = t
}

// Templates lists the latest version of an agency's templates ("" type:
// both), by name.
func (s *Service) Templates(ctx context.Context, agencyID string, typ TemplateType) ([]Template, error) {
	q := `SELECT ` + templateColumns + ` FROM notify_templates t JOIN notify_template_versions v ON v.template_id = t.id AND v.version = t.version WHERE t.agency_id = $1`
	args := []any{agencyID}
	if typ != "" {
		q += ` AND t.type = $2`
		args = append(args, string(typ))
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY v.name, t.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	defer rows.Close()
	out := []Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Rendered is a template filled in for one message.
type Rendered struct {
	Lang    string
	Subject string // email only
	Text    string
	HTML    string // email only: the body formatted as HTML
}

// Render fills t in with p in lang ("es" uses the Spanish version when the
// template has one; anything else English). Missing placeholders return a
// *MissingError.
func (t Template) Render(lang string, p Personalisation) (Rendered, error) {
	subject, body, l := t.Subject, t.Body, "en"
	if strings.HasPrefix(lang, "es") && t.BodyES != "" {
		subject, body, l = t.SubjectES, t.BodyES, "es"
	}
	out, err := Render(p, subject, body)
	if err != nil {
		return Rendered{}, err
	}
	r := Rendered{Lang: l, Text: out[1]}
	if t.Type == TemplateEmail {
		r.Subject = OneLine(out[0])
		r.HTML = FormatHTML(out[1])
	}
	return r, nil
}
