// Package vehicleregistry is the example plug-in's running service: the
// Department of Motor Vehicles' vehicle records as Portico calls them
// through its plug-in gateway (plugin.yaml, openapi.yaml). It checks every
// call's token against Portico's published keys (discovery document →
// jwks_uri) with pkg/pluginsdk, serves a few demo vehicles and records
// renewals.
//
// `portico demo` starts it in-process on a loopback port; `go run
// ./examples/plugins/vehicle-registry/cmd/vehicle-registry` runs it alone.
package vehicleregistry

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
)

// PluginID is the plug-in's id, the audience of Portico's tokens.
const PluginID = "vehicle-registry"

// Claims are a verified call token's claims (pkg/pluginsdk).
type Claims = pluginsdk.Claims

// Vehicle is a registered vehicle (the OpenAPI document's Vehicle).
type Vehicle struct {
	Plate               string `json:"plate"`
	VIN                 string `json:"vin"`
	Make                string `json:"make"`
	Model               string `json:"model"`
	Year                int    `json:"year"`
	Color               string `json:"color,omitempty"`
	RegistrationExpires string `json:"registration_expires"` // YYYY-MM-DD
}

// Renewal is a recorded renewal.
type Renewal struct {
	Plate               string    `json:"plate"`
	RegistrationExpires string    `json:"registration_expires"`
	CaseReference       string    `json:"-"`
	Months              int       `json:"-"`
	Subject             string    `json:"-"` // the person's pairwise subject for this plug-in
	At                  time.Time `json:"-"`
}

// DemoVehicles are the State of Example's demo vehicles: Ana's and Beto's.
func DemoVehicles(now time.Time) []Vehicle {
	return []Vehicle{
		{Plate: "EX 4KQ-218", VIN: "1HGCM82633A004352", Make: "Honda", Model: "Civic", Year: 2018, Color: "Blue",
			RegistrationExpires: now.AddDate(0, 0, 20).Format(time.DateOnly)},
		{Plate: "EX 7MB-904", VIN: "3FAHP0HA7AR123456", Make: "Ford", Model: "Fusion", Year: 2016, Color: "Silver",
			RegistrationExpires: now.AddDate(0, 1, 10).Format(time.DateOnly)},
	}
}

// Config configures the server.
type Config struct {
	// Issuer is Portico's public URL (the iss of its tokens); the keys
	// come from Issuer/.well-known/openid-configuration → jwks_uri.
	Issuer string
	// Vehicles to serve (default DemoVehicles).
	Vehicles []Vehicle
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Client fetches the discovery document and keys (default a client
	// with a 5s timeout).
	Client *http.Client
	// WebhookSecret returns the whsec_ secret Portico printed when the
	// plug-in was registered; events are refused (503, so Portico
	// retries) until it gives one.
	WebhookSecret func() (string, error)
}

// Server is the vehicle records service.
type Server struct {
	verifier *pluginsdk.Verifier
	now      func() time.Time

	webhookSecret func() (string, error)

	mu       sync.Mutex
	vehicles map[string]*Vehicle // by normalized plate
	renewals []Renewal
	events   []Event
	seen     map[string]bool // event ids received
	// replies are the answers given to record-renewal requests that
	// carried an Idempotency-Key, by key (kept in memory: a real
	// service keeps them durably for as long as callers may retry).
	replies map[string]idemReply
}

// idemReply is the answer to a request with an Idempotency-Key and a
// hash of what was asked, to tell a retry from a reuse of the key.
type idemReply struct {
	request [32]byte
	status  int
	body    any
}

// Normalize is a plate as the path carries it: letters and digits only,
// upper case ("EX 4KQ-218" → "EX4KQ218").
func Normalize(plate string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(plate) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NewServer returns the service.
func NewServer(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Vehicles == nil {
		cfg.Vehicles = DemoVehicles(cfg.Now())
	}
	opts := []pluginsdk.Option{pluginsdk.WithClock(cfg.Now)}
	if cfg.Client != nil {
		opts = append(opts, pluginsdk.WithHTTPClient(cfg.Client))
	}
	s := &Server{verifier: pluginsdk.NewVerifier(cfg.Issuer, PluginID, opts...), now: cfg.Now, vehicles: map[string]*Vehicle{},
		webhookSecret: cfg.WebhookSecret, seen: map[string]bool{}, replies: map[string]idemReply{}}
	for _, v := range cfg.Vehicles {
		v := v
		s.vehicles[Normalize(v.Plate)] = &v
	}
	return s
}

// Handler is the HTTP API of openapi.yaml.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vehicles/{plate}", s.authed(s.findVehicle))
	mux.HandleFunc("POST /vehicles/{plate}/renewals", s.authed(s.recordRenewal))
	mux.HandleFunc("POST /portico/events", s.receiveEvent)
	return mux
}

// Renewals are the renewals recorded so far.
func (s *Server) Renewals() []Renewal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Renewal(nil), s.renewals...)
}

