package applyweb_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	counterbooking "github.com/portico-gov/portico/examples/plugins/counter-booking"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestPassportBookingJourney books a passport appointment at the Adams
// County Clerk's counter through the real HTTP server, gateway and the private
// provider's counter-booking plug-in (its own server, verifying
// Portico's tokens), on SQLite and PostgreSQL: while the plug-in is down
// the time page says so in English and Spanish and the draft is kept;
// once it is up the page offers the free times of the day chosen, in the
// person's language; a time that is not free is refused; check your
// answers asks consent for the booking (it carries name, email and
// phone) and shows the time chosen; after sending, the workflow books it
// through the gateway in Ana's name, and her case page shows the time.
func TestPassportBookingJourney(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			a, base := startAppOn(t, d)
			seed := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			dead := "http://" + l.Addr().String()
			l.Close()
			if _, err := demo.SeedPlugins(seed, a.Plugins, map[string]string{"counter-booking": dead}); err != nil {
				t.Fatal(err)
			}

			ana := newBrowser(t, base)
			ana.signIn("ana.citizen@example.com")
			p := ana.post("/services/adams-passport-appointment/apply", nil)
			appURL := strings.TrimSuffix(p.location, "/pages/who")
			expect(t, "start", p, http.StatusSeeOther, appURL+"/pages/who")
			expect(t, "who", ana.post(appURL+"/pages/who", url.Values{"applicants": {"2"}, "minors": {"no"}}), http.StatusSeeOther, appURL+"/pages/visit")
			// The demo's clock is Tuesday, November 24, 2026: the next day
			// is a weekday with free times.
			expect(t, "visit", ana.post(appURL+"/pages/visit", url.Values{"office": {"adams-courthouse"}, "day-month": {"11"}, "day-day": {"25"}, "day-year": {"2026"}}),
				http.StatusSeeOther, appURL+"/pages/slot")

			// Down: the page says so, offers nothing, and the draft is kept.
			p = ana.get(appURL + "/pages/slot")
			expect(t, "slot while down", p, http.StatusOK, "")
			contains(t, "slot while down", p, "The records of the Adams County Clerk are not answering right now.", `id="plugin-alert"`)
			if strings.Contains(p.body, `name="slot"`) {
				t.Error("times offered while the plug-in is down")
			}
			ana.lang = "es"
			contains(t, "slot while down (es)", ana.get(appURL+"/pages/slot"), "no responden en este momento")
			ana.lang = "en"
			p = ana.post(appURL+"/pages/slot", url.Values{"slot": {"adams-courthouse@2026-11-25T09:00"}})
			expect(t, "choose while down", p, http.StatusServiceUnavailable, "")
			contains(t, "choose while down", p, "are not answering right now")
			// Saving never depends on the plug-in: the draft is kept and the
			// home says why the question could not be answered.
			later := ana.post(appURL+"/pages/slot", url.Values{"action": {"later"}})
			if later.status != http.StatusSeeOther || !strings.HasPrefix(later.location, "/dashboard?saved=") || !strings.Contains(later.location, "down=1") {
				t.Fatalf("come back later while down: %d %q", later.status, later.location)
			}
			expect(t, "the draft is kept", ana.get(appURL), http.StatusSeeOther, appURL+"/pages/slot")

			// Up: the provider's own server, trusting Portico's tokens.
			cb := startCounterBooking(t, a)
			if _, err := demo.SeedPlugins(seed, a.Plugins, map[string]string{"counter-booking": cb.url}); err != nil {
				t.Fatal(err)
			}
			a.Clock.(*platform.FakeClock).Advance(time.Minute) // past the gateway's registration cache
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				p = ana.get(appURL + "/pages/slot")
				if strings.Contains(p.body, `name="slot"`) || time.Now().After(deadline) {
					break
				}
			}
			expect(t, "slot when up", p, http.StatusOK, "")
			contains(t, "slot when up", p, `value="adams-courthouse@2026-11-25T08:30"`, "November 25, 2026, 8:30 AM", "November 25, 2026, 3:30 PM")
			ana.lang = "es"
			contains(t, "slot when up (es)", ana.get(appURL+"/pages/slot"), "25 de noviembre de 2026, 08:30")
			ana.lang = "en"

			p = ana.post(appURL+"/pages/slot", url.Values{"slot": {"adams-courthouse@2026-11-25T07:00"}})
			expect(t, "a time not offered", p, http.StatusBadRequest, "")
			contains(t, "a time not offered", p, "That choice is no longer available. Choose another.")
			expect(t, "choose a time", ana.post(appURL+"/pages/slot", url.Values{"slot": {"adams-courthouse@2026-11-25T10:00"}}),
				http.StatusSeeOther, appURL+"/check")

			// The booking carries Ana's name, email and phone: consent first.
			consentURL := "/consent?" + url.Values{"service": {"adams-passport-appointment"}, "plugin": {"counter-booking"}, "return": {appURL + "/check"}}.Encode()
			expect(t, "check before consent", ana.get(appURL+"/check"), http.StatusSeeOther, consentURL)
			p = ana.get(consentURL)
			expect(t, "consent screen", p, http.StatusOK, "")
			contains(t, "consent screen", p, "does part of this service for you after you send your application", "Your phone number", "QueueWise Scheduling",
				"No, do not share it",
				// ADR 48: the person's own profile shown in their form is not sharing.
				"Answers a form fills in from your own profile are shown only to you")
			expect(t, "give consent", ana.post("/consent", url.Values{"decision": {"give"}, "service": {"adams-passport-appointment"},
				"plugin": {"counter-booking"}, "return": {appURL + "/check"}}), http.StatusSeeOther, appURL+"/check")
			p = ana.get(appURL + "/check")
			expect(t, "check", p, http.StatusOK, "")
			contains(t, "check", p, "Time of your appointment", "November 25, 2026, 10:00 AM")
			if strings.Contains(p.body, "adams-courthouse@") {
				t.Error("check your answers shows the plug-in's id for the time")
			}
			rev := regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(p.body)
			if rev == nil {
				t.Fatal("no revision on the check page")
			}
			expect(t, "send", ana.post(appURL+"/submit", url.Values{"revision": {rev[1]}}), http.StatusSeeOther, appURL+"/done")

			// The workflow's booking call (a job) goes through the gateway.
			c := caseOf(t, a, "ana.citizen@example.com", "adams-passport-appointment")
			runPluginCalls(t, a, c.ID)
			var booked []counterbooking.Booking
			for _, b := range cb.srv.Bookings() {
				if !b.Cancelled {
					booked = append(booked, b)
				}
			}
			if len(booked) != 1 || booked[0].SlotID != "adams-courthouse@2026-11-25T10:00" || booked[0].Name != "Ana Citizen" ||
				booked[0].Email != "ana.citizen@example.com" || booked[0].Agency != "adams-clerk" || booked[0].Case != c.ID {
				t.Fatalf("bookings = %+v", booked)
			}
			p = ana.get("/applications/" + c.ID)
			expect(t, "case page", p, http.StatusOK, "")
			contains(t, "case page", p, "Time of your appointment", "November 25, 2026, 10:00 AM")

			// Her calendar feed has the appointment beside what is due: a
			// timed event at the booked time, where she chose.
			feed, err := a.Reminders.Calendar(seed, c.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			unfolded := strings.ReplaceAll(string(feed), "\r\n ", "")
			for _, want := range []string{"UID:appointment-" + c.ID + "@", "SUMMARY:Appointment: ", "LOCATION:Adams County",
				"/applications/" + c.ID, "TRANSP:OPAQUE", "TRIGGER:-PT2H"} {
				if !strings.Contains(unfolded, want) {
					t.Errorf("calendar feed lacks %q:\n%s", want, unfolded)
				}
			}

			contains(t, "case page", p, `id="appointment"`)

			// She cancels: the workflow cancels the booking at the plug-in
			// and forgets it, so neither her case page nor her calendar
			// shows it any more.
			expect(t, "cancel", ana.post("/applications/"+c.ID+"/transition", url.Values{"transition": {"cancel"}}), http.StatusSeeOther, "")
			runPluginCalls(t, a, c.ID)
			for _, b := range cb.srv.Bookings() {
				if b.Case == c.ID && !b.Cancelled {
					t.Errorf("booking %+v not cancelled with the case", b)
				}
			}
			p = ana.get("/applications/" + c.ID)
			expect(t, "cancelled case page", p, http.StatusOK, "")
			if strings.Contains(p.body, `id="appointment"`) {
				t.Error("the cancelled case still shows an appointment")
			}
			if feed, err = a.Reminders.Calendar(seed, c.AccountID); err != nil || strings.Contains(string(feed), "UID:appointment-"+c.ID) {
				t.Errorf("calendar after cancelling (%v):\n%s", err, feed)
			}

			// "Who has used my data" lists the booking's consent and the
			// booking made under it, and says why the profile prefill of
			// her forms (the "You" page of other services) is not there.
			p = ana.get("/account/data")
			expect(t, "data page", p, http.StatusOK, "")
			contains(t, "data page", p, "Some forms start with details from your profile", "Counter appointments",
				"At the request of the Adams County Clerk, Counter appointments received ")
			ana.lang = "es"
			contains(t, "data page (es)", ana.get("/account/data"), "Algunos formularios empiezan con datos de su perfil")
			ana.lang = "en"

			// Reuse: the DMV's learner's permit offers the free times of
			// the same plug-in at its own offices (DMV Lakeside opens
			// 9:00 to 13:00), never the Clerk's.
			p = ana.post("/services/learners-permit/apply", nil)
			permit := strings.TrimSuffix(p.location, "/pages/you")
			expect(t, "start permit", p, http.StatusSeeOther, permit+"/pages/you")
			expect(t, "permit you", ana.post(permit+"/pages/you", url.Values{"school": {"Springfield High"}, "parent_name": {"Pat Citizen"}, "parent_phone": {"555-0101"}}),
				http.StatusSeeOther, permit+"/pages/documents")
			expect(t, "permit documents", ana.upload(permit+"/pages/documents", nil, "birth_certificate", "birth.pdf", pdf), http.StatusSeeOther, permit+"/pages/visit")
			expect(t, "permit visit", ana.post(permit+"/pages/visit", url.Values{"office": {"dmv-lakeside"}, "day-month": {"11"}, "day-day": {"25"}, "day-year": {"2026"}}),
				http.StatusSeeOther, permit+"/pages/slot")
			p = ana.get(permit + "/pages/slot")
			expect(t, "permit slot", p, http.StatusOK, "")
			contains(t, "permit slot", p, "Time of your test", `value="dmv-lakeside@2026-11-25T09:00"`, "November 25, 2026, 12:30 PM")
			if strings.Contains(p.body, "adams-courthouse@") || strings.Contains(p.body, "1:00 PM") {
				t.Error("the DMV's page offers times that are not DMV Lakeside's")
			}
		})
	}
}

