package application

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// Plugins is what applying needs of the plug-in gateway: one call of an
// operation for a person. internal/app adapts the gateway to it (this
// block does not import it). A 2xx or a declared 4xx answer comes back
// as a PluginReply; an answer that cannot be used (timeout, transport
// error, 5xx, open breaker, a response the plug-in's OpenAPI document
// does not allow, a refusal by the access rights) is an error, which the
// adapter makes an *Unavailable when it is the plug-in's.
type Plugins interface {
	Call(ctx context.Context, actor platform.Actor, c PluginCall) (PluginReply, error)
}

// PluginCall is one call of a plug-in operation from a form.
type PluginCall struct {
	Agency, Service, Person string
	Plugin, Operation       string
	Request                 manifest.PluginRequest
	// Data are the personal data the call carries (the manifest's
	// `data`), by their plug-in vocabulary names, with their values.
	Data map[string]any
}

// PluginReply is a plug-in's usable answer.
type PluginReply struct {
	Status int
	Body   []byte
}

// Unavailable is a plug-in call that gave no usable answer. Key is the
// translated message the page shows (gateway.unavailable), taking the
// name of Agency, the plug-in's providing agency ("" for a private
// provider: pages then name the service's agency). The person's draft
// and answers are kept; they can continue later.
type Unavailable struct {
	Plugin, Agency, Key string
	Err                 error
}

func (e *Unavailable) Error() string {
	return "application: plug-in " + e.Plugin + " unavailable: " + e.Err.Error()
}

// Unwrap gives the cause.
func (e *Unavailable) Unwrap() error { return e.Err }

// UnavailableKey is the message key of an unavailable plug-in when the
// adapter gives none.
const UnavailableKey = "gateway.unavailable"

// Consents is what applying needs of the consent block: whether the
// person's consents cover a plug-in receiving data for a service. The
// consent screen is GET /consent?service=&plugin=&return= (the consent
// block's); giving consent returns to `return`, declining returns to it
// with consent=declined added.
type Consents interface {
	Covers(ctx context.Context, accountID, agency, service, plugin string, data []string) (bool, error)
}

// Prefill outcomes (PluginPrefill).
const (
	PrefillNone        = ""            // the page has no plug-in prefill, or its bindings cannot be evaluated yet
	PrefillFilled      = "filled"      // Answers holds the mapped values
	PrefillNotFound    = "not_found"   // the plug-in answered with a declared 4xx: nothing matched
	PrefillUnavailable = "unavailable" // Unavailable says why
	PrefillConsent     = "consent"     // the call carries personal data and no consent covers it: ask first
	PrefillDeclined    = "declined"    // the person declined (or no consent block is wired): the page starts empty
)

// PrefillResult is what a page's plug-in prefill gave.
type PrefillResult struct {
	Outcome     string
	Answers     map[string]any
	Plugin      string // the plug-in id, for the consent screen
	Unavailable *Unavailable
}

// pluginUse returns the page's use of kind (manifest.UsePrefill,
// UseCheck) or the fee's (UseFee, page "").
func (f *Form) pluginUse(kind, page string) (manifest.PluginUse, bool) {
	for _, u := range f.rt.PluginUses() {
		if u.Kind == kind && u.Page == page {
			return u, true
		}
	}
	return manifest.PluginUse{}, false
}

// PluginPrefill works out the starting answers a page's prefill_from
// offers, from the answers so far. declined says the person came back
// from the consent screen having declined. Like a profile prefill, the
// answers are only shown: nothing is saved until the person posts the page.
func (s *Service) PluginPrefill(ctx context.Context, a Applicant, app *Application, f *Form, page *Page, declined bool) (PrefillResult, error) {
	u, ok := f.pluginUse(manifest.UsePrefill, page.ID)
	if !ok {
		return PrefillResult{}, nil
	}
	res := PrefillResult{Plugin: u.Plugin}
	if outcome, err := s.consentFirst(ctx, a, app, u, declined); outcome != "" || err != nil {
		res.Outcome = outcome
		return res, err
	}
	reply, err := s.callPlugin(ctx, a, app, f, u, app.Answers)
	var un *Unavailable
	switch {
	case errors.As(err, &un):
		res.Outcome, res.Unavailable = PrefillUnavailable, un
		return res, nil
	case errors.Is(err, errNoRequest):
		return res, nil
	case err != nil:
		return res, err
	case reply.Status >= 400:
		res.Outcome = PrefillNotFound
		return res, nil
	}
	var body map[string]any
	if err := json.Unmarshal(reply.Body, &body); err != nil {
		// The gateway validated the body against the plug-in's OpenAPI
		// document; one that is not an object maps nothing.
		res.Outcome = PrefillNotFound
		return res, nil
	}
	res.Answers = map[string]any{}
	for prop, from := range u.Fields {
		if v, ok := lookup(body, from); ok && v != nil {
			res.Answers[prop] = v
		}
	}
	res.Outcome = PrefillFilled
	return res, nil
}

