package manifest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// choicesService asks an office and a day, then a time whose choices the
// counter-booking plug-in gives.
const choicesService = `id: book
version: 1
agency: adams-clerk
jurisdictions: [example]
title: {en: Book, es: Reservar}
summary: {en: S, es: S}
category: family
kind: apply
maturity: alpha
pages:
  - id: visit
    title: {en: Visit, es: Visita}
    schema:
      type: object
      required: [office, day]
      properties:
        office: {type: string, enum: [adams-courthouse]}
        day: {type: string, format: date}
    fields:
      office: {label: {en: Office, es: Oficina}, widget: radios}
      day: {label: {en: Day, es: Día}, widget: date}
  - id: slot
    title: {en: Time, es: Hora}
    schema:
      type: object
      required: [slot]
      properties:
        slot: {type: string}
        starts_at: {type: string}
    fields:
      slot: {label: {en: Time, es: Hora}, widget: radios}
    choices_from:
      plugin: counter-booking/list-slots
      path: {office: answers.visit.office}
      query: {day: answers.visit.day}
      field: slot
      items: slots
      value: id
      label: starts_at
      label_field: starts_at
workflow:
  initial: open
  states:
    open:
      title: {en: Open, es: Abierta}
      sla: 2d
      on_enter:
        - call_plugin:
            plugin: counter-booking
            operation: book-slot
            data: [name, email, phone]
            path: {office: answers.visit.office}
            body: {slot_id: answers.slot.slot}
    done: {title: {en: Done, es: Hecha}, terminal: true}
  transitions:
    - {id: close, from: open, to: done, by: [caseworker], label: {en: Close, es: Cerrar}}
`

func TestChoicesFrom(t *testing.T) {
	res, probs, err := manifest.Validate(context.Background(), "book.yaml", []byte(choicesService), manifest.Options{Plugins: allowAll{}})
	if err != nil || len(probs) > 0 {
		t.Fatalf("Validate: %v %v", err, probs)
	}
	rt, err := manifest.Compile("book", 1, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	uses := rt.PluginUses()
	if len(uses) != 2 || uses[0].Kind != manifest.UseChoices || uses[0].Page != "slot" || uses[0].Pointer != "/pages/1/choices_from" {
		t.Fatalf("uses = %+v", uses)
	}
	req, err := rt.PluginRequest(uses[0].Pointer, manifest.Inputs{Now: time.Now(),
		Answers: map[string]map[string]any{"visit": {"office": "adams-courthouse", "day": "2026-12-08"}}})
	if err != nil {
		t.Fatal(err)
	}
	if req.Path["office"] != "adams-courthouse" || req.Query.Get("day") != "2026-12-08" {
		t.Errorf("request = %+v", req)
	}
	// The consent screen asks for what the booking carries.
	if got := manifest.PluginData(res.Manifest)["counter-booking"]; strings.Join(got, ",") != "email,name,phone" {
		t.Errorf("PluginData = %v", got)
	}
}

func TestChoicesFromProblems(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"no field", "      field: slot\n", "", "name the page's property whose choices it gives in field"},
		{"unknown field", "      field: slot\n", "      field: time\n", `has no property "time"`},
		{"no items", "      items: slots\n", "", "name the response's items"},
		{"no value", "      value: id\n", "", "name the response's value"},
		{"no label", "      label: starts_at\n", "", "name the response's label"},
		{"label field unknown", "      label_field: starts_at\n", "      label_field: when\n", `label_field: the page's schema has no property "when"`},
		{"label field is the field", "      label_field: starts_at\n", "      label_field: slot\n", "must be another string property"},
		{"label field asked", "      slot: {label: {en: Time, es: Hora}, widget: radios}\n",
			"      slot: {label: {en: Time, es: Hora}, widget: radios}\n      starts_at: {label: {en: At, es: A}, widget: text}\n", "is saved from the choice, not asked"},
		{"not radios", "      slot: {label: {en: Time, es: Hora}, widget: radios}\n", "      slot: {label: {en: Time, es: Hora}, widget: text}\n", "must be asked with radios or select"},
		{"reads its own page", "      path: {office: answers.visit.office}\n", "      path: {office: answers.slot.slot}\n", "slot"},
		{"radios without choices_from need an enum", "    choices_from:\n", "    check:\n", "needs the property to list its choices in enum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(choicesService, c.from, c.to, 1)
			if src == choicesService {
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
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Errorf("problems %q do not mention %q", all, c.want)
			}
		})
	}
}
