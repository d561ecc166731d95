package catalog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// Profile is what the catalog knows about a person for "services for
// you": their facts as CEL sees them, and which of those facts the
// profile actually holds (a zero age is "unknown", not "newborn").
type Profile struct {
	Person         manifest.Person
	AgeKnown       bool // date of birth on the profile
	ResidenceKnown bool // a home address whose ZIP code resolved
}

// Facts a profile may lack, named for the page that asks to add them.
const (
	NeedDateOfBirth = "date_of_birth"
	NeedAddress     = "address"
)

// Reason is one plain reason a service applies to a person, or one rule
// a person must meet. Kind is one of the Reason* constants; Arg is a
// jurisdiction id (ReasonLivesIn) or a number of years (ReasonAge).
type Reason struct {
	Kind string `json:"kind"`
	Arg  string `json:"arg,omitempty"`
	// Text is the manifest's own words for a rule (ReasonStated).
	Text *manifest.Text `json:"text,omitempty"`
}

// Kinds of reason.
const (
	ReasonLivesIn  = "lives_in" // lives in jurisdiction Arg
	ReasonAge      = "age"      // is Arg years old or older
	ReasonVerified = "verified" // identity is verified
	ReasonRules    = "rules"    // other eligibility rules (not explained) hold
	ReasonNoRules  = "no_rules" // the service has no eligibility rules
	ReasonStated   = "stated"   // a rule the manifest explains in Text
)

// Match is a service that applies, or may apply, to a person.
type Match struct {
	Service Published
	// Reasons say why it applies (all of them hold).
	Reasons []Reason
	// Needs lists the facts to add to the profile before the catalog can
	// tell whether the service applies; empty when it does apply.
	Needs []string
}

// runtimes caches the compiled runtime of each service version. Versions
// never change, so entries never go stale; their number is bounded by
// the versions ever published.
type runtimes struct {
	mu sync.Mutex
	m  map[string]*manifest.Runtime
}

func (c *runtimes) lookup(id string, version int) (*manifest.Runtime, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rt, ok := c.m[id+"@"+strconv.Itoa(version)]
	return rt, ok
}