// consentFirst says whether a call of u may be made for the person: ""
// when it carries no personal data or a consent covers it,
// PrefillConsent when they must be asked first, PrefillDeclined when they
// declined (or no consent block is wired).
func (s *Service) consentFirst(ctx context.Context, a Applicant, app *Application, u manifest.PluginUse, declined bool) (string, error) {
	if len(u.Data) == 0 {
		return "", nil
	}
	if declined || s.cfg.Consent == nil {
		return PrefillDeclined, nil
	}
	ok, err := s.cfg.Consent.Covers(ctx, a.AccountID, app.AgencyID, app.ServiceID, u.Plugin, u.Data)
	if err != nil || ok {
		return "", err
	}
	return PrefillConsent, nil
}

// Choice is one choice a page's choices_from offers: the value saved as
// the answer, and the label source (ChoiceLabel writes it for a reader).
type Choice struct {
	Value, Label string
}

// ChoicesResult is what a page's choices_from gave. Outcome is one of the
// Prefill outcomes: PrefillFilled with Choices (PrefillNotFound when the
// list is empty or the plug-in answered a declared 4xx), PrefillConsent,
// PrefillDeclined (no choices: the person can only save for later or go
// back), PrefillUnavailable, or PrefillNone when the page has no
// choices_from or its bindings cannot be evaluated yet.
type ChoicesResult struct {
	Outcome     string
	Field       string // the page's property the choices are for
	Choices     []Choice
	Plugin      string
	Unavailable *Unavailable
}

// Has reports whether value is one of the choices.
func (r ChoicesResult) Has(value string) (Choice, bool) {
	for _, c := range r.Choices {
		if c.Value == value {
			return c, true
		}
	}
	return Choice{}, false
}

// PluginChoices asks the page's choices_from operation for the choices
// of its question, over the answers so far (the page's own are not
// read: its bindings see earlier pages only). It is called to show the
// page and again when the page is posted, so a choice gone meanwhile (a
// time taken by someone else) is refused then.
func (s *Service) PluginChoices(ctx context.Context, a Applicant, app *Application, f *Form, page *Page, declined bool) (ChoicesResult, error) {
	u, ok := f.pluginUse(manifest.UseChoices, page.ID)
	if !ok {
		return ChoicesResult{}, nil
	}
	call := f.choicesCall(page.ID)
	res := ChoicesResult{Plugin: u.Plugin, Field: call.Field}
	if outcome, err := s.consentFirst(ctx, a, app, u, declined); outcome != "" || err != nil {
		res.Outcome = outcome
		return res, err
	}
	reply, err := s.callPlugin(ctx, a, app, f, u, app.Answers)
	var un *Unavailable
	switch {
	case errors.As(err, &un):
		res.Outcome, res.Unavailable = PrefillUnavailable, un
		return res, nil
	case errors.Is(err, errNoRequest):
		return res, nil
	case err != nil:
		return res, err
	case reply.Status >= 400:
		res.Outcome = PrefillNotFound
		return res, nil
	}
	res.Choices = choicesOf(reply.Body, call)
	res.Outcome = PrefillFilled
	if len(res.Choices) == 0 {
		res.Outcome = PrefillNotFound
	}
	return res, nil
}

// choicesOf reads the choices of a choices_from response: the list at
// call.Items, each item's call.Value and call.Label as text. An item
// without a value is skipped (its label alone could not be answered);
// one without a label reads as its value. The gateway validated the body
// against the plug-in's OpenAPI document, so anything else found here is
// a manifest naming the wrong properties: no choices.
func choicesOf(body []byte, call *manifest.PluginCall) []Choice {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	list, _ := lookupAny(doc, call.Items).([]any)
	var out []Choice
	seen := map[string]bool{}
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		v, _ := lookup(m, call.Value)
		value := scalarText(v)
		if value == "" || seen[value] {
			continue
		}
		seen[value] = true
		l, _ := lookup(m, call.Label)
		label := scalarText(l)
		if label == "" {
			label = value
		}
		out = append(out, Choice{Value: value, Label: label})
	}
	return out
}

