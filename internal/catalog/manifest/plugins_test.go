package manifest_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// allowAll is the registry's answer for a use it allows; the registry
// itself is tested in internal/plugin and, with publishing, in
// internal/catalog.
type allowAll struct{}

func (allowAll) CheckPluginUse(context.Context, string, string, string, string, []string) (string, error) {
	return "", nil
}

const boundService = `id: renew
version: 1
agency: dmv
jurisdictions: [example]
title: {en: Renew, es: Renovar}
summary: {en: S, es: S}
category: transport
kind: renew
maturity: alpha
pages:
  - id: vehicle
    title: {en: Vehicle, es: Vehículo}
    schema:
      type: object
      required: [plate]
      properties:
        plate: {type: string}
    fields:
      plate: {label: {en: Plate, es: Placa}, widget: text}
  - id: details
    title: {en: Details, es: Detalles}
    prefill_from:
      plugin: vehicle-registry/find-vehicle
      path: {plate: 'answers.vehicle.plate.upperAscii().replace(" ", "").replace("-", "")'}
      fields: {make: make}
    schema:
      type: object
      properties:
        make: {type: string}
    fields:
      make: {label: {en: Make, es: Marca}, widget: text}
workflow:
  initial: open
  states:
    open:
      title: {en: Open, es: Abierta}
      sla: 2d
      on_enter:
        - call_plugin:
            plugin: vehicle-registry
            operation: record-renewal
            path: {plate: 'answers.vehicle.plate.upperAscii()'}
            body: {case_reference: 'case.reference', months: '12', tags: '["a", "b"]'}
    done: {title: {en: Done, es: Hecha}, terminal: true}
  transitions:
    - {id: close, from: open, to: done, by: [caseworker], label: {en: Close, es: Cerrar}}
`

func TestPluginBindings(t *testing.T) {
	ctx := context.Background()
	res, probs, err := manifest.Validate(ctx, "renew.yaml", []byte(boundService), manifest.Options{Plugins: allowAll{}})
	if err != nil || len(probs) > 0 {
		t.Fatalf("Validate: %v %v", err, probs)
	}
	rt, err := manifest.Compile("renew", 1, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	uses := rt.PluginUses()
	if len(uses) != 2 || uses[0].Kind != manifest.UsePrefill || uses[0].Page != "details" || uses[1].Kind != manifest.UseAction || uses[1].State != "open" {
		t.Fatalf("uses = %+v", uses)
	}
	in := manifest.Inputs{Now: time.Now(), Answers: map[string]map[string]any{"vehicle": {"plate": "ex 4kq-218"}}}
	req, err := rt.PluginRequest(uses[0].Pointer, in)
	if err != nil {
		t.Fatal(err)
	}
	if req.Path["plate"] != "EX4KQ218" || req.Body != nil {
		t.Errorf("prefill request = %+v", req)
	}
	in.Case = map[string]any{"id": "c1", "reference": "DMV-2026-000001"}
	req, err = rt.PluginRequest(uses[1].Pointer, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"case_reference": "DMV-2026-000001", "months": float64(12), "tags": []any{"a", "b"}}
	if req.Path["plate"] != "EX 4KQ-218" || !reflect.DeepEqual(req.Body, want) {
		t.Errorf("action request = %+v, want body %v", req, want)
	}
	// A binding that reads a missing answer cannot make the call.
	if _, err := rt.PluginRequest(uses[0].Pointer, manifest.Inputs{Now: time.Now()}); err == nil {
		t.Error("PluginRequest without the plate answer: no error")
	}
	if _, err := rt.PluginRequest("/nowhere", in); err == nil {
		t.Error("PluginRequest of an unknown pointer: no error")
	}
}

func TestPluginBindingProblems(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"path not scalar", `path: {plate: 'answers.vehicle.plate.upperAscii().replace(" ", "").replace("-", "")'}`, `path: {plate: '["x"]'}`, "must give a string or an int"},
		{"prefill reads its own page", `path: {plate: 'answers.vehicle.plate.upperAscii().replace(" ", "").replace("-", "")'}`, `path: {plate: 'answers.details.make'}`, "details"},
		{"bad CEL", `body: {case_reference: 'case.reference', months: '12', tags: '["a", "b"]'}`, `body: {case_reference: 'case.reference +'}`, "CEL"},
		{"case outside an action", `path: {plate: 'answers.vehicle.plate.upperAscii().replace(" ", "").replace("-", "")'}`, `path: {plate: 'case.reference'}`, "undeclared reference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(boundService, c.from, c.to, 1)
			if src == boundService {
				t.Fatal("replacement did not apply")
			}
			_, probs, err := manifest.Validate(context.Background(), "renew.yaml", []byte(src), manifest.Options{Plugins: allowAll{}})
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

func TestCallData(t *testing.T) {
	c := manifest.Contact{Name: "Ana Example", DateOfBirth: "1990-04-12", Email: "ana@example.com", Phone: "+15550100",
		Address: manifest.PostalAddress{Line1: "12 Oak St", Line2: " ", City: "Springfield", State: "EX", ZIP: "70101"}}
	answers := map[string]map[string]any{"vehicle": {"plate": "EX 4KQ-218"}}
	got, err := manifest.CallData(c, "renew", answers, []string{"name", "address", "answers:renew"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "Ana Example", "answers:renew": answers,
		"address": map[string]any{"street_address": "12 Oak St", "locality": "Springfield", "region": "EX", "postal_code": "70101", "country": "US"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CallData = %v, want %v", got, want)
	}
	for _, names := range [][]string{{"answers:other-service"}, {"ssn"}} {
		if _, err := manifest.CallData(c, "renew", answers, names); err == nil {
			t.Errorf("CallData(%v): no error", names)
		}
	}
	if manifest.NeedsContact([]string{"answers:renew"}) || !manifest.NeedsContact([]string{"answers:renew", "email"}) {
		t.Error("NeedsContact")
	}
}
