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
