package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// Length limits in characters (Unicode code points).
const (
	MinSingleFactor = 15
	MinWithMFA      = 8
	Max             = 256
)

// Guess thresholds: the zxcvbn estimate of how many guesses an attacker
// who knows common passwords, words, names and patterns needs. A password
// that is the only factor must survive an offline attack on a stolen hash
// for a long time: 10^10 guesses at argon2id's cost is weeks to months
// of a GPU rig (zxcvbn's top score, "very unguessable"). Behind a second
// factor a stolen password alone opens nothing and online guessing is
// throttled to a few hundred a day, so the bar is what eight random
// characters reach (about 10^8; zxcvbn counts such a password as 10^8
// guesses, so 10^7 leaves room for its rounding).
const (
	MinGuessesSingleFactor = 1e10
	MinGuessesWithMFA      = 1e7
)

// estimatedChars bounds how much of a password the estimator reads. Its
// cost grows steeply with length: dictionary matching is quadratic, and
// leetspeak matching tries every combination of the look-alike characters
// present. For a random ASCII string full of them, 24 characters cost 0.5%
// of an argon2id hash, 32 characters 6%, 40 characters 50% and 64
// characters 170%
// (BenchmarkCheck, docs/performance.md); 32 characters of nothing but
// look-alikes, the worst case, cost about 40%. Without a bound a long password
// would make sign-up a denial-of-service lever. An estimate of a prefix is
// a lower bound on the estimate of the whole, so a long password is
// accepted when its first 32 characters are strong on their own (a five-word
// passphrase or 32 random characters are); a long password whose strength
// is all in its tail is refused, which only costs someone who chose a
// weak start. The list, name and pattern checks before the estimator see
// the whole password.
const estimatedChars = 32

// Problem says why a new password is not acceptable. Its values are i18n
// message keys (internal/i18n/messages/identity.*.json), each telling the
// person what is wrong and what to do instead.
type Problem string

// Problems with a new password.
const (
	TooShort    Problem = "password.too_short"
	TooLong     Problem = "password.too_long"
	InvalidUTF8 Problem = "password.invalid"
	// Common: the password is on the breach-derived list as typed (case
	// aside).
	Common Problem = "password.common"
	// CommonVariation: a listed password or word with the changes
	// attackers try first: capitals, leetspeak (@ for a), digits or
	// symbols added at either end, or repeated.
	CommonVariation Problem = "password.common_variation"
	// Personal: made of the person's own names or email address.
	Personal Problem = "password.personal"
	// SiteName: made of the site's name or address.
	SiteName Problem = "password.site_name"
	// Keyboard: a walk along the keyboard (qwerty, 1qaz2wsx).
	Keyboard Problem = "password.keyboard"
	// Repeated: characters or a short group repeated (aaaa, abcabc).
	Repeated Problem = "password.repeated"
	// Sequence: a run such as abcd or 13579.
	Sequence Problem = "password.sequence"
	// Dates: built on dates or recent years.
	Dates Problem = "password.dates"
	// Guessable: common words or names that together are still too few
	// guesses away; the advice is to add uncommon words.
	Guessable Problem = "password.guessable"
)

// Problems lists every problem, for tests that each has a message.
var Problems = []Problem{TooShort, TooLong, InvalidUTF8, Common, CommonVariation, Personal, SiteName,
	Keyboard, Repeated, Sequence, Dates, Guessable}

// Person is what is known about whoever chooses the password: their own
// names and email are the first things an attacker who knows them tries.
type Person struct {
	Email   string
	Names   []string // legal name, or any other names on the account
	WithMFA bool     // a second factor protects the account
}

// Policy is a site's password policy. The zero value checks against no
// site words beyond the product's name.
type Policy struct {
	// SiteWords are the words of the site's name and address (see
	// SiteWords): a password built from them is expected.
	SiteWords []string
}

