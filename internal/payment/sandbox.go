package payment

import (
	"strings"
	"unicode"
)

// CardOutcome is what the sandbox provider does with a test card.
type CardOutcome struct {
	// Status the payment moves to once the card is submitted: success
	// (or capturable for delayed capture), failed or error.
	Status Status
	Code   string // the failure code, for failed and error
	// Reason is a catalogue key for the payer ("payment.card.declined"):
	// what the payment page says, never the provider's words.
	Reason string
	// Challenge: the card needs extra authentication (3-D Secure) before
	// it is decided; the sandbox shows a test challenge page.
	Challenge bool
}

// Test cards of the sandbox provider: GOV.UK Pay's and Stripe's usual
// numbers. Any other number that passes the Luhn check is declined, so a
// real card number typed into the sandbox by mistake is never "paid".
var testCards = map[string]CardOutcome{
	"4242424242424242": {Status: Success},
	"5555555555554444": {Status: Success},
	"4000000000000002": {Status: Failed, Code: CodeRejected, Reason: "payment.card.declined"},
	"4000000000000069": {Status: Failed, Code: CodeRejected, Reason: "payment.card.expired"},
	"4000000000000127": {Status: Failed, Code: CodeRejected, Reason: "payment.card.cvc"},
	"4000000000000119": {Status: Error, Code: CodeProviderError, Reason: "payment.card.processing"},
	"4000002500003155": {Status: Success, Challenge: true},
}

// SandboxCard decides a card number typed on the sandbox payment page.
// Spaces and dashes are ignored. ok is false when the number is not a
// card number at all (wrong length or failing the Luhn check): the page
// asks for it again, and nothing moves.
func SandboxCard(number string) (out CardOutcome, ok bool) {
	n := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, number)
	if len(n) < 12 || len(n) > 19 || !luhn(n) {
		return CardOutcome{}, false
	}
	if o, known := testCards[n]; known {
		return o, true
	}
	return CardOutcome{Status: Failed, Code: CodeRejected, Reason: "payment.card.declined"}, true
}

// luhn reports whether the digits of n pass the Luhn check.
func luhn(n string) bool {
	sum := 0
	double := false
	for i := len(n) - 1; i >= 0; i-- {
		r := rune(n[i])
		if !unicode.IsDigit(r) || r > '9' {
			return false
		}
		d := int(r - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
