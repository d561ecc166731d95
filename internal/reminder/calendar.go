package reminder

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// A calendar feed is an iCalendar (RFC 5545) document of a citizen's open
// obligations at a secret address, /calendar/TOKEN.ics, that calendar apps
// subscribe to. The token is 32 random bytes in unpadded base64url (43
// characters); only its SHA-256 is stored, so the address cannot be shown
// again after it is made, only replaced or turned off.

// TokenLen is the length of a feed token.
const TokenLen = 43

// ParseFeedFile checks the last path segment of a feed address, "TOKEN.ics",
// and returns the token. Anything else is rejected.
func ParseFeedFile(name string) (token string, ok bool) {
	token, found := strings.CutSuffix(name, ".ics")
	if !found || len(token) != TokenLen {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	// 43 characters carry 258 bits; the last must leave the 2 spare bits 0
	// (the canonical encoding), so each feed has exactly one address.
	if b, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil || len(b) != 32 {
		return "", false
	}
	return token, true
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateFeed makes a new secret feed address for by, replacing (and so
// turning off) any earlier one, and returns its token. Only a signed-in
// person has a feed.
func (s *Service) CreateFeed(ctx context.Context, by platform.Actor) (string, error) {
	if !by.SignedIn() {
		return "", errSignedOut
	}
	accountID := by.ID
	ctx = platform.WithActor(ctx, by)
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reminder: feed token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.clock.Now().UTC()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM calendar_feeds WHERE account_id = $1`, accountID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO calendar_feeds (account_id, token_hash, created_at) VALUES ($1, $2, $3)`,
			accountID, hashToken(token), now); err != nil {
			return err
		}
		return s.auditFeed(ctx, tx, "calendar.feed.create", accountID)
	})
	if err != nil {
		return "", fmt.Errorf("reminder: create feed: %w", err)
	}
	return token, nil
}

