package satisfaction

import (
	"regexp"
	"strings"
)

// What Redact puts in place of what it removes. They hold no digit and no
// "@", so redacting twice changes nothing more.
const (
	RedactedEmail   = "[email]"
	RedactedPhone   = "[phone]"
	RedactedNumber  = "[number]"
	RedactedAddress = "[address]"
)

var (
	// An email address as people type one (a display name is not kept
	// anyway: the address is what identifies).
	emailRE = regexp.MustCompile(`[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+`)
	// A street address: a house number, up to four words, then a street
	// type (English, and the Spanish words written before the name:
	// "Calle", "Avenida"…), optionally an apartment or unit.
	streetTypes = `street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq|trail|trl|alley|row|loop|route|rte`
	addressRE   = regexp.MustCompile(`(?i)\b\d{1,6}[a-z]?\s+(?:[\p{L}\p{N}.'-]+\s+){0,4}(?:` + streetTypes + `)\b\.?(?:,?\s+(?:apt|apartment|unit|suite|ste|#)\.?\s*#?\s*[\p{L}\p{N}-]+)?` +
		`|(?i)\b(?:calle|avenida|av\.|camino|carretera|paseo)\s+(?:[\p{L}\p{N}.'-]+\s+){0,4}(?:#|no\.?|n[úu]m(?:ero)?\.?)?\s*\d{1,6}[a-z]?\b`)
	// A US phone number: ten digits grouped as people write them,
	// optionally +1 before and an extension after.
	phoneRE = regexp.MustCompile(`(?i)(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}\b(?:\s*(?:x|ext\.?)\s*\d{1,6})?`)
	// Any run of digits, with the spaces, dots and dashes people put
	// between groups: card numbers, Social Security numbers, account and
	// licence numbers. Only runs of seven digits or more are removed
	// (dates, amounts and house numbers are shorter).
	digitsRE = regexp.MustCompile(`\d(?:[\s.-]?\d)+`)
)

// minDigits is the shortest run of digits Redact removes as a number.
const minDigits = 7

// Redact returns s with the personal data people type into a comment
// replaced by a placeholder: email addresses, phone numbers, street
// addresses (where they can be recognised: a house number and a street
// type) and any number of seven digits or more (Social Security, card,
// account and licence numbers). It is used before a comment is stored, so
// that staff who read comments never see them. It is not a guarantee:
// names, and addresses written in other ways, stay.
func Redact(s string) string {
	s = emailRE.ReplaceAllString(s, RedactedEmail)
	s = addressRE.ReplaceAllString(s, RedactedAddress)
	s = phoneRE.ReplaceAllString(s, RedactedPhone)
	s = digitsRE.ReplaceAllStringFunc(s, func(m string) string {
		if countDigits(m) < minDigits {
			return m
		}
		return RedactedNumber
	})
	return s
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// longestDigitRun is the most digits in one run (separated only by
// spaces, dots and dashes) in s: Redact leaves none of minDigits or more.
func longestDigitRun(s string) int {
	best := 0
	for _, m := range digitsRE.FindAllString(s, -1) {
		best = max(best, countDigits(m))
	}
	return best
}

// hasEmail reports whether s still holds something shaped like an email
// address.
func hasEmail(s string) bool { return strings.Contains(s, "@") && emailRE.MatchString(s) }
