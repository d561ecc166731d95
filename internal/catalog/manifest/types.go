// Package manifest parses and validates service manifests: the YAML files
// in which an agency describes a service (who offers it, who is eligible,
// its form pages, fee, workflow, documents and reminders). It has no
// storage of its own; the catalog block stores published versions.
//
// Validation runs in passes and reports every problem it can find as a
// Problem with the file, the YAML line and a plain message:
//
//  1. YAML syntax (plus: no anchors or aliases, no duplicate keys, at most
//     MaxSize bytes and MaxDepth levels).
//  2. extend: the manifest is merged over the base service it names (see
//     Merge for the rule).
//  3. The JSON Schema of the format itself (schema.json, embedded).
//  4. Semantic checks: CEL expressions compile and type-check with the right
//     result type, page schemas are valid JSON Schema 2020-12, field hints
//     name properties that exist and their widgets fit the property types,
//     the workflow is well formed, and actions refer to documents,
//     reminders and a fee that exist.
//  5. Optionally, references to the database (agency, jurisdictions).
package manifest

import (
	"encoding/json"
	"strings"
)

// Text is a piece of text shown to people, in English and Spanish.
type Text struct {
	EN string `json:"en"`
	ES string `json:"es"`
}

// Manifest is a service manifest after validation (and after extend has
// been resolved). Field names follow the YAML keys.
type Manifest struct {
	ID            string      `json:"id"`
	Version       int         `json:"version"`
	Agency        string      `json:"agency"`
	Extend        *Extend     `json:"extend,omitempty"`
	Jurisdictions []string    `json:"jurisdictions"`
	Title         Text        `json:"title"`
	Summary       Text        `json:"summary"`
	Category      string      `json:"category"`
	Keywords      Keywords    `json:"keywords"`
	LifeEvents    []string    `json:"life_events,omitempty"`
	Kind          Kind        `json:"kind"`
	Maturity      string      `json:"maturity"`
	Eligibility   Eligibility `json:"eligibility,omitempty"`
	// Declaration is what the person confirms before sending (nil: the
	// kind's default, see AsksDeclaration).
	Declaration *Declaration        `json:"declaration,omitempty"`
	Pages       []Page              `json:"pages"`
	Fee         *Fee                `json:"fee,omitempty"`
	Workflow    Workflow            `json:"workflow"`
	Documents   map[string]Document `json:"documents,omitempty"`
	Reminders   map[string]Reminder `json:"reminders,omitempty"`
	// Appointment, when set, is an appointment a call_plugin action
	// books (from its recorded values), shown on the applicant's case
	// page.
	Appointment *Appointment `json:"appointment,omitempty"`
}

// Appointment names where a booked appointment's facts are: StartsAt
// and EndsAt are recorded names (call_plugin's record) holding RFC 3339
// times; Place is "page.property", a page property asked with options,
// whose chosen option names the place.
type Appointment struct {
	StartsAt string `json:"starts_at"`
	EndsAt   string `json:"ends_at,omitempty"`
	Place    string `json:"place,omitempty"`
}

// LifeEvents are the moments in a person's life a service may belong to
// (a manifest's life_events), in the order the front door shows them.
// schema.json lists the same ids; a test keeps them in step.
var LifeEvents = []string{"moving", "having-a-baby", "starting-a-business", "turning-16", "retiring"}

// Extend names the published service version a manifest builds on.
type Extend struct {
	Service string `json:"service"`
	Version int    `json:"version"`
}

// Keywords help people find the service in each language.
type Keywords struct {
	EN []string `json:"en"`
	ES []string `json:"es"`
}

// Page is one page of the form. Schema is a JSON Schema 2020-12 for the
// page's answers (an object); Fields gives presentation hints per property.
type Page struct {
	ID     string           `json:"id"`
	Title  Text             `json:"title"`
	When   string           `json:"when,omitempty"`
	Schema json.RawMessage  `json:"schema"`
	Fields map[string]Field `json:"fields,omitempty"`
	// Order lists the schema's properties in the order the manifest's
	// YAML wrote them. Validation records it (authors never write it):
	// the stored schema is JSON whose keys are sorted, so this is the
	// only record of the order in which the form asks its questions.
	Order []string `json:"order,omitempty"`
	// PrefillFrom names a plug-in operation whose answer prefills the
	// page's fields; Check one that checks the page's answers.
	PrefillFrom *PluginCall `json:"prefill_from,omitempty"`
	Check       *PluginCall `json:"check,omitempty"`
	// ChoicesFrom names a plug-in operation whose answer lists the
	// choices of one of the page's questions (Field): free times at a
	// counter, the offices near the person. See PluginCall.Items.
	ChoicesFrom *PluginCall `json:"choices_from,omitempty"`
}

