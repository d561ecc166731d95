package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// Request is a reported problem as the public may see it: no reporter's
// email, name or phone (see Reporter).
type Request struct {
	ID          string              `json:"-"`
	Number      int64               `json:"service_request_id"`
	Token       string              `json:"-"`
	ServiceCode string              `json:"service_code"`
	Agency      string              `json:"agency"`
	Status      string              `json:"status"`
	State       string              `json:"state"`
	StatusNotes string              `json:"status_notes"`
	Description string              `json:"description"`
	Lat, Long   *float64            `json:"-"`
	Address     string              `json:"address"`
	AddressID   string              `json:"address_id"`
	Zip         string              `json:"zipcode"`
	MediaURL    string              `json:"media_url"`
	Attributes  map[string][]string `json:"attributes"`
	Lang        string              `json:"-"`
	RequestedAt time.Time           `json:"requested_datetime"`
	UpdatedAt   time.Time           `json:"updated_datetime"`
	ExpectedAt  time.Time           `json:"expected_datetime"`
	// Distance from the point asked about, in meters (Nearby only).
	Distance float64 `json:"-"`
}

// Reporter is who reported a problem: only the reporter's own follow page
// and the owning agency's staff see it.
type Reporter struct {
	Email, FirstName, LastName, Phone string
}

// Update is one line of a request's history.
type Update struct {
	At     time.Time
	State  string
	Note   string
	ByKind string // reporter, staff, api
}

// Photo is a stored photo's record.
type PhotoInfo struct {
	ID          string
	ContentType string
	Size        int64
}

const requestColumns = `id, number, token, service_code, agency_id, status, state, status_notes, description, lat, lon, address, address_id, zipcode, media_url, attributes, lang, requested_at, updated_at, expected_at`

func scanRequest(r interface{ Scan(...any) error }, extra ...any) (Request, error) {
	var q Request
	var lat, long sql.NullFloat64
	var attrs string
	dest := append([]any{&q.ID, &q.Number, &q.Token, &q.ServiceCode, &q.Agency, &q.Status, &q.State, &q.StatusNotes, &q.Description, &lat, &long,
		&q.Address, &q.AddressID, &q.Zip, &q.MediaURL, &attrs, &q.Lang, &q.RequestedAt, &q.UpdatedAt, &q.ExpectedAt}, extra...)
	if err := r.Scan(dest...); err != nil {
		return Request{}, err
	}
	if lat.Valid && long.Valid {
		q.Lat, q.Long = &lat.Float64, &long.Float64
	}
	if err := json.Unmarshal([]byte(attrs), &q.Attributes); err != nil {
		return Request{}, fmt.Errorf("report: request %d: attributes: %w", q.Number, err)
	}
	q.RequestedAt, q.UpdatedAt, q.ExpectedAt = q.RequestedAt.UTC(), q.UpdatedAt.UTC(), q.ExpectedAt.UTC()
	return q, nil
}

