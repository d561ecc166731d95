package satisfaction

import (
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Great service, thank you!", "Great service, thank you!"},
		{"It took 3 weeks and cost $45.00 on 12/05/2026.", "It took 3 weeks and cost $45.00 on 12/05/2026."},
		{"Email me at ana.maria+dmv@example.co.uk please", "Email me at [email] please"},
		{"Escríbame a josé@correo.mx", "Escríbame a [email]"},
		{"Call (555) 867-5309 or 555.867.5309 or +1 555 867 5309 ext. 12", "Call [phone] or [phone] or [phone]"},
		{"my SSN is 123-45-6789", "my SSN is [number]"},
		{"SSN 123 45 6789 and 123456789", "SSN [number] and [number]"},
		{"card 4242 4242 4242 4242 was charged twice", "card [number] was charged twice"},
		{"card 4242-4242-4242-4242", "card [number]"},
		{"licence D1234567", "licence D[number]"},
		{"I live at 1600 Pennsylvania Avenue NW", "I live at [address] NW"},
		{"Pothole outside 42 Elm St. Apt 3B, Springfield", "Pothole outside [address], Springfield"},
		{"near 221B Baker Street", "near [address]"},
		{"Vivo en Calle Mayor 12, Springfield", "Vivo en [address], Springfield"},
		{"Avenida Juárez #45", "[address]"},
		{"I waited 2 days", "I waited 2 days"},
		{"room 101 on 3 floors", "room 101 on 3 floors"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedact: whatever a person types, the result holds no email address
// and no run of minDigits digits, stays valid UTF-8 when the input was,
// and redacting again changes nothing.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"ana@example.com", "555-867-5309", "4242 4242 4242 4242", "123-45-6789", "12 Elm St", "Calle Mayor 12",
		"1@a.b1234567", "a@b@c.com", "(555)867-5309x", "+1 555 867 5309 ext 1", "12 3 4 5 6 7 8", "é@é.é 9-9-9-9-9-9-9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Redact(s)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Redact(%q) = %q: not valid UTF-8", s, got)
		}
		if hasEmail(got) {
			t.Fatalf("Redact(%q) = %q: an email address is left", s, got)
		}
		if n := longestDigitRun(got); n >= minDigits {
			t.Fatalf("Redact(%q) = %q: %d digits in a row are left", s, got, n)
		}
		if again := Redact(got); again != got {
			t.Fatalf("Redact is not idempotent on %q: %q then %q", s, got, again)
		}
	})
}
