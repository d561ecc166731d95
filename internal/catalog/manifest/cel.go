package manifest

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/ext"
)

// Person is the citizen's profile as CEL expressions see it, in the
// variable `person`. Field names are the json tags (person.age,
// person.residence.zip). The applying code fills it from the identity
// block; absent facts are zero values.
type Person struct {
	Age       int64   `json:"age"`      // whole years; 0 if unknown
	Verified  bool    `json:"verified"` // identity proofed
	Language  string  `json:"language"` // "en" or "es"
	Residence Address `json:"residence"`
}

// Address is where the person lives.
type Address struct {
	ZIP string `json:"zip"`
	// Jurisdictions are the ids of every jurisdiction the address is in,
	// most local first ("springfield", "adams-county", "example").
	Jurisdictions []string `json:"jurisdictions"`
}

// Payment is the state of the service's fee, in the variable `payment` of
// workflow guards.
type Payment struct {
	Paid   bool  `json:"paid"`
	Amount int64 `json:"amount"` // minor units
}

// Expression contexts: each declares a different set of variables.
//
//	eligibility:      person, now
//	page when:        person, now, answers (earlier pages only)
//	fee expression:   person, now, answers
//	transition guard: person, now, answers, payment
//	plug-in request:  person, now, answers (a page's prefill and check, the fee's call)
//	plug-in action:   person, now, answers, case (a workflow's call_plugin)
//
// answers is a map from page id to that page's answers (a map from
// property name to value, as JSON decodes it).
type celContext int

const (
	ctxEligibility celContext = iota
	ctxWhen
	ctxFee
	ctxGuard
	ctxPlugin
	ctxAction
)

var celEnvs [6]*cel.Env

func init() {
	base := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[Person](), reflect.TypeFor[Payment](), ext.ParseStructTag("json")),
		ext.Strings(),
		cel.Variable("person", cel.ObjectType("manifest.Person")),
		cel.Variable("now", cel.TimestampType),
		cel.ParserExpressionSizeLimit(2000),
		cel.ParserRecursionLimit(50),
	}
	answers := cel.Variable("answers", cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType)))
	opts := [6][]cel.EnvOption{
		ctxEligibility: base,
		ctxWhen:        append(append([]cel.EnvOption{}, base...), answers),
		ctxFee:         append(append([]cel.EnvOption{}, base...), answers),
		ctxGuard:       append(append([]cel.EnvOption{}, base...), answers, cel.Variable("payment", cel.ObjectType("manifest.Payment"))),
		ctxPlugin:      append(append([]cel.EnvOption{}, base...), answers),
		ctxAction: append(append([]cel.EnvOption{}, base...), answers, cel.Variable("case", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("recorded", cel.MapType(cel.StringType, cel.DynType))),
	}
	for i, o := range opts {
		env, err := cel.NewEnv(o...)
		if err != nil {
			panic(fmt.Sprintf("manifest: CEL environment %d: %v", i, err))
		}
		celEnvs[i] = env
	}
}

// pageProps lists, per page id, the properties of its schema.
type pageProps map[string]map[string]bool

// checkCEL compiles expr in context c and checks its result type. pages are
// the pages whose answers the expression may read (nil: no answers).
// It returns plain messages; an empty slice means the expression is good.
func checkCEL(c celContext, expr string, want *cel.Type, pages pageProps) (msgs []string) {
	defer func() {
		if r := recover(); r != nil { // the CEL library must not take the process down
			msgs = []string{fmt.Sprintf("the expression could not be compiled (%v)", r)}
		}
	}()
	a, iss := celEnvs[c].Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			msg := e.Message
			if e.Location != nil && e.Location.Line() > 0 {
				msg = fmt.Sprintf("%s (at line %d, column %d of the expression)", msg, e.Location.Line(), e.Location.Column()+1)
			}
			msgs = append(msgs, "CEL: "+msg)
		}
		return msgs
	}
	if got := a.OutputType(); !got.IsExactType(want) {
		msgs = append(msgs, fmt.Sprintf("the expression gives %s; it must give %s", typeName(got), typeName(want)))
	}
	if pages != nil {
		msgs = append(msgs, checkAnswerRefs(a, pages)...)
	}
	return msgs
}

func typeName(t *cel.Type) string {
	switch {
	case t.IsExactType(cel.BoolType):
		return "a bool (true or false)"
	case t.IsExactType(cel.IntType):
		return "an int"
	}
	return "a value of type " + t.String()
}

// checkAnswerRefs checks answers.PAGE and answers.PAGE.FIELD selections
// against the pages the expression may read.
func checkAnswerRefs(a *cel.Ast, pages pageProps) []string {
	var msgs []string
	seen := map[string]bool{}
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.SelectKind {
			return
		}
		sel := e.AsSelect()
		op := sel.Operand()
		switch {
		case op.Kind() == celast.IdentKind && op.AsIdent() == "answers":
			page := sel.FieldName()
			if _, ok := pages[page]; !ok && !seen[page] {
				seen[page] = true
				msgs = append(msgs, fmt.Sprintf("answers.%s: there is no earlier page %q (pages it may read: %s)", page, page, orNone(sortedKeys(pages))))
			}
		case op.Kind() == celast.SelectKind && op.AsSelect().Operand().Kind() == celast.IdentKind && op.AsSelect().Operand().AsIdent() == "answers":
			page, field := op.AsSelect().FieldName(), sel.FieldName()
			props, ok := pages[page]
			key := page + "." + field
			if ok && !props[field] && !seen[key] {
				seen[key] = true
				msgs = append(msgs, fmt.Sprintf("answers.%s: page %q has no property %q", key, page, field))
			}
		}
	}))
	return msgs
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// recordedRefs lists the recorded names an expression reads
// (recorded.NAME or recorded["NAME"]), sorted, once each.
func recordedRefs(e celast.Expr) []string {
	seen := map[string]bool{}
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		switch x.Kind() {
		case celast.SelectKind:
			sel := x.AsSelect()
			if op := sel.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == "recorded" {
				seen[sel.FieldName()] = true
			}
		case celast.CallKind:
			call := x.AsCall()
			if call.FunctionName() == "_[_]" && len(call.Args()) == 2 && call.Args()[0].Kind() == celast.IdentKind && call.Args()[0].AsIdent() == "recorded" &&
				call.Args()[1].Kind() == celast.LiteralKind {
				if s, ok := call.Args()[1].AsLiteral().Value().(string); ok {
					seen[s] = true
				}
			}
		}
	}))
	return sortedKeys(seen)
}
