// Package open311api serves the report block as Open311 GeoReport v2 at
// /open311/v2/ (docs/open311.md): discovery, services and their
// definitions, creating and reading service requests, and tokens, each in
// XML and JSON (the path's extension chooses), with the spec's error
// format (an array of {code, description}) and HTTP statuses 400, 403 and
// 404. Public answers never carry a reporter's email, name or phone.
package open311api

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"

	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/web"
)

// Specification is the GeoReport v2 specification the endpoint follows.
const Specification = "http://wiki.open311.org/GeoReport_v2"

// Config is the API's wiring.
type Config struct {
	PublicURL func() string
	// Contact is discovery's contact line; KeyService says how to get an
	// api_key.
	Contact    string
	KeyService string
	Logger     *slog.Logger
}

// API is the Open311 endpoint.
type API struct {
	svc *report.Service
	cfg Config
}

// New returns the API.
func New(svc *report.Service, cfg Config) (*API, error) {
	if err := platform.Required("open311api",
		platform.Dep{Name: "report block", Missing: svc == nil},
		platform.Dep{Name: "public URL", Missing: cfg.PublicURL == nil},
		platform.Dep{Name: "logger", Missing: cfg.Logger == nil}); err != nil {
		return nil, err
	}
	return &API{svc: svc, cfg: cfg}, nil
}

// Register adds the routes. POST requests.{fmt} authenticates every
// request by its api_key and never by a cookie, so pages on other sites
// may send it.
func Register(s *web.Server, a *API) {
	s.HandleFunc("GET /open311/v2/{file}", a.root)
	s.HandleFunc("POST /open311/v2/{file}", a.create)
	s.HandleFunc("GET /open311/v2/services/{file}", a.definition)
	s.HandleFunc("GET /open311/v2/requests/{file}", a.request)
	s.HandleFunc("GET /open311/v2/tokens/{file}", a.token)
	s.AllowCrossOrigin("POST /open311/v2/{file}")
}

// format splits "name.fmt" into name and format; ok is false for a format
// other than xml or json.
func format(file string) (name, f string, ok bool) {
	i := strings.LastIndexByte(file, '.')
	if i <= 0 {
		return file, "xml", false
	}
	name, f = file[:i], strings.ToLower(file[i+1:])
	return name, f, f == "xml" || f == "json"
}

// write sends v as XML (xmlv, the document's root) or JSON (jsonv).
func (a *API) write(w http.ResponseWriter, f string, status int, xmlv, jsonv any) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	if f == "json" {
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(jsonv)
		return
	}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(xmlv)
}

type xmlErrors struct {
	XMLName xml.Name   `xml:"errors"`
	Errors  []apiError `xml:"error"`
}

// fail sends errs (all of one status) in the spec's error format.
func (a *API) fail(w http.ResponseWriter, f string, errs []apiError) {
	status := errs[0].Code
	a.write(w, f, status, xmlErrors{Errors: errs}, errs)
}

func (a *API) failOne(w http.ResponseWriter, f string, code int, description string) {
	a.fail(w, f, []apiError{{Code: code, Description: description}})
}

// failErr maps a block error to the spec's statuses; internal errors are
// logged and answered without detail.
func (a *API) failErr(w http.ResponseWriter, r *http.Request, f string, err error) {
	if fe, ok := report.IsFieldErrors(err); ok {
		a.fail(w, f, fieldErrors(fe))
		return
	}
	var pe *platform.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case platform.CodeNotFound:
			a.failOne(w, f, http.StatusNotFound, pe.Message)
			return
		case platform.CodeInvalid:
			a.failOne(w, f, http.StatusBadRequest, pe.Message)
			return
		case platform.CodeForbidden, platform.CodeUnauthorized:
			a.failOne(w, f, http.StatusForbidden, pe.Message)
			return
		}
	}
	a.cfg.Logger.ErrorContext(r.Context(), "open311", "err", err, "request_id", platform.RequestIDFrom(r.Context()))
	a.failOne(w, f, http.StatusInternalServerError, "The request could not be completed. Please try again later.")
}

