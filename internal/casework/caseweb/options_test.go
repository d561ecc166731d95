package caseweb

import (
	"testing"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

func TestOptionValues(t *testing.T) {
	labels := map[string]manifest.Text{"car": {EN: "Car", ES: "Automóvil"}, "truck": {EN: "Truck", ES: "Camión"}}
	for _, c := range []struct {
		lang string
		v    any
		want string
	}{
		{"en", "car", "Car"},
		{"es", "car", "Automóvil"},
		{"es", []any{"car", "truck"}, "Automóvil, Camión"},
		{"en", "boat", "boat"}, // no label: as it is
		{"en", float64(2), "2"},
	} {
		if got := optionValues(labels, c.lang, c.v); got != c.want {
			t.Errorf("optionValues(%s, %v) = %q, want %q", c.lang, c.v, got, c.want)
		}
	}
}
