package catalog

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/spanish"
	"golang.org/x/text/unicode/norm"

	"github.com/portico-gov/portico/internal/platform"
)

// Search text is analysed here, in Go, for both the stored documents and
// the queries, so that SQLite and PostgreSQL index and match exactly the
// same terms (ADR 14). A term is ASCII [a-z0-9]+ only: every engine's
// tokenizer splits such text the same way, on the spaces between terms.

// Limits on query text. Longer input is refused (a clean 400), more words
// than MaxQueryTerms are ignored: no one searches a catalog with a
// paragraph, and bounded queries keep the index lookups cheap.
const (
	MaxQueryBytes = 500
	MaxQueryTerms = 10
	maxTermBytes  = 40
)

// Languages the catalog can be searched in.
const (
	English = "en"
	Spanish = "es"
)

// Terms analyses text in lang ("en" or "es") into index terms: lowercased,
// split on anything that is not a letter or digit, stop words dropped,
// accents folded, Snowball-stemmed. Accents are folded before stemming so
// that "reparacion" typed without its accent finds "reparación": the
// stems are a little rougher, but documents and queries always agree.
func Terms(lang, text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if t := term(lang, w); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func term(lang, w string) string {
	w = strings.ToLower(w)
	if stopWord(lang, w) {
		return ""
	}
	f := fold(w)
	if stopWord(lang, f) {
		return ""
	}
	if lang != Spanish {
		if us, ok := usSpelling[f]; ok {
			f = us
		}
	}
	if !isASCIIWord(f) {
		// Letters with no ASCII form (Greek, Cyrillic, CJK…) stay
		// searchable as a hex spelling, not stemmed; documents and
		// queries encode them alike.
		h := "x" + hex.EncodeToString([]byte(f))
		if len(h) > maxTermBytes {
			h = h[:maxTermBytes]
		}
		return h
	}
	switch lang {
	case Spanish:
		f = spanish.Stem(f, true)
	default:
		f = english.Stem(f, true)
	}
	f = fold(f) // the stemmers may put back no accents, but be sure
	if !isASCIIWord(f) || f == "" {
		return ""
	}
	if len(f) > maxTermBytes {
		f = f[:maxTermBytes]
	}
	return f
}

// usSpelling folds British and other non-US spellings of English words
// into the US spelling before stemming, in documents and queries alike, so
// "licence" and "license" (and their plurals) are one term. Whole words
// only: a rule such as -ise → -ize would also change "exercise" and
// "advise". Add a pair when people search with a spelling this misses.
var usSpelling = map[string]string{
	"licence": "license", "licences": "licenses", "licenced": "licensed", "licencing": "licensing",
	"centre": "center", "centres": "centers",
	"programme": "program", "programmes": "programs",
	"colour": "color", "colours": "colors",
	"cheque": "check", "cheques": "checks",
	"catalogue": "catalog", "catalogues": "catalogs",
	"organisation": "organization", "organisations": "organizations", "organise": "organize",
	"neighbour": "neighbor", "neighbours": "neighbors", "neighbourhood": "neighborhood", "neighbourhoods": "neighborhoods",
	"labour": "labor", "defence": "defense", "offence": "offense", "offences": "offenses",
	"practise": "practice", "enrol": "enroll", "enrolment": "enrollment", "enrolments": "enrollments",
	"instalment": "installment", "instalments": "installments", "fulfil": "fulfill",
	"travelling": "traveling", "travelled": "traveled", "cancelled": "canceled", "cancelling": "canceling",
	"kerb": "curb", "kerbs": "curbs", "tyre": "tire", "tyres": "tires",
	"metre": "meter", "metres": "meters", "litre": "liter", "litres": "liters",
	"theatre": "theater", "theatres": "theaters", "harbour": "harbor", "harbours": "harbors",
	"favour": "favor", "honour": "honor", "behaviour": "behavior", "grey": "gray",
	"paediatric": "pediatric", "aluminium": "aluminum", "jewellery": "jewelry",
	"analyse": "analyze", "recognise": "recognize", "authorise": "authorize", "authorisation": "authorization",
}

func stopWord(lang, w string) bool {
	if lang == Spanish {
		return spanish.IsStopWord(w)
	}
	return english.IsStopWord(w)
}

// fold removes accents and other combining marks (á → a, ñ → n).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCIIWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// Query is parsed search text.
type Query struct {
	// Terms are the distinct analysed terms, in the order typed; every
	// one must match.
	Terms []string
}

// ParseQuery analyses what a person typed into the search box in lang. It
// accepts anything (quotes, FTS5 or tsquery operators, control
// characters are just separators) but refuses text longer than
// MaxQueryBytes or that is not UTF-8, with a CodeInvalid error on field "q".
func ParseQuery(lang, text string) (Query, error) {
	if len(text) > MaxQueryBytes {
		return Query{}, platform.Invalid("q", "catalog.search.toolong")
	}
	if !utf8.ValidString(text) {
		return Query{}, platform.Invalid("q", "catalog.search.invalid")
	}
	var q Query
	seen := map[string]bool{}
	for _, t := range Terms(lang, text) {
		if seen[t] {
			continue
		}
		seen[t] = true
		q.Terms = append(q.Terms, t)
		if len(q.Terms) == MaxQueryTerms {
			break
		}
	}
	return q, nil
}

// document is the analysed text of one service in one language: its
// fields in rank order, each a list of terms.
type document [numFields][]string

// Fields of a search document, most important first, and the weight a
// query term earns for appearing in each.
const (
	fieldTitle = iota
	fieldKeywords
	fieldCategory
	fieldAgency
	fieldSummary
	numFields
)

var fieldWeights = [numFields]int{fieldTitle: 8, fieldKeywords: 4, fieldCategory: 2, fieldAgency: 2, fieldSummary: 1}

const fieldSep = " | "

// encode is the document as stored: terms separated by spaces, fields by
// " | " (which every tokenizer drops).
func (d document) encode() string {
	parts := make([]string, numFields)
	for i, f := range d {
		parts[i] = strings.Join(f, " ")
	}
	return strings.Join(parts, fieldSep)
}

func decodeDocument(s string) document {
	var d document
	for i, part := range strings.SplitN(s, "|", numFields) {
		if f := strings.Fields(part); len(f) > 0 {
			d[i] = f
		}
	}
	return d
}

// score ranks a document for a query: for every query term, the weights of
// the fields it appears in. Integer arithmetic in Go, so the order cannot
// depend on the engine.
func (d document) score(q Query) int {
	total := 0
	for _, t := range q.Terms {
		for i, f := range d {
			for _, w := range f {
				if w == t {
					total += fieldWeights[i]
					break
				}
			}
		}
	}
	return total
}

// scoreEncoded is document.score on the stored form, without decoding it:
// ranking reads every matching row, so it must not allocate per row.
func scoreEncoded(doc string, q Query) int {
	n, _ := scoreMatch(doc, q)
	return n
}

// scoreMatch is scoreEncoded and whether every term of q is in doc.
func scoreMatch(doc string, q Query) (int, bool) {
	var seen [numFields][MaxQueryTerms]bool
	field := 0
	for i := 0; i < len(doc); {
		for i < len(doc) && doc[i] == ' ' {
			i++
		}
		if i < len(doc) && doc[i] == '|' {
			field++
			i++
			continue
		}
		j := i
		for j < len(doc) && doc[j] != ' ' && doc[j] != '|' {
			j++
		}
		if j > i && field < numFields {
			w := doc[i:j]
			for k, t := range q.Terms {
				if k < MaxQueryTerms && t == w {
					seen[field][k] = true
				}
			}
		}
		i = j
	}
	total := 0
	var found [MaxQueryTerms]bool
	for f := range seen {
		for k := range seen[f] {
			if seen[f][k] {
				total += fieldWeights[f]
				found[k] = true
			}
		}
	}
	all := len(q.Terms) > 0
	for k := range q.Terms {
		if k < MaxQueryTerms && !found[k] {
			all = false
		}
	}
	return total, all
}

// sortKey is a title folded to lowercase ASCII, for the browse order.
func sortKey(title string) string {
	f := fold(strings.ToLower(title))
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c < utf8.RuneSelf && b.Len() > 0:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
