package browsertest

import "testing"

// TestMachineText: the check catches what a person should never read and
// leaves what they should alone.
func TestMachineText(t *testing.T) {
	for _, tt := range []struct {
		text string
		leak bool
	}{
		{"Born 2021-03-27", true},
		{"Due 2026-12-31T21:30:00Z", true},
		{"Sent 2026-12-04 17:46:05 +0000 UTC", true},
		{"at 17:46:05", true},
		{"3:04 PM UTC", true},
		{"Fee: USD 10.00", true},
		{"%!s(MISSING)", true},
		{"{{.Title}}", true},
		{"Born March 27, 2021", false},
		{"27 de marzo de 2021, 15:04", false},
		{"ADAMS-CLERK-2026-000001", false},
		{"Fee: $10.00", false},
		{"Call 555-010-0199", false},
	} {
		if got := machineText.MatchString(tt.text); got != tt.leak {
			t.Errorf("machineText(%q) = %v; want %v", tt.text, got, tt.leak)
		}
	}
}
