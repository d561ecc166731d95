package manifest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// recordService books in one state and cancels in another, reading what
// the booking recorded; its appointment shows what was recorded.
const recordService = `id: book
version: 1
agency: dmv
jurisdictions: [example]
title: {en: Book, es: Reservar}
summary: {en: S, es: S}
category: transport
kind: book
maturity: alpha
pages:
  - id: visit
    title: {en: Visit, es: Visita}
    schema:
      type: object
      required: [office]
      properties:
        office: {type: string, enum: [north]}
    fields:
      office: {label: {en: Office, es: Oficina}, widget: radios, options: {north: {en: North office, es: Oficina norte}}}
appointment: {starts_at: starts_at, ends_at: ends_at, place: visit.office}
workflow:
  initial: booked
  states:
    booked:
      title: {en: Booked, es: Reservada}
      sla: 2d
      on_enter:
        - call_plugin:
            plugin: counter-booking
            operation: book-slot
            path: {office: answers.visit.office}
            record: {booking: id, starts_at: starts_at, ends_at: ends_at}
    cancelled:
      title: {en: Cancelled, es: Cancelada}
      terminal: true
      on_enter:
        - call_plugin:
            plugin: counter-booking
            operation: cancel-booking
            path: {booking: recorded.booking}
            forget: [booking, starts_at, ends_at]
  transitions:
    - {id: cancel, from: booked, to: cancelled, by: [citizen], label: {en: Cancel, es: Cancelar}}
`

func TestRecordedValues(t *testing.T) {
	res, probs, err := manifest.Validate(context.Background(), "book.yaml", []byte(recordService), manifest.Options{Plugins: allowAll{}})
	if err != nil || len(probs) > 0 {
		t.Fatalf("Validate: %v %v", err, probs)
	}
	rt, err := manifest.Compile("book", 1, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var cancel string
	for _, u := range rt.PluginUses() {
		if u.Operation == "cancel-booking" {
			cancel = u.Pointer
		}
		if got := rt.RecordedReads(u.Pointer); u.Operation == "cancel-booking" && (len(got) != 1 || got[0] != "booking") ||
			u.Operation == "book-slot" && len(got) != 0 {
			t.Errorf("RecordedReads(%s) = %v", u.Pointer, got)
		}
	}
	in := manifest.Inputs{Now: time.Now(), Answers: map[string]map[string]any{"visit": {"office": "north"}}, Recorded: map[string]any{"booking": "b-42"}}
	req, err := rt.PluginRequest(cancel, in)
	if err != nil || req.Path["booking"] != "b-42" {
		t.Fatalf("cancel request = %+v (%v)", req, err)
	}
	// Nothing recorded: the call cannot be built (casework skips it).
	if _, err := rt.PluginRequest(cancel, manifest.Inputs{Now: time.Now()}); err == nil {
		t.Error("cancel without a recorded booking: no error")
	}
}

func TestRecordedValueProblems(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"reads a name nothing records", `path: {booking: recorded.booking}`, `path: {booking: recorded.ticket}`, `no call_plugin records "ticket"`},
		{"reads by index a name nothing records", `path: {booking: recorded.booking}`, `path: {booking: 'recorded["ticket"]'}`, `no call_plugin records "ticket"`},
		{"forgets a name nothing records", `forget: [booking, starts_at, ends_at]`, `forget: [booking, seat]`, `forget: no call_plugin records "seat"`},
		{"appointment from a name nothing records", `appointment: {starts_at: starts_at,`, `appointment: {starts_at: begins,`, `appointment.starts_at: no call_plugin records "begins"`},
		{"appointment place not a page property", `place: visit.office}`, `place: visit.room}`, "no page property visit.room"},
		{"record name not a name", `record: {booking: id,`, `record: {Booking-Id: id,`, "must be a lowercase letter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(recordService, c.from, c.to, 1)
			if src == recordService {
				t.Fatal("replacement did not apply")
			}
			_, probs, err := manifest.Validate(context.Background(), "book.yaml", []byte(src), manifest.Options{Plugins: allowAll{}})
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, p := range probs {
				all = append(all, p.Message)
			}
			if len(all) == 0 || !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Errorf("problems %q do not mention %q", all, c.want)
			}
		})
	}
}
