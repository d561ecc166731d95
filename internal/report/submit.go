package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gocloud.dev/blob"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// NewReport is what a reporter (or an app through Open311) sends.
type NewReport struct {
	ServiceCode string
	// Lat and Long are WGS84 degrees; both or neither.
	Lat, Long   *float64
	Address     string // Open311 address_string
	AddressID   string
	Zip         string
	Attributes  map[string][]string // by attribute code
	Email       string
	FirstName   string
	LastName    string
	Phone       string
	DeviceID    string
	AccountID   string
	Description string
	MediaURL    string
	Lang        string
}

// Photo is an uploaded photo as it arrives.
type Photo struct {
	Content io.Reader
	Size    int64 // as declared; the stored size is counted
}

// Via says where a report came from.
type Via struct {
	Web    bool   // the web form (rate-limited by Client)
	Client string // the client's address
	Key    *Key   // the Open311 API key (agency-scoped)
}

// Receipt is what a reporter gets back.
type Receipt struct {
	Number      int64  // service_request_id
	Token       string // Open311 token
	FollowToken string // the private follow link's token (shown once)
	Notice      string // the service's notice
	Service     ReportService
}

func textErr(fe FieldErrors, field, v string, max int, required bool) {
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		fe[field] = "report.error.invalid"
	case required && v == "":
		fe[field] = "report.error." + field + ".required"
	case utf8.RuneCountInString(v) > max:
		fe[field] = "report.error.toolong"
	}
}

// Check validates in against the service's definition and returns it
// tidied (trimmed, attribute answers checked by datatype). Its error is
// FieldErrors. Location: lat and long together, or an address, or an
// address id.
func Check(svc ReportService, in NewReport) (NewReport, error) {
	fe := FieldErrors{}
	for _, p := range []*string{&in.Address, &in.AddressID, &in.Zip, &in.Email, &in.FirstName, &in.LastName, &in.Phone, &in.DeviceID, &in.AccountID, &in.Description, &in.MediaURL} {
		*p = strings.TrimSpace(*p)
	}
	switch {
	case (in.Lat == nil) != (in.Long == nil):
		fe["location"] = "report.error.location.both"
	case in.Lat != nil && (math.IsNaN(*in.Lat) || math.IsNaN(*in.Long) || *in.Lat < -90 || *in.Lat > 90 || *in.Long < -180 || *in.Long > 180):
		fe["location"] = "report.error.location.range"
	case in.Lat == nil && in.Address == "" && in.AddressID == "":
		fe["location"] = "report.error.location.required"
	}
	textErr(fe, "address", in.Address, MaxAddress, false)
	textErr(fe, "address_id", in.AddressID, 100, false)
	textErr(fe, "description", in.Description, MaxDescription, false)
	textErr(fe, "first_name", in.FirstName, MaxName, false)
	textErr(fe, "last_name", in.LastName, MaxName, false)
	textErr(fe, "device_id", in.DeviceID, 200, false)
	textErr(fe, "account_id", in.AccountID, 200, false)
	if in.Zip != "" && !zipOK(in.Zip) {
		fe["zipcode"] = "report.error.zipcode"
	}
	if in.Phone != "" && !phoneOK(in.Phone) {
		fe["phone"] = "report.error.phone"
	}
	if in.Email != "" && !emailOK(in.Email) {
		fe["email"] = "report.error.email"
	}
	if in.MediaURL != "" {
		u, err := url.Parse(in.MediaURL)
		if err != nil || len(in.MediaURL) > MaxURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			fe["media_url"] = "report.error.media_url"
		}
	}
	answers := map[string][]string{}
	for _, a := range svc.Attributes {
		vals := in.Attributes[a.Code]
		var kept []string
		for _, v := range vals {
			if v = strings.TrimSpace(v); v != "" {
				kept = append(kept, v)
			}
		}
		field := "attribute[" + a.Code + "]"
		if len(kept) == 0 {
			if a.Required {
				fe[field] = "report.error.attribute.required"
			}
			continue
		}
		if key := checkAnswer(a, kept); key != "" {
			fe[field] = key
			continue
		}
		answers[a.Code] = kept
	}
	for code := range in.Attributes {
		if !slices.ContainsFunc(svc.Attributes, func(a Attribute) bool { return a.Code == code }) {
			fe["attribute["+code+"]"] = "report.error.attribute.unknown"
		}
	}
	in.Attributes = answers
	if in.Lang != "es" {
		in.Lang = "en"
	}
	if len(fe) > 0 {
		return in, fe
	}
	return in, nil
}