// PluginCall names an operation of a registered plug-in
// ("vehicle-registry/find-vehicle") and the personal data the call
// carries (the plug-in vocabulary: name, date_of_birth, address, email,
// phone, answers:SERVICE). For a prefill, Fields maps page properties to
// properties of the operation's response.
//
// Path, Query and Body build the request: each value is a CEL expression
// over person, now and answers (the answers given so far) whose result
// fills the operation path's {parameter}, a query parameter or a
// property of the JSON body (Runtime.PluginRequest).
//
// For a check, Message is what the page says when the operation answers
// that the answer does not hold (a declared 4xx), beside Field, the
// page's property it is about; for a prefill, what the page says when
// the operation finds nothing (docs/services.md, "Plug-in calls").
type PluginCall struct {
	Plugin  string            `json:"plugin"`
	Data    []string          `json:"data,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
	Message *Text             `json:"message,omitempty"`
	Field   string            `json:"field,omitempty"`
	// Items, Value and Label are a choices_from's: the response property
	// holding the list (dotted for one inside an object), and each
	// item's properties that give the choice's value (what is saved as
	// the answer of Field) and its label (what the person reads; a
	// date-time reads as the date and time in their language).
	// LabelField, when set, is a string property of the page where the
	// chosen item's label is saved beside the value, so summaries show
	// the choice as the person saw it; the form does not ask it.
	Items      string `json:"items,omitempty"`
	Value      string `json:"value,omitempty"`
	Label      string `json:"label,omitempty"`
	LabelField string `json:"label_field,omitempty"`
	Bindings
}

// Bindings are the CEL expressions that build a plug-in request: path
// parameters and query parameters (each must give a string or an int)
// and properties of the JSON body (any value).
type Bindings struct {
	Path  map[string]string `json:"path,omitempty"`
	Query map[string]string `json:"query,omitempty"`
	Body  map[string]string `json:"body,omitempty"`
}

// Split returns the plug-in id and the operation id of c.Plugin.
func (c PluginCall) Split() (plugin, operation string) {
	plugin, operation, _ = strings.Cut(c.Plugin, "/")
	return plugin, operation
}

// Field is how one property of a page is presented.
type Field struct {
	Label  Text   `json:"label"`
	Hint   *Text  `json:"hint,omitempty"`
	Widget string `json:"widget"`
	// Prefill names a fact of the applicant's profile the form offers as
	// the starting answer (one of Prefills). The person sees it and may
	// change it; it is never submitted without being shown.
	Prefill string `json:"prefill,omitempty"`
	// Accept and MaxBytes limit a file widget: the kinds of file taken
	// (FileKinds; default all) and the largest size (default 10 MiB).
	Accept   []string `json:"accept,omitempty"`
	MaxBytes int64    `json:"max_bytes,omitempty"`
	// Options label the choices of a radios, select or checkboxes widget
	// in both languages, by enum value. A value without a label is shown
	// tidied ("home_based" reads "Home based").
	Options map[string]Text `json:"options,omitempty"`
}

// Prefills lists the profile facts a field may be prefilled from, and the
// widget each fits.
var Prefills = map[string][]string{
	"profile.legal_name":          {"text"},
	"profile.date_of_birth":       {"date"},
	"profile.email":               {"email", "text"},
	"profile.phone":               {"tel", "text"},
	"profile.residential_address": {"address"},
	"profile.mailing_address":     {"address"},
}

// FileKinds are the kinds of file a file widget may accept, with the
// content type their content must sniff as.
var FileKinds = map[string]string{"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}

// Fee is what the service costs: a fixed Amount or a CEL Expression, both in
// minor units (cents) of Currency.
type Fee struct {
	Currency   string `json:"currency"`
	Amount     *int64 `json:"amount,omitempty"`
	Expression string `json:"expression,omitempty"`
	// Call computes the fee with a plug-in operation.
	Call *PluginCall `json:"call,omitempty"`
}

// Workflow is the state machine a case follows after submission.
type Workflow struct {
	Initial     string           `json:"initial"`
	States      map[string]State `json:"states"`
	Transitions []Transition     `json:"transitions"`
}

// State is one workflow state. SLA is how long a case may stay in it
// (a Duration); terminal states have no SLA and no way out.
type State struct {
	Title    Text     `json:"title"`
	Terminal bool     `json:"terminal,omitempty"`
	SLA      string   `json:"sla,omitempty"`
	OnEnter  []Action `json:"on_enter,omitempty"`
}

// Transition is a move between states that By may take when Guard holds.
type Transition struct {
	ID    string   `json:"id"`
	From  string   `json:"from"`
	To    string   `json:"to"`
	By    []string `json:"by"`
	Guard string   `json:"guard,omitempty"`
	Label Text     `json:"label"`
}

// Action is something done on entering a state; exactly one field is set.
type Action struct {
	Notify         *NotifyAction   `json:"notify,omitempty"`
	RequestPayment *PaymentAction  `json:"request_payment,omitempty"`
	IssueDocument  *DocumentAction `json:"issue_document,omitempty"`
	SetReminder    *ReminderAction `json:"set_reminder,omitempty"`
	CallPlugin     *PluginAction   `json:"call_plugin,omitempty"`
}

// NotifyAction sends Message to the citizen or to the agency's staff.
type NotifyAction struct {
	To      string `json:"to"`
	Message Text   `json:"message"`
}

// PaymentAction asks the citizen to pay the service's fee, within Due.
type PaymentAction struct {
	Due string `json:"due,omitempty"`
}

// DocumentAction issues one of the service's documents.
type DocumentAction struct {
	Document string `json:"document"`
}

// ReminderAction sets one of the service's reminders.
type ReminderAction struct {
	Reminder string `json:"reminder"`
}

// PluginAction calls Operation on an installed plug-in. Its Bindings may
// also read `case` (id, reference, service, state) besides person, now
// and the case's answers.
type PluginAction struct {
	Plugin    string   `json:"plugin"`
	Operation string   `json:"operation"`
	Data      []string `json:"data,omitempty"` // personal data the call carries
	Bindings
	// Decide, when set, lets the plug-in's answer move the case on: the
	// value of the response's property From picks a transition, which
	// the workflow takes as the plugin actor (its by must allow plugin;
	// its guard still applies).
	Decide *Decision `json:"decide,omitempty"`
	// Record keeps properties of a 2xx answer on the case (recorded name
	// → the response's top-level property, a string, number or
	// boolean), for later calls' bindings (recorded.NAME) and for the
	// applicant's page (Appointment). Forget removes recorded names on a
	// 2xx answer: what they named is gone (a cancelled booking).
	Record map[string]string `json:"record,omitempty"`
	Forget []string          `json:"forget,omitempty"`
}

// Decision maps the value of one property of a plug-in's JSON response
// (From, a top-level property; a string, or a number or boolean as
// written in JSON) to the id of a transition out of the action's state.
// A value not in Transitions leaves the case for staff.
type Decision struct {
	From        string            `json:"from"`
	Transitions map[string]string `json:"transitions"`
}

// Document is something the service issues (a licence, a certificate).
// ValidFor, a Duration, is how long it is valid; empty means no expiry.
type Document struct {
	Title    Text   `json:"title"`
	ValidFor string `json:"valid_for,omitempty"`
}

// Reminder is a message sent to the citizen After it is set, or Before the
// expiry of Document.
type Reminder struct {
	Message  Text   `json:"message"`
	After    string `json:"after,omitempty"`
	Before   string `json:"before,omitempty"`
	Document string `json:"document,omitempty"`
}

// Kinds of service, staff roles and widgets, as the format allows them.
var (
	Maturities = []string{"alpha", "beta", "live"}
	StaffRoles = []string{"agency_admin", "caseworker", "finance", "auditor"}
	Actors     = append([]string{"citizen", "system", "plugin"}, StaffRoles...)
	Widgets    = []string{"text", "textarea", "number", "date", "address", "radios", "checkboxes", "select", "file", "email", "tel"}
)