func lookupAny(body map[string]any, name string) any {
	v, _ := lookup(body, name)
	return v
}

// checkChoice confirms the answer of a choices_from question is one of
// the choices the plug-in offers now, and saves the chosen label into
// the page's label_field. An unanswered question needs no call.
func (s *Service) checkChoice(ctx context.Context, a Applicant, app *Application, f *Form, page *Page, answers map[string]any) ([]Problem, *Unavailable, error) {
	call := f.choicesCall(page.ID)
	if call == nil {
		return nil, nil, nil
	}
	v := scalarText(answers[call.Field])
	if v == "" {
		return nil, nil, nil
	}
	ch, err := s.PluginChoices(ctx, a, app, f, page, false)
	if err != nil || ch.Unavailable != nil {
		return nil, ch.Unavailable, err
	}
	c, ok := ch.Has(v)
	if !ok {
		return []Problem{page.problem(call.Field, "", "apply.error.choice", "")}, nil, nil
	}
	if call.LabelField != "" {
		answers[call.LabelField] = c.Label
	}
	return nil, nil, nil
}

// choicesCall is page's choices_from (nil when it has none).
func (f *Form) choicesCall(page string) *manifest.PluginCall {
	for _, mp := range f.Manifest.Pages {
		if mp.ID == page {
			return mp.ChoicesFrom
		}
	}
	return nil
}

// ChoiceLabel writes a choice's label for a reader: a date-time (RFC
// 3339, as plug-ins send times) as the date and time in the reader's
// language and the jurisdiction's zone ("December 8, 2026, 9:00 AM"),
// anything else as it is.
func ChoiceLabel(label string, f i18n.Formatter) string {
	if t, err := time.Parse(time.RFC3339, label); err == nil {
		return f.DateTime(t)
	}
	return label
}

// ActionConsent returns the plug-in whose workflow actions carry the
// person's data for this service without a consent that covers it: the
// check-your-answers page asks for it before the application is sent,
// as a page asks before its own call (ADR 39). "" when none is needed.
func (s *Service) ActionConsent(ctx context.Context, a Applicant, app *Application, f *Form) (string, error) {
	if s.cfg.Consent == nil {
		return "", nil
	}
	for _, u := range f.rt.PluginUses() {
		if u.Kind != manifest.UseAction || len(u.Data) == 0 {
			continue
		}
		ok, err := s.cfg.Consent.Covers(ctx, a.AccountID, app.AgencyID, app.ServiceID, u.Plugin, u.Data)
		if err != nil {
			return "", err
		}
		if !ok {
			return u.Plugin, nil
		}
	}
	return "", nil
}

// lookup reads a response property; a dotted name reads into objects
// ("registration.expires").
func lookup(body map[string]any, name string) (any, bool) {
	var cur any = body
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// errNoRequest: the use's bindings cannot be evaluated over the answers
// (an answer they read is missing), so no call is made.
var errNoRequest = errors.New("application: the plug-in call's bindings cannot be evaluated")

// callPlugin makes one call of use u over answers.
func (s *Service) callPlugin(ctx context.Context, a Applicant, app *Application, f *Form, u manifest.PluginUse, answers map[string]map[string]any) (PluginReply, error) {
	if s.cfg.Plugins == nil {
		return PluginReply{}, &Unavailable{Plugin: u.Plugin, Key: UnavailableKey, Err: errors.New("no plug-in gateway is wired")}
	}
	now := s.clock.Now().UTC()
	req, err := f.rt.PluginRequest(u.Pointer, manifest.Inputs{Person: a.Person(now), Answers: answers, Now: now})
	if err != nil {
		slog.Warn("application: plug-in request not built", "service", app.ServiceID, "use", u.Where, "err", err)
		return PluginReply{}, errNoRequest
	}
	data, err := manifest.CallData(manifest.Contact{Name: a.LegalName, DateOfBirth: a.DateOfBirth, Email: a.Email, Phone: a.Phone,
		Address: manifest.PostalAddress(a.Residential)}, app.ServiceID, answers, u.Data)
	if err != nil {
		slog.Warn("application: plug-in request not built", "service", app.ServiceID, "use", u.Where, "err", err)
		return PluginReply{}, errNoRequest
	}
	call := PluginCall{Agency: app.AgencyID, Service: app.ServiceID, Person: a.AccountID, Plugin: u.Plugin, Operation: u.Operation,
		Request: req, Data: data}
	start := time.Now()
	reply, err := s.cfg.Plugins.Call(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: a.AccountID}, call)
	if err != nil {
		var un *Unavailable
		if !errors.As(err, &un) {
			// A refusal by the access rights or a broken registration is,
			// for the person, the same: the other system cannot be used.
			un = &Unavailable{Plugin: u.Plugin, Key: UnavailableKey, Err: err}
		}
		if un.Key == "" {
			un.Key = UnavailableKey
		}
		slog.Warn("application: plug-in unavailable", "service", app.ServiceID, "use", u.Where, "took", time.Since(start), "err", err)
		return PluginReply{}, un
	}
	return reply, nil
}

