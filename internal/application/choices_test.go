package application

import (
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
)

var slotsCall = &manifest.PluginCall{Items: "slots", Value: "id", Label: "starts_at"}

func TestChoicesOf(t *testing.T) {
	for _, c := range []struct {
		name, body string
		call       *manifest.PluginCall
		want       []Choice
	}{
		{"slots", `{"office": {"id": "o"}, "slots": [{"id": "o@1", "starts_at": "2026-11-25T08:30:00-06:00", "free": 2}, {"id": "o@2", "starts_at": "2026-11-25T09:00:00-06:00"}]}`,
			slotsCall, []Choice{{"o@1", "2026-11-25T08:30:00-06:00"}, {"o@2", "2026-11-25T09:00:00-06:00"}}},
		{"dotted list, number values, label missing", `{"data": {"items": [{"n": 3, "name": "Three"}, {"n": 4}]}}`,
			&manifest.PluginCall{Items: "data.items", Value: "n", Label: "name"}, []Choice{{"3", "Three"}, {"4", "4"}}},
		{"duplicates and items without a value are dropped", `{"slots": [{"id": "a"}, {"starts_at": "x"}, {"id": "a"}, "text", {"id": ""}]}`,
			slotsCall, []Choice{{"a", "a"}}},
		{"not a list", `{"slots": {"id": "a"}}`, slotsCall, nil},
		{"not an object", `[1, 2]`, slotsCall, nil},
		{"not JSON", `<html>`, slotsCall, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := choicesOf([]byte(c.body), c.call); !slices.Equal(got, c.want) {
				t.Errorf("choicesOf = %v, want %v", got, c.want)
			}
		})
	}
}

func TestChoiceLabel(t *testing.T) {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	m := i18n.Messages()
	for _, c := range []struct{ lang, label, want string }{
		{"en", "2026-11-25T15:30:00-06:00", "November 25, 2026, 3:30 PM"},
		{"es", "2026-11-25T15:30:00-06:00", "25 de noviembre de 2026, 15:30"},
		{"en", "2026-11-25T21:30:00Z", "November 25, 2026, 3:30 PM"}, // shown in the jurisdiction's zone
		{"en", "DMV Lakeside", "DMV Lakeside"},
	} {
		if got := ChoiceLabel(c.label, m.For(i18n.Lang(c.lang), loc)); got != c.want {
			t.Errorf("ChoiceLabel(%q, %s) = %q, want %q", c.label, c.lang, got, c.want)
		}
	}
}

// FuzzChoicesOf: a plug-in's answer (validated against its OpenAPI
// document, but the manifest may name any properties) never panics the
// reader, and every choice has a value, once.
func FuzzChoicesOf(f *testing.F) {
	f.Add([]byte(`{"slots": [{"id": "o@1", "starts_at": "2026-11-25T08:30:00-06:00"}]}`), "slots", "id", "starts_at")
	f.Add([]byte(`{"a": {"b": [{"v": 1.5, "l": null}]}}`), "a.b", "v", "l")
	f.Fuzz(func(t *testing.T, body []byte, items, value, label string) {
		got := choicesOf(body, &manifest.PluginCall{Items: items, Value: value, Label: label})
		seen := map[string]bool{}
		for _, c := range got {
			if c.Value == "" || seen[c.Value] || c.Label == "" {
				t.Fatalf("choices %v", got)
			}
			seen[c.Value] = true
		}
	})
}
