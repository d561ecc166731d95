package reminder_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
)

var update = flag.Bool("update", false, "rewrite golden files")

func calendarObligations() []reminder.Obligation {
	at := time.Date(2027, 3, 1, 15, 4, 5, 0, time.UTC)
	return []reminder.Obligation{
		{
			ID: "0193a1b2-0000-7000-8000-000000000001", AccountID: "beto", AgencyID: "dmv", Kind: reminder.KindRenewal,
			Source: "document:reg-1", Title: reminder.Text{EN: "Renew your vehicle registration", ES: "Renueve el registro de su vehículo"},
			URL: "/services/vehicle-registration", Due: reminder.Date{Year: 2027, Month: 4, Day: 30},
			Schedule: reminder.DefaultSchedule, Status: reminder.StatusOpen, CreatedAt: at, UpdatedAt: at,
		},
		{
			ID: "0193a1b2-0000-7000-8000-000000000002", AccountID: "beto", AgencyID: "treasurer", Kind: reminder.KindPayment,
			Source: "tax:2027-2", Title: reminder.Text{EN: "Pay property tax, second instalment; parcel 12-345, Lakeside", ES: "Pague el impuesto predial, segunda cuota; parcela 12-345, Lakeside"},
			Due:      reminder.Date{Year: 2027, Month: 5, Day: 15},
			Schedule: reminder.Schedule{-14 * reminder.Day, -90 * time.Minute, 0}, Status: reminder.StatusOpen, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
		},
	}
}

// TestCalendarGolden pins the iCalendar output (RFC 5545: CRLF lines folded
// at 75 octets, escaped text, all-day dates, alarms) in both languages, and
// parses it back with the library.
func TestCalendarGolden(t *testing.T) {
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			got := reminder.RenderCalendar(calendarObligations(), reminder.CalendarOptions{Lang: lang, BaseURL: "https://portico.example.gov", SendHour: 9})
			matchGolden(t, filepath.Join("testdata", "feed."+lang+".ics"), got)
			for i, line := range strings.Split(strings.TrimSuffix(string(got), "\r\n"), "\r\n") {
				if len(line) > 75 {
					t.Errorf("line %d is %d octets: %q", i+1, len(line), line)
				}
			}
			cal, err := ics.ParseCalendar(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			events := cal.Events()
			if len(events) != 2 {
				t.Fatalf("%d events", len(events))
			}
			e := events[1]
			if uid := e.Id(); uid != "0193a1b2-0000-7000-8000-000000000002@portico.example.gov" {
				t.Errorf("UID = %q", uid)
			}
			if d, err := e.GetAllDayStartAt(); err != nil || d.Format(time.DateOnly) != "2027-05-15" {
				t.Errorf("DTSTART = %v, %v", d, err)
			}
			summary := e.GetProperty(ics.ComponentPropertySummary).Value
			if want := calendarObligations()[1].Title.In(lang); ics.FromText(summary) != want {
				t.Errorf("SUMMARY = %q, want %q", summary, want)
			}
			var triggers []string
			for _, a := range e.Alarms() {
				triggers = append(triggers, a.GetProperty(ics.ComponentPropertyTrigger).Value)
			}
			if got := strings.Join(triggers, " "); got != "-P13DT15H PT7H30M PT9H" {
				t.Errorf("alarm triggers = %s", got)
			}
		})
	}
}

func TestParseFeedFile(t *testing.T) {
	good := strings.Repeat("A", 42) + "A"
	for name, ok := range map[string]bool{
		good + ".ics":                       true,
		good:                                false,
		good + ".ICS":                       false,
		good + ".ics.ics":                   false,
		"../" + good[3:] + ".ics":           false,
		strings.Repeat("A", 42) + "B.ics":   false, // non-canonical last character
		strings.Repeat("A", 42) + "=.ics":   false,
		strings.Repeat("A", 44) + ".ics":    false,
		".ics":                              false,
		strings.Repeat("-", 42) + "w.ics":   true,
		strings.Repeat("A", 41) + "+A.ics":  false,
		strings.Repeat("A", 41) + "%2.ics":  false,
		strings.Repeat("é", 21) + "A.ics":   false,
		strings.Repeat("A", 42) + "A.ics\n": false,
	} {
		if _, got := reminder.ParseFeedFile(name); got != ok {
			t.Errorf("ParseFeedFile(%q) ok = %v, want %v", name, got, ok)
		}
	}
}