// fieldErrors turns the block's field errors into 400s, described in
// English from the message catalogue, sorted by field.
func fieldErrors(fe report.FieldErrors) []apiError {
	fields := make([]string, 0, len(fe))
	for f := range fe {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	out := make([]apiError, 0, len(fields))
	for _, f := range fields {
		name := f
		if f == "location" {
			name = "lat/long, address_string or address_id"
		}
		if f == "address" {
			name = "address_string"
		}
		out = append(out, apiError{Code: http.StatusBadRequest, Description: name + ": " + i18n.Messages().T("en", fe[f])})
	}
	return out
}

// jurisdiction checks jurisdiction_id: "" is every jurisdiction; one
// without report-a-problem services is not found.
func (a *API) jurisdiction(ctx context.Context, w http.ResponseWriter, f, id string) bool {
	if id == "" {
		return true
	}
	ok, err := a.svc.HasJurisdiction(ctx, id)
	if err == nil && ok {
		return true
	}
	a.failOne(w, f, http.StatusNotFound, "jurisdiction_id not found: "+truncate(id))
	return false
}

func (a *API) datetime(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(a.svc.Zone(ctx)).Format(time.RFC3339)
}

// begin reads a sub-resource's "{id}.{fmt}" and checks the format and
// jurisdiction_id; when ok is false the error has been sent.
func (a *API) begin(w http.ResponseWriter, r *http.Request) (name, f string, ok bool) {
	name, f, ok = format(r.PathValue("file"))
	if !ok {
		a.failOne(w, "xml", http.StatusNotFound, "Not found: the path ends in .xml or .json.")
		return "", "", false
	}
	if !a.jurisdiction(r.Context(), w, f, strings.TrimSpace(r.URL.Query().Get("jurisdiction_id"))) {
		return "", "", false
	}
	return name, f, true
}

// root serves discovery.{fmt}, services.{fmt} and GET requests.{fmt}.
func (a *API) root(w http.ResponseWriter, r *http.Request) {
	name, f, ok := format(r.PathValue("file"))
	if !ok {
		a.failOne(w, "xml", http.StatusNotFound, "Not found: the path ends in .xml or .json.")
		return
	}
	switch name {
	case "discovery":
		a.discovery(w, r, f)
	case "services":
		a.services(w, r, f)
	case "requests":
		a.requests(w, r, f)
	default:
		a.failOne(w, f, http.StatusNotFound, "Not found.")
	}
}

type endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type discoveryDoc struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

func (a *API) discovery(w http.ResponseWriter, r *http.Request, f string) {
	svcs, err := a.svc.Services(r.Context(), "")
	if err != nil {
		a.failErr(w, r, f, err)
		return
	}
	var changed time.Time
	for _, s := range svcs {
		if s.UpdatedAt.After(changed) {
			changed = s.UpdatedAt
		}
	}
	cs := changed.UTC().Format(time.RFC3339)
	d := discoveryDoc{Changeset: cs, Contact: a.cfg.Contact, KeyService: a.cfg.KeyService,
		Endpoints: []endpoint{{Specification: Specification, URL: strings.TrimRight(a.cfg.PublicURL(), "/") + "/open311/v2/", Changeset: cs,
			Type: "production", Formats: []string{"text/xml", "application/json"}}}}
	a.write(w, f, http.StatusOK, d, d)
}

type serviceDoc struct {
	ServiceCode string `json:"service_code" xml:"service_code"`
	ServiceName string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

type xmlServices struct {
	XMLName  xml.Name     `xml:"services"`
	Services []serviceDoc `xml:"service"`
}

func (a *API) services(w http.ResponseWriter, r *http.Request, f string) {
	j := strings.TrimSpace(r.URL.Query().Get("jurisdiction_id"))
	if !a.jurisdiction(r.Context(), w, f, j) {
		return
	}
	svcs, err := a.svc.Services(r.Context(), j)
	if err != nil {
		a.failErr(w, r, f, err)
		return
	}
	svcs = report.Offered(svcs)
	out := make([]serviceDoc, len(svcs))
	for i, s := range svcs {
		out[i] = serviceDoc{ServiceCode: s.Code, ServiceName: s.Name, Description: s.Description, Metadata: s.Metadata(),
			Type: "realtime", Keywords: strings.Join(s.Keywords, ", "), Group: s.Group}
	}
	a.write(w, f, http.StatusOK, xmlServices{Services: out}, out)
}

type valueDoc struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

type attributeDoc struct {
	Variable            bool       `json:"variable" xml:"variable"`
	Code                string     `json:"code" xml:"code"`
	Datatype            string     `json:"datatype" xml:"datatype"`
	Required            bool       `json:"required" xml:"required"`
	DatatypeDescription *string    `json:"datatype_description" xml:"datatype_description"`
	Order               int        `json:"order" xml:"order"`
	Description         string     `json:"description" xml:"description"`
	Values              []valueDoc `json:"values,omitempty" xml:"values>value,omitempty"`
}

type definitionDoc struct {
	XMLName     xml.Name       `json:"-" xml:"service_definition"`
	ServiceCode string         `json:"service_code" xml:"service_code"`
	Attributes  []attributeDoc `json:"attributes" xml:"attributes>attribute"`
}

// datatypeDescription says what a value of a datatype looks like.
var datatypeDescription = map[string]string{
	"number":   "A number, such as 3 or 2.5.",
	"datetime": "A W3C datetime, such as 2026-04-14T06:37:38-06:00.",
}

func (a *API) definition(w http.ResponseWriter, r *http.Request) {
	code, f, ok := a.begin(w, r)
	if !ok {
		return
	}
	s, err := a.svc.ServiceByCode(r.Context(), code)
	if err == nil && s.Disabled {
		err = platform.Errorf(platform.CodeNotFound, "No such service.")
	}
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			a.failOne(w, f, http.StatusNotFound, "service_code not found: "+truncate(code))
			return
		}
		a.failErr(w, r, f, err)
		return
	}
	d := definitionDoc{ServiceCode: s.Code, Attributes: []attributeDoc{}}
	for _, at := range s.Attributes {
		ad := attributeDoc{Variable: at.Variable(), Code: at.Code, Datatype: at.Datatype, Required: at.Required, Order: at.Order, Description: at.Description}
		if desc, ok := datatypeDescription[at.Datatype]; ok {
			ad.DatatypeDescription = &desc
		}
		for _, v := range at.Values {
			ad.Values = append(ad.Values, valueDoc{Key: v.Key, Name: v.Name})
		}
		d.Attributes = append(d.Attributes, ad)
	}
	a.write(w, f, http.StatusOK, d, d)
}