// SiteWords splits a site's name and host into the lowercase words a
// Policy refuses passwords to be built from. "portico", the product's
// name, is always included.
func SiteWords(nameAndHost ...string) []string {
	words := []string{"portico"}
	for _, s := range nameAndHost {
		words = append(words, words2(strings.ToLower(s), 3)...)
	}
	slices.Sort(words)
	return slices.Compact(words)
}

//go:embed blocklist.txt.gz
var blocklistGz []byte

// The blocklist is read-only after its one load.
var (
	blocklistOnce sync.Once
	blocklist     map[string]struct{}
)

func loadBlocklist() {
	blocklist = make(map[string]struct{}, 50000)
	zr, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		panic("password: embedded blocklist is corrupt: " + err.Error()) // build defect
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			blocklist[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded blocklist is corrupt: " + err.Error())
	}
}

// BlocklistSize is the number of passwords and words on the blocklist.
func BlocklistSize() int {
	blocklistOnce.Do(loadBlocklist)
	return len(blocklist)
}

func listed(s string) bool {
	blocklistOnce.Do(loadBlocklist)
	_, ok := blocklist[s]
	return ok
}

// Check returns the first problem with pw as a new password for who, or
// "" when it is acceptable. The checks run cheapest first: length, the
// breach-derived list against normalised forms, the person's and site's
// words, whole-password runs and repeats, and last the strength
// estimator.
func (p Policy) Check(pw string, who Person) Problem {
	if !utf8.ValidString(pw) {
		return InvalidUTF8
	}
	n := utf8.RuneCountInString(pw)
	min, minGuesses := MinSingleFactor, MinGuessesSingleFactor
	if who.WithMFA {
		min, minGuesses = MinWithMFA, MinGuessesWithMFA
	}
	if n < min {
		return TooShort
	}
	if n > Max {
		return TooLong
	}
	lower := strings.ToLower(pw)
	if listed(lower) {
		return Common
	}
	// The person's and the site's words first: the more specific advice
	// when a password is both ("Portico2024!" is also a listed word).
	personal, site := p.tokens(who)
	if prob := builtFrom(lower, personal, site); prob != "" {
		return prob
	}
	if commonVariation(lower) {
		return CommonVariation
	}
	// Long passwords made long cheaply, seen whole (the estimator sees at
	// most estimatedChars).
	if unit := repeatedUnit(lower); unit != "" && utf8.RuneCountInString(unit) < 5 {
		return Repeated
	}
	if prob := run(lower); prob != "" {
		return prob
	}
	inputs := make([]string, 0, len(personal)+len(site))
	inputs = append(append(inputs, personal...), site...)
	// The estimator charges for every space between words as if it were
	// a random character, so "monkey dragon master" (three of the most
	// common passwords) would pass; attackers join words with separators
	// for free. The password is also estimated without them, and the
	// weaker estimate counts.
	r := zxcvbn.PasswordStrength(prefix(pw, estimatedChars), inputs)
	if joined := stripSeparators(pw); joined != pw {
		if j := zxcvbn.PasswordStrength(prefix(joined, estimatedChars), inputs); j.Guesses < r.Guesses {
			r = j
		}
	}
	if r.Guesses >= minGuesses {
		return ""
	}
	return reason(r.Sequence, site)
}

// isSeparator reports whether r is one of the characters people put
// between words.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '_' || r == '.'
}

func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		if isSeparator(r) {
			return -1
		}
		return r
	}, s)
}

// commonVariation reports whether lower is a listed password or word in
// a normalised form: the core without leading and trailing digits and
// symbols, leetspeak read back as letters (both readings of 1, i and l),
// or the unit of a repetition. Spaces inside are kept: a passphrase of
// several words is not one listed word. A core counts only when what was
// cut off it is itself cheap to guess (cheapPadding): "password" followed
// by thirteen random symbols is left to the estimator.
func commonVariation(lower string) bool {
	for _, form := range []string{lower, unleet(lower, 'i'), unleet(lower, 'l')} {
		core := trimNonLetters(form)
		var found bool
		for _, s := range []string{core, unleet(core, 'i'), unleet(core, 'l')} {
			u := repeatedUnit(strings.ReplaceAll(s, " ", ""))
			if listedWord(s) || listedWord(u) {
				found = true
				break
			}
		}
		// The padding is estimated only for a listed core: the estimator
		// is the expensive part of Check.
		if found && cheapPadding(strings.Replace(form, core, "", 1)) {
			return true
		}
	}
	return false
}

