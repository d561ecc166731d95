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

	"github.com/google/cel-go/cel"
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
}

// Kinds of reason.
const (
	ReasonLivesIn  = "lives_in" // lives in jurisdiction Arg
	ReasonAge      = "age"      // is Arg years old or older
	ReasonVerified = "verified" // identity is verified
	ReasonRules    = "rules"    // other eligibility rules (not explained) hold
	ReasonNoRules  = "no_rules" // the service has no eligibility rules
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

// eligibility is a service version's eligibility rule compiled once.
type eligibility struct {
	prg   cel.Program // nil: no rule
	rules []Reason    // the rule's top-level conjuncts, explained
	uses  map[string]bool
}

// programs caches compiled eligibility per service version. Versions
// never change, so entries never go stale.
type programs struct {
	mu sync.Mutex
	m  map[string]*eligibility
}

func (c *programs) get(p Published) (*eligibility, error) {
	key := p.ID + "@" + strconv.Itoa(p.Version)
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := compileEligibility(p.Manifest.Eligibility)
	if err != nil {
		return nil, fmt.Errorf("catalog: eligibility of %s: %w", key, err)
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*eligibility{}
	}
	c.m[key] = e
	c.mu.Unlock()
	return e, nil
}

func compileEligibility(expr string) (*eligibility, error) {
	e := &eligibility{uses: map[string]bool{}}
	if expr == "" {
		return e, nil
	}
	env, _ := manifest.Env("eligibility")
	a, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err() // published manifests were validated; this is a bug
	}
	prg, err := env.Program(a, cel.EvalOptions(cel.OptPartialEval), cel.CostLimit(100000))
	if err != nil {
		return nil, err
	}
	e.prg = prg
	root := a.NativeRep().Expr()
	celast.PreOrderVisit(root, celast.NewExprVisitor(func(x celast.Expr) {
		if path := personPath(x); path != "" {
			e.uses[path] = true
		}
	}))
	for _, c := range conjuncts(root) {
		e.rules = append(e.rules, explain(c))
	}
	e.rules = dedupe(e.rules)
	return e, nil
}

// personPath returns "age", "residence.jurisdictions"… for a selection of
// person, or "".
func personPath(x celast.Expr) string {
	if x.Kind() != celast.SelectKind {
		return ""
	}
	sel := x.AsSelect()
	op := sel.Operand()
	switch {
	case op.Kind() == celast.IdentKind && op.AsIdent() == "person":
		return sel.FieldName()
	case op.Kind() == celast.SelectKind:
		if p := personPath(op); p != "" {
			return p + "." + sel.FieldName()
		}
	}
	return ""
}

func conjuncts(x celast.Expr) []celast.Expr {
	if x.Kind() == celast.CallKind && x.AsCall().FunctionName() == "_&&_" {
		var out []celast.Expr
		for _, a := range x.AsCall().Args() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []celast.Expr{x}
}

// explain turns one conjunct into a plain reason when it has a shape we
// can say honestly in words; anything else is "other rules".
func explain(x celast.Expr) Reason {
	if x.Kind() == celast.SelectKind && personPath(x) == "verified" {
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
		if personPath(args[0]) == "age" {
			if n, ok := intArg(args[1]); ok {
				if call.FunctionName() == "_>_" {
					n++
				}
				return Reason{Kind: ReasonAge, Arg: strconv.FormatInt(n, 10)}
			}
		}
	case "@in":
		if personPath(args[1]) == "residence.jurisdictions" && args[0].Kind() == celast.LiteralKind {
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
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Requirements returns the eligibility rules of p in plain terms (for its
// start page): each top-level condition of the rule that has a plain
// form, and ReasonRules for any other. Empty: anyone may use it.
func (s *Service) Requirements(p Published) ([]Reason, error) {
	e, err := s.progs.get(p)
	if err != nil {
		return nil, err
	}
	return e.rules, nil
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
	e, err := s.progs.get(p)
	if err != nil {
		return m, false, err
	}
	if e.prg == nil {
		if len(m.Needs) == 0 {
			m.Reasons = append(m.Reasons, Reason{Kind: ReasonNoRules})
		}
		return m, true, nil
	}
	var unknown []*cel.AttributePatternType
	if !prof.AgeKnown {
		unknown = append(unknown, cel.AttributePattern("person").QualString("age"))
	}
	if !prof.ResidenceKnown {
		unknown = append(unknown, cel.AttributePattern("person").QualString("residence"))
	}
	vars, err := cel.PartialVars(map[string]any{"person": prof.Person, "now": now}, unknown...)
	if err != nil {
		return m, false, err
	}
	out, _, err := e.prg.Eval(vars)
	switch {
	case err != nil:
		// A rule that fails at run time (say, a cost limit) cannot be
		// decided from the profile either; leave the service out rather
		// than claim it applies.
		return m, false, nil
	case types.IsUnknown(out):
		if !prof.AgeKnown && e.uses["age"] {
			m.Needs = append(m.Needs, NeedDateOfBirth)
		}
		if !prof.ResidenceKnown && !slices.Contains(m.Needs, NeedAddress) {
			m.Needs = append(m.Needs, NeedAddress)
		}
		m.Reasons = nil
		return m, true, nil
	case out == types.True:
		if len(m.Needs) > 0 {
			// Eligible whatever the address; only the place is unknown.
			return m, true, nil
		}
		for _, r := range e.rules {
			if !slices.Contains(m.Reasons, r) {
				m.Reasons = append(m.Reasons, r)
			}
		}
		return m, true, nil
	}
	return m, false, nil
}