// createdDoc is the answer to POST requests.{fmt}: the id at once (Portico
// creates requests synchronously) and the token, for clients that follow
// the token flow.
type createdDoc struct {
	ServiceRequestID string  `json:"service_request_id" xml:"service_request_id"`
	Token            string  `json:"token" xml:"token"`
	ServiceNotice    string  `json:"service_notice" xml:"service_notice"`
	AccountID        *string `json:"account_id" xml:"account_id"`
}

type xmlCreated struct {
	XMLName  xml.Name     `xml:"service_requests"`
	Requests []createdDoc `xml:"request"`
}

// maxForm is the largest form body POST requests.{fmt} reads.
const maxForm = 64 << 10

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	name, f, ok := format(r.PathValue("file"))
	if !ok || name != "requests" {
		if !ok {
			f = "xml"
		}
		a.failOne(w, f, http.StatusNotFound, "Not found.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		a.failOne(w, f, http.StatusBadRequest, "The body must be form-encoded fields (application/x-www-form-urlencoded) of at most 64 KiB.")
		return
	}
	c, errs := ParseCreate(r.PostForm)
	if strings.TrimSpace(c.APIKey) == "" {
		a.failOne(w, f, http.StatusForbidden, "api_key is required to create a request.")
		return
	}
	key, err := a.svc.Authenticate(r.Context(), c.APIKey)
	if err != nil {
		if errors.Is(err, report.ErrNoKey) {
			a.failOne(w, f, http.StatusForbidden, "Invalid api_key received -- can't proceed with create_request.")
			return
		}
		a.failErr(w, r, f, err)
		return
	}
	if len(errs) > 0 {
		a.fail(w, f, errs)
		return
	}
	if !a.jurisdiction(r.Context(), w, f, c.Jurisdiction) {
		return
	}
	if _, err := a.svc.ServiceByCode(r.Context(), c.Report.ServiceCode); err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			a.failOne(w, f, http.StatusBadRequest, "service_code not found: "+truncate(c.Report.ServiceCode))
			return
		}
		a.failErr(w, r, f, err)
		return
	}
	ctx := platform.WithActor(r.Context(), platform.Actor{Kind: platform.ActorClient, ID: "open311-key:" + key.ID})
	rc, err := a.svc.Submit(ctx, c.Report, nil, report.Via{Key: &key, Client: web.ClientIP(r)})
	if err != nil {
		a.failErr(w, r, f, err)
		return
	}
	var account *string
	if c.Report.AccountID != "" {
		account = &c.Report.AccountID
	}
	out := []createdDoc{{ServiceRequestID: strconv.FormatInt(rc.Number, 10), Token: rc.Token, ServiceNotice: rc.Notice, AccountID: account}}
	a.write(w, f, http.StatusCreated, xmlCreated{Requests: out}, out)
}

