// Package counterbooking is the second example plug-in's running service:
// a private provider's appointment booking for agencies' counters
// (plugin.yaml, openapi.yaml), registered once by the platform and reused
// by every agency that enables it. It verifies every call's token with
// pkg/pluginsdk and keeps each agency to its own offices: the token's
// agency claim says whose counters a call may see and book, and a person
// (the token's pairwise subject) may cancel only their own bookings.
//
// Bookings live in memory, or in a JSON file when Config.File is set
// (rewritten atomically on every change). `portico demo` starts it
// in-process on a loopback port; `go run
// ./examples/plugins/counter-booking/cmd/counter-booking` runs it alone.
package counterbooking

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
)

// PluginID is the plug-in's id, the audience of Portico's tokens.
const PluginID = "counter-booking"

// Office is an agency's counter where people are received by appointment.
type Office struct {
	ID      string `json:"id"`
	Agency  string `json:"-"` // the agency whose counter it is
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	// Opens and Closes are the local times of the first slot and of the
	// end of the last ("09:00", "16:00"), Monday to Friday.
	Opens  string `json:"-"`
	Closes string `json:"-"`
	// Counters is how many people can be received at the same time.
	Counters int `json:"-"`
}

// DemoOffices are the State of Example's counters: the Adams County
// Clerk's and two of the DMV's.
func DemoOffices() []Office {
	return []Office{
		{ID: "adams-courthouse", Agency: "adams-clerk", Name: "Adams County Courthouse, Clerk's counter", Address: "100 Main St, Springfield, EX 70101",
			Opens: "08:30", Closes: "16:00", Counters: 2},
		{ID: "dmv-springfield", Agency: "dmv", Name: "DMV Springfield", Address: "250 State St, Springfield, EX 70103",
			Opens: "09:00", Closes: "17:00", Counters: 3},
		{ID: "dmv-lakeside", Agency: "dmv", Name: "DMV Lakeside", Address: "12 Shore Rd, Lakeside, EX 70210",
			Opens: "09:00", Closes: "13:00", Counters: 1},
	}
}

// SlotLength is the length of an appointment.
const SlotLength = 30 * time.Minute

// BookingHorizon is how far ahead a slot can be booked.
const BookingHorizon = 60 * 24 * time.Hour

// Slot is a free time at an office.
type Slot struct {
	ID       string    `json:"id"` // OFFICE@YYYY-MM-DDTHH:MM (local time)
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Free     int       `json:"free"`
}

