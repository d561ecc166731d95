package counterbooking_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	counterbooking "github.com/portico-gov/portico/examples/plugins/counter-booking"
	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

// Monday 7 December 2026, 8:00 in Springfield.
var chicago, _ = time.LoadLocation("America/Chicago")
var monday = time.Date(2026, 12, 7, 8, 0, 0, 0, chicago)

type fixture struct {
	t      *testing.T
	p      *pluginsdktest.Portico
	srv    *httptest.Server
	server *counterbooking.Server
	now    time.Time
}

func newFixture(t *testing.T, file string) *fixture {
	f := &fixture{t: t, now: monday}
	f.p = pluginsdktest.New(t, counterbooking.PluginID)
	f.p.Now = func() time.Time { return f.now }
	var err error
	f.server, err = counterbooking.NewServer(counterbooking.Config{Issuer: f.p.URL, File: file, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.server.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// as are the claims of a call by agency's service for person ("" for none).
func (f *fixture) as(agency, person string) pluginsdk.Claims {
	c := pluginsdk.Claims{Agency: agency, Service: "marriage-licence"}
	if person != "" {
		c.Subject, c.Name, c.Email = f.p.Subject(person), strings.ToUpper(person[:1])+person[1:]+" Example", person+"@example.com"
	}
	return c
}

func (f *fixture) do(c pluginsdk.Claims, method, path, body string) (int, string) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.p.CallWith(req, c)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
		f.t.Fatalf("%s %s: %d with %q", method, path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	return res.StatusCode, string(b)
}

type slotList struct {
	Office struct{ ID, Name string }
	Day    string
	Slots  []counterbooking.Slot
}

func (f *fixture) slots(c pluginsdk.Claims, office, day string) slotList {
	f.t.Helper()
	path := "/offices/" + office + "/slots"
	if day != "" {
		path += "?day=" + day
	}
	st, body := f.do(c, "GET", path, "")
	if st != 200 {
		f.t.Fatalf("slots: %d %s", st, body)
	}
	var l slotList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		f.t.Fatal(err)
	}
	return l
}

func TestSlots(t *testing.T) {
	f := newFixture(t, "")
	clerk := f.as("adams-clerk", "ana")
	l := f.slots(clerk, "adams-courthouse", "")
	// 8:30 to 16:00 in half hours: 15 slots, two counters each.
	if l.Day != "2026-12-07" || l.Office.Name == "" || len(l.Slots) != 15 || l.Slots[0].ID != "adams-courthouse@2026-12-07T08:30" || l.Slots[0].Free != 2 ||
		!l.Slots[14].EndsAt.Equal(time.Date(2026, 12, 7, 16, 0, 0, 0, chicago)) {
		t.Fatalf("Monday: %+v", l)
	}
	f.now = time.Date(2026, 12, 7, 12, 10, 0, 0, chicago)
	if l := f.slots(clerk, "adams-courthouse", ""); len(l.Slots) != 7 || l.Slots[0].ID != "adams-courthouse@2026-12-07T12:30" {
		t.Fatalf("after noon, the times gone by are not offered: %+v", l.Slots)
	}
	if l := f.slots(clerk, "adams-courthouse", "2026-12-12"); len(l.Slots) != 0 {
		t.Fatalf("Saturday: %+v", l.Slots)
	}
	if l := f.slots(clerk, "adams-courthouse", "2026-12-01"); len(l.Slots) != 0 {
		t.Fatalf("a day gone by: %+v", l.Slots)
	}
	if l := f.slots(f.as("dmv", ""), "dmv-lakeside", "2026-12-08"); len(l.Slots) != 8 || l.Slots[0].Free != 1 {
		t.Fatalf("the DMV's Lakeside office on Tuesday: %+v", l.Slots)
	}
	for _, tt := range []struct {
		name, agency, path string
		status             int
		want               string
	}{
		{"another agency's office", "dmv", "/offices/adams-courthouse/slots", 404, `agency dmv has no office \"adams-courthouse\"`},
		{"no such office", "adams-clerk", "/offices/atlantis/slots", 404, "no office"},
		{"bad day", "adams-clerk", "/offices/adams-courthouse/slots?day=12/14/2026", 400, "YYYY-MM-DD"},
		{"too far", "adams-clerk", "/offices/adams-courthouse/slots?day=2027-06-01", 400, "days ahead"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if st, body := f.do(f.as(tt.agency, ""), "GET", tt.path, ""); st != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("%d %s", st, body)
			}
		})
	}
}