// checkAnswer returns the problem's key with an attribute's answers, or "".
func checkAnswer(a Attribute, vals []string) string {
	if a.Datatype != "multivaluelist" && len(vals) > 1 {
		return "report.error.attribute.one"
	}
	for _, v := range vals {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > MaxAttrValue {
			return "report.error.invalid"
		}
		switch a.Datatype {
		case "string":
			if strings.ContainsAny(v, "\r\n") || utf8.RuneCountInString(v) > 200 {
				return "report.error.attribute.string"
			}
		case "number":
			if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return "report.error.attribute.number"
			}
		case "datetime":
			if _, err := ParseDatetime(v); err != nil {
				return "report.error.attribute.datetime"
			}
		case "singlevaluelist", "multivaluelist":
			if !slices.ContainsFunc(a.Values, func(x Value) bool { return x.Key == v }) {
				return "report.error.attribute.value"
			}
		}
	}
	return ""
}

// ParseDatetime reads an Open311 datetime (W3C, ISO 8601 with a zone, as
// RFC 3339), or a date alone (midnight UTC).
func ParseDatetime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

func zipOK(s string) bool {
	if len(s) != 5 && len(s) != 10 {
		return false
	}
	for i, r := range s {
		if i == 5 && len(s) == 10 {
			if r != '-' {
				return false
			}
			continue
		}
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func phoneOK(s string) bool {
	if len(s) > MaxPhone {
		return false
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-(). ", r):
		default:
			return false
		}
	}
	return digits >= 7
}

func emailOK(s string) bool {
	if len(s) > MaxEmail || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

// hash is how tokens are kept: SHA-256 of 256 random bits.
func hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// PhotoProblem is a photo that was refused: its message key and argument.
type PhotoProblem struct {
	Key string
	Arg string
}

func (p *PhotoProblem) Error() string { return "report: photo: " + p.Key }

// Unwrap gives the invalid code.
func (p *PhotoProblem) Unwrap() error {
	return platform.Errorf(platform.CodeInvalid, "Check the photos.")
}

type storedPhoto struct {
	id, ctype, sum, key string
	size                int64
}

// putPhoto streams one photo to the bucket after sniffing its type.
func (s *Service) putPhoto(ctx context.Context, requestID string, p Photo) (storedPhoto, error) {
	if p.Size > MaxPhotoBytes {
		return storedPhoto{}, &PhotoProblem{Key: "report.error.photo.size"}
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(p.Content, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return storedPhoto{}, fmt.Errorf("report: photo: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return storedPhoto{}, &PhotoProblem{Key: "report.error.photo.empty"}
	}
	ctype, _, _ := strings.Cut(http.DetectContentType(head), ";")
	if !slices.Contains(PhotoTypes, ctype) {
		return storedPhoto{}, &PhotoProblem{Key: "report.error.photo.type"}
	}
	ph := storedPhoto{id: uuid.Must(uuid.NewV7()).String(), ctype: ctype}
	ph.key = "reports/" + requestID + "/" + ph.id
	w, err := s.cfg.Photos.NewWriter(ctx, ph.key, &blob.WriterOptions{ContentType: ctype})
	if err != nil {
		return storedPhoto{}, fmt.Errorf("report: photo: %w", err)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(io.MultiReader(bytes.NewReader(head), p.Content), MaxPhotoBytes+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = s.cfg.Photos.Delete(ctx, ph.key)
		return storedPhoto{}, fmt.Errorf("report: photo: %w", err)
	}
	if size > MaxPhotoBytes {
		_ = s.cfg.Photos.Delete(ctx, ph.key)
		return storedPhoto{}, &PhotoProblem{Key: "report.error.photo.size"}
	}
	ph.size, ph.sum = size, hex.EncodeToString(h.Sum(nil))
	return ph, nil
}

// eventData is what the block's events carry: no personal data.
func eventData(number int64, svc ReportService, state string, lat, long *float64, via string) json.RawMessage {
	d := map[string]any{"service_request_id": strconv.FormatInt(number, 10), "service_code": svc.Code, "state": state, "status": StatusOf(state)}
	if lat != nil && long != nil {
		d["lat"], d["long"] = *lat, *long
	}
	if via != "" {
		d["via"] = via
	}
	b, _ := json.Marshal(d)
	return b
}

// Submit records a report to a service, with its photos (web only), and
// in the same transaction its history's first line, the audit entry, the
// reporter's confirmation email (when they gave an address) and the
// submitted event. With via.Key the service must be of the key's agency.
func (s *Service) Submit(ctx context.Context, in NewReport, photos []Photo, via Via) (Receipt, error) {
	svc, err := s.ServiceByCode(ctx, strings.TrimSpace(in.ServiceCode))
	if err == nil && svc.Disabled {
		err = errNotFound("service")
	}
	if err != nil {
		return Receipt{}, err
	}
	if via.Key != nil && via.Key.Agency != svc.Agency {
		return Receipt{}, platform.Errorf(platform.CodeForbidden, "This api_key may not create requests for service %s.", svc.Code)
	}
	in, err = Check(svc, in)
	if err != nil {
		return Receipt{}, err
	}
	if len(photos) > MaxPhotos {
		return Receipt{}, &PhotoProblem{Key: "report.error.photo.count", Arg: strconv.Itoa(MaxPhotos)}
	}
	now := s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	id := uuid.Must(uuid.NewV7()).String()
	var stored []storedPhoto
	cleanup := func() {
		for _, p := range stored {
			_ = s.cfg.Photos.Delete(context.WithoutCancel(ctx), p.key)
		}
	}
	for _, p := range photos {
		ph, err := s.putPhoto(ctx, id, p)
		if err != nil {
			cleanup()
			return Receipt{}, err
		}
		stored = append(stored, ph)
	}
	rc := Receipt{Token: uuid.NewString(), FollowToken: randomToken(), Notice: svc.Notice, Service: svc}
	attrs, _ := json.Marshal(in.Attributes)
	viaName, keyID := "web", ""
	if via.Key != nil {
		viaName, keyID = "open311", via.Key.ID
	}
	expected := now.AddDate(0, 0, svc.ExpectedDays)
	throttled := false
	actor := platform.ActorFrom(ctx)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if via.Web {
			ok, err := s.allow(ctx, tx, via.Client, now)
			if err != nil {
				return err
			}
			if !ok {
				throttled = true
				return nil
			}
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO report_requests (id, token, follow_hash, service_code, agency_id, status, state, status_notes, description, lat, lon,
			address, address_id, zipcode, media_url, attributes, email, first_name, last_name, phone, device_id, account_id, lang, via, key_id, requested_at, updated_at, expected_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $25, $26) RETURNING number`,
			id, rc.Token, hash(rc.FollowToken), svc.Code, svc.Agency, StatusOpen, StateOpen, in.Description, in.Lat, in.Long,
			in.Address, in.AddressID, in.Zip, in.MediaURL, string(attrs), in.Email, in.FirstName, in.LastName, in.Phone, in.DeviceID, in.AccountID, in.Lang, viaName, keyID, now, expected).Scan(&rc.Number); err != nil {
			return err
		}
		for _, p := range stored {
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_photos (id, request_id, content_type, size, sha256, blob_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				p.id, id, p.ctype, p.size, p.sum, p.key, now); err != nil {
				return err
			}
		}
		if err := addUpdate(ctx, tx, id, now, StateOpen, "", "reporter", ""); err != nil {
			return err
		}
		if _, err := s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "report.submit", Subject: "report:" + id, AgencyID: svc.Agency,
			Detail: map[string]any{"service_request_id": rc.Number, "service_code": svc.Code, "via": viaName, "photos": len(stored), "key": keyID, "actor": actor.String()}}); err != nil {
			return err
		}
		if in.Email != "" {
			if err := s.mailSubmitted(ctx, tx, in, svc, rc); err != nil {
				return err
			}
		}
		return s.cfg.Bus.Emit(ctx, tx, events.Event{Source: source, Type: EventSubmitted, Subject: "report/" + strconv.FormatInt(rc.Number, 10),
			AgencyID: svc.Agency, Data: eventData(rc.Number, svc, StateOpen, in.Lat, in.Long, viaName)})
	})
	if err != nil || throttled {
		cleanup()
		if throttled {
			return Receipt{}, ErrThrottled
		}
		return Receipt{}, fmt.Errorf("report: submit: %w", err)
	}
	return rc, nil
}

// allow counts a web report against the client address's window.
func (s *Service) allow(ctx context.Context, tx *sql.Tx, client string, now time.Time) (bool, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM report_throttles WHERE window_start <= $1`, now.Add(-Window)); err != nil {
		return false, err
	}
	var sent int
	if err := tx.QueryRowContext(ctx, `INSERT INTO report_throttles (key, window_start, sent) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET sent = report_throttles.sent + 1 RETURNING sent`, "ip:"+client, now).Scan(&sent); err != nil {
		return false, err
	}
	return sent <= Burst, nil
}

func addUpdate(ctx context.Context, tx *sql.Tx, requestID string, at time.Time, state, note, byKind, byID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO report_updates (id, request_id, at, state, note, by_kind, by_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		uuid.Must(uuid.NewV7()).String(), requestID, at, state, note, byKind, byID)
	return err
}

// FollowURL is the reporter's private link.
func (s *Service) FollowURL(token string) string {
	return strings.TrimRight(s.cfg.PublicURL(), "/") + "/report/follow/" + token
}

func (s *Service) mailSubmitted(ctx context.Context, tx *sql.Tx, in NewReport, svc ReportService, rc Receipt) error {
	l, _ := i18n.Parse(in.Lang)
	m := i18n.Messages()
	num := strconv.FormatInt(rc.Number, 10)
	body := m.T(l, "report.mail.submitted.body", svc.NameIn(in.Lang), num, s.FollowURL(rc.FollowToken))
	return s.cfg.Mailer.SendEmail(ctx, tx, Message{To: in.Email, Subject: m.T(l, "report.mail.submitted.subject", num), Text: body, Lang: string(l),
		AgencyID: svc.Agency, Reference: "report:" + num})
}