type cbServer struct {
	srv *counterbooking.Server
	url string
}

// startCounterBooking serves the example plug-in on loopback, on the
// app's clock, fetching Portico's keys from the app's handler (its
// issuer, http://localhost:0, is not a real address in tests).
func startCounterBooking(t *testing.T, a *app.App) cbServer {
	t.Helper()
	portico := httptest.NewServer(a.Web)
	t.Cleanup(portico.Close)
	target, _ := url.Parse(portico.URL)
	client := &http.Client{Transport: rewriteHost{host: target.Host}}
	srv, err := counterbooking.NewServer(counterbooking.Config{Issuer: a.Config.PublicURL, Now: a.Clock.Now, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(srv.Handler())
	t.Cleanup(s.Close)
	return cbServer{srv: srv, url: s.URL}
}

// rewriteHost sends every request to host.
type rewriteHost struct{ host string }

func (rw rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = rw.host, rw.host
	return http.DefaultTransport.RoundTrip(r)
}

// caseOf is email's citizen's case of service.
func caseOf(t *testing.T, a *app.App, email, service string) casework.Case {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := a.Casework.ForAccount(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ServiceID == service {
			return c
		}
	}
	t.Fatalf("%s has no %s case", email, service)
	return casework.Case{}
}

// runPluginCalls makes the case's pending call_plugin calls as their job
// would (the test app runs no job workers).
func runPluginCalls(t *testing.T, a *app.App, caseID string) {
	t.Helper()
	ctx := context.Background()
	rows, err := a.DB.Read().QueryContext(ctx, `SELECT id FROM case_plugin_calls WHERE case_id = $1 AND status = 'pending'`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatal("no plug-in call was recorded")
	}
	for _, id := range ids {
		if err := a.Casework.RunPluginCall(ctx, casework.PluginCallArgs{Call: id, Case: caseID}, 1, casework.PluginCallAttempts); err != nil {
			t.Fatalf("call %d: %v", id, err)
		}
	}
}