func TestBookAndCancel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bookings.json")
	f := newFixture(t, file)
	ana, beto, cleo := f.as("adams-clerk", "ana"), f.as("adams-clerk", "beto"), f.as("adams-clerk", "cleo")
	slot := "adams-courthouse@2026-12-07T10:00"
	body := `{"slot_id":"` + slot + `"}`

	// The name comes from the token, whatever the body says.
	ana.JTI = "call-1"
	st, out := f.do(ana, "POST", "/offices/adams-courthouse/bookings", `{"slot_id":"`+slot+`","name":"Someone Else"}`)
	var booked struct {
		ID, Office, Name string
		SlotID           string `json:"slot_id"`
	}
	if err := json.Unmarshal([]byte(out), &booked); st != 201 || err != nil || booked.Name != "Ana Example" || booked.SlotID != slot || booked.Office != "adams-courthouse" {
		t.Fatalf("book: %d %s", st, out)
	}
	if strings.Contains(out, "subject") || strings.Contains(out, "@example.com") {
		t.Fatalf("the answer shows more than the booking: %s", out)
	}
	// The same call again (the same token id) is the same booking.
	if st, again := f.do(ana, "POST", "/offices/adams-courthouse/bookings", body); st != 201 || !strings.Contains(again, booked.ID) {
		t.Fatalf("retry: %d %s", st, again)
	}
	ana.JTI = ""
	if l := f.slots(ana, "adams-courthouse", ""); l.Slots[3].ID != slot || l.Slots[3].Free != 1 {
		t.Fatalf("after one booking: %+v", l.Slots[3])
	}
	// A staff booking for someone at the counter: no person in the token,
	// the name in the body.
	staff := f.as("adams-clerk", "")
	tests := []struct {
		name   string
		c      pluginsdk.Claims
		body   string
		status int
		want   string
	}{
		{"same person, same time", ana, body, 409, "already has this time"},
		{"no name anywhere", staff, body, 400, "needs the person's name"},
		{"unknown field", beto, `{"slot_id":"` + slot + `","ssn":"123"}`, 400, "slot_id"},
		{"not JSON", beto, `slot`, 400, "slot_id"},
		{"another office's slot", beto, `{"slot_id":"dmv-lakeside@2026-12-07T10:00"}`, 400, "is not a slot of office adams-courthouse"},
		{"off hours", beto, `{"slot_id":"adams-courthouse@2026-12-07T17:00"}`, 400, "receives no one at"},
		{"not on the half hour", beto, `{"slot_id":"adams-courthouse@2026-12-07T10:10"}`, 400, "receives no one at"},
		{"Sunday", beto, `{"slot_id":"adams-courthouse@2026-12-06T10:00"}`, 400, "receives no one at"},
		{"gone by", beto, `{"slot_id":"adams-courthouse@2026-12-04T10:00"}`, 400, "has begun or gone by"},
		{"garbled slot", beto, `{"slot_id":"adams-courthouse@tomorrow"}`, 400, "not a slot id"},
		{"another agency's office", f.as("dmv", "beto"), body, 404, "no office"},
		{"second counter", beto, body, 201, "Beto Example"},
		{"full", cleo, body, 409, "taken meanwhile"},
		{"walk-in by staff", staff, `{"slot_id":"adams-courthouse@2026-12-07T11:00","name":"Dora Walkin"}`, 201, "Dora Walkin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st, out := f.do(tt.c, "POST", "/offices/adams-courthouse/bookings", tt.body); st != tt.status || !strings.Contains(out, tt.want) {
				t.Fatalf("%d %s", st, out)
			}
		})
	}

	// Cancelling: only the person's own booking, or any of the agency's
	// when the agency calls for no person.
	for _, tt := range []struct {
		name   string
		c      pluginsdk.Claims
		status int
	}{
		{"another person", cleo, 404},
		{"another agency", f.as("dmv", ""), 404},
		{"the person", ana, 204},
		{"again", ana, 204},
	} {
		if st, out := f.do(tt.c, "DELETE", "/bookings/"+booked.ID, ""); st != tt.status {
			t.Fatalf("cancel, %s: %d %s", tt.name, st, out)
		}
	}
	if st, _ := f.do(ana, "DELETE", "/bookings/bk_nothing", ""); st != 404 {
		t.Fatalf("cancel unknown: %d", st)
	}
	if st, out := f.do(cleo, "POST", "/offices/adams-courthouse/bookings", body); st != 201 {
		t.Fatalf("the cancelled place is free again: %d %s", st, out)
	}

	// The bookings survive a restart from the file.
	again, err := counterbooking.NewServer(counterbooking.Config{Issuer: f.p.URL, File: file, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	bs := again.Bookings()
	if len(bs) != 4 || !bs[0].Cancelled || bs[0].Name != "Ana Example" || bs[0].Email != "ana@example.com" || bs[0].Subject != f.p.Subject("ana") || bs[2].Subject != "agency:adams-clerk" {
		t.Fatalf("after a restart: %+v", bs)
	}
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t, "")
	res, err := http.Get(f.srv.URL + "/offices/adams-courthouse/slots")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(string(b), `"reason":"missing"`) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

func TestConfig(t *testing.T) {
	bad := []counterbooking.Office{{ID: "x", Agency: "a", Opens: "9am", Closes: "17:00", Counters: 1}}
	if _, err := counterbooking.NewServer(counterbooking.Config{Offices: bad}); err == nil {
		t.Fatal("an office opening at 9am was accepted")
	}
	dup := []counterbooking.Office{{ID: "x", Agency: "a", Opens: "09:00", Closes: "17:00", Counters: 1}, {ID: "x", Agency: "b", Opens: "09:00", Closes: "17:00", Counters: 1}}
	if _, err := counterbooking.NewServer(counterbooking.Config{Offices: dup}); err == nil {
		t.Fatal("two offices with one id were accepted")
	}
	file := filepath.Join(t.TempDir(), "b.json")
	if err := writeFile(file, "not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := counterbooking.NewServer(counterbooking.Config{File: file}); err == nil {
		t.Fatal("a corrupt bookings file was accepted")
	}
}

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o600) }