// checkPage runs a page's check over the answers so far with the page's
// new answers. A declared 4xx is the manifest's message on the check's
// field; an unusable answer is an *Unavailable.
func (s *Service) checkPage(ctx context.Context, a Applicant, app *Application, f *Form, page *Page, answers map[string]any) ([]Problem, error) {
	u, ok := f.pluginUse(manifest.UseCheck, page.ID)
	if !ok {
		return nil, nil
	}
	all := maps.Clone(app.Answers)
	if all == nil {
		all = map[string]map[string]any{}
	}
	all[page.ID] = answers
	reply, err := s.callPlugin(ctx, a, app, f, u, all)
	if errors.Is(err, errNoRequest) {
		return nil, nil // nothing to check against: the schema already holds
	}
	if err != nil {
		return nil, err
	}
	if reply.Status < 400 {
		return nil, nil
	}
	var call *manifest.PluginCall
	for _, mp := range f.Manifest.Pages {
		if mp.ID == page.ID {
			call = mp.Check
		}
	}
	pr := Problem{Field: "main-content", Key: "apply.error.check"}
	if call != nil && call.Field != "" {
		pr = page.problem(call.Field, "", "apply.error.check", "")
	}
	if call != nil && call.Message != nil {
		msg := *call.Message
		pr.Message = &msg
	}
	return []Problem{pr}, nil
}

// Fee works out the fee for the answers of app: the manifest's amount or
// expression, or its fee.call's answer. ok is false when the service has
// no fee; an *Unavailable error when the plug-in that gives it cannot.
func (s *Service) Fee(ctx context.Context, a Applicant, app *Application, f *Form, answers map[string]map[string]any) (manifest.Charge, bool, error) {
	now := s.clock.Now().UTC()
	if f.Manifest.Fee == nil || f.Manifest.Fee.Call == nil {
		return f.Fee(answers, a.Person(now), now)
	}
	u, _ := f.pluginUse(manifest.UseFee, "")
	reply, err := s.callPlugin(ctx, a, app, f, u, answers)
	if errors.Is(err, errNoRequest) {
		return manifest.Charge{}, false, &Unavailable{Plugin: u.Plugin, Key: UnavailableKey, Err: err}
	}
	if err != nil {
		return manifest.Charge{}, false, err
	}
	var fee struct {
		Amount   *int64 `json:"amount"`
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(reply.Body, &fee); err != nil || reply.Status >= 300 || fee.Amount == nil || *fee.Amount < 0 {
		return manifest.Charge{}, false, &Unavailable{Plugin: u.Plugin, Key: UnavailableKey,
			Err: fmt.Errorf("fee.call answered %d %s, not {\"amount\": minor units, \"currency\": code}", reply.Status, reply.Body)}
	}
	cur := f.Manifest.Fee.Currency
	if fee.Currency != "" {
		cur = strings.ToUpper(fee.Currency)
	}
	return manifest.Charge{Amount: *fee.Amount, Currency: cur}, true, nil
}

// AgencyName is an agency's name in English and Spanish, for the
// unavailable message (the service's agency when id is "").
func (s *Service) AgencyName(ctx context.Context, id string) manifest.Text {
	ag, err := s.cfg.Agencies.Agency(ctx, id)
	if err != nil {
		return manifest.Text{EN: id, ES: id}
	}
	t := manifest.Text{EN: ag.Name, ES: ag.NameES}
	if t.ES == "" {
		t.ES = t.EN
	}
	return t
}

// ChoicesMessage is the manifest's words for a choices_from that offers
// nothing, if it gives them.
func (f *Form) ChoicesMessage(page string) *manifest.Text {
	if c := f.choicesCall(page); c != nil {
		return c.Message
	}
	return nil
}

// PrefillMessage is the manifest's words for a prefill that found
// nothing, if it gives them.
func (f *Form) PrefillMessage(page string) *manifest.Text {
	for _, mp := range f.Manifest.Pages {
		if mp.ID == page && mp.PrefillFrom != nil {
			return mp.PrefillFrom.Message
		}
	}
	return nil
}