// FuzzParseFeedFile: whatever arrives in the path, a token that passes is
// exactly 43 characters of the base64url alphabet that decode to 32 bytes
// and encode back to themselves.
func FuzzParseFeedFile(f *testing.F) {
	f.Add(strings.Repeat("A", 43) + ".ics")
	f.Add(strings.Repeat("-", 42) + "w.ics")
	f.Add("x.ics")
	f.Add("")
	f.Fuzz(func(t *testing.T, name string) {
		tok, ok := reminder.ParseFeedFile(name)
		if !ok {
			if tok != "" {
				t.Fatalf("rejected %q but returned %q", name, tok)
			}
			return
		}
		if tok+".ics" != name || len(tok) != reminder.TokenLen {
			t.Fatalf("accepted %q as %q", name, tok)
		}
		for _, c := range tok {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c) {
				t.Fatalf("accepted %q with %q", name, c)
			}
		}
	})
}

// TestCalendarAmountGolden: an obligation that carries an amount says it
// in the event's summary and description, with where to pay in person
// (the agency's counter) and the reference to quote, in both languages;
// the event is the due date, all day.
func TestCalendarAmountGolden(t *testing.T) {
	at := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	amount := platform.MustMoney(123550, "USD")
	obs := []reminder.Obligation{{
		ID: "0193a1b2-0000-7000-8000-000000000003", AccountID: "ana", AgencyID: "adams-clerk", Kind: reminder.KindPayment,
		Source: "case:c1/payment:1", Title: reminder.Text{EN: "Pay the fee: Get a dog license", ES: "Pague la tarifa: Obtener una licencia para perro"},
		URL: "/applications/c1", Due: reminder.Date{Year: 2026, Month: 12, Day: 8}, Amount: &amount, Reference: "ADAMS-CLERK-2026-000001",
		Schedule: reminder.Schedule{-7 * reminder.Day, 0}, Status: reminder.StatusOpen, CreatedAt: at, UpdatedAt: at,
	}}
	counters := map[string]reminder.Counter{"adams-clerk": {
		Name:    reminder.Text{EN: "Adams County Clerk", ES: "Secretaría del Condado de Adams"},
		Address: []string{"100 Main Street, Room 110", "Springfield, EX 70101"}, Phone: "(555) 010-5200",
		Hours: reminder.Text{EN: "Monday to Friday, 8 a.m. to 4:30 p.m.", ES: "De lunes a viernes, de 8:00 a 16:30"},
	}}
	for _, tc := range []struct{ lang, summary, amount, hours string }{
		{"en", "Pay the fee: Get a dog license: $1,235.50", "Amount owed: $1,235.50.", "Open: Monday to Friday, 8 a.m. to 4:30 p.m."},
		{"es", "Pague la tarifa: Obtener una licencia para perro: $1,235.50", "Monto adeudado: $1,235.50.", "Horario: De lunes a viernes, de 8:00 a 16:30"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			got := reminder.RenderCalendar(obs, reminder.CalendarOptions{Lang: tc.lang, BaseURL: "https://portico.example.gov", SendHour: 9, Counters: counters})
			matchGolden(t, filepath.Join("testdata", "feed-amount."+tc.lang+".ics"), got)
			cal, err := ics.ParseCalendar(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			e := cal.Events()[0]
			if d, err := e.GetAllDayStartAt(); err != nil || d.Format(time.DateOnly) != "2026-12-08" {
				t.Errorf("DTSTART = %v, %v", d, err)
			}
			if s := ics.FromText(e.GetProperty(ics.ComponentPropertySummary).Value); s != tc.summary {
				t.Errorf("SUMMARY = %q, want %q", s, tc.summary)
			}
			desc := ics.FromText(e.GetProperty(ics.ComponentPropertyDescription).Value)
			for _, w := range []string{tc.amount, "100 Main Street, Room 110", "(555) 010-5200", tc.hours, "ADAMS-CLERK-2026-000001", "https://portico.example.gov/applications/c1"} {
				if !strings.Contains(desc, w) {
					t.Errorf("DESCRIPTION lacks %q:\n%s", w, desc)
				}
			}
		})
	}
}

