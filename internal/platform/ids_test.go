package platform_test

import (
	"testing"

	"github.com/portico-gov/portico/internal/platform"
)

func TestParseUUID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"01a242d8-0da1-743a-9b2b-089a9de0563f", true},
		{"01A242D8-0DA1-743A-9B2B-089A9DE0563F", false}, // not the form Portico writes
		{"{01a242d8-0da1-743a-9b2b-089a9de0563f}", false},
		{"urn:uuid:01a242d8-0da1-743a-9b2b-089a9de0563f", false},
		{"01a242d80da1743a9b2b089a9de0563f", false},
		{"01a242d8-0da1-743a-9b2b-089a9de0563\xff", false},
		{"01a242d8-0da1-743a-9b2b-089a9de0563\x00", false},
		{"none", false},
		{"", false},
	}
	for _, tt := range tests {
		got, err := platform.ParseUUID("message", tt.id)
		if tt.ok && (err != nil || got != tt.id) {
			t.Errorf("ParseUUID(%q) = %q, %v; want it accepted", tt.id, got, err)
		}
		if !tt.ok && platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("ParseUUID(%q) = %q, %v; want not found", tt.id, got, err)
		}
	}
}
