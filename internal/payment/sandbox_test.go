package payment

import "testing"

func TestSandboxCard(t *testing.T) {
	tests := []struct {
		number string
		ok     bool
		status Status
		code   string
		chal   bool
	}{
		{"4242 4242 4242 4242", true, Success, "", false},
		{"4242-4242-4242-4242", true, Success, "", false},
		{"4000 0000 0000 0002", true, Failed, CodeRejected, false},
		{"4000000000000069", true, Failed, CodeRejected, false},
		{"4000000000000127", true, Failed, CodeRejected, false},
		{"4000000000000119", true, Error, CodeProviderError, false},
		{"4000 0025 0000 3155", true, Success, "", true},
		{"4111 1111 1111 1111", true, Failed, CodeRejected, false}, // a valid number that is not a test card: declined
		{"4242 4242 4242 4241", false, "", "", false},              // fails Luhn
		{"4242", false, "", "", false},
		{"", false, "", "", false},
		{"٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", false, "", "", false}, // other digits
		{"4242424242424242424242", false, "", "", false},
	}
	for _, tt := range tests {
		o, ok := SandboxCard(tt.number)
		if ok != tt.ok || o.Status != tt.status || o.Code != tt.code || o.Challenge != tt.chal {
			t.Errorf("SandboxCard(%q) = %+v, %v; want %s %q challenge %v ok %v", tt.number, o, ok, tt.status, tt.code, tt.chal, tt.ok)
		}
		if ok && o.Status == Failed && o.Reason == "" {
			t.Errorf("SandboxCard(%q): a failure without a reason for the payer", tt.number)
		}
	}
}

func FuzzSandboxCard(f *testing.F) {
	for _, s := range []string{"4242 4242 4242 4242", "4000-0000-0000-0002", "", "abc", "٤٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := SandboxCard(s)
		if ok && !o.Status.Valid() {
			t.Fatalf("SandboxCard(%q) gave status %q", s, o.Status)
		}
		if !ok && o != (CardOutcome{}) {
			t.Fatalf("SandboxCard(%q) not ok but gave %+v", s, o)
		}
	})
}
