package i18n_test

import (
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/portico-gov/portico/internal/i18n"
)

// TestCatalogues keeps the languages in step: every key exists in every
// language, so no Spanish page silently falls back to English.
func TestCatalogues(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	en := c.Keys(i18n.English)
	slices.Sort(en)
	for _, l := range i18n.Supported[1:] {
		other := c.Keys(l)
		slices.Sort(other)
		for _, k := range en {
			if _, ok := slices.BinarySearch(other, k); !ok {
				t.Errorf("%s is missing %q", l, k)
			}
		}
		for _, k := range other {
			if _, ok := slices.BinarySearch(en, k); !ok {
				t.Errorf("%s has %q, which English lacks", l, k)
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, accept, cookie string
		want                      i18n.Lang
		explicit                  bool
	}{
		{name: "default", url: "/", want: i18n.English},
		{name: "accept spanish", url: "/", accept: "es-MX,es;q=0.9,en;q=0.5", want: i18n.Spanish},
		{name: "accept english first", url: "/", accept: "en-US,es;q=0.5", want: i18n.English},
		{name: "accept unsupported", url: "/", accept: "fr-FR", want: i18n.English},
		{name: "accept garbage", url: "/", accept: ";;;q=x,,", want: i18n.English},
		{name: "cookie beats header", url: "/", accept: "en", cookie: "es", want: i18n.Spanish},
		{name: "query beats cookie", url: "/?lang=en", cookie: "es", want: i18n.English, explicit: true},
		{name: "query region", url: "/?lang=ES-us", want: i18n.Spanish, explicit: true},
		{name: "bad query ignored", url: "/?lang=xx", accept: "es", want: i18n.Spanish},
		{name: "bad cookie ignored", url: "/", cookie: "klingon", want: i18n.English},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.url, nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", i18n.CookieName+"="+tt.cookie)
			}
			got, explicit := c.Negotiate(r)
			if got != tt.want || explicit != tt.explicit {
				t.Fatalf("Negotiate = %s, %v; want %s, %v", got, explicit, tt.want, tt.explicit)
			}
		})
	}
}

func FuzzNegotiate(f *testing.F) {
	c, err := i18n.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("es-MX,es;q=0.9", "es", "en")
	f.Add("*;q=0", "", "")
	f.Fuzz(func(t *testing.T, accept, cookie, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", accept)
		r.Header.Set("Cookie", i18n.CookieName+"="+cookie)
		q := r.URL.Query()
		q.Set("lang", query)
		r.URL.RawQuery = q.Encode()
		got, _ := c.Negotiate(r)
		if !slices.Contains(i18n.Supported, got) {
			t.Fatalf("Negotiate returned unsupported %q", got)
		}
	})
}

// neededForms is every CLDR cardinal category lang uses for whole
// numbers, found by asking x/text's rules rather than listing them here.
func neededForms(lang i18n.Lang) map[string]bool {
	need := map[string]bool{}
	for n := int64(0); n <= 1000; n++ {
		need[i18n.PluralCategory(i18n.PluralForm(lang, n))] = true
	}
	for _, n := range []int64{10_000, 100_000, 1_000_000, 10_000_000} {
		need[i18n.PluralCategory(i18n.PluralForm(lang, n))] = true
	}
	return need
}

// TestCataloguePlurals checks that each plural message has every form its
// language needs, and is plural in every language if in one.
func TestCataloguePlurals(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	plurals := 0
	for _, l := range i18n.Supported {
		need := neededForms(l)
		for _, k := range c.Keys(l) {
			forms := c.PluralForms(l, k)
			if forms == nil {
				for _, o := range i18n.Supported {
					if c.PluralForms(o, k) != nil {
						t.Errorf("%s: %q is plural in %s but not in %s", l, k, o, l)
					}
				}
				continue
			}
			plurals++
			have := map[string]bool{}
			for _, f := range forms {
				have[i18n.PluralCategory(f)] = true
			}
			for cat := range need {
				if !have[cat] {
					t.Errorf("%s: %q lacks the %q form", l, k, cat)
				}
			}
		}
	}
	if plurals == 0 {
		t.Error("no plural messages found; the check above checked nothing")
	}
}

func TestPluralSelection(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang i18n.Lang
		n    int64
		want string
	}{
		{i18n.English, 0, "0 cases"},
		{i18n.English, 1, "1 case"},
		{i18n.English, 2, "2 cases"},
		{i18n.English, 5, "5 cases"},
		{i18n.English, 21, "21 cases"},
		{i18n.Spanish, 0, "0 casos"},
		{i18n.Spanish, 1, "1 caso"},
		{i18n.Spanish, 2, "2 casos"},
		{i18n.Spanish, 5, "5 casos"},
		{i18n.Spanish, 21, "21 casos"},
	}
	for _, tt := range tests {
		if got := c.N(tt.lang, "case.queue.count", tt.n); got != tt.want {
			t.Errorf("N(%s, %d) = %q; want %q", tt.lang, tt.n, got, tt.want)
		}
		// T picks the form by the first integer argument.
		if got := c.T(tt.lang, "case.queue.count", tt.n); got != tt.want {
			t.Errorf("T(%s, %d) = %q; want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	// 21 is "other" in English and Spanish but "one" in, say, Russian: the
	// rule comes from CLDR, not from n == 1.
	for _, n := range []int64{0, 2, 5, 21} {
		if got := i18n.PluralCategory(i18n.PluralForm(i18n.English, n)); got != "other" {
			t.Errorf("English %d is %q", n, got)
		}
	}
}
