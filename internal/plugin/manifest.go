package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/portico-gov/portico/internal/yamldoc"
)

//go:embed schema.json
var schemaJSON []byte

// SchemaJSON returns the JSON Schema 2020-12 of the plug-in manifest
// format (a copy).
func SchemaJSON() []byte { return bytes.Clone(schemaJSON) }

var (
	formatSchema = yamldoc.MustCompileSchema("mem:///plugin.json", schemaJSON)
	english      = message.NewPrinter(language.English)
)

// Text is text people read, in English and Spanish.
type Text struct {
	EN string `json:"en"`
	ES string `json:"es"`
}

// Provider is who offers a plug-in: an agency of the platform (Agency),
// or a named private provider (Name, Website, Email).
type Provider struct {
	Agency  string `json:"agency,omitempty"`
	Name    string `json:"name,omitempty"`
	Website string `json:"website,omitempty"`
	Email   string `json:"email,omitempty"`
}

// Private reports whether p is a private provider rather than an agency.
func (p Provider) Private() bool { return p.Agency == "" }

// String names the provider for people: the agency id or the company name.
func (p Provider) String() string {
	if p.Agency != "" {
		return p.Agency
	}
	return p.Name
}

// Operation is one call a plug-in offers, tied to one operation of its
// OpenAPI document.
type Operation struct {
	ID          string `json:"id"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	OperationID string `json:"operation_id"`
	Idempotent  bool   `json:"idempotent"`
	Timeout     string `json:"timeout"`
}

// TimeoutDuration is Timeout as a duration (validated: at most MaxTimeout).
func (o Operation) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(o.Timeout)
	return d
}

// MaxTimeout is the longest an operation may declare it takes.
const MaxTimeout = 30 * time.Second

// Manifest is a plug-in manifest after validation. Field names follow the
// YAML keys.
type Manifest struct {
	ID          string      `json:"id"`
	Version     string      `json:"version,omitempty"`
	Name        Text        `json:"name"`
	Description *Text       `json:"description,omitempty"`
	Provider    Provider    `json:"provider"`
	BaseURL     string      `json:"base_url"`
	OpenAPI     string      `json:"openapi"`
	Operations  []Operation `json:"operations"`
	Data        []string    `json:"data"`
	Events      []string    `json:"events"`
	Webhook     string      `json:"webhook,omitempty"`
}

// Operation returns the operation with id, or false.
func (m *Manifest) Operation(id string) (Operation, bool) {
	for _, o := range m.Operations {
		if o.ID == id {
			return o, true
		}
	}
	return Operation{}, false
}

// Personal data a plug-in may ask for. Besides these, "answers:SERVICE"
// asks for the answers a person gave to the named service's form.
const (
	DataName        = "name"
	DataDateOfBirth = "date_of_birth"
	DataAddress     = "address"
	DataEmail       = "email"
	DataPhone       = "phone"
	DataAnswers     = "answers:" // + service id
)

// Vocabulary is the fixed list of personal data (besides answers:SERVICE).
var Vocabulary = []string{DataName, DataDateOfBirth, DataAddress, DataEmail, DataPhone}

// ValidDatum reports whether d is in the vocabulary or is answers:SERVICE
// with a well-formed service id.
func ValidDatum(d string) bool {
	if slices.Contains(Vocabulary, d) {
		return true
	}
	svc, ok := strings.CutPrefix(d, DataAnswers)
	return ok && slugOK(svc)
}

func slugOK(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Problem is one thing wrong with a manifest: where (File, Line, and the
// field Path as people read it, "operations[1].path") and what.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String renders p as "file:line: path: message".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
}

// Loader reads the OpenAPI document a manifest names (its openapi value):
// a path relative to the manifest file, or an https URL.
type Loader func(ctx context.Context, ref string) ([]byte, error)

// Options say what a validation may consult.
type Options struct {
	// Load reads the OpenAPI document; nil means it cannot be read here,
	// which is a problem.
	Load Loader
	// EventTypes are the event types of the event log; events a manifest
	// asks for must match one. Nil skips the check.
	EventTypes []string
}

// Checked is a valid manifest with its OpenAPI document.
type Checked struct {
	Manifest *Manifest
	// JSON is the manifest as stored (keys sorted).
	JSON []byte
	// OpenAPI is the OpenAPI document as read, and its SHA-256 (hex).
	OpenAPI       []byte
	OpenAPISHA256 string
}

// Validate parses and validates a plug-in manifest src read from file,
// reads its OpenAPI document with opts.Load and checks every operation
// against it. It returns the checked manifest, or every problem found
// (sorted by line). It never panics on bad input.
func Validate(ctx context.Context, file string, src []byte, opts Options) (*Checked, []Problem) {
	v := &checker{file: file}
	d, lms := parseYAML(src)
	for _, lm := range lms {
		v.probs = append(v.probs, Problem{File: file, Line: lm.Line, Message: lm.Msg})
	}
	if len(v.probs) > 0 {
		return nil, v.sorted()
	}
	v.d = d
	js, err := json.Marshal(d.Value)
	if err != nil {
		v.add("", "manifest: cannot be represented as JSON: %v", err)
		return nil, v.sorted()
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		v.add("", "manifest: cannot be represented as JSON: %v", err)
		return nil, v.sorted()
	}
	if verr := formatSchema.Validate(inst); verr != nil {
		var ve *jsonschema.ValidationError
		if errors.As(verr, &ve) {
			v.schemaProblems(ve)
		} else {
			v.add("", "manifest: %v", verr)
		}
		return nil, v.sorted()
	}
	var m Manifest
	if err := json.Unmarshal(js, &m); err != nil {
		v.add("", "manifest: %v", err)
		return nil, v.sorted()
	}
	if m.Data == nil {
		m.Data = []string{}
	}
	if m.Events == nil {
		m.Events = []string{}
	}
	v.check(&m, opts)
	var oas []byte
	if len(v.probs) == 0 {
		oas = v.checkOpenAPI(ctx, &m, opts.Load)
	}
	if len(v.probs) > 0 {
		return nil, v.sorted()
	}
	out, err := json.Marshal(m)
	if err != nil {
		v.add("", "manifest: %v", err)
		return nil, v.sorted()
	}
	sum := sha256.Sum256(oas)
	return &Checked{Manifest: &m, JSON: out, OpenAPI: oas, OpenAPISHA256: hex.EncodeToString(sum[:])}, nil
}

type checker struct {
	file  string
	d     doc
	probs []Problem
}

func (v *checker) add(ptr, format string, args ...any) {
	v.probs = append(v.probs, Problem{File: v.file, Line: lineOf(v.d, ptr), Path: pathOf(ptr), Message: fmt.Sprintf(format, args...)})
}

func (v *checker) sorted() []Problem {
	slices.SortFunc(v.probs, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.Compact(v.probs)
}

func (v *checker) schemaProblems(e *jsonschema.ValidationError) {
	yamldoc.SchemaLeaves(e, v.schemaProblem)
}

func (v *checker) schemaProblem(ptr string, e *jsonschema.ValidationError) {
	where := pathOf(ptr)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			v.add(ptr+"/"+escapePtr(p), "%s: unknown key %q", where, p)
		}
		return
	case *kind.Required:
		for _, p := range k.Missing {
			v.add(ptr, "%s: %q is required", where, p)
		}
		return
	case *kind.Pattern:
		v.add(ptr, "%s: %s", where, patternMessage(k))
		return
	}
	v.add(ptr, "%s: %s", where, e.ErrorKind.LocalizedString(english))
}

func patternMessage(k *kind.Pattern) string {
	switch {
	case strings.Contains(k.Want, "date_of_birth"):
		return fmt.Sprintf("%q is not personal data Portico can share: use name, date_of_birth, address, email, phone or answers:SERVICE-ID", k.Got)
	case strings.Contains(k.Want, "(ms|s)"):
		return fmt.Sprintf("%q must be a duration in whole milliseconds or seconds, such as 500ms or 5s", k.Got)
	case strings.Contains(k.Want, "gov\\.portico"):
		return fmt.Sprintf("%q must be an event type such as gov.portico.case.opened, or a prefix ending in .* such as gov.portico.case.*", k.Got)
	case strings.Contains(k.Want, "{0,62}[a-z0-9]"):
		return fmt.Sprintf("%q must be 1 to 64 lowercase letters, digits or hyphens, starting and ending with a letter or digit", k.Got)
	case strings.Contains(k.Want, "[a-z0-9_-]{0,62}"):
		return fmt.Sprintf("%q must be a lowercase letter followed by up to 62 lowercase letters, digits, hyphens or underscores", k.Got)
	case strings.Contains(k.Want, "0-9A-Za-z"):
		return fmt.Sprintf("%q must be a version label such as 1.4.0", k.Got)
	}
	return k.LocalizedString(english)
}

// checkURL checks a URL Portico will call: https with a host, or http
// only for a loopback host (tests and the demo); no user, query or
// fragment.
func checkURL(raw string) string {
	if !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n\x00") {
		return fmt.Sprintf("%q is not a URL", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute URL", raw)
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return fmt.Sprintf("%q must not carry a user name, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return fmt.Sprintf("%q must use https (http is allowed only for localhost and loopback addresses, in tests and the demo)", raw)
		}
	default:
		return fmt.Sprintf("%q must be an https URL", raw)
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *checker) check(m *Manifest, opts Options) {
	p := m.Provider
	switch {
	case p.Agency != "" && (p.Name != "" || p.Website != "" || p.Email != ""):
		v.add("/provider", "provider: give either agency (an agency of the platform) or name, website and email (a private provider), not both")
	case p.Agency == "":
		if p.Name == "" || p.Website == "" || p.Email == "" {
			v.add("/provider", "provider: give agency (an agency of the platform), or the name, website and email of a private provider")
			break
		}
		if msg := checkURL(p.Website); msg != "" || !strings.HasPrefix(p.Website, "https://") {
			v.add("/provider/website", "provider.website: %q must be an https URL", p.Website)
		}
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			v.add("/provider/email", "provider.email: %q is not an email address", p.Email)
		}
	}
	if msg := checkURL(m.BaseURL); msg != "" {
		v.add("/base_url", "base_url: %s", msg)
	} else if u, _ := url.Parse(m.BaseURL); strings.HasSuffix(u.Path, "/") && u.Path != "/" {
		v.add("/base_url", "base_url: %q must not end with /; operation paths start with /", m.BaseURL)
	}
	if m.Webhook != "" {
		if msg := checkURL(m.Webhook); msg != "" {
			v.add("/webhook", "webhook: %s", msg)
		}
	}
	ids := map[string]int{}
	routes := map[string]int{}
	for i, o := range m.Operations {
		ptr := "/operations/" + strconv.Itoa(i)
		where := pathOf(ptr)
		if j, dup := ids[o.ID]; dup {
			v.add(ptr+"/id", "%s.id: operation id %q is also used by operations[%d]", where, o.ID, j)
		} else {
			ids[o.ID] = i
		}
		route := o.Method + " " + o.Path
		if j, dup := routes[route]; dup {
			v.add(ptr+"/path", "%s.path: %s is also operations[%d]", where, route, j)
		} else {
			routes[route] = i
		}
		if !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, "?# \t") {
			v.add(ptr+"/path", "%s.path: %q must start with / and have no query, fragment or spaces", where, o.Path)
		}
		if d, err := time.ParseDuration(o.Timeout); err != nil || d > MaxTimeout {
			v.add(ptr+"/timeout", "%s.timeout: %s is longer than the %s an operation may take", where, o.Timeout, MaxTimeout)
		}
	}
	for i, e := range m.Events {
		if opts.EventTypes != nil && !eventKnown(e, opts.EventTypes) {
			v.add("/events/"+strconv.Itoa(i), "events[%d]: %q is not an event type of the event log (known: %s)", i, e, strings.Join(opts.EventTypes, ", "))
		}
	}
	if len(m.Events) > 0 && m.Webhook == "" {
		v.add("/events", "events: a plug-in that asks for events needs a webhook URL to receive them")
	}
}

// eventKnown reports whether pattern (a type, or a prefix ending in .*)
// matches one of known.
func eventKnown(pattern string, known []string) bool {
	prefix, wild := strings.CutSuffix(pattern, "*")
	for _, k := range known {
		if k == pattern || wild && strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// checkOpenAPI reads the manifest's OpenAPI document, checks that it is a
// valid OpenAPI 3.0 or 3.1 document and that each operation is in it with
// its schemas. It returns the document.
func (v *checker) checkOpenAPI(ctx context.Context, m *Manifest, load Loader) []byte {
	if load == nil {
		v.add("/openapi", "openapi: %s cannot be read here", m.OpenAPI)
		return nil
	}
	src, err := load(ctx, m.OpenAPI)
	if err != nil {
		v.add("/openapi", "openapi: cannot read %s: %v", m.OpenAPI, err)
		return nil
	}
	if len(src) > MaxOpenAPISize {
		v.add("/openapi", "openapi: %s is %d bytes; an OpenAPI document may be at most %d", m.OpenAPI, len(src), MaxOpenAPISize)
		return nil
	}
	model, msg := parseOpenAPI(src)
	if msg != "" {
		v.add("/openapi", "openapi: %s: %s", m.OpenAPI, msg)
		return nil
	}
	for i, o := range m.Operations {
		v.checkOperation(i, o, model)
	}
	return src
}

// parseOpenAPI builds the model of an OpenAPI 3.0/3.1 document, refusing
// external references, or says what is wrong.
func parseOpenAPI(src []byte) (model *v3.Document, msg string) {
	defer func() {
		if r := recover(); r != nil {
			model, msg = nil, fmt.Sprintf("the document cannot be read (%v)", r)
		}
	}()
	d, err := libopenapi.NewDocumentWithConfiguration(src, &datamodel.DocumentConfiguration{})
	if err != nil {
		return nil, "not an OpenAPI document: " + oneLine(err.Error())
	}
	ver := d.GetVersion()
	if !strings.HasPrefix(ver, "3.0") && !strings.HasPrefix(ver, "3.1") {
		return nil, fmt.Sprintf("the document is version %q; Portico reads OpenAPI 3.0 and 3.1", ver)
	}
	val, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, "not a valid OpenAPI document: " + oneLine(errors.Join(errs...).Error())
	}
	if ok, verrs := val.ValidateDocument(); !ok {
		var parts []string
		for _, e := range verrs {
			if len(e.SchemaValidationErrors) == 0 {
				parts = append(parts, e.Message+": "+e.Reason)
			}
			for _, f := range e.SchemaValidationErrors {
				where := f.FieldPath
				if f.Line > 0 {
					where = fmt.Sprintf("line %d", f.Line)
				}
				parts = append(parts, strings.TrimSpace(where+" "+f.Reason))
			}
			if len(parts) >= 5 {
				break
			}
		}
		return nil, "not a valid OpenAPI document: " + oneLine(strings.Join(parts, "; "))
	}
	dm, err := d.BuildV3Model()
	if err != nil || dm == nil {
		if err == nil {
			err = errors.New("no model")
		}
		return nil, "the document cannot be read: " + oneLine(err.Error())
	}
	return &dm.Model, ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

func opFor(item *v3.PathItem, method string) *v3.Operation {
	switch method {
	case "GET":
		return item.Get
	case "POST":
		return item.Post
	case "PUT":
		return item.Put
	case "PATCH":
		return item.Patch
	case "DELETE":
		return item.Delete
	}
	return nil
}

func (v *checker) checkOperation(i int, o Operation, model *v3.Document) {
	ptr := "/operations/" + strconv.Itoa(i)
	where := pathOf(ptr)
	var item *v3.PathItem
	if model.Paths != nil && model.Paths.PathItems != nil {
		item = model.Paths.PathItems.GetOrZero(o.Path)
	}
	if item == nil {
		v.add(ptr+"/path", "%s.path: %s is not in the OpenAPI document", where, o.Path)
		return
	}
	op := opFor(item, o.Method)
	if op == nil {
		v.add(ptr+"/method", "%s.method: the OpenAPI document has no %s operation at %s", where, o.Method, o.Path)
		return
	}
	route := o.Method + " " + o.Path
	switch {
	case op.OperationId == "":
		v.add(ptr+"/operation_id", "%s.operation_id: %s has no operationId in the OpenAPI document (expected %q)", where, route, o.OperationID)
	case op.OperationId != o.OperationID:
		v.add(ptr+"/operation_id", "%s.operation_id: %s has operationId %q in the OpenAPI document, not %q", where, route, op.OperationId, o.OperationID)
	}
	if o.Method == "POST" || o.Method == "PUT" || o.Method == "PATCH" {
		if op.RequestBody == nil || jsonSchema(op.RequestBody.Content) == "" {
			v.add(ptr, "%s: %s has no request body schema in the OpenAPI document (requestBody.content.application/json.schema)", where, route)
		} else if msg := jsonSchema(op.RequestBody.Content); msg != "ok" {
			v.add(ptr, "%s: %s: the request body schema cannot be read: %s", where, route, msg)
		}
	}
	ok := 0
	if op.Responses != nil && op.Responses.Codes != nil {
		for code, resp := range op.Responses.Codes.FromOldest() {
			if len(code) != 3 || code[0] != '2' {
				continue
			}
			if code == "204" {
				ok++
				continue
			}
			switch msg := jsonSchema(resp.Content); msg {
			case "ok":
				ok++
			case "":
				v.add(ptr, "%s: %s: response %s has no JSON schema in the OpenAPI document (content.application/json.schema)", where, route, code)
				ok = -1000
			default:
				v.add(ptr, "%s: %s: the schema of response %s cannot be read: %s", where, route, code, msg)
				ok = -1000
			}
		}
	}
	if ok == 0 {
		v.add(ptr, "%s: %s documents no successful (2xx) response in the OpenAPI document", where, route)
	}
}

// jsonSchema finds the JSON media type (application/json or a +json type)
// in content and checks its schema builds: "ok", "" when there is none, or
// the reason it does not build.
func jsonSchema(content *orderedmap.Map[string, *v3.MediaType]) string {
	if content == nil {
		return ""
	}
	for mt, media := range content.FromOldest() {
		base, _, _ := strings.Cut(mt, ";")
		base = strings.TrimSpace(strings.ToLower(base))
		if base != "application/json" && !strings.HasSuffix(base, "+json") {
			continue
		}
		if media == nil || media.Schema == nil {
			return ""
		}
		if media.Schema.Schema() == nil {
			if err := media.Schema.GetBuildError(); err != nil {
				return oneLine(err.Error())
			}
			return "the schema is empty"
		}
		return "ok"
	}
	return ""
}