// TestCalendarAppointment: a booked appointment is a timed, busy event
// with its place, the application's reference and link, and alarms a
// day and two hours before, in both languages (golden), beside what is
// due.
func TestCalendarAppointment(t *testing.T) {
	start := time.Date(2027, 4, 12, 14, 30, 0, 0, time.UTC)
	appts := []reminder.Appointment{{
		ID: "0193a1b2-0000-7000-8000-0000000000aa", Service: reminder.Text{EN: "Apply for a passport", ES: "Solicite un pasaporte"},
		Reference: "PSP-7K2M", Start: start, End: start.Add(30 * time.Minute),
		Place: reminder.Text{EN: "Adams County Courthouse, 1st floor", ES: "Juzgado del Condado de Adams, planta baja"},
		URL:   "/applications/0193a1b2-0000-7000-8000-0000000000aa", UpdatedAt: start.Add(-72 * time.Hour),
	}}
	for _, tc := range []struct{ lang, summary, location string }{
		{"en", "Appointment: Apply for a passport", "Adams County Courthouse, 1st floor"},
		{"es", "Cita: Solicite un pasaporte", "Juzgado del Condado de Adams, planta baja"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			got := reminder.RenderCalendar(calendarObligations()[:1], reminder.CalendarOptions{Lang: tc.lang, BaseURL: "https://portico.example.gov", SendHour: 9, Appointments: appts})
			matchGolden(t, filepath.Join("testdata", "feed-appointment."+tc.lang+".ics"), got)
			cal, err := ics.ParseCalendar(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			events := cal.Events()
			if len(events) != 2 {
				t.Fatalf("%d events, want the obligation and the appointment", len(events))
			}
			e := events[1]
			if uid := e.Id(); uid != "appointment-0193a1b2-0000-7000-8000-0000000000aa@portico.example.gov" {
				t.Errorf("UID = %q", uid)
			}
			if s, err := e.GetStartAt(); err != nil || !s.Equal(start) {
				t.Errorf("DTSTART = %v, %v; want %v", s, err, start)
			}
			if s, err := e.GetEndAt(); err != nil || !s.Equal(start.Add(30*time.Minute)) {
				t.Errorf("DTEND = %v, %v", s, err)
			}
			if got := ics.FromText(e.GetProperty(ics.ComponentPropertySummary).Value); got != tc.summary {
				t.Errorf("SUMMARY = %q, want %q", got, tc.summary)
			}
			if got := ics.FromText(e.GetProperty(ics.ComponentPropertyLocation).Value); got != tc.location {
				t.Errorf("LOCATION = %q, want %q", got, tc.location)
			}
			if desc := ics.FromText(e.GetProperty(ics.ComponentPropertyDescription).Value); !strings.Contains(desc, "PSP-7K2M") ||
				!strings.Contains(desc, "https://portico.example.gov/applications/0193a1b2-0000-7000-8000-0000000000aa") {
				t.Errorf("DESCRIPTION = %q", desc)
			}
			if n := len(e.Alarms()); n != 2 {
				t.Errorf("%d alarms, want a day and two hours before", n)
			}
		})
	}
}

// matchGolden compares a rendered calendar with its golden file (written
// with -update), byte for byte: CRLF line ends and folding included.
func matchGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/reminder -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("calendar differs from %s (go test ./internal/reminder -update, then review the diff):\n%s", path, got)
	}
}
