package catalog

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

func TestTerms(t *testing.T) {
	tests := []struct {
		lang, text string
		want       []string
	}{
		{"en", "Renew your vehicle registrations", []string{"renew", "vehicl", "registr"}},
		{"en", "The dog's licence", []string{"dog", "licens"}},
		{"en", "The dog's license", []string{"dog", "licens"}},
		{"en", "Licences, licenses, licenced", []string{"licens", "licens", "licens"}},
		{"en", "colour centre programme cheque", []string{"color", "center", "program", "check"}},
		{"en", "color center program check", []string{"color", "center", "program", "check"}},
		{"en", "Instalments on the kerb", []string{"instal", "curb"}},
		{"en", "installments on the curb", []string{"instal", "curb"}},
		{"es", "licence centre", []string{"licenc", "centr"}}, // Spanish text is not respelled
		{"es", "Reparación de baches", []string{"reparacion", "bach"}},
		{"es", "reparacion de BACHES", []string{"reparacion", "bach"}},
		{"es", "Año niño", []string{"ano", "nin"}},
		{"en", `"dog" OR licence* NEAR(a b) col:x -y ^z`, []string{"dog", "licens", "near", "b", "col", "x", "y", "z"}},
		{"en", "Δήμος", []string{"xceb4ceb7cebccebfcf82"}},
		{"en", "", nil},
	}
	for _, tt := range tests {
		if got := Terms(tt.lang, tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Terms(%s, %q) = %q, want %q", tt.lang, tt.text, got, tt.want)
		}
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	d := document{{"dog", "licenc"}, {"pet"}, nil, {"adam", "counti", "clerk"}, {"everi", "dog"}}
	if got := decodeDocument(d.encode()); !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip: %q", got)
	}
	for _, q := range []Query{{Terms: []string{"dog", "clerk"}}, {Terms: []string{"pet", "zzz"}}, {Terms: []string{"everi"}}, {}} {
		want := d.score(q)
		if got := scoreEncoded(d.encode(), q); got != want {
			t.Errorf("scoreEncoded(%v) = %d, score = %d", q.Terms, got, want)
		}
	}
	if s := d.score(Query{Terms: []string{"dog", "clerk"}}); s != 8+1+2 {
		t.Errorf("score %d", s)
	}
}

// TestRuntimeCompiledOnce: the runtime of a version is compiled on first
// use and reused after.
func TestRuntimeCompiledOnce(t *testing.T) {
	var c runtimes
	p := Published{ID: "x", Version: 1, Manifest: &manifest.Manifest{Eligibility: manifest.Eligibility{{Rule: "person.age >= 18"}}}}
	a, err := c.get(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(p)
	if a != b {
		t.Error("compiled twice")
	}
}

// FuzzParseQuery: any text either is refused as invalid input or gives at
// most MaxQueryTerms distinct terms of [a-z0-9], never anything the FTS5
// or tsquery syntax could read as an operator.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"dog licence", `"dog" OR *`, "NEAR(a b, 2)", "a:* & !b | c <-> d", "terms_es : perro", "reparación",
		"\x00\xff", strings.Repeat("x", 600), "'; DROP TABLE services; --", "ÅΩ漢字", "{terms_en terms_es}: dog"} {
		f.Add("en", s)
		f.Add("es", s)
	}
	f.Fuzz(func(t *testing.T, lang, text string) {
		q, err := ParseQuery(lang, text)
		if err != nil {
			if len(text) <= MaxQueryBytes && utf8.ValidString(text) {
				t.Fatalf("refused valid text %q: %v", text, err)
			}
			return
		}
		if len(q.Terms) > MaxQueryTerms {
			t.Fatalf("%d terms", len(q.Terms))
		}
		seen := map[string]bool{}
		for _, term := range q.Terms {
			if !isASCIIWord(term) || len(term) > maxTermBytes || seen[term] {
				t.Fatalf("bad term %q in %q", term, q.Terms)
			}
			seen[term] = true
		}
	})
}
