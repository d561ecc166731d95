// Package i18n holds Portico's message catalogues (English and Spanish from
// the first page) and picks the language for a request.
//
// Catalogue files are flat JSON objects from message key to text, under
// messages/ named AREA.LANG.json (web.en.json, identity.es.json), so each
// block keeps its own file. A key may be defined only once per language.
// Text may contain fmt verbs. A key missing
// from a language falls back to English; a key missing from English is a
// bug that TestCatalogues catches.
//
// A message that depends on a count is an object of CLDR plural
// categories instead of a string: {"one": "%d case", "other": "%d cases"}.
// The category is chosen by x/text's CLDR plural rules for the language
// (golang.org/x/text/feature/plural), never by "n == 1"; TestCatalogues
// checks that each such message has every category its language uses.
//
// Dates, times and money are formatted here too (format.go), so that every
// page and email writes them the same way in the jurisdiction's time zone.
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed messages/*.json
var files embed.FS

// Lang is a supported language tag.
type Lang string

// Supported languages. English is the default and the fallback.
const (
	English Lang = "en"
	Spanish Lang = "es"
)

// Supported lists the languages in the order offered to people.
var Supported = []Lang{English, Spanish}

// Tag is the CLDR locale a language is formatted in. Portico serves US
// governments, so Spanish is US Spanish (es-US: "$1,234.50", as CLDR has
// it), not Spain's ("1234,50 US$").
func (l Lang) Tag() language.Tag {
	if l == Spanish {
		return language.MustParse("es-US")
	}
	return language.AmericanEnglish
}

// entry is one catalogue message: plain text, or text per CLDR plural
// category when forms is set.
type entry struct {
	text  string
	forms map[plural.Form]string
}

// UnmarshalJSON reads a string or an object of plural categories.
func (m *entry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &m.text); err == nil {
		return nil
	}
	var obj map[string]string
	if err := json.Unmarshal(b, &obj); err != nil {
		return errors.New("a message is a string or an object of plural forms")
	}
	m.forms = map[plural.Form]string{}
	for k, v := range obj {
		f, ok := pluralForms[k]
		if !ok {
			return fmt.Errorf("%q is not a CLDR plural category (zero, one, two, few, many, other)", k)
		}
		m.forms[f] = v
	}
	if _, ok := m.forms[plural.Other]; !ok {
		return errors.New(`a plural message needs an "other" form`)
	}
	return nil
}

var pluralForms = map[string]plural.Form{
	"zero": plural.Zero, "one": plural.One, "two": plural.Two,
	"few": plural.Few, "many": plural.Many, "other": plural.Other,
}

// PluralCategory names f as the catalogues spell it ("one", "other").
func PluralCategory(f plural.Form) string {
	for k, v := range pluralForms {
		if v == f {
			return k
		}
	}
	return "other"
}

// Catalog holds every language's messages.
type Catalog struct {
	messages map[Lang]map[string]entry
	matcher  language.Matcher
}

// Load reads the embedded catalogues.
func Load() (*Catalog, error) {
	c := &Catalog{messages: map[Lang]map[string]entry{}}
	tags := make([]language.Tag, 0, len(Supported))
	for _, l := range Supported {
		names, err := fs.Glob(files, path.Join("messages", "*."+string(l)+".json"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", l, err)
		}
		m := map[string]entry{}
		for _, name := range names {
			b, err := files.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			part := map[string]entry{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("i18n: %s: key %q is defined in two files", name, k)
				}
				m[k] = v
			}
		}
		c.messages[l] = m
		tags = append(tags, language.MustParse(string(l)))
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// T returns the message key in lang, formatted with args. An unknown key
// renders as the key itself so that a gap is visible, never a blank. For
// a plural message the first integer argument is the count that picks the
// form (use N when the count is not an argument).
func (c *Catalog) T(lang Lang, key string, args ...any) string {
	msg, ok := c.lookup(lang, key)
	if !ok {
		return key
	}
	text := msg.text
	if msg.forms != nil {
		n, found := int64(0), false
		for _, a := range args {
			if n, found = asCount(a); found {
				break
			}
		}
		text = msg.form(lang, n)
	}
	if len(args) == 0 {
		return text
	}
	return fmt.Sprintf(text, args...)
}

// N returns the plural message key in the form CLDR chooses for count n
// in lang, formatted with args (or with n alone when there are none). A
// plain message is returned as T would.
func (c *Catalog) N(lang Lang, key string, n int64, args ...any) string {
	msg, ok := c.lookup(lang, key)
	if !ok {
		return key
	}
	if len(args) == 0 {
		args = []any{n}
	}
	text := msg.text
	if msg.forms != nil {
		text = msg.form(lang, n)
	}
	return fmt.Sprintf(text, args...)
}

func (c *Catalog) lookup(lang Lang, key string) (entry, bool) {
	msg, ok := c.messages[lang][key]
	if !ok {
		msg, ok = c.messages[English][key]
	}
	return msg, ok
}

// form picks the text for count n by lang's CLDR cardinal rules, falling
// back to "other" when the catalogue lacks the category (the catalogue
// test makes that a failure).
func (m entry) form(lang Lang, n int64) string {
	if t, ok := m.forms[PluralForm(lang, n)]; ok {
		return t
	}
	return m.forms[plural.Other]
}

// PluralForm is the CLDR cardinal category of the integer n in lang.
func PluralForm(lang Lang, n int64) plural.Form {
	if n < 0 {
		n = -n
	}
	// MatchPlural takes the CLDR operands of a whole number: i = n, no
	// visible fraction digits. It works on int, so cap the rare huge
	// count at a value with the same category in every Portico language.
	i := int(min(n, 1_000_000_000))
	return plural.Cardinal.MatchPlural(lang.Tag(), i, 0, 0, 0, 0)
}

// asCount reports whether a is an integer, for choosing a plural form.
func asCount(a any) (int64, bool) {
	switch v := a.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case uint:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return int64(min(v, 1<<62)), true
	}
	return 0, false
}

// PluralForms returns, for key in lang, the plural categories its message
// defines, or nil for a plain message.
func (c *Catalog) PluralForms(lang Lang, key string) []plural.Form {
	msg, ok := c.messages[lang][key]
	if !ok || msg.forms == nil {
		return nil
	}
	out := make([]plural.Form, 0, len(msg.forms))
	for f := range msg.forms {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Keys returns the keys of lang's catalogue.
func (c *Catalog) Keys(lang Lang) []string {
	out := make([]string, 0, len(c.messages[lang]))
	for k := range c.messages[lang] {
		out = append(out, k)
	}
	return out
}

// Parse returns the supported language named by s ("es", "es-MX", "EN").
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	for _, l := range Supported {
		if string(l) == s {
			return l, true
		}
	}
	return "", false
}

// CookieName is the cookie that remembers an explicit language choice.
const CookieName = "lang"

// Negotiate picks the language for r: an explicit ?lang= choice, then the
// language cookie, then Accept-Language, then English.
func (c *Catalog) Negotiate(r *http.Request) (lang Lang, explicit bool) {
	if l, ok := Parse(r.URL.Query().Get("lang")); ok {
		return l, true
	}
	if ck, err := r.Cookie(CookieName); err == nil {
		if l, ok := Parse(ck.Value); ok {
			return l, false
		}
	}
	if h := r.Header.Get("Accept-Language"); h != "" {
		tags, _, err := language.ParseAcceptLanguage(h)
		if err == nil && len(tags) > 0 {
			_, idx, conf := c.matcher.Match(tags...)
			if conf != language.No {
				return Supported[idx], false
			}
		}
	}
	return English, false
}

// messages is the embedded catalogue, loaded once: it is immutable data
// compiled into the binary, so sharing it is not shared mutable state.
var messages = sync.OnceValues(Load)

// Messages returns the embedded catalogue for blocks that write emails
// (casework, reminder, application) without a page to translate through.
// The catalogues are checked by TestCatalogues, so a load error here is a
// build defect and panics at first use.
func Messages() *Catalog {
	c, err := messages()
	if err != nil {
		panic(err)
	}
	return c
}