func (s *Service) queryRequests(ctx context.Context, q string, args ...any) ([]Request, error) {
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("report: requests: %w", err)
	}
	defer rows.Close()
	out := []Request{}
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("report: requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Search defaults and limits (GeoReport v2: the last 90 days and at most
// 1000 requests when no dates are given).
const (
	DefaultWindow = 90 * 24 * time.Hour
	MaxResults    = 1000
	MaxIDs        = 1000
)

// Query is GET requests.{fmt}'s filters.
type Query struct {
	IDs          []int64 // service_request_id: when set, every other filter is ignored
	ServiceCodes []string
	Start, End   time.Time // zero: unset
	Statuses     []string
	Jurisdiction string
}

// Search returns requests newest first. Without dates it reads the last 90
// days; a window longer than 90 days is refused; at most 1000 are returned.
func (s *Service) Search(ctx context.Context, q Query) ([]Request, error) {
	if len(q.IDs) > 0 {
		if len(q.IDs) > MaxIDs {
			return nil, platform.Invalid("service_request_id", fmt.Sprintf("At most %d service_request_id values.", MaxIDs))
		}
		ph := make([]string, len(q.IDs))
		args := make([]any, len(q.IDs))
		for i, id := range q.IDs {
			ph[i], args[i] = "$"+strconv.Itoa(i+1), id
		}
		return s.queryRequests(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE number IN (`+strings.Join(ph, ", ")+`) ORDER BY requested_at DESC, number DESC`, args...)
	}
	now := s.cfg.Clock.Now().UTC()
	switch {
	case q.Start.IsZero() && q.End.IsZero():
		q.End, q.Start = now, now.Add(-DefaultWindow)
	case q.Start.IsZero():
		q.Start = q.End.Add(-DefaultWindow)
	case q.End.IsZero():
		q.End = q.Start.Add(DefaultWindow)
	}
	if q.End.Before(q.Start) {
		return nil, platform.Invalid("end_date", "end_date is before start_date.")
	}
	if q.End.Sub(q.Start) > DefaultWindow {
		return nil, platform.Invalid("end_date", "start_date and end_date may not span more than 90 days.")
	}
	for _, st := range q.Statuses {
		if st != StatusOpen && st != StatusClosed {
			return nil, platform.Invalid("status", "status must be open or closed.")
		}
	}
	where := []string{"requested_at >= $1", "requested_at <= $2"}
	args := []any{q.Start.UTC(), q.End.UTC()}
	in := func(col string, vals []string) {
		ph := make([]string, len(vals))
		for i, v := range vals {
			args = append(args, v)
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
	}
	if len(q.ServiceCodes) > 0 {
		in("service_code", q.ServiceCodes)
	}
	if len(q.Statuses) == 1 {
		in("status", q.Statuses)
	}
	if q.Jurisdiction != "" {
		args = append(args, q.Jurisdiction)
		where = append(where, "service_code IN (SELECT code FROM report_services WHERE jurisdiction_id = $"+strconv.Itoa(len(args))+")")
	}
	args = append(args, MaxResults)
	return s.queryRequests(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE `+strings.Join(where, " AND ")+
		` ORDER BY requested_at DESC, number DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

// Get returns one request by its service_request_id.
func (s *Service) Get(ctx context.Context, number int64) (Request, error) {
	r, err := scanRequest(s.db.Read().QueryRowContext(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE number = $1`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, errNotFound("service request")
	}
	if err != nil {
		return Request{}, fmt.Errorf("report: get: %w", err)
	}
	return r, nil
}

// ByToken returns the request an Open311 token was given for.
func (s *Service) ByToken(ctx context.Context, token string) (Request, error) {
	r, err := scanRequest(s.db.Read().QueryRowContext(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE token = $1`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, errNotFound("token")
	}
	if err != nil {
		return Request{}, fmt.Errorf("report: token: %w", err)
	}
	return r, nil
}

// Followed is what the reporter sees at their private link.
type Followed struct {
	Request  Request
	Service  ReportService
	Reporter Reporter
	History  []Update
	Photos   []PhotoInfo
	// CanReopen: closed without being fixed.
	CanReopen bool
}

// Follow returns the report a private follow link is for, with its
// history and photos. The link is the reporter's authority: an unknown
// link is not found.
func (s *Service) Follow(ctx context.Context, token string) (Followed, error) {
	if token == "" || len(token) > 100 {
		return Followed{}, errNotFound("report")
	}
	var f Followed
	var err error
	f.Request, err = scanRequest(s.db.Read().QueryRowContext(ctx, `SELECT `+requestColumns+`, email, first_name, last_name, phone FROM report_requests WHERE follow_hash = $1`, hash(token)),
		&f.Reporter.Email, &f.Reporter.FirstName, &f.Reporter.LastName, &f.Reporter.Phone)
	if errors.Is(err, sql.ErrNoRows) {
		return Followed{}, errNotFound("report")
	}
	if err != nil {
		return Followed{}, fmt.Errorf("report: follow: %w", err)
	}
	return s.fill(ctx, f)
}

func (s *Service) fill(ctx context.Context, f Followed) (Followed, error) {
	var err error
	if f.Service, err = s.ServiceByCode(ctx, f.Request.ServiceCode); err != nil {
		return Followed{}, err
	}
	if f.History, err = s.history(ctx, f.Request.ID); err != nil {
		return Followed{}, err
	}
	if f.Photos, err = s.photos(ctx, f.Request.ID); err != nil {
		return Followed{}, err
	}
	f.CanReopen = f.Request.State == StateNotFixed
	return f, nil
}

func (s *Service) history(ctx context.Context, id string) ([]Update, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT at, state, note, by_kind FROM report_updates WHERE request_id = $1 ORDER BY at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("report: history: %w", err)
	}
	defer rows.Close()
	var out []Update
	for rows.Next() {
		var u Update
		if err := rows.Scan(&u.At, &u.State, &u.Note, &u.ByKind); err != nil {
			return nil, fmt.Errorf("report: history: %w", err)
		}
		u.At = u.At.UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Service) photos(ctx context.Context, id string) ([]PhotoInfo, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, content_type, size FROM report_photos WHERE request_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("report: photos: %w", err)
	}
	defer rows.Close()
	var out []PhotoInfo
	for rows.Next() {
		var p PhotoInfo
		if err := rows.Scan(&p.ID, &p.ContentType, &p.Size); err != nil {
			return nil, fmt.Errorf("report: photos: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// openPhoto opens a photo of a request.
func (s *Service) openPhoto(ctx context.Context, requestID, photoID string) (PhotoInfo, io.ReadCloser, error) {
	var p PhotoInfo
	var key string
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, content_type, size, blob_key FROM report_photos WHERE id = $1 AND request_id = $2`, photoID, requestID).
		Scan(&p.ID, &p.ContentType, &p.Size, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return PhotoInfo{}, nil, errNotFound("photo")
	}
	if err != nil {
		return PhotoInfo{}, nil, fmt.Errorf("report: photo: %w", err)
	}
	rd, err := s.cfg.Photos.NewReader(ctx, key, nil)
	if err != nil {
		return PhotoInfo{}, nil, fmt.Errorf("report: photo: %w", err)
	}
	return p, rd, nil
}

// FollowPhoto opens a photo of the report a follow link is for.
func (s *Service) FollowPhoto(ctx context.Context, token, photoID string) (PhotoInfo, io.ReadCloser, error) {
	f, err := s.Follow(ctx, token)
	if err != nil {
		return PhotoInfo{}, nil, err
	}
	return s.openPhoto(ctx, f.Request.ID, photoID)
}

// Reopen reopens a report closed without being fixed, at its reporter's
// request (the follow link), with their reason as the note.
func (s *Service) Reopen(ctx context.Context, token, reason string) (Followed, error) {
	reason = strings.TrimSpace(reason)
	fe := FieldErrors{}
	textErr(fe, "reason", reason, MaxNote, true)
	if len(fe) > 0 {
		return Followed{}, fe
	}
	f, err := s.Follow(ctx, token)
	if err != nil {
		return Followed{}, err
	}
	if !f.CanReopen {
		return Followed{}, platform.Errorf(platform.CodeConflict, "Only a report closed without being fixed can be reopened.")
	}
	now := s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE report_requests SET status = $1, state = $2, status_notes = $3, updated_at = $4 WHERE id = $5 AND state = $6`,
			StatusOpen, StateOpen, reason, now, f.Request.ID, StateNotFixed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return platform.Errorf(platform.CodeConflict, "Only a report closed without being fixed can be reopened.")
		}
		if err := addUpdate(ctx, tx, f.Request.ID, now, StateOpen, reason, "reporter", ""); err != nil {
			return err
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "report.reopen", Subject: "report:" + f.Request.ID, AgencyID: f.Request.Agency,
			Detail: map[string]any{"service_request_id": f.Request.Number}}); err != nil {
			return err
		}
		return s.cfg.Bus.Emit(ctx, tx, events.Event{Source: source, Type: EventReopened, Subject: "report/" + strconv.FormatInt(f.Request.Number, 10),
			AgencyID: f.Request.Agency, Data: eventData(f.Request.Number, f.Service, StateOpen, f.Request.Lat, f.Request.Long, "")})
	})
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeConflict {
			return Followed{}, err
		}
		return Followed{}, fmt.Errorf("report: reopen: %w", err)
	}
	return s.Follow(ctx, token)
}

// Nearby search.
const (
	NearbyRadius = 2000 // meters
	NearbyLimit  = 50
	earthRadius  = 6371000.0
)

// Distance is the great-circle distance in meters (haversine).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// Nearby returns the reports within NearbyRadius of a point from the last
// 90 days, nearest first (at most NearbyLimit): what the public may see of
// them. It reads a latitude band by index and filters in Go.
func (s *Service) Nearby(ctx context.Context, lat, long float64) ([]Request, error) {
	if math.IsNaN(lat) || math.IsNaN(long) || lat < -90 || lat > 90 || long < -180 || long > 180 {
		return nil, platform.Invalid("location", "report.error.location.range")
	}
	dlat := NearbyRadius / earthRadius * 180 / math.Pi
	dlon := dlat / math.Max(0.01, math.Cos(lat*math.Pi/180))
	since := s.cfg.Clock.Now().UTC().Add(-DefaultWindow)
	rs, err := s.queryRequests(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4 AND requested_at >= $5
		ORDER BY lat LIMIT 2000`, lat-dlat, lat+dlat, long-dlon, long+dlon, since)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	for _, r := range rs {
		if r.Lat == nil {
			continue
		}
		r.Distance = Distance(lat, long, *r.Lat, *r.Long)
		if r.Distance <= NearbyRadius {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Request) int {
		switch {
		case a.Distance < b.Distance:
			return -1
		case a.Distance > b.Distance:
			return 1
		}
		return b.RequestedAt.Compare(a.RequestedAt)
	})
	if len(out) > NearbyLimit {
		out = out[:NearbyLimit]
	}
	return out, nil
}

// NearbyZip returns the newest reports in a ZIP code from the last 90
// days (at most NearbyLimit): the alternative to a point.
func (s *Service) NearbyZip(ctx context.Context, zip string) ([]Request, error) {
	if !zipOK(zip) {
		return nil, platform.Invalid("zipcode", "report.error.zipcode")
	}
	since := s.cfg.Clock.Now().UTC().Add(-DefaultWindow)
	return s.queryRequests(ctx, `SELECT `+requestColumns+` FROM report_requests WHERE zipcode = $1 AND requested_at >= $2 ORDER BY requested_at DESC LIMIT $3`, zip, since, NearbyLimit)
}

// mailStatus tells the reporter of a change, with their follow link's
// page (the link itself is not kept, so the email names the report and
// points to the first email's link).
func (s *Service) mailStatus(ctx context.Context, tx *sql.Tx, r Request, svc ReportService, email, state, note string) error {
	l, _ := i18n.Parse(r.Lang)
	m := i18n.Messages()
	num := strconv.FormatInt(r.Number, 10)
	body := m.T(l, "report.mail.status.body", svc.NameIn(r.Lang), num, m.T(l, "report.state."+state), note)
	return s.cfg.Mailer.SendEmail(ctx, tx, Message{To: email, Subject: m.T(l, "report.mail.status.subject", num), Text: body, Lang: string(l),
		AgencyID: svc.Agency, Reference: "report:" + num})
}