// listedWord is listed for words of at least four characters, the
// shortest the list keeps.
func listedWord(s string) bool {
	return utf8.RuneCountInString(s) >= 4 && listed(s)
}

// cheapPadding reports whether the digits and symbols around or between
// the words of a password add little: at most four characters, or
// something the estimator guesses quickly ("2024!!", "123456789"). The
// bar is the one for a whole password behind a second factor.
func cheapPadding(pad string) bool {
	if utf8.RuneCountInString(pad) <= 4 {
		return true
	}
	return zxcvbn.PasswordStrength(prefix(pad, estimatedChars), nil).Guesses < MinGuessesWithMFA
}

// leet maps look-alike characters to the letter they stand for; '1' is
// handled by unleet, since it stands for i or l.
var leet = map[rune]rune{'@': 'a', '4': 'a', '8': 'b', '(': 'c', '3': 'e', '6': 'g', '9': 'g', '!': 'i',
	'|': 'l', '0': 'o', '$': 's', '5': 's', '7': 't', '+': 't', '2': 'z', '%': 'x'}

func unleet(s string, one rune) string {
	return strings.Map(func(r rune) rune {
		if r == '1' {
			return one
		}
		if l, ok := leet[r]; ok {
			return l
		}
		return r
	}, s)
}

func trimNonLetters(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

func lettersOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return -1
	}, s)
}

// nonLetters returns the characters of s that are neither letters nor
// separators between words.
func nonLetters(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || isSeparator(r) {
			return -1
		}
		return r
	}, s)
}

// words2 splits s at every non-letter and keeps the words of at least min
// characters.
func words2(s string, min int) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if utf8.RuneCountInString(w) >= min {
			out = append(out, w)
		}
	}
	return out
}

// tokens returns the person's words (email, its parts, names) and the
// site's words, lowercase.
func (p Policy) tokens(who Person) (personal, site []string) {
	add := func(list *[]string, ws ...string) {
		for _, w := range ws {
			if w != "" && !slices.Contains(*list, w) {
				*list = append(*list, w)
			}
		}
	}
	if e := strings.ToLower(strings.TrimSpace(who.Email)); e != "" {
		local, domain, _ := strings.Cut(e, "@")
		add(&personal, e, local, lettersOnly(local))
		add(&personal, words2(local, 2)...)
		// The domain's labels, less the top level: "dmv" in
		// casey@dmv.example.gov is as expected as the person's name.
		if labels := strings.Split(domain, "."); len(labels) > 1 {
			for _, l := range labels[:len(labels)-1] {
				add(&personal, words2(l, 3)...)
			}
		}
	}
	for _, name := range who.Names {
		name = strings.ToLower(name)
		add(&personal, words2(name, 2)...)
		add(&personal, lettersOnly(name))
	}
	add(&site, p.SiteWords...)
	if len(p.SiteWords) == 0 {
		add(&site, "portico")
	}
	return personal, site
}

// builtFrom reports Personal or SiteName when the letters of lower, read
// as typed or with leetspeak undone, are nothing but the person's or the
// site's words ("maria.lopez1990", "P0rtic0Portico!").
func builtFrom(lower string, personal, site []string) Problem {
	all := append(append([]string(nil), personal...), site...)
	for _, s := range []string{lower, unleet(lower, 'i'), unleet(lower, 'l')} {
		letters := lettersOnly(s)
		if letters == "" {
			continue
		}
		if usedPersonal, ok := segment(letters, all, personal); ok && cheapPadding(nonLetters(s)) {
			if usedPersonal {
				return Personal
			}
			return SiteName
		}
	}
	return ""
}

