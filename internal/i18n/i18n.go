// Package i18n holds Portico's message catalogues (English and Spanish from
// the first page) and picks the language for a request.
//
// Catalogue files are flat JSON objects from message key to text, under
// messages/ named AREA.LANG.json (web.en.json, identity.es.json), so each
// block keeps its own file. A key may be defined only once per language.
// Text may contain fmt verbs. A key missing
// from a language falls back to English; a key missing from English is a
// bug that TestCatalogues catches.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

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

// Catalog holds every language's messages.
type Catalog struct {
	messages map[Lang]map[string]string
	matcher  language.Matcher
}

// Load reads the embedded catalogues.
func Load() (*Catalog, error) {
	c := &Catalog{messages: map[Lang]map[string]string{}}
	tags := make([]language.Tag, 0, len(Supported))
	for _, l := range Supported {
		names, err := fs.Glob(files, path.Join("messages", "*."+string(l)+".json"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", l, err)
		}
		m := map[string]string{}
		for _, name := range names {
			b, err := files.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %w", name, err)
			}
			part := map[string]string{}
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
// renders as the key itself so that a gap is visible, never a blank.
func (c *Catalog) T(lang Lang, key string, args ...any) string {
	msg, ok := c.messages[lang][key]
	if !ok {
		msg, ok = c.messages[English][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
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