// recorder remembers the status and the value a handler replied with, for
// Idempotency-Key replays.
type recorder struct {
	http.ResponseWriter
	status int
	body   any
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	if rec, ok := w.(*recorder); ok {
		rec.status, rec.body = status, problemBody{Type: "about:blank", Title: title, Status: status, Detail: detail}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problemBody{Type: "about:blank", Title: title, Status: status, Detail: detail})
}

// problemBody is an RFC 9457 problem, as problem writes it.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func reply(w http.ResponseWriter, status int, v any) {
	if rec, ok := w.(*recorder); ok {
		rec.status, rec.body = status, v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authed checks the call's token with pkg/pluginsdk (401 problem+json
// when it is missing or wrong) and hands h the verified claims.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *Claims)) http.HandlerFunc {
	return s.verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := pluginsdk.ClaimsFrom(r.Context())
		h(w, r, c)
	})).ServeHTTP
}

func (s *Server) findVehicle(w http.ResponseWriter, r *http.Request, _ *Claims) {
	s.mu.Lock()
	v, ok := s.vehicles[Normalize(r.PathValue("plate"))]
	var out Vehicle
	if ok {
		out = *v
	}
	s.mu.Unlock()
	if !ok {
		problem(w, http.StatusNotFound, "Not found", "no vehicle has this plate")
		return
	}
	reply(w, http.StatusOK, out)
}

// RenewalWindow is how long before expiry a registration may be renewed.
const RenewalWindow = 90 * 24 * time.Hour

// recordRenewal records a renewal. It honours the Idempotency-Key header
// (docs/plugins.md): the same key and request again get the first answer
// and record nothing; the same key with another request is refused (422).
func (s *Server) recordRenewal(w http.ResponseWriter, r *http.Request, c *Claims) {
	var in struct {
		CaseReference string `json:"case_reference"`
		Months        int    `json:"months"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.CaseReference == "" || (in.Months != 12 && in.Months != 24) {
		problem(w, http.StatusBadRequest, "Bad request", "case_reference and months (12 or 24) are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		// The key is the caller's (aud is this plug-in, so every caller
		// is Portico); the request it named is the plate, the body and
		// the person.
		asked := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%s", Normalize(r.PathValue("plate")), in.CaseReference, in.Months, c.Subject)))
		if prev, ok := s.replies[key]; ok {
			if prev.request != asked {
				problem(w, http.StatusUnprocessableEntity, "Idempotency-Key reused", "this Idempotency-Key was used with another request")
				return
			}
			if pb, ok := prev.body.(problemBody); ok {
				problem(w, pb.Status, pb.Title, pb.Detail)
				return
			}
			reply(w, prev.status, prev.body)
			return
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if rec.status > 0 && rec.status < 500 {
				s.replies[key] = idemReply{request: asked, status: rec.status, body: rec.body}
			}
		}()
		w = rec
	}
	v, ok := s.vehicles[Normalize(r.PathValue("plate"))]
	if !ok {
		problem(w, http.StatusNotFound, "Not found", "no vehicle has this plate")
		return
	}
	exp, err := time.Parse(time.DateOnly, v.RegistrationExpires)
	if err != nil {
		problem(w, http.StatusInternalServerError, "Internal error", "the stored expiry is unreadable")
		return
	}
	now := s.now()
	if exp.Sub(now) > RenewalWindow {
		problem(w, http.StatusConflict, "Not due", fmt.Sprintf("the registration expires %s; it may be renewed from 90 days before", v.RegistrationExpires))
		return
	}
	from := exp
	if from.Before(now) {
		from = now
	}
	v.RegistrationExpires = from.AddDate(0, in.Months, 0).Format(time.DateOnly)
	s.renewals = append(s.renewals, Renewal{Plate: v.Plate, RegistrationExpires: v.RegistrationExpires, CaseReference: in.CaseReference,
		Months: in.Months, Subject: c.Subject, At: now})
	reply(w, http.StatusCreated, Renewal{Plate: v.Plate, RegistrationExpires: v.RegistrationExpires})
}
