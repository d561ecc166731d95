package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
)

// Staff roles that work reports (auditors read only).
var (
	workRoles = []string{"agency_admin", "caseworker"}
	readRoles = []string{"agency_admin", "caseworker", "auditor"}
)

// mayRead decides whether by may read an agency's reports and their
// reporters: its staff, platform administrators, the operator.
func mayRead(by platform.Actor, agency string) error {
	switch {
	case by.Kind == platform.ActorOperator || (by.Kind == platform.ActorStaff && by.PlatformAdmin):
		return nil
	case by.HasRole(agency, readRoles...):
		return nil
	case !by.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "Sign in to work reports.")
	}
	return errNotFound("report")
}

func mayWork(by platform.Actor, agency string) error {
	switch {
	case by.Kind == platform.ActorOperator || (by.Kind == platform.ActorStaff && by.PlatformAdmin):
		return nil
	case by.HasRole(agency, workRoles...):
		return nil
	case by.HasRole(agency):
		return platform.Errorf(platform.CodeForbidden, "Your role may read reports, not change them.")
	case !by.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "Sign in to work reports.")
	}
	return errNotFound("report")
}

// StaffPageSize is how many reports the console lists at a time.
const StaffPageSize = 50

// StaffList returns an agency's reports, newest first, optionally of one
// Open311 status, older than before (a service_request_id; 0 for the
// newest). The read is audited.
func (s *Service) StaffList(ctx context.Context, by platform.Actor, agency, status string, before int64) ([]Request, error) {
	if err := mayRead(by, agency); err != nil {
		return nil, err
	}
	if status != "" && status != StatusOpen && status != StatusClosed {
		return nil, platform.Invalid("status", "status must be open or closed.")
	}
	statuses := []string{StatusOpen, StatusClosed}
	if status != "" {
		statuses = []string{status}
	}
	var out []Request
	// One index range per status (agency_id, status, requested_at), merged.
	for _, st := range statuses {
		q := `SELECT ` + requestColumns + ` FROM report_requests WHERE agency_id = $1 AND status = $2`
		args := []any{agency, st}
		if before > 0 {
			q += ` AND requested_at <= (SELECT requested_at FROM report_requests WHERE number = $3) AND number < $3`
			args = append(args, before)
		}
		args = append(args, StaffPageSize)
		rs, err := s.queryRequests(ctx, q+` ORDER BY requested_at DESC, number DESC LIMIT $`+strconv.Itoa(len(args)), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	slices.SortFunc(out, func(a, b Request) int {
		if c := b.RequestedAt.Compare(a.RequestedAt); c != 0 {
			return c
		}
		return int(b.Number - a.Number)
	})
	if len(out) > StaffPageSize {
		out = out[:StaffPageSize]
	}
	_, err := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: "report.list", Subject: "agency:" + agency, AgencyID: agency,
		Detail: map[string]any{"status": status, "items": len(out)}})
	if err != nil {
		return nil, fmt.Errorf("report: audit: %w", err)
	}
	return out, nil
}

// StaffView returns one report with its reporter for staff of its agency,
// and audits the read (the reporter's contact details are personal data).
func (s *Service) StaffView(ctx context.Context, by platform.Actor, number int64) (Followed, error) {
	var f Followed
	var err error
	f.Request, err = scanRequest(s.db.Read().QueryRowContext(ctx, `SELECT `+requestColumns+`, email, first_name, last_name, phone FROM report_requests WHERE number = $1`, number),
		&f.Reporter.Email, &f.Reporter.FirstName, &f.Reporter.LastName, &f.Reporter.Phone)
	if errors.Is(err, sql.ErrNoRows) {
		return Followed{}, errNotFound("report")
	}
	if err != nil {
		return Followed{}, fmt.Errorf("report: view: %w", err)
	}
	if err := mayRead(by, f.Request.Agency); err != nil {
		return Followed{}, err
	}
	if f, err = s.fill(ctx, f); err != nil {
		return Followed{}, err
	}
	if _, err := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: "report.read", Subject: "report:" + f.Request.ID, AgencyID: f.Request.Agency,
		Detail: map[string]any{"service_request_id": number}}); err != nil {
		return Followed{}, fmt.Errorf("report: audit: %w", err)
	}
	return f, nil
}

// StaffPhoto opens a photo of a report for staff of its agency (audited).
func (s *Service) StaffPhoto(ctx context.Context, by platform.Actor, number int64, photoID string) (PhotoInfo, io.ReadCloser, error) {
	r, err := s.Get(ctx, number)
	if err != nil {
		return PhotoInfo{}, nil, err
	}
	if err := mayRead(by, r.Agency); err != nil {
		return PhotoInfo{}, nil, err
	}
	p, rd, err := s.openPhoto(ctx, r.ID, photoID)
	if err != nil {
		return PhotoInfo{}, nil, err
	}
	if _, err := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: "report.photo.read", Subject: "report:" + r.ID, AgencyID: r.Agency,
		Detail: map[string]any{"photo": photoID}}); err != nil {
		rd.Close()
		return PhotoInfo{}, nil, fmt.Errorf("report: audit: %w", err)
	}
	return p, rd, nil
}

// SetState changes a report's state with a note (its status_notes), tells
// the reporter by email when they gave an address, audits it and emits
// the status_changed event, all in one transaction. A note is required
// when a report is closed.
func (s *Service) SetState(ctx context.Context, by platform.Actor, number int64, state, note string) (Request, error) {
	note = strings.TrimSpace(note)
	fe := FieldErrors{}
	if !slices.Contains(States, state) {
		fe["state"] = "report.error.state"
	}
	textErr(fe, "note", note, MaxNote, StatusOf(state) == StatusClosed)
	r, err := s.Get(ctx, number)
	if err != nil {
		return Request{}, err
	}
	if err := mayWork(by, r.Agency); err != nil {
		return Request{}, err
	}
	if len(fe) > 0 {
		return Request{}, fe
	}
	svc, err := s.ServiceByCode(ctx, r.ServiceCode)
	if err != nil {
		return Request{}, err
	}
	now := s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var email string
		if err := tx.QueryRowContext(ctx, `UPDATE report_requests SET status = $1, state = $2, status_notes = $3, updated_at = $4 WHERE id = $5 RETURNING email`,
			StatusOf(state), state, note, now, r.ID).Scan(&email); err != nil {
			return err
		}
		if err := addUpdate(ctx, tx, r.ID, now, state, note, "staff", by.ID); err != nil {
			return err
		}
		if _, err := s.cfg.Audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "report.status", Subject: "report:" + r.ID, AgencyID: r.Agency,
			Detail: map[string]any{"service_request_id": number, "from": r.State, "to": state}}); err != nil {
			return err
		}
		if email != "" {
			if err := s.mailStatus(ctx, tx, r, svc, email, state, note); err != nil {
				return err
			}
		}
		return s.cfg.Bus.Emit(ctx, tx, events.Event{Source: source, Type: EventStatusChanged, Subject: "report/" + strconv.FormatInt(number, 10),
			AgencyID: r.Agency, Data: eventData(number, svc, state, r.Lat, r.Long, "")})
	})
	if err != nil {
		return Request{}, fmt.Errorf("report: status: %w", err)
	}
	return s.Get(ctx, number)
}