// segment reports whether s is a concatenation of words (each any number
// of times) and whether any of them came from marked.
func segment(s string, words, marked []string) (usedMarked, ok bool) {
	const (
		unreachable = iota
		viaOther
		viaMarked
	)
	// best[i] is how the prefix s[:i] can be built: preferring a build
	// that uses a marked word, so the message names the person.
	best := make([]int, len(s)+1)
	best[0] = viaOther
	for i := 0; i < len(s); i++ {
		if best[i] == unreachable {
			continue
		}
		for _, w := range words {
			if w == "" || !strings.HasPrefix(s[i:], w) {
				continue
			}
			via := best[i]
			if slices.Contains(marked, w) {
				via = viaMarked
			}
			if j := i + len(w); via > best[j] {
				best[j] = via
			}
		}
	}
	return best[len(s)] == viaMarked, best[len(s)] != unreachable
}

// repeatedUnit returns u when s is u repeated two or more times, else "".
func repeatedUnit(s string) string {
	r := []rune(s)
	for n := 1; n <= len(r)/2; n++ {
		if len(r)%n != 0 {
			continue
		}
		ok := true
		for i := n; i < len(r) && ok; i++ {
			ok = r[i] == r[i-n]
		}
		if ok {
			return string(r[:n])
		}
	}
	return ""
}

// run reports Sequence when s is a run of consecutive characters, up or
// down, wrapping 9→0 ("123456789012345"), and Keyboard when it runs along
// one keyboard row. The estimator finds these too, but only in the first
// estimatedChars characters of a password.
func run(s string) Problem {
	r := []rune(s)
	if len(r) < 4 {
		return ""
	}
	step := func(a, b rune) int {
		switch {
		case b == a+1, a == '9' && b == '0':
			return 1
		case b == a-1, a == '0' && b == '9':
			return -1
		}
		return 0
	}
	if dir := step(r[0], r[1]); dir != 0 {
		seq := true
		for i := 2; i < len(r) && seq; i++ {
			seq = step(r[i-1], r[i]) == dir
		}
		if seq {
			return Sequence
		}
	}
	for _, row := range []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"} {
		doubled := row + row
		if strings.Contains(doubled, s) || strings.Contains(reverse(doubled), s) {
			return Keyboard
		}
	}
	return ""
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// prefix returns the first n characters of s.
func prefix(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// reason turns the estimator's cheapest explanation of a weak password
// into the most useful thing to tell the person: their own or the site's
// words first (the most specific advice), else the pattern of the longest
// part.
func reason(seq []*match.Match, site []string) Problem {
	var longest *match.Match
	words := 0
	for _, m := range seq {
		if m.Pattern == "dictionary" {
			words++
		}
		// Two-letter names match by chance; only longer ones are advice.
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" && utf8.RuneCountInString(m.Token) >= 3 {
			if slices.Contains(site, m.MatchedWord) {
				return SiteName
			}
			return Personal
		}
		if m.Pattern != "bruteforce" && (longest == nil || len(m.Token) > len(longest.Token)) {
			longest = m
		}
	}
	if longest == nil {
		return Guessable
	}
	switch longest.Pattern {
	case "dictionary":
		// Listed keyboard walks ("qwertyuiop") are better explained as
		// walks.
		if prob := run(strings.ToLower(longest.Token)); prob != "" {
			return prob
		}
		// Several words together are a weak passphrase, not a
		// variation of one password: the advice is to add words.
		if longest.DictionaryName != "passwords" || words > 1 {
			return Guessable
		}
		if len(seq) == 1 && !longest.L33t && !longest.Reversed && longest.Token == longest.MatchedWord {
			return Common
		}
		return CommonVariation
	case "spatial":
		return Keyboard
	case "repeat":
		return Repeated
	case "sequence":
		return Sequence
	case "date", "regex":
		return Dates
	}
	return Guessable
}
