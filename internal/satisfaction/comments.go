package satisfaction

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Page is one page of a service's comments, newest first.
type Page struct {
	Service Service    `json:"-"`
	Items   []Response `json:"items"`
	// Older is the cursor of the next (older) page, "" on the last;
	// Newer that of the previous (newer) page, "" on the first.
	Older string `json:"older,omitempty"`
	Newer string `json:"newer,omitempty"`
}

// Cursor says where a page starts: before (older than) or after (newer
// than) the response with this id. The zero Cursor is the newest page.
type Cursor struct {
	Before string
	After  string
}

// mayRead decides whether by may read the comments of agency's services:
// the agency's staff (any role), platform administrators, and the
// operator at the server's CLI.
func mayRead(by platform.Actor, agency string) error {
	switch {
	case by.Kind == platform.ActorStaff && by.ID != "" && (by.PlatformAdmin || by.HasRole(agency)):
		return nil
	case by.Kind == platform.ActorOperator:
		return nil
	case !by.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "Sign in to read what people said.")
	default:
		return platform.Errorf(platform.CodeForbidden, "Only the agency's staff may read what people said about its services.")
	}
}

// Services lists the published services whose comments by may read: every
// service for a platform administrator or the operator, the services of
// the agencies in which a staff member holds a role, none for anyone else.
func (s *Survey) Services(ctx context.Context, by platform.Actor) ([]Service, error) {
	switch {
	case by.Kind == platform.ActorOperator || (by.Kind == platform.ActorStaff && by.ID != "" && by.PlatformAdmin):
		return s.catalog.List(ctx, "")
	case by.Kind != platform.ActorStaff || by.ID == "":
		return nil, mayRead(by, "")
	}
	var out []Service
	for _, agency := range by.Agencies() {
		svcs, err := s.catalog.List(ctx, agency)
		if err != nil {
			return nil, fmt.Errorf("satisfaction: services: %w", err)
		}
		out = append(out, svcs...)
	}
	return out, nil
}

// Comments returns a page of the redacted comments people left about a
// service, newest first, to its agency's staff and platform
// administrators, and audits the read in their name. A service that is
// not published is CodeNotFound; one of another agency CodeForbidden.
func (s *Survey) Comments(ctx context.Context, by platform.Actor, slug string, c Cursor) (Page, error) {
	if !by.SignedIn() && by.Kind != platform.ActorOperator {
		return Page{}, mayRead(by, "")
	}
	svc, err := s.catalog.Service(ctx, slug)
	if err != nil {
		return Page{}, fmt.Errorf("satisfaction: comments: %w", err)
	}
	if err := mayRead(by, svc.AgencyID); err != nil {
		return Page{}, err
	}
	for _, id := range []string{c.Before, c.After} {
		if id != "" && !platform.IsUUID(id) {
			return Page{}, platform.Invalid("page", "That page of comments does not exist.")
		}
	}
	// Every statement names service_id and comment <> '' so that the
	// partial index satisfaction_comments serves it.
	const from = ` FROM satisfaction_responses WHERE service_id = $1 AND comment <> ''`
	const at = `(SELECT created_at, id FROM satisfaction_responses WHERE id = $2 AND service_id = $1 AND comment <> '')`
	var q string
	args := []any{svc.ID}
	switch {
	case c.Before != "":
		q = `SELECT ` + responseColumns + from + ` AND (created_at, id) < ` + at + ` ORDER BY created_at DESC, id DESC LIMIT $3`
		args = append(args, c.Before, PageSize+1)
	case c.After != "":
		q = `SELECT ` + responseColumns + from + ` AND (created_at, id) > ` + at + ` ORDER BY created_at, id LIMIT $3`
		args = append(args, c.After, PageSize+1)
	default:
		q = `SELECT ` + responseColumns + from + ` ORDER BY created_at DESC, id DESC LIMIT $2`
		args = append(args, PageSize+1)
	}
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("satisfaction: comments: %w", err)
	}
	defer rows.Close()
	var items []Response
	for rows.Next() {
		r, err := scanResponse(rows)
		if err != nil {
			return Page{}, fmt.Errorf("satisfaction: comments: %w", err)
		}
		items = append(items, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("satisfaction: comments: %w", err)
	}
	p := Page{Service: svc}
	more := len(items) > PageSize
	if more {
		items = items[:PageSize]
	}
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
		items = []Response{}
	}
	p.Items = items
	detail := map[string]any{"service": svc.ID, "items": len(items)}
	if c.Before != "" {
		detail["before"] = c.Before
	}
	if c.After != "" {
		detail["after"] = c.After
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.audit.Append(platform.WithActor(ctx, by), tx, audit.Record{
			Action: "satisfaction.comments", Subject: "service:" + svc.ID, AgencyID: svc.AgencyID, Detail: detail})
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("satisfaction: audit: %w", err)
	}
	return p, nil
}
