package open311api_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/report/open311api"
	"github.com/portico-gov/portico/internal/report/reporttest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

// The documents below are written from the GeoReport v2 specification
// (wiki.open311.org/GeoReport_v2), not from the implementation's types:
// element and key names as the spec's examples show them.

type specError struct {
	Code        int    `xml:"code" json:"code"`
	Description string `xml:"description" json:"description"`
}

type specErrors struct {
	XMLName xml.Name    `xml:"errors"`
	Errors  []specError `xml:"error"`
}

type specDiscovery struct {
	XMLName    xml.Name `xml:"discovery" json:"-"`
	Changeset  string   `xml:"changeset" json:"changeset"`
	Contact    string   `xml:"contact" json:"contact"`
	KeyService string   `xml:"key_service" json:"key_service"`
	Endpoints  []struct {
		Specification string   `xml:"specification" json:"specification"`
		URL           string   `xml:"url" json:"url"`
		Changeset     string   `xml:"changeset" json:"changeset"`
		Type          string   `xml:"type" json:"type"`
		Formats       []string `xml:"formats>format" json:"formats"`
	} `xml:"endpoints>endpoint" json:"endpoints"`
}

type specService struct {
	ServiceCode string `xml:"service_code" json:"service_code"`
	ServiceName string `xml:"service_name" json:"service_name"`
	Description string `xml:"description" json:"description"`
	Metadata    bool   `xml:"metadata" json:"metadata"`
	Type        string `xml:"type" json:"type"`
	Keywords    string `xml:"keywords" json:"keywords"`
	Group       string `xml:"group" json:"group"`
}

type specServices struct {
	XMLName  xml.Name      `xml:"services"`
	Services []specService `xml:"service"`
}

type specDefinition struct {
	XMLName     xml.Name `xml:"service_definition" json:"-"`
	ServiceCode string   `xml:"service_code" json:"service_code"`
	Attributes  []struct {
		Variable    bool   `xml:"variable" json:"variable"`
		Code        string `xml:"code" json:"code"`
		Datatype    string `xml:"datatype" json:"datatype"`
		Required    bool   `xml:"required" json:"required"`
		Order       int    `xml:"order" json:"order"`
		Description string `xml:"description" json:"description"`
		Values      []struct {
			Key  string `xml:"key" json:"key"`
			Name string `xml:"name" json:"name"`
		} `xml:"values>value" json:"values"`
	} `xml:"attributes>attribute" json:"attributes"`
}

type specRequest struct {
	ServiceRequestID  string   `xml:"service_request_id" json:"service_request_id"`
	Token             string   `xml:"token" json:"token"`
	ServiceNotice     string   `xml:"service_notice" json:"service_notice"`
	Status            string   `xml:"status" json:"status"`
	StatusNotes       string   `xml:"status_notes" json:"status_notes"`
	ServiceName       string   `xml:"service_name" json:"service_name"`
	ServiceCode       string   `xml:"service_code" json:"service_code"`
	Description       string   `xml:"description" json:"description"`
	AgencyResponsible string   `xml:"agency_responsible" json:"agency_responsible"`
	RequestedDatetime string   `xml:"requested_datetime" json:"requested_datetime"`
	UpdatedDatetime   string   `xml:"updated_datetime" json:"updated_datetime"`
	ExpectedDatetime  string   `xml:"expected_datetime" json:"expected_datetime"`
	Address           string   `xml:"address" json:"address"`
	AddressID         string   `xml:"address_id" json:"address_id"`
	Zipcode           string   `xml:"zipcode" json:"zipcode"`
	Lat               *float64 `xml:"lat" json:"lat"`
	Long              *float64 `xml:"long" json:"long"`
	MediaURL          string   `xml:"media_url" json:"media_url"`
}

type specRequests struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []specRequest `xml:"request"`
}

type env struct {
	t    *testing.T
	rep  *reporttest.Env
	srv  *httptest.Server
	keys map[string]string
}