// requestDoc is a service request as GET answers it: no personal data.
type requestDoc struct {
	ServiceRequestID  string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes" xml:"status_notes"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string   `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string   `json:"expected_datetime" xml:"expected_datetime"`
	Address           string   `json:"address" xml:"address"`
	AddressID         string   `json:"address_id" xml:"address_id"`
	Zipcode           string   `json:"zipcode" xml:"zipcode"`
	Lat               *float64 `json:"lat" xml:"lat"`
	Long              *float64 `json:"long" xml:"long"`
	MediaURL          string   `json:"media_url" xml:"media_url"`
}

type xmlRequests struct {
	XMLName  xml.Name     `xml:"service_requests"`
	Requests []requestDoc `xml:"request"`
}

// docs renders requests, naming their services and agencies.
func (a *API) docs(ctx context.Context, rs []report.Request) ([]requestDoc, error) {
	svcs, err := a.svc.Services(ctx, "")
	if err != nil {
		return nil, err
	}
	byCode := map[string]report.ReportService{}
	for _, s := range svcs {
		byCode[s.Code] = s
	}
	out := make([]requestDoc, len(rs))
	for i, q := range rs {
		s := byCode[q.ServiceCode]
		out[i] = requestDoc{ServiceRequestID: strconv.FormatInt(q.Number, 10), Status: q.Status, StatusNotes: q.StatusNotes, ServiceName: s.Name,
			ServiceCode: q.ServiceCode, Description: q.Description, AgencyResponsible: s.Agency, ServiceNotice: s.Notice,
			RequestedDatetime: a.datetime(ctx, q.RequestedAt), UpdatedDatetime: a.datetime(ctx, q.UpdatedAt), ExpectedDatetime: a.datetime(ctx, q.ExpectedAt),
			Address: q.Address, AddressID: q.AddressID, Zipcode: q.Zip, Lat: q.Lat, Long: q.Long, MediaURL: q.MediaURL}
	}
	return out, nil
}

func (a *API) requests(w http.ResponseWriter, r *http.Request, f string) {
	q, errs := ParseQuery(r.URL.Query())
	if len(errs) > 0 {
		a.fail(w, f, errs)
		return
	}
	if !a.jurisdiction(r.Context(), w, f, q.Jurisdiction) {
		return
	}
	rs, err := a.svc.Search(r.Context(), q)
	if err != nil {
		a.failErr(w, r, f, err)
		return
	}
	a.answer(w, r, f, rs)
}

func (a *API) answer(w http.ResponseWriter, r *http.Request, f string, rs []report.Request) {
	out, err := a.docs(r.Context(), rs)
	if err != nil {
		a.failErr(w, r, f, err)
		return
	}
	a.write(w, f, http.StatusOK, xmlRequests{Requests: out}, out)
}

func (a *API) request(w http.ResponseWriter, r *http.Request) {
	id, f, ok := a.begin(w, r)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		a.failOne(w, f, http.StatusNotFound, "service_request_id not found: "+truncate(id))
		return
	}
	q, err := a.svc.Get(r.Context(), n)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			a.failOne(w, f, http.StatusNotFound, "service_request_id not found: "+id)
			return
		}
		a.failErr(w, r, f, err)
		return
	}
	a.answer(w, r, f, []report.Request{q})
}

type tokenDoc struct {
	ServiceRequestID string `json:"service_request_id" xml:"service_request_id"`
	Token            string `json:"token" xml:"token"`
}

type xmlTokens struct {
	XMLName  xml.Name   `xml:"service_requests"`
	Requests []tokenDoc `xml:"request"`
}

func (a *API) token(w http.ResponseWriter, r *http.Request) {
	tok, f, ok := a.begin(w, r)
	if !ok {
		return
	}
	if !platform.IsUUID(tok) {
		a.failOne(w, f, http.StatusNotFound, "token not found.")
		return
	}
	q, err := a.svc.ByToken(r.Context(), tok)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			a.failOne(w, f, http.StatusNotFound, "token not found.")
			return
		}
		a.failErr(w, r, f, err)
		return
	}
	out := []tokenDoc{{ServiceRequestID: strconv.FormatInt(q.Number, 10), Token: tok}}
	a.write(w, f, http.StatusOK, xmlTokens{Requests: out}, out)
}