// RevokeFeed turns by's feed address off.
func (s *Service) RevokeFeed(ctx context.Context, by platform.Actor) error {
	if !by.SignedIn() {
		return errSignedOut
	}
	accountID := by.ID
	ctx = platform.WithActor(ctx, by)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM calendar_feeds WHERE account_id = $1`, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return s.auditFeed(ctx, tx, "calendar.feed.revoke", accountID)
	})
	if err != nil {
		return fmt.Errorf("reminder: revoke feed: %w", err)
	}
	return nil
}

func (s *Service) auditFeed(ctx context.Context, tx *sql.Tx, action, accountID string) error {
	_, err := s.audit.Append(ctx, tx, audit.Record{Action: action, Subject: "account:" + accountID})
	return err
}

// FeedCreated returns when by's current feed address was made, or the
// zero time when there is none. (Only the time: nothing personal is read,
// so nothing is audited.)
func (s *Service) FeedCreated(ctx context.Context, by platform.Actor) (time.Time, error) {
	if !by.SignedIn() {
		return time.Time{}, errSignedOut
	}
	var t time.Time
	err := s.db.Read().QueryRowContext(ctx, `SELECT created_at FROM calendar_feeds WHERE account_id = $1`, by.ID).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reminder: feed: %w", err)
	}
	return t.UTC(), nil
}

// FeedAccount returns the account whose feed token this is; an unknown or
// revoked token is CodeNotFound.
func (s *Service) FeedAccount(ctx context.Context, token string) (string, error) {
	var id string
	err := s.db.Read().QueryRowContext(ctx, `SELECT account_id FROM calendar_feeds WHERE token_hash = $1`, hashToken(token)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reminder: feed: %w", err)
	}
	return id, nil
}

// FeedURL is the https address of a feed token.
func (s *Service) FeedURL(token string) string {
	return strings.TrimSuffix(s.cfg.PublicURL(), "/") + "/calendar/" + token + ".ics"
}

// CalendarOptions shape an iCalendar document.
type CalendarOptions struct {
	Lang     string // "en" or "es"
	BaseURL  string // the site, for links and the UIDs' domain
	SendHour int    // the hour reminders are sent, for the alarms
	// Counters are where amounts are paid in person, by agency id: an
	// event of an amount owed says where to pay it.
	Counters map[string]Counter
	// Appointments are booked appointments shown beside what is due.
	Appointments []Appointment
}

// Appointment is a booked appointment a person's calendar shows: a timed
// event, busy, with alarms a day and two hours before.
type Appointment struct {
	ID        string // stable across feeds: the case's id
	Service   Text   // the service it was booked for
	Reference string // the case's reference
	Start     time.Time
	End       time.Time // zero: not known
	Place     Text
	URL       string // the applicant's case page, absolute or from the site's root
	UpdatedAt time.Time
}

// Appointments finds a person's booked appointments that start after
// since, soonest first.
type Appointments interface {
	AppointmentsOf(ctx context.Context, accountID string, since time.Time) ([]Appointment, error)
}

// appointmentHistory is how far back a feed still shows appointments.
const appointmentHistory = 30 * Day

// Counter is where a person pays an agency in person: its name and how
// to reach its office.
type Counter struct {
	Name    Text
	Address []string // the lines of the office's street address
	Phone   string
	Hours   Text // opening hours
}

// Counters finds an agency's counter (internal/app adapts the tenancy
// block). An agency it does not know is an error; the calendar then says
// only the agency's id.
type Counters interface {
	Counter(ctx context.Context, agencyID string) (Counter, error)
}

// CalendarFor renders obs in lang with the counters of the agencies
// their amounts are owed to.
func (s *Service) CalendarFor(ctx context.Context, lang string, obs []Obligation) []byte {
	return s.calendarFor(ctx, lang, obs, nil)
}

// calendarFor is CalendarFor with the person's appointments.
func (s *Service) calendarFor(ctx context.Context, lang string, obs []Obligation, appts []Appointment) []byte {
	opts := s.CalendarOptions(lang)
	opts.Appointments = appts
	if s.cfg.Counters != nil {
		for _, o := range obs {
			if o.Amount == nil || o.AgencyID == "" {
				continue
			}
			if _, ok := opts.Counters[o.AgencyID]; ok {
				continue
			}
			if c, err := s.cfg.Counters.Counter(ctx, o.AgencyID); err == nil {
				if opts.Counters == nil {
					opts.Counters = map[string]Counter{}
				}
				opts.Counters[o.AgencyID] = c
			}
		}
	}
	return RenderCalendar(obs, opts)
}

// CalendarOptions returns the options for lang on this site.
func (s *Service) CalendarOptions(lang string) CalendarOptions {
	return CalendarOptions{Lang: lang, BaseURL: strings.TrimSuffix(s.cfg.PublicURL(), "/"), SendHour: s.cfg.SendHour}
}

// RenderCalendar writes obs as an iCalendar document: one all-day VEVENT
// per obligation on its due date, with a stable UID, DTSTAMP (when the
// obligation last changed) and one VALARM per reminder offset.
func RenderCalendar(obs []Obligation, opts CalendarOptions) []byte {
	lang := opts.Lang
	if lang != "es" {
		lang = "en"
	}
	m := i18n.Messages().For(i18n.Lang(lang), nil)
	domain := "portico.invalid"
	if u, err := url.Parse(opts.BaseURL); err == nil && u.Hostname() != "" {
		domain = u.Hostname()
	}
	cal := ics.NewCalendarFor("Portico")
	cal.SetProductId("-//Portico//Reminders//" + strings.ToUpper(lang))
	cal.SetCalscale("GREGORIAN")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(m.T("reminder.calendar.name"))
	cal.SetXWRCalName(m.T("reminder.calendar.name"))
	cal.SetDescription(m.T("reminder.calendar.desc"))
	cal.SetRefreshInterval("PT6H")
	cal.SetXPublishedTTL("PT6H")
	for _, o := range obs {
		ev := cal.AddEvent(o.ID + "@" + domain)
		ev.SetDtStampTime(o.UpdatedAt)
		ev.SetAllDayStartAt(o.Due.Time(time.UTC))
		ev.SetAllDayEndAt(o.Due.AddDays(1).Time(time.UTC))
		title := o.Title.In(lang)
		desc := []string{m.T("reminder.calendar.due", FormatDate(lang, o.Due))}
		if o.Amount != nil {
			amount := m.Money(*o.Amount)
			ev.SetSummary(m.T("reminder.calendar.summary.amount", title, amount))
			desc = append(desc, m.T("reminder.calendar.amount", amount))
			if c, ok := opts.Counters[o.AgencyID]; ok {
				desc = append(desc, m.T("reminder.calendar.counter", c.Name.In(lang)))
				desc = append(desc, c.Address...)
				if c.Phone != "" {
					desc = append(desc, m.T("reminder.calendar.phone", c.Phone))
				}
				if h := c.Hours.In(lang); h != "" {
					desc = append(desc, m.T("reminder.calendar.hours", h))
				}
			}
		} else {
			ev.SetSummary(title)
		}
		if o.Reference != "" {
			desc = append(desc, m.T("reminder.calendar.reference", o.Reference))
		}
		link := o.URL
		if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "//") {
			link = opts.BaseURL + link
		}
		if link == "" {
			link = opts.BaseURL + "/coming-up"
		}
		desc = append(desc, m.T("reminder.calendar.link")+" "+link)
		ev.SetDescription(strings.Join(desc, "\n"))
		ev.SetURL(link)
		ev.SetTimeTransparency(ics.TransparencyTransparent)
		for _, off := range o.Schedule {
			a := ev.AddAlarm()
			a.SetAction(ics.ActionDisplay)
			a.SetTrigger(isoDuration(off + time.Duration(opts.SendHour)*time.Hour))
			a.SetProperty(ics.ComponentPropertyDescription, m.T("reminder.calendar.alarm", title))
		}
	}
	for _, a := range opts.Appointments {
		ev := cal.AddEvent("appointment-" + a.ID + "@" + domain)
		ev.SetDtStampTime(a.UpdatedAt)
		ev.SetStartAt(a.Start)
		if !a.End.IsZero() {
			ev.SetEndAt(a.End)
		}
		title := a.Service.In(lang)
		ev.SetSummary(m.T("reminder.calendar.appointment.summary", title))
		if place := a.Place.In(lang); place != "" {
			ev.SetLocation(place)
		}
		var desc []string
		if a.Reference != "" {
			desc = append(desc, m.T("reminder.calendar.appointment.reference", a.Reference))
		}
		link := a.URL
		if strings.HasPrefix(link, "/") && !strings.HasPrefix(link, "//") {
			link = opts.BaseURL + link
		}
		if link != "" {
			desc = append(desc, m.T("reminder.calendar.link")+" "+link)
			ev.SetURL(link)
		}
		ev.SetDescription(strings.Join(desc, "\n"))
		ev.SetStatus(ics.ObjectStatusConfirmed)
		ev.SetTimeTransparency(ics.TransparencyOpaque)
		for _, before := range []string{"-P1D", "-PT2H"} {
			al := ev.AddAlarm()
			al.SetAction(ics.ActionDisplay)
			al.SetTrigger(before)
			al.SetProperty(ics.ComponentPropertyDescription, m.T("reminder.calendar.appointment.alarm", title))
		}
	}
	var buf bytes.Buffer
	_ = cal.SerializeTo(&buf, ics.WithNewLine("\r\n")) // RFC 5545 lines end in CRLF
	return buf.Bytes()
}

// isoDuration writes d as an RFC 5545 dur-value relative to the start of
// the event: "-P6DT15H", "PT9H", "P7DT9H".
func isoDuration(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	days := d / Day
	d -= days * Day
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if h > 0 || m > 0 || days == 0 {
		b.WriteByte('T')
		if h > 0 || m == 0 {
			fmt.Fprintf(&b, "%dH", h)
		}
		if m > 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
	}
	return b.String()
}

// Calendar returns the iCalendar feed of the account's open obligations (and
// booked appointments, when Config.Appointments is set) in
// its holder's language. The feed token (FeedAccount) is the credential:
// the caller has resolved it; the read is audited ("calendar.feed.read")
// in the name of whoever the context says is asking (usually anonymous: a
// calendar application).
func (s *Service) Calendar(ctx context.Context, accountID string) ([]byte, error) {
	obs, err := s.list(ctx, accountID, false)
	if err != nil {
		return nil, err
	}
	var appts []Appointment
	if s.cfg.Appointments != nil {
		if appts, err = s.cfg.Appointments.AppointmentsOf(ctx, accountID, s.clock.Now().Add(-appointmentHistory)); err != nil {
			return nil, err
		}
	}
	if err := s.auditRead(ctx, platform.ActorFrom(ctx), audit.Record{Action: "calendar.feed.read", Subject: "account:" + accountID,
		Detail: map[string]int{"obligations": len(obs), "appointments": len(appts)}}); err != nil {
		return nil, err
	}
	lang := "en"
	if c, err := s.dir.Contact(ctx, accountID); err == nil {
		lang = c.Lang
	}
	return s.calendarFor(ctx, lang, obs, appts), nil
}