func (c *runtimes) get(p Published) (*manifest.Runtime, error) {
	if rt, ok := c.lookup(p.ID, p.Version); ok {
		return rt, nil
	}
	rt, err := manifest.Compile(p.ID, p.Version, p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	key := p.ID + "@" + strconv.Itoa(p.Version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*manifest.Runtime{}
	}
	if old, ok := c.m[key]; ok { // compiled meanwhile by another request: keep one
		return old, nil
	}
	c.m[key] = rt
	return rt, nil
}

// Runtime returns the compiled runtime of a published service version,
// the one "services for you", the form engine and the workflow share.
// It is compiled on first use and kept for the life of the process.
func (s *Service) Runtime(ctx context.Context, id string, version int) (*manifest.Runtime, error) {
	if rt, ok := s.runtimes.lookup(id, version); ok {
		return rt, nil
	}
	p, err := s.Service(ctx, id, version)
	if err != nil {
		return nil, err
	}
	return s.runtimes.get(p)
}

// RuntimeOf is Runtime for a version already read.
func (s *Service) RuntimeOf(p Published) (*manifest.Runtime, error) { return s.runtimes.get(p) }

// rules explains the top-level conditions of a runtime's eligibility rule.
func rules(rt *manifest.Runtime) []Reason {
	var out []Reason
	for _, c := range rt.Rule() {
		out = append(out, explain(c.Expr))
	}
	return dedupe(out)
}

// explain turns one conjunct into a plain reason when it has a shape we
// can say honestly in words; anything else is "other rules".
func explain(x celast.Expr) Reason {
	if x.Kind() == celast.SelectKind && manifest.PersonPath(x) == "verified" {
		return Reason{Kind: ReasonVerified}
	}
	if x.Kind() != celast.CallKind {
		return Reason{Kind: ReasonRules}
	}
	call := x.AsCall()
	args := call.Args()
	if len(args) != 2 {
		return Reason{Kind: ReasonRules}
	}
	intArg := func(e celast.Expr) (int64, bool) {
		if e.Kind() != celast.LiteralKind {
			return 0, false
		}
		v, ok := e.AsLiteral().(types.Int)
		return int64(v), ok
	}
	switch call.FunctionName() {
	case "_>=_", "_>_":
		if manifest.PersonPath(args[0]) == "age" {
			if n, ok := intArg(args[1]); ok {
				if call.FunctionName() == "_>_" {
					n++
				}
				return Reason{Kind: ReasonAge, Arg: strconv.FormatInt(n, 10)}
			}
		}
	case "@in":
		if manifest.PersonPath(args[1]) == "residence.jurisdictions" && args[0].Kind() == celast.LiteralKind {
			if s, ok := args[0].AsLiteral().(types.String); ok {
				return Reason{Kind: ReasonLivesIn, Arg: string(s)}
			}
		}
	}
	return Reason{Kind: ReasonRules}
}

func dedupe(rs []Reason) []Reason {
	var out []Reason
	for _, r := range rs {
		if !slices.ContainsFunc(out, func(o Reason) bool {
			return o.Kind == r.Kind && o.Arg == r.Arg && (o.Text == nil) == (r.Text == nil) && (o.Text == nil || *o.Text == *r.Text)
		}) {
			out = append(out, r)
		}
	}
	return out
}

// Requirements returns the eligibility rules of p in plain terms (for its
// start page): each top-level condition of the rule that has a plain
// form, and ReasonRules for any other. Empty: anyone may use it.
func (s *Service) Requirements(p Published) ([]Reason, error) {
	rt, err := s.runtimes.get(p)
	if err != nil {
		return nil, err
	}
	var out []Reason
	for _, q := range rt.Requirements() {
		if q.Reason != nil {
			out = append(out, Reason{Kind: ReasonStated, Text: q.Reason})
			continue
		}
		out = append(out, explain(q.Expr))
	}
	return dedupe(out), nil
}

// ForYou returns the published services that apply to the person, and
// those that may apply once the profile holds more, in title order (in
// lang). A service applies when one of its jurisdictions is one the
// person lives in (counting the county and state of their city) and its
// eligibility rule is true for the person. Services that do not apply
// are left out.
func (s *Service) ForYou(ctx context.Context, prof Profile, lang string, now time.Time) ([]Match, error) {
	// With a known home, only services offered there can apply; without
	// one, every service may, and each says the address is needed.
	var ps []Published
	var err error
	if prof.ResidenceKnown {
		ps, err = s.offeredIn(ctx, prof.Person.Residence.Jurisdictions)
	} else {
		ps, err = s.List(ctx, "")
	}
	if err != nil {
		return nil, err
	}
	var out []Match
	for _, p := range ps {
		m, ok, err := s.match(p, prof, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	title := func(m Match) string {
		if lang == Spanish {
			return sortKey(m.Service.Manifest.Title.ES)
		}
		return sortKey(m.Service.Manifest.Title.EN)
	}
	slices.SortStableFunc(out, func(a, b Match) int {
		if (len(a.Needs) == 0) != (len(b.Needs) == 0) { // those that apply first
			if len(a.Needs) == 0 {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(title(a), title(b)), strings.Compare(a.Service.ID, b.Service.ID))
	})
	return out, nil
}

// match decides one service for one person.
func (s *Service) match(p Published, prof Profile, now time.Time) (Match, bool, error) {
	m := Match{Service: p}
	if !prof.ResidenceKnown {
		m.Needs = append(m.Needs, NeedAddress)
	} else {
		where := ""
		for _, j := range prof.Person.Residence.Jurisdictions { // most local first
			if slices.Contains(p.Manifest.Jurisdictions, j) {
				where = j
				break
			}
		}
		if where == "" {
			return m, false, nil
		}
		m.Reasons = append(m.Reasons, Reason{Kind: ReasonLivesIn, Arg: where})
	}
	rt, err := s.runtimes.get(p)
	if err != nil {
		return m, false, err
	}
	if len(rt.Rule()) == 0 {
		if len(m.Needs) == 0 {
			m.Reasons = append(m.Reasons, Reason{Kind: ReasonNoRules})
		}
		return m, true, nil
	}
	var unknown []string
	if !prof.AgeKnown {
		unknown = append(unknown, "age")
	}
	if !prof.ResidenceKnown {
		unknown = append(unknown, "residence")
	}
	verdict, err := rt.Eligibility(prof.Person, now, unknown...)
	switch {
	case err != nil:
		// A rule that fails at run time (say, a cost limit) cannot be
		// decided from the profile either; leave the service out rather
		// than claim it applies.
		return m, false, nil
	case verdict == manifest.Undecided:
		if !prof.AgeKnown && rt.RuleUses("age") {
			m.Needs = append(m.Needs, NeedDateOfBirth)
		}
		if !prof.ResidenceKnown && !slices.Contains(m.Needs, NeedAddress) {
			m.Needs = append(m.Needs, NeedAddress)
		}
		m.Reasons = nil
		return m, true, nil
	case verdict == manifest.Eligible:
		if len(m.Needs) > 0 {
			// Eligible whatever the address; only the place is unknown.
			return m, true, nil
		}
		for _, r := range rules(rt) {
			if !slices.Contains(m.Reasons, r) {
				m.Reasons = append(m.Reasons, r)
			}
		}
		return m, true, nil
	}
	return m, false, nil
}