// Booking is a booked slot.
type Booking struct {
	ID        string    `json:"id"`
	Office    string    `json:"office"`
	SlotID    string    `json:"slot_id"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	Agency    string    `json:"agency"`
	Service   string    `json:"service"`
	Case      string    `json:"case,omitempty"`
	Subject   string    `json:"subject"`  // the person's pairwise subject, or agency:ID
	TokenID   string    `json:"token_id"` // the jti that booked it: a retry returns the same booking
	CreatedAt time.Time `json:"created_at"`
	Cancelled bool      `json:"cancelled,omitempty"`
}

// Config configures the server.
type Config struct {
	// Issuer is Portico's public URL (the iss of its tokens).
	Issuer string
	// Offices to serve (default DemoOffices).
	Offices []Office
	// Location is the offices' time zone (default America/Chicago, the
	// State of Example's).
	Location *time.Location
	// File keeps the bookings across restarts when set.
	File string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Client fetches Portico's discovery document and keys.
	Client *http.Client
}

// Server is the booking service.
type Server struct {
	verifier *pluginsdk.Verifier
	now      func() time.Time
	loc      *time.Location
	file     string
	offices  map[string]Office

	mu       sync.Mutex
	bookings []*Booking
}

// NewServer returns the service, with the bookings of cfg.File if it exists.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Offices == nil {
		cfg.Offices = DemoOffices()
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("America/Chicago")
		if err != nil {
			return nil, fmt.Errorf("counter-booking: %w", err)
		}
		cfg.Location = loc
	}
	opts := []pluginsdk.Option{pluginsdk.WithClock(cfg.Now)}
	if cfg.Client != nil {
		opts = append(opts, pluginsdk.WithHTTPClient(cfg.Client))
	}
	s := &Server{verifier: pluginsdk.NewVerifier(cfg.Issuer, PluginID, opts...), now: cfg.Now, loc: cfg.Location,
		file: cfg.File, offices: map[string]Office{}}
	for _, o := range cfg.Offices {
		if _, dup := s.offices[o.ID]; dup {
			return nil, fmt.Errorf("counter-booking: two offices have the id %q", o.ID)
		}
		if _, err := s.day(o, time.Now()); err != nil || o.Counters < 1 || o.ID == "" || o.Agency == "" {
			return nil, fmt.Errorf("counter-booking: office %q needs an id, an agency, Opens and Closes as HH:MM and at least one counter", o.ID)
		}
		s.offices[o.ID] = o
	}
	if cfg.File != "" {
		b, err := os.ReadFile(cfg.File)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("counter-booking: %w", err)
		default:
			if err := json.Unmarshal(b, &s.bookings); err != nil {
				return nil, fmt.Errorf("counter-booking: %s: %w", cfg.File, err)
			}
		}
	}
	return s, nil
}

// Handler is the HTTP API of openapi.yaml, behind the SDK's token check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /offices/{office}/slots", s.listSlots)
	mux.HandleFunc("POST /offices/{office}/bookings", s.bookSlot)
	mux.HandleFunc("DELETE /bookings/{booking}", s.cancelBooking)
	return s.verifier.Middleware(mux)
}

// Bookings are the bookings so far, cancelled ones included.
func (s *Server) Bookings() []Booking {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Booking, len(s.bookings))
	for i, b := range s.bookings {
		out[i] = *b
	}
	return out
}

func problem(w http.ResponseWriter, status int, detail string) {
	pluginsdk.WriteProblem(w, pluginsdk.Problem{Status: status, Detail: detail})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// office returns the office of the path if it is the calling agency's;
// another agency's office is "not found", as if it did not exist.
func (s *Server) office(w http.ResponseWriter, r *http.Request) (Office, *pluginsdk.Claims, bool) {
	c, _ := pluginsdk.ClaimsFrom(r.Context())
	o, ok := s.offices[r.PathValue("office")]
	if !ok || o.Agency != c.Agency {
		problem(w, http.StatusNotFound, fmt.Sprintf("agency %s has no office %q here", c.Agency, r.PathValue("office")))
		return Office{}, nil, false
	}
	return o, c, true
}

type window struct{ open, close time.Time }

// day is the opening window of o on the local date of t (zero on weekends).
func (s *Server) day(o Office, t time.Time) (window, error) {
	loc := s.loc
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	at := func(hhmm string) (time.Time, error) {
		h, err := time.Parse("15:04", hhmm)
		if err != nil {
			return time.Time{}, err
		}
		return time.Date(t.Year(), t.Month(), t.Day(), h.Hour(), h.Minute(), 0, 0, loc), nil
	}
	open, err := at(o.Opens)
	if err != nil {
		return window{}, err
	}
	closing, err := at(o.Closes)
	if err != nil || !closing.After(open) {
		return window{}, fmt.Errorf("closes before it opens")
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return window{}, nil
	}
	return window{open, closing}, nil
}

func slotID(o Office, start time.Time) string { return o.ID + "@" + start.Format("2006-01-02T15:04") }

// taken counts the live bookings of a slot; s.mu is held.
func (s *Server) taken(id string) int {
	n := 0
	for _, b := range s.bookings {
		if b.SlotID == id && !b.Cancelled {
			n++
		}
	}
	return n
}

func (s *Server) listSlots(w http.ResponseWriter, r *http.Request) {
	o, _, ok := s.office(w, r)
	if !ok {
		return
	}
	now := s.now().In(s.loc)
	day := now
	if q := r.URL.Query().Get("day"); q != "" {
		d, err := time.ParseInLocation(time.DateOnly, q, s.loc)
		if err != nil {
			problem(w, http.StatusBadRequest, fmt.Sprintf("day %q must be a date as YYYY-MM-DD", q))
			return
		}
		if d.Sub(now) > BookingHorizon {
			problem(w, http.StatusBadRequest, fmt.Sprintf("day %s is more than %d days ahead", q, int(BookingHorizon.Hours()/24)))
			return
		}
		day = d
	}
	win, _ := s.day(o, day)
	slots := []Slot{}
	s.mu.Lock()
	for t := win.open; !win.open.IsZero() && !t.Add(SlotLength).After(win.close); t = t.Add(SlotLength) {
		if !t.After(now) {
			continue
		}
		id := slotID(o, t)
		if free := o.Counters - s.taken(id); free > 0 {
			slots = append(slots, Slot{ID: id, StartsAt: t, EndsAt: t.Add(SlotLength), Free: free})
		}
	}
	s.mu.Unlock()
	reply(w, http.StatusOK, map[string]any{"office": o, "day": day.Format(time.DateOnly), "slots": slots})
}

// parseSlot reads OFFICE@YYYY-MM-DDTHH:MM for office o and checks it is a
// slot of its opening hours.
func (s *Server) parseSlot(o Office, id string) (time.Time, error) {
	rest, ok := strings.CutPrefix(id, o.ID+"@")
	if !ok {
		return time.Time{}, fmt.Errorf("slot %q is not a slot of office %s", id, o.ID)
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", rest, s.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("slot %q is not a slot id from the list of free times", id)
	}
	win, _ := s.day(o, t)
	if win.open.IsZero() || t.Before(win.open) || t.Add(SlotLength).After(win.close) || t.Sub(win.open)%SlotLength != 0 {
		return time.Time{}, fmt.Errorf("office %s receives no one at %s", o.ID, rest)
	}
	return t, nil
}

func (s *Server) bookSlot(w http.ResponseWriter, r *http.Request) {
	o, c, ok := s.office(w, r)
	if !ok {
		return
	}
	var in struct {
		SlotID string `json:"slot_id"`
		Name   string `json:"name"`
		Email  string `json:"email"`
		Phone  string `json:"phone"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.SlotID == "" {
		problem(w, http.StatusBadRequest, "the body must be JSON with slot_id (and name, email, phone only when Portico's token carries none)")
		return
	}
	// Once only: what the person consented to share comes from the token;
	// the body only fills what the token does not carry.
	name, email, phone := first(c.Name, in.Name), first(c.Email, in.Email), first(c.Phone, in.Phone)
	if strings.TrimSpace(name) == "" {
		problem(w, http.StatusBadRequest, "a booking needs the person's name: share it in the token (data: name) or give it in the body")
		return
	}
	start, err := s.parseSlot(o, in.SlotID)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.now()
	if !start.After(now) {
		problem(w, http.StatusBadRequest, fmt.Sprintf("slot %s has begun or gone by", in.SlotID))
		return
	}
	if start.Sub(now) > BookingHorizon {
		problem(w, http.StatusBadRequest, fmt.Sprintf("slot %s is more than %d days ahead", in.SlotID, int(BookingHorizon.Hours()/24)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bookings {
		if b.TokenID == c.JTI && b.Agency == c.Agency { // the gateway retried the same call
			reply(w, http.StatusCreated, b.view())
			return
		}
	}
	if c.ForPerson() && slices.ContainsFunc(s.bookings, func(b *Booking) bool {
		return b.SlotID == in.SlotID && b.Subject == c.Subject && !b.Cancelled
	}) {
		problem(w, http.StatusConflict, "this person already has this time booked")
		return
	}
	if s.taken(in.SlotID) >= o.Counters {
		problem(w, http.StatusConflict, "this time was taken meanwhile; choose another")
		return
	}
	id := make([]byte, 10)
	_, _ = rand.Read(id)
	b := &Booking{ID: "bk_" + hex.EncodeToString(id), Office: o.ID, SlotID: in.SlotID, StartsAt: start, EndsAt: start.Add(SlotLength),
		Name: name, Email: email, Phone: phone, Agency: c.Agency, Service: c.Service, Case: c.Case, Subject: c.Subject,
		TokenID: c.JTI, CreatedAt: now}
	s.bookings = append(s.bookings, b)
	if err := s.save(); err != nil {
		s.bookings = s.bookings[:len(s.bookings)-1]
		problem(w, http.StatusInternalServerError, "the booking could not be stored")
		return
	}
	reply(w, http.StatusCreated, b.view())
}

// bookingView is what openapi.yaml's Booking shows the caller.
type bookingView struct {
	ID       string    `json:"id"`
	Office   string    `json:"office"`
	SlotID   string    `json:"slot_id"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Name     string    `json:"name"`
}

func (b *Booking) view() bookingView {
	return bookingView{ID: b.ID, Office: b.Office, SlotID: b.SlotID, StartsAt: b.StartsAt, EndsAt: b.EndsAt, Name: b.Name}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) cancelBooking(w http.ResponseWriter, r *http.Request) {
	c, _ := pluginsdk.ClaimsFrom(r.Context())
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.bookings, func(b *Booking) bool { return b.ID == r.PathValue("booking") })
	// Another agency's booking, or another person's, is "not found": a
	// caller learns nothing of bookings that are not theirs.
	if i < 0 || s.bookings[i].Agency != c.Agency || (c.ForPerson() && s.bookings[i].Subject != c.Subject) {
		problem(w, http.StatusNotFound, fmt.Sprintf("there is no booking %q of yours", r.PathValue("booking")))
		return
	}
	if !s.bookings[i].Cancelled {
		s.bookings[i].Cancelled = true
		if err := s.save(); err != nil {
			s.bookings[i].Cancelled = false
			problem(w, http.StatusInternalServerError, "the cancellation could not be stored")
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// save writes the bookings to the file, if any, atomically (a temporary
// file renamed over it); s.mu is held.
func (s *Server) save() error {
	if s.file == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.bookings, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.file), ".bookings-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.file)
}
