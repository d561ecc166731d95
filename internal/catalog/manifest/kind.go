package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Kind is what kind of transaction a service is. It decides the words its
// pages use ("Start now" or "Report a problem", "Application sent" or
// "Report sent") and whether a declaration is asked by default.
type Kind string

// The kinds of transaction.
const (
	KindApply  Kind = "apply"  // apply for something: a license, a permit, a registration
	KindReport Kind = "report" // report a problem to be fixed: a pothole, a streetlight
	KindPay    Kind = "pay"    // pay a bill or a tax
	KindRenew  Kind = "renew"  // renew something the person already holds
	KindBook   Kind = "book"   // book an appointment or a place
)

// Kinds lists the kinds a manifest may give.
var Kinds = []Kind{KindApply, KindReport, KindPay, KindRenew, KindBook}

// LegacyKinds maps the free-text kinds of earlier manifests to a kind.
// Validation accepts them (and stores the kind they map to); a version
// published with one still loads, as the kind it maps to.
var LegacyKinds = map[string]Kind{
	"application":      KindApply,
	"licence":          KindApply,
	"license":          KindApply,
	"permit":           KindApply,
	"registration":     KindApply,
	"information":      KindApply,
	"renewal":          KindRenew,
	"payment":          KindPay,
	"report-a-problem": KindReport,
	"booking":          KindBook,
	"appointment":      KindBook,
}

// ParseKind returns the kind s names, mapping a legacy value; ok is
// false for anything else.
func ParseKind(s string) (k Kind, legacy, ok bool) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, false, true
		}
	}
	if k, ok := LegacyKinds[s]; ok {
		return k, true, true
	}
	return "", false, false
}

// Key is the message key of the kind's words for part: the pages of a
// service use "kind.report.start" ("Report a problem") where an
// application uses "kind.apply.start" ("Start now"). An unknown kind uses
// apply's words.
func (k Kind) Key(part string) string {
	if _, _, ok := ParseKind(string(k)); !ok {
		k = KindApply
	}
	return "kind." + string(k) + "." + part
}

// UnmarshalJSON reads a kind, mapping a legacy value, so a version
// published before kinds were fixed loads as the kind it meant. An
// unknown value (stored data the format never allowed) reads as apply.
func (k *Kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("manifest: kind: %w", err)
	}
	if kk, _, ok := ParseKind(s); ok {
		*k = kk
		return nil
	}
	*k = KindApply
	return nil
}

// AsksDeclaration reports whether the person confirms their answers are
// true before sending: as the manifest says, or else every kind but a
// report.
func (m *Manifest) AsksDeclaration() bool {
	if m.Declaration != nil {
		return m.Declaration.Ask
	}
	return m.Kind != KindReport
}

// Declaration is what a person confirms before sending. In YAML it is
// true or false (ask the platform's standard declaration, or none) or a
// text in both languages (ask this one).
type Declaration struct {
	Ask  bool
	Text *Text // nil: the standard words
}

// UnmarshalJSON reads true, false or {en, es}.
func (d *Declaration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var t Text
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("manifest: declaration: %w", err)
		}
		*d = Declaration{Ask: true, Text: &t}
		return nil
	}
	var ask bool
	if err := json.Unmarshal(b, &ask); err != nil {
		return fmt.Errorf("manifest: declaration: %w", err)
	}
	*d = Declaration{Ask: ask}
	return nil
}

// MarshalJSON writes the form UnmarshalJSON reads.
func (d Declaration) MarshalJSON() ([]byte, error) {
	if d.Text != nil {
		return json.Marshal(d.Text)
	}
	return json.Marshal(d.Ask)
}

// Eligibility is who may use a service: rules that must all hold. In
// YAML it is one CEL expression, or a list of rules each with the reason
// a person who does not meet it is given.
type Eligibility []Rule

// Rule is one eligibility rule: a CEL expression over person and now, and
// the plain sentence that explains it (nil when the manifest gave the
// rule as a plain expression: the pages then use a generic sentence).
type Rule struct {
	Rule   string `json:"rule"`
	Reason *Text  `json:"reason,omitempty"`
}

// UnmarshalJSON reads a CEL string or a list of {rule, reason}.
func (e *Eligibility) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("manifest: eligibility: %w", err)
		}
		*e = nil
		if s != "" {
			*e = Eligibility{{Rule: s}}
		}
		return nil
	}
	var rules []Rule
	if err := json.Unmarshal(b, &rules); err != nil {
		return fmt.Errorf("manifest: eligibility: %w", err)
	}
	*e = rules
	return nil
}

// MarshalJSON writes one rule without a reason as its expression, and
// anything else as the list.
func (e Eligibility) MarshalJSON() ([]byte, error) {
	if len(e) == 1 && e[0].Reason == nil {
		return json.Marshal(e[0].Rule)
	}
	return json.Marshal([]Rule(e))
}

// Expression is the whole rule as one CEL expression (every rule must
// hold), or "" when anyone may use the service.
func (e Eligibility) Expression() string {
	switch len(e) {
	case 0:
		return ""
	case 1:
		return e[0].Rule
	}
	var b bytes.Buffer
	for i, r := range e {
		if i > 0 {
			b.WriteString(" && ")
		}
		b.WriteString("(" + r.Rule + ")")
	}
	return b.String()
}

// SaysOptional reports whether a label already says it is optional
// ("Photo (optional)", "Foto (opcional)"), so a page that marks optional
// questions does not say it twice.
func SaysOptional(label string) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	return strings.HasSuffix(l, "(optional)") || strings.HasSuffix(l, "(opcional)")
}