func newEnv(t *testing.T, db *storage.DB) *env {
	t.Helper()
	rep := reporttest.New(t, db)
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	api, err := open311api.New(rep.Svc, open311api.Config{PublicURL: func() string { return reporttest.PublicURL }, Contact: "311@example.gov",
		KeyService: "Ask the agency for an api_key.", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	open311api.Register(s, api)
	e := &env{t: t, rep: rep, srv: httptest.NewServer(s), keys: map[string]string{}}
	t.Cleanup(e.srv.Close)
	op := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
	for name, agency := range map[string]string{"springfield": "springfield-public-works", "lakeside": "lakeside-public-works", "revoked": "springfield-public-works"} {
		k, str, err := rep.Svc.CreateKey(context.Background(), op, agency, name)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[name] = str
		if name == "revoked" {
			if err := rep.Svc.RevokeKey(context.Background(), op, agency, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// get fetches path and decodes it as XML or JSON by its extension into v;
// it returns the status and the raw body.
func (e *env) get(path string, v any) (int, string) {
	e.t.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.decode(res, path, v)
}

func (e *env) post(path string, form url.Values, v any) (int, string) {
	e.t.Helper()
	res, err := e.srv.Client().PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.decode(res, path, v)
}

func (e *env) decode(res *http.Response, path string, v any) (int, string) {
	e.t.Helper()
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	p, _, _ := strings.Cut(path, "?")
	ct := res.Header.Get("Content-Type")
	var err error
	switch {
	case strings.HasSuffix(p, ".json"):
		if ct != "application/json; charset=utf-8" {
			e.t.Errorf("%s: Content-Type %q", path, ct)
		}
		err = json.Unmarshal(raw, v)
	default:
		if ct != "text/xml; charset=utf-8" {
			e.t.Errorf("%s: Content-Type %q", path, ct)
		}
		if !strings.HasPrefix(string(raw), `<?xml version="1.0" encoding="UTF-8"?>`) {
			e.t.Errorf("%s: no XML declaration: %.80s", path, raw)
		}
		err = xml.Unmarshal(raw, v)
	}
	if err != nil && res.StatusCode < 400 { // errors are checked by wantError
		e.t.Fatalf("%s: %d: decode: %v\n%s", path, res.StatusCode, err, raw)
	}
	return res.StatusCode, string(raw)
}

// errorsOf decodes an error answer in either format.
func (e *env) wantError(status int, raw, path string, want int, contains string) {
	e.t.Helper()
	var errs []specError
	if strings.Contains(path, ".json") {
		if err := json.Unmarshal([]byte(raw), &errs); err != nil {
			e.t.Fatalf("%s: error body: %v\n%s", path, err, raw)
		}
	} else {
		var x specErrors
		if err := xml.Unmarshal([]byte(raw), &x); err != nil {
			e.t.Fatalf("%s: error body: %v\n%s", path, err, raw)
		}
		errs = x.Errors
	}
	if status != want || len(errs) == 0 {
		e.t.Fatalf("%s: status %d (want %d), errors %v\n%s", path, status, want, errs, raw)
	}
	found := false
	for _, x := range errs {
		if x.Code != want {
			e.t.Errorf("%s: error code %d in a %d answer", path, x.Code, want)
		}
		if strings.Contains(x.Description, contains) {
			found = true
		}
	}
	if !found {
		e.t.Errorf("%s: no error says %q: %v", path, contains, errs)
	}
}

var formats = []string{"xml", "json"}

func TestConformance(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		for _, f := range formats {
			t.Run("discovery."+f, func(t *testing.T) {
				var d specDiscovery
				status, raw := e.get("/open311/v2/discovery."+f, &d)
				if status != 200 || len(d.Endpoints) != 1 || d.Contact != "311@example.gov" || d.KeyService == "" {
					t.Fatalf("%d %+v\n%s", status, d, raw)
				}
				ep := d.Endpoints[0]
				if ep.URL != reporttest.PublicURL+"/open311/v2/" || ep.Specification != "http://wiki.open311.org/GeoReport_v2" || ep.Type != "production" ||
					strings.Join(ep.Formats, ",") != "text/xml,application/json" {
					t.Errorf("endpoint %+v", ep)
				}
				if _, err := time.Parse(time.RFC3339, d.Changeset); err != nil {
					t.Errorf("changeset %q: %v", d.Changeset, err)
				}
			})
			t.Run("services."+f, func(t *testing.T) {
				var list []specService
				if f == "xml" {
					var x specServices
					status, raw := e.get("/open311/v2/services.xml", &x)
					if status != 200 {
						t.Fatalf("%d\n%s", status, raw)
					}
					list = x.Services
				} else if status, raw := e.get("/open311/v2/services.json", &list); status != 200 {
					t.Fatalf("%d\n%s", status, raw)
				}
				if len(list) != 3 {
					t.Fatalf("%d services: %+v", len(list), list)
				}
				byCode := map[string]specService{}
				for _, s := range list {
					byCode[s.ServiceCode] = s
				}
				p := byCode["pothole"]
				if p.ServiceName != "Pothole" || !p.Metadata || p.Type != "realtime" || p.Group != "streets" || !strings.Contains(p.Keywords, "asphalt") || p.Description == "" {
					t.Errorf("pothole %+v", p)
				}
				// jurisdiction_id narrows to one city's services.
				var x specServices
				var y []specService
				if f == "xml" {
					e.get("/open311/v2/services.xml?jurisdiction_id=lakeside", &x)
					y = x.Services
				} else {
					e.get("/open311/v2/services.json?jurisdiction_id=lakeside", &y)
				}
				if len(y) != 1 || y[0].ServiceCode != "graffiti" {
					t.Errorf("lakeside's services: %+v", y)
				}
				status, raw := e.get("/open311/v2/services."+f+"?jurisdiction_id=atlantis", new(any))
				e.wantError(status, raw, "services."+f, 404, "jurisdiction_id")
			})
			t.Run("definition."+f, func(t *testing.T) {
				var d specDefinition
				status, raw := e.get("/open311/v2/services/pothole."+f, &d)
				if status != 200 || d.ServiceCode != "pothole" || len(d.Attributes) != 2 {
					t.Fatalf("%d %+v\n%s", status, d, raw)
				}
				size := d.Attributes[0]
				if size.Code != "SIZE" || size.Datatype != "singlevaluelist" || !size.Required || !size.Variable || size.Order != 1 ||
					size.Description != "How big is the pothole?" || len(size.Values) != 3 || size.Values[0].Key != "small" || size.Values[0].Name == "" {
					t.Errorf("SIZE %+v", size)
				}
				if w := d.Attributes[1]; w.Code != "WHERE" || w.Datatype != "multivaluelist" || w.Required || w.Order != 2 {
					t.Errorf("WHERE %+v", w)
				}
				var g specDefinition
				e.get("/open311/v2/services/graffiti."+f, &g)
				types := []string{}
				for _, a := range g.Attributes {
					types = append(types, a.Datatype)
				}
				if strings.Join(types, ",") != "singlevaluelist,datetime,number,text" {
					t.Errorf("graffiti's datatypes %v", types)
				}
				status, raw = e.get("/open311/v2/services/nothing."+f, new(any))
				e.wantError(status, raw, "services/nothing."+f, 404, "service_code not found")
			})
		}
		t.Run("unknown format", func(t *testing.T) {
			status, raw := e.get("/open311/v2/services.csv", new(any))
			e.wantError(status, raw, "services.csv", 404, "Not found")
			status, raw = e.get("/open311/v2/requests/1.html", new(any))
			e.wantError(status, raw, "x.xml", 404, "Not found")
		})

		created := map[string]specRequest{}
		for _, f := range formats {
			t.Run("create."+f, func(t *testing.T) {
				path := "/open311/v2/requests." + f
				good := url.Values{"api_key": {e.keys["springfield"]}, "service_code": {"pothole"}, "lat": {"39.7817"}, "long": {"-89.6501"},
					"address_string": {"100 Main St"}, "attribute[SIZE]": {"large"}, "attribute[WHERE][]": {"lane", "bike"},
					"email": {"rosa@example.com"}, "first_name": {"Rosa"}, "last_name": {"Parks"}, "phone": {"555-010-9999"},
					"description": {"Deep hole in the " + f + " lane"}, "media_url": {"https://photos.example.com/1.jpg"}}
				with := func(changes ...string) url.Values {
					v := url.Values{}
					for k, vs := range good {
						v[k] = append([]string(nil), vs...)
					}
					for i := 0; i+1 < len(changes); i += 2 {
						if changes[i+1] == "-" {
							v.Del(changes[i])
						} else {
							v.Set(changes[i], changes[i+1])
						}
					}
					return v
				}
				for _, c := range []struct {
					name     string
					form     url.Values
					status   int
					contains string
				}{
					{"no api_key", with("api_key", "-"), 403, "api_key"},
					{"wrong api_key", with("api_key", "o311_nope"), 403, "Invalid api_key"},
					{"revoked api_key", with("api_key", e.keys["revoked"]), 403, "Invalid api_key"},
					{"another agency's key", with("api_key", e.keys["lakeside"]), 403, "may not create requests"},
					{"no service_code", with("service_code", "-"), 400, "service_code"},
					{"unknown service_code", with("service_code", "volcano"), 400, "service_code not found"},
					{"no location", with("lat", "-", "long", "-", "address_string", "-"), 400, "lat/long, address_string or address_id"},
					{"lat without long", with("long", "-"), 400, "lat/long"},
					{"lat not a number", with("lat", "north"), 400, "lat"},
					{"lat out of range", with("lat", "91"), 400, "lat"},
					{"required attribute missing", with("attribute[SIZE]", "-"), 400, "attribute[SIZE]"},
					{"value not in the list", with("attribute[SIZE]", "huge"), 400, "attribute[SIZE]"},
					{"unknown attribute", with("attribute[COLOR]", "red"), 400, "attribute[COLOR]"},
					{"bad email", with("email", "not an email"), 400, "email"},
					{"bad media_url", with("media_url", "javascript:alert(1)"), 400, "media_url"},
					{"unknown jurisdiction", with("jurisdiction_id", "atlantis"), 404, "jurisdiction_id"},
				} {
					status, raw := e.post(path, c.form, new(any))
					e.wantError(status, raw, path+" ("+c.name+")", c.status, c.contains)
				}
				var out []specRequest
				var status int
				var raw string
				if f == "xml" {
					var x specRequests
					status, raw = e.post(path, good, &x)
					out = x.Requests
				} else {
					status, raw = e.post(path, good, &out)
				}
				if status != http.StatusCreated || len(out) != 1 || out[0].ServiceRequestID == "" || out[0].Token == "" ||
					out[0].ServiceNotice != "Crews inspect reported potholes within 2 business days and fill them within 10." {
					t.Fatalf("%d %+v\n%s", status, out, raw)
				}
				created[f] = out[0]
				// Address alone is a location too.
				if status, raw := e.post(path, with("lat", "-", "long", "-", "address_string", "200 Elm St"), new(any)); status != http.StatusCreated {
					t.Fatalf("address only: %d\n%s", status, raw)
				}
			})
		}
		for _, f := range formats {
			t.Run("requests."+f, func(t *testing.T) {
				list := func(query string) ([]specRequest, int, string) {
					t.Helper()
					path := "/open311/v2/requests." + f + query
					if f == "xml" {
						var x specRequests
						status, raw := e.get(path, &x)
						return x.Requests, status, raw
					}
					var out []specRequest
					status, raw := e.get(path, &out)
					return out, status, raw
				}
				all, status, raw := list("")
				if status != 200 || len(all) != 4 {
					t.Fatalf("%d: %d requests\n%s", status, len(all), raw)
				}
				for _, personal := range []string{"rosa@example.com", "Rosa", "Parks", "555-010-9999"} {
					if strings.Contains(raw, personal) {
						t.Errorf("GET requests.%s shows %q", f, personal)
					}
				}
				var r specRequest
				for _, x := range all {
					if x.ServiceRequestID == created["json"].ServiceRequestID {
						r = x
					}
				}
				if r.Status != "open" || r.ServiceCode != "pothole" || r.ServiceName != "Pothole" || r.Description != "Deep hole in the json lane" ||
					r.AgencyResponsible != "springfield-public-works" || r.Address != "100 Main St" || r.Lat == nil || *r.Lat != 39.7817 || r.Long == nil || *r.Long != -89.6501 ||
					r.MediaURL != "https://photos.example.com/1.jpg" || r.Token != "" {
					t.Errorf("request %+v", r)
				}
				req, err := time.Parse(time.RFC3339, r.RequestedDatetime)
				exp, err2 := time.Parse(time.RFC3339, r.ExpectedDatetime)
				if err != nil || err2 != nil || !req.Equal(reporttest.Start) || !exp.Equal(reporttest.Start.AddDate(0, 0, 10)) || !strings.HasSuffix(r.RequestedDatetime, "-06:00") {
					t.Errorf("datetimes %q %q", r.RequestedDatetime, r.ExpectedDatetime)
				}
				ids := created["xml"].ServiceRequestID + "," + created["json"].ServiceRequestID
				if got, _, raw := list("?service_request_id=" + ids); len(got) != 2 {
					t.Errorf("by ids: %d\n%s", len(got), raw)
				}
				if got, _, _ := list("?service_code=streetlight"); len(got) != 0 {
					t.Errorf("streetlight: %d", len(got))
				}
				if got, _, _ := list("?status=closed"); len(got) != 0 {
					t.Errorf("closed: %d", len(got))
				}
				if got, _, _ := list("?status=open&service_code=pothole"); len(got) != 4 {
					t.Errorf("open potholes: %d", len(got))
				}
				start := reporttest.Start.Add(-time.Hour).Format(time.RFC3339)
				if got, _, raw := list("?start_date=" + url.QueryEscape(start) + "&end_date=" + url.QueryEscape(reporttest.Start.Add(time.Hour).Format(time.RFC3339))); len(got) != 4 {
					t.Errorf("in the window: %d\n%s", len(got), raw)
				}
				if got, _, _ := list("?end_date=" + url.QueryEscape(start)); len(got) != 0 {
					t.Errorf("before: %d", len(got))
				}
				_, status, raw = list("?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z")
				e.wantError(status, raw, "requests."+f, 400, "90 days")
				_, status, raw = list("?start_date=yesterday")
				e.wantError(status, raw, "requests."+f, 400, "start_date")
				_, status, raw = list("?status=pending")
				e.wantError(status, raw, "requests."+f, 400, "status")
				_, status, raw = list("?service_request_id=abc")
				e.wantError(status, raw, "requests."+f, 400, "service_request_id")
			})
			t.Run("request."+f, func(t *testing.T) {
				id := created[f].ServiceRequestID
				var got []specRequest
				var status int
				var raw string
				if f == "xml" {
					var x specRequests
					status, raw = e.get("/open311/v2/requests/"+id+".xml", &x)
					got = x.Requests
				} else {
					status, raw = e.get("/open311/v2/requests/"+id+".json", &got)
				}
				if status != 200 || len(got) != 1 || got[0].ServiceRequestID != id || strings.Contains(raw, "rosa@") {
					t.Fatalf("%d %+v\n%s", status, got, raw)
				}
				status, raw = e.get("/open311/v2/requests/999999."+f, new(any))
				e.wantError(status, raw, "requests/999999."+f, 404, "service_request_id not found")
			})
			t.Run("token."+f, func(t *testing.T) {
				c := created[f]
				var got []specRequest
				if f == "xml" {
					var x specRequests
					e.get("/open311/v2/tokens/"+c.Token+".xml", &x)
					got = x.Requests
				} else {
					e.get("/open311/v2/tokens/"+c.Token+".json", &got)
				}
				if len(got) != 1 || got[0].ServiceRequestID != c.ServiceRequestID || got[0].Token != c.Token {
					t.Fatalf("token: %+v", got)
				}
				status, raw := e.get("/open311/v2/tokens/00000000-0000-7000-8000-000000000000."+f, new(any))
				e.wantError(status, raw, "tokens."+f, 404, "token not found")
			})
		}
		t.Run("status_notes", func(t *testing.T) {
			n, _ := strconv.ParseInt(created["json"].ServiceRequestID, 10, 64)
			op := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
			if _, err := e.rep.Svc.SetState(context.Background(), op, n, report.StateFixed, "Filled on Tuesday."); err != nil {
				t.Fatal(err)
			}
			var got []specRequest
			e.get("/open311/v2/requests/"+created["json"].ServiceRequestID+".json", &got)
			if got[0].Status != "closed" || got[0].StatusNotes != "Filled on Tuesday." {
				t.Errorf("after fixing: %+v", got[0])
			}
			var closed []specRequest
			e.get("/open311/v2/requests.json?status=closed", &closed)
			if len(closed) != 1 {
				t.Errorf("closed: %d", len(closed))
			}
		})
		t.Run("default window and limit", func(t *testing.T) {
			// 1001 more requests a day later; then the default answer is
			// the newest 1000, and 91 days on none of today's.
			ctx := context.Background()
			e.rep.Clock.Advance(24 * time.Hour)
			for i := 0; i < 1001; i++ {
				lat, long := 39.78, -89.65
				if _, err := e.rep.Svc.Submit(ctx, report.NewReport{ServiceCode: "streetlight", Lat: &lat, Long: &long,
					Attributes: map[string][]string{"PROBLEM": {"out"}}}, nil, report.Via{}); err != nil {
					t.Fatal(err)
				}
			}
			var got []specRequest
			e.get("/open311/v2/requests.json", &got)
			if len(got) != 1000 {
				t.Fatalf("default answer: %d requests", len(got))
			}
			for _, r := range got {
				if r.ServiceCode != "streetlight" {
					t.Fatalf("the default answer is not the newest: %+v", r)
				}
			}
			e.rep.Clock.Advance(91 * 24 * time.Hour)
			e.get("/open311/v2/requests.json", &got)
			if len(got) != 0 {
				t.Errorf("after 91 days: %d", len(got))
			}
			e.get("/open311/v2/requests.json?service_code=pothole&start_date="+url.QueryEscape(reporttest.Start.Add(-time.Hour).Format(time.RFC3339)), &got)
			if len(got) != 4 {
				t.Errorf("with start_date: %d", len(got))
			}
		})
	})
}
