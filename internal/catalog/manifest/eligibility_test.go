package manifest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// small builds a minimal valid manifest with the given kind, eligibility
// and extra top-level YAML.
func small(kind, eligibility, extra string) []byte {
	return []byte(`id: t
version: 1
agency: a
jurisdictions: [example]
title: {en: T, es: T}
summary: {en: S, es: S}
category: x
kind: ` + kind + `
maturity: alpha
` + eligibility + extra + `pages: []
workflow:
  initial: open
  states:
    open: {title: {en: Open, es: Abierta}, sla: 2d}
    done: {title: {en: Done, es: Hecha}, terminal: true}
  transitions:
    - {id: close, from: open, to: done, by: [caseworker], label: {en: Close, es: Cerrar}}
`)
}

// TestEligibilityForms: eligibility is one CEL expression or a list of
// rules each with a reason; a list rule needs a reason and valid CEL.
func TestEligibilityForms(t *testing.T) {
	tests := []struct {
		name, eligibility string
		problem           string // "" for valid
		rules             []manifest.Rule
	}{
		{"none", "", "", nil},
		{"one expression", "eligibility: person.age >= 18\n", "", []manifest.Rule{{Rule: "person.age >= 18"}}},
		{"rules with reasons", `eligibility:
  - rule: person.age >= 18
    reason: {en: You must be 18 or older., es: Debe tener 18 años o más.}
  - rule: '"adams-county" in person.residence.jurisdictions'
    reason: {en: Adams County only., es: Solo el Condado de Adams.}
`, "", []manifest.Rule{
			{Rule: "person.age >= 18", Reason: &manifest.Text{EN: "You must be 18 or older.", ES: "Debe tener 18 años o más."}},
			{Rule: `"adams-county" in person.residence.jurisdictions`, Reason: &manifest.Text{EN: "Adams County only.", ES: "Solo el Condado de Adams."}},
		}},
		{"missing reason", "eligibility:\n  - rule: person.age >= 18\n", `eligibility[0]: "reason" is required`, nil},
		{"reason in one language", "eligibility:\n  - {rule: person.verified, reason: {en: Verified.}}\n", `eligibility[0].reason: "es" is required`, nil},
		{"invalid CEL in a rule", "eligibility:\n  - {rule: person.agee >= 18, reason: {en: A., es: A.}}\n", "eligibility[0].rule: CEL: undefined field 'agee'", nil},
		{"rule not a bool", "eligibility:\n  - {rule: person.age, reason: {en: A., es: A.}}\n", "eligibility[0].rule: the expression gives an int; it must give a bool", nil},
		{"invalid CEL expression", "eligibility: person.age >=\n", "eligibility: CEL: Syntax error", nil},
		{"empty list", "eligibility: []\n", "eligibility: minItems: got 0, want 1", nil},
		{"unknown key in a rule", "eligibility:\n  - {rule: person.verified, reason: {en: A., es: A.}, why: x}\n", `unknown key "why"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, probs, err := manifest.Validate(context.Background(), "t.yaml", small("apply", tt.eligibility, ""), manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.problem != "" {
				if len(probs) == 0 || !strings.Contains(probs[0].Message, tt.problem) {
					t.Fatalf("problems = %v, want one containing %q", probs, tt.problem)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatalf("problems: %v", probs)
			}
			if got, _ := json.Marshal(res.Manifest.Eligibility); string(got) != mustJSON(t, tt.rules) {
				t.Fatalf("eligibility = %s, want %s", got, mustJSON(t, tt.rules))
			}
			// What the catalog stores reads back the same.
			var back manifest.Manifest
			if err := json.Unmarshal(res.JSON, &back); err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(back.Eligibility); string(got) != mustJSON(t, tt.rules) {
				t.Fatalf("stored eligibility = %s", got)
			}
			if _, err := manifest.Compile("t", 1, &back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func mustJSON(t *testing.T, rules []manifest.Rule) string {
	t.Helper()
	if rules == nil {
		return "null"
	}
	b, err := json.Marshal(manifest.Eligibility(rules))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKinds: the five kinds are valid, the free-text kinds of earlier
// manifests are mapped (and stored mapped), anything else is refused.
func TestKinds(t *testing.T) {
	tests := []struct {
		kind    string
		want    manifest.Kind
		problem string
	}{
		{"apply", manifest.KindApply, ""},
		{"report", manifest.KindReport, ""},
		{"pay", manifest.KindPay, ""},
		{"renew", manifest.KindRenew, ""},
		{"book", manifest.KindBook, ""},
		{"licence", manifest.KindApply, ""},
		{"permit", manifest.KindApply, ""},
		{"registration", manifest.KindApply, ""},
		{"application", manifest.KindApply, ""},
		{"information", manifest.KindApply, ""},
		{"renewal", manifest.KindRenew, ""},
		{"payment", manifest.KindPay, ""},
		{"report-a-problem", manifest.KindReport, ""},
		{"gadget", "", `kind: "gadget" is not a kind of service; give one of apply, report, pay, renew, book`},
		{"Apply", "", `kind: "Apply" is not a kind of service`},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			res, probs, err := manifest.Validate(context.Background(), "t.yaml", small(tt.kind, "", ""), manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.problem != "" {
				if len(probs) != 1 || probs[0].Message != tt.problem && !strings.HasPrefix(probs[0].Message, tt.problem) {
					t.Fatalf("problems = %v, want %q", probs, tt.problem)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatalf("problems: %v", probs)
			}
			if res.Manifest.Kind != tt.want || !strings.Contains(string(res.JSON), `"kind":"`+string(tt.want)+`"`) {
				t.Fatalf("kind = %q, stored %s", res.Manifest.Kind, res.JSON)
			}
		})
	}
	// A version published before kinds were fixed still loads.
	for legacy, want := range manifest.LegacyKinds {
		var m manifest.Manifest
		if err := json.Unmarshal([]byte(`{"kind":"`+legacy+`"}`), &m); err != nil || m.Kind != want {
			t.Errorf("stored kind %q loads as %q (%v), want %q", legacy, m.Kind, err, want)
		}
	}
}

// TestDeclaration: a report asks no declaration unless its manifest says
// so; other kinds ask one unless told not to; a text is asked as written.
func TestDeclaration(t *testing.T) {
	tests := []struct {
		kind, extra string
		ask         bool
		text        string
	}{
		{"apply", "", true, ""},
		{"report", "", false, ""},
		{"report", "declaration: true\n", true, ""},
		{"pay", "declaration: false\n", false, ""},
		{"report", "declaration: {en: I saw it myself., es: Lo vi yo mismo.}\n", true, "I saw it myself."},
	}
	for _, tt := range tests {
		res, probs, err := manifest.Validate(context.Background(), "t.yaml", small(tt.kind, "", tt.extra), manifest.Options{})
		if err != nil || len(probs) > 0 {
			t.Fatalf("%s %q: %v %v", tt.kind, tt.extra, probs, err)
		}
		m := res.Manifest
		got := ""
		if m.Declaration != nil && m.Declaration.Text != nil {
			got = m.Declaration.Text.EN
		}
		if m.AsksDeclaration() != tt.ask || got != tt.text {
			t.Errorf("%s %q: asks %v text %q", tt.kind, tt.extra, m.AsksDeclaration(), got)
		}
	}
}

// TestUnmet: the runtime says which requirements a person does not meet,
// with the manifest's reasons, and which need a fact it does not have.
func TestUnmet(t *testing.T) {
	src := small("apply", `eligibility:
  - rule: person.age >= 18
    reason: {en: You must be 18 or older., es: Debe tener 18 años o más.}
  - rule: '"adams-county" in person.residence.jurisdictions'
    reason: {en: Adams County only., es: Solo el Condado de Adams.}
`, "")
	res, probs, err := manifest.Validate(context.Background(), "t.yaml", src, manifest.Options{})
	if err != nil || len(probs) > 0 {
		t.Fatal(probs, err)
	}
	rt, err := manifest.Compile("t", 1, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := manifest.Compile("p", 1, &manifest.Manifest{Eligibility: manifest.Eligibility{{Rule: `person.age >= 18 && "adams-county" in person.residence.jurisdictions`}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	baker := manifest.Person{Age: 40, Residence: manifest.Address{Jurisdictions: []string{"lakeside", "baker-county", "example"}}}
	adams := manifest.Person{Age: 40, Residence: manifest.Address{Jurisdictions: []string{"springfield", "adams-county", "example"}}}
	young := manifest.Person{Age: 15, Residence: adams.Residence}
	tests := []struct {
		name    string
		rt      *manifest.Runtime
		person  manifest.Person
		unknown []string
		want    []string // reason (or condition text) of each unmet; "?" prefix: undecided
	}{
		{"adams resident", rt, adams, nil, nil},
		{"baker resident", rt, baker, nil, []string{"Adams County only."}},
		{"too young", rt, young, nil, []string{"You must be 18 or older."}},
		{"age unknown", rt, manifest.Person{Residence: adams.Residence}, []string{"age"}, []string{"?You must be 18 or older."}},
		{"nothing known, outside", rt, manifest.Person{Residence: manifest.Address{Jurisdictions: []string{}}}, []string{"age"}, []string{"?You must be 18 or older.", "Adams County only."}},
		{"plain rule, baker resident", plain, baker, nil, []string{`"adams-county" in person.residence.jurisdictions`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range tt.rt.Unmet(tt.person, now, tt.unknown...) {
				s := u.Text
				if u.Reason != nil {
					s = u.Reason.EN
				}
				if u.Undecided {
					s = "?" + s
				}
				got = append(got, s)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("unmet = %q, want %q", got, tt.want)
			}
		})
	}
}
