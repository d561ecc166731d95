package gateway

import (
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	oav "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"

	"github.com/portico-gov/portico/examples/plugins"
)

// edgeDoc is an OpenAPI document with what the example plug-ins do not
// use, so that the fast check meets it: a default response, a status
// range, declared response headers, a media range, a 204, a text body,
// nullable and oneOf, a closed object, a format the library does not
// assert, an array body and a literal path beside a templated one.
const edgeDoc = `openapi: 3.1.0
info: {title: edge, version: "1"}
paths:
  /things/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
        "2XX":
          description: some success
          content:
            application/*+json:
              schema: {type: object, required: [kind], properties: {kind: {type: string, enum: [a, b]}}}
        "204": {description: nothing}
        "206":
          description: with a header
          headers:
            X-Rate-Limit: {required: true, schema: {type: integer}}
          content:
            application/json:
              schema: {type: object}
        "300":
          description: text
          content:
            text/plain:
              schema: {type: string, maxLength: 3}
        default:
          description: anything else
          content:
            application/problem+json:
              schema: {$ref: "#/components/schemas/Problem"}
  /things/new:
    get:
      responses:
        "200":
          description: a list
          content:
            application/json:
              schema: {type: array, items: {type: integer}, maxItems: 2}
components:
  schemas:
    Thing:
      type: object
      required: [id, size]
      additionalProperties: false
      properties:
        id: {type: string, minLength: 2}
        size: {type: [number, "null"]}
        at: {type: string, format: date-time}
        tag: {oneOf: [{type: string}, {type: integer}]}
    Problem:
      type: object
      required: [title]
      properties: {title: {type: string}, status: {type: integer}}
`

// equivalenceDocs are every example plug-in's OpenAPI document and
// edgeDoc, with the requests the gateway sends to each (method and filled
// path of every operation, and a path no operation has).
func equivalenceDocs(t testing.TB) map[string]struct {
	doc   []byte
	calls [][2]string
} {
	docs := map[string]struct {
		doc   []byte
		calls [][2]string
	}{"edge": {[]byte(edgeDoc), [][2]string{{"GET", "/things/ab"}, {"GET", "/things/new"}, {"GET", "/things/a%2Fb"}, {"POST", "/things/ab"}, {"GET", "/nowhere"}}}}
	examples, err := plugins.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		doc, err := fs.ReadFile(plugins.FS(), path.Join(ex.Dir, "openapi.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		docs[ex.Dir] = struct {
			doc   []byte
			calls [][2]string
		}{doc, append(documentCalls(t, doc), [2]string{"GET", "/nowhere"})}
	}
	if len(docs) < 3 {
		t.Fatalf("%d documents, want every example plug-in's and edgeDoc", len(docs))
	}
	return docs
}

// documentCalls is a request for every operation of the document: its
// method and its path with every parameter filled.
func documentCalls(t testing.TB, doc []byte) [][2]string {
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	var calls [][2]string
	for p, item := range m.Model.Paths.PathItems.FromOldest() {
		filled := p
		for strings.Contains(filled, "{") {
			i, j := strings.IndexByte(filled, '{'), strings.IndexByte(filled, '}')
			filled = filled[:i] + "EX4KQ218" + filled[j+1:]
		}
		for method := range item.GetOperations().FromOldest() {
			calls = append(calls, [2]string{strings.ToUpper(method), filled})
		}
	}
	if len(calls) == 0 {
		t.Fatal("a document without operations")
	}
	return calls
}

// libraryValidator is the validator as the gateway built it before the
// fast check: oav.NewValidator of the parsed document.
func libraryValidator(t testing.TB, doc []byte) oav.Validator {
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	v, errs := oav.NewValidator(d)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return v
}

var (
	eqStatuses     = []int{200, 201, 204, 206, 250, 299, 300, 400, 401, 404, 409, 418, 422}
	eqContentTypes = []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json",
		"application/problem+json; charset=utf-8", "application/vnd.thing+json", "text/plain", "application/xml", "", "application/json;;"}
	eqHeaders = []http.Header{{}, {"X-Rate-Limit": {"5"}}, {"X-Rate-Limit": {"five"}}}
	eqBodies  = []string{
		// vehicle-registry
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2019,"registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2019,"registration_expires":"2027-01-31","color":"red"}`,
		`{"plate":"EX4KQ218","vin":"SHORT","make":"Honda","model":"Civic","year":2019,"registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":1800,"registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2019.5,"registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":"2019","registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2019,"registration_expires":"not a date"}`,
		`{"plate":"EX4KQ218","registration_expires":"2027-01-31"}`,
		`{"plate":"EX4KQ218"}`,
		// problems
		`{"title":"Not found","status":404}`, `{"title":"Not found","status":"404"}`, `{"status":404}`, `{"type":"about:blank","title":"x","status":409,"detail":"d","reason":"r"}`,
		// counter-booking
		`{"office":{"id":"o1","name":"Centre"},"day":"2026-12-07","slots":[{"id":"s1","starts_at":"2026-12-07T09:00:00Z","ends_at":"2026-12-07T09:15:00Z","free":2}]}`,
		`{"office":{"id":"o1","name":"Centre"},"day":"2026-12-07","slots":[{"id":"s1","starts_at":"2026-12-07T09:00:00Z","ends_at":"2026-12-07T09:15:00Z","free":0}]}`,
		`{"office":{"id":"o1"},"day":"2026-12-07","slots":[]}`,
		`{"id":"b1","office":"o1","slot_id":"s1","starts_at":"2026-12-07T09:00:00Z","ends_at":"2026-12-07T09:15:00Z","name":"Ana"}`,
		`{"id":"b1","office":"o1","slot_id":"s1","starts_at":"yesterday","ends_at":"2026-12-07T09:15:00Z","name":"Ana"}`,
		// edge
		`{"id":"ab","size":null}`, `{"id":"ab","size":1.5,"tag":7}`, `{"id":"ab","size":1,"tag":true}`, `{"id":"a","size":1}`,
		`{"id":"ab","size":1,"extra":1}`, `{"id":"ab","size":1,"at":"not a time"}`, `{"kind":"a"}`, `{"kind":"c"}`,
		`[1,2]`, `[1,2,3]`, `["1"]`, `"abc"`, `"abcd"`,
		// not objects, not JSON, more than one value
		``, `null`, `{}`, `[]`, `0`, `true`, `{`, `{"a":1}{}`, `{} {}`, `{"a":1} `, "\xff", `{"id":"ab","size":1e400}`,
	}
)

// TestFastCheckAgreesWithLibrary is ADR 78's equivalence: for every
// example plug-in's document and edgeDoc, every request the gateway makes
// and every combination of status code (declared, by range, by default,
// undeclared), Content-Type (with parameters, case, ranges, not JSON,
// none), declared headers (absent, valid, invalid) and body (valid and
// invalid for every schema, not JSON, empty, null, two values), the fast
// check accepts only responses libopenapi-validator accepts, and the
// gateway's verdict (checkWith) is the library's. It also requires the
// fast check to accept the common valid responses, so that it is in use.
func TestFastCheckAgreesWithLibrary(t *testing.T) {
	mustFast := map[string]bool{ // doc, method path, status, content type, body index: accepted by the fast check
		"vehicle-registry GET /vehicles/EX4KQ218 200 application/json 0":                true,
		"vehicle-registry GET /vehicles/EX4KQ218 200 application/json; charset=utf-8 1": true,
		"vehicle-registry GET /vehicles/EX4KQ218 404 application/problem+json 9":        true,
		"counter-booking GET /offices/EX4KQ218/slots 200 application/json 13":           true,
		"counter-booking POST /offices/EX4KQ218/bookings 201 application/json 16":       true,
		"edge GET /things/ab 200 application/json 18":                                   true,
		"edge GET /things/ab 250 application/vnd.thing+json 24":                         true,
		"edge GET /things/ab 418 application/problem+json 9":                            true,
		"edge GET /things/new 200 application/json 26":                                  true,
	}
	for name, d := range equivalenceDocs(t) {
		lib := libraryValidator(t, d.doc)
		c, err := buildValidator(d.doc)
		if err != nil {
			t.Fatal(err)
		}
		fastAccepted, libAccepted, total := 0, 0, 0
		for _, call := range d.calls {
			for _, status := range eqStatuses {
				for _, ct := range eqContentTypes {
					for hi, h := range eqHeaders {
						for bi, body := range eqBodies {
							header := h.Clone()
							if ct != "" {
								header.Set("Content-Type", ct)
							}
							key := strings.Join([]string{name, call[0], call[1]}, " ") + " " + strconv.Itoa(status) + " " + ct + " " + strconv.Itoa(bi)
							req, _ := http.NewRequest(call[0], "http://plugin"+call[1], nil)
							fast := c.fast.valid(req, status, header, []byte(body))
							libErr := libCheck(lib, req, &http.Response{StatusCode: status, Header: header}, []byte(body))
							gwErr := checkWith(c, call[0], call[1], &http.Response{StatusCode: status, Header: header}, []byte(body))
							total++
							if libErr == nil {
								libAccepted++
							}
							if fast {
								fastAccepted++
							}
							if fast && libErr != nil {
								t.Errorf("%s (headers %d): the fast check accepted what the library refuses: %v", key, hi, libErr)
							}
							if (gwErr == nil) != (libErr == nil) {
								t.Errorf("%s (headers %d): the gateway says %v, the library %v", key, hi, gwErr, libErr)
							}
							if hi == 0 && mustFast[key] {
								delete(mustFast, key)
								if !fast {
									t.Errorf("%s: the fast check did not accept a common valid response (library: %v)", key, libErr)
								}
							}
						}
					}
				}
			}
		}
		t.Logf("%s: %d responses, the library accepts %d, the fast check %d", name, total, libAccepted, fastAccepted)
	}
	for k := range mustFast {
		t.Errorf("the table has no case %q", k)
	}
}

// FuzzFastCheck compares the fast check with libopenapi-validator on
// arbitrary responses to the requests of every example plug-in and
// edgeDoc: the fast check never accepts what the library refuses.
//
//	go test ./internal/gateway -run '^$' -fuzz FuzzFastCheck -fuzztime 1m
func FuzzFastCheck(f *testing.F) {
	for i, body := range eqBodies {
		f.Add(uint8(i), eqStatuses[i%len(eqStatuses)], eqContentTypes[i%len(eqContentTypes)], "5", body)
	}
	type subject struct {
		name  string
		lib   oav.Validator
		c     *checker
		calls [][2]string
	}
	var subjects []subject
	for name, d := range equivalenceDocs(f) {
		c, err := buildValidator(d.doc)
		if err != nil {
			f.Fatal(err)
		}
		subjects = append(subjects, subject{name, libraryValidator(f, d.doc), c, d.calls})
	}
	f.Fuzz(func(t *testing.T, pick uint8, status int, ct, rateLimit, body string) {
		s := subjects[int(pick)%len(subjects)]
		call := s.calls[int(pick/8)%len(s.calls)]
		if status < 100 || status > 999 {
			status = 200
		}
		header := http.Header{"Content-Type": {ct}, "X-Rate-Limit": {rateLimit}}
		req, _ := http.NewRequest(call[0], "http://plugin"+call[1], nil)
		fast := s.c.fast.valid(req, status, header, []byte(body))
		libErr := libCheck(s.lib, req, &http.Response{StatusCode: status, Header: header}, []byte(body))
		if fast && libErr != nil {
			t.Fatalf("%s %v %d %q %q: the fast check accepted what the library refuses: %v", s.name, call, status, ct, body, libErr)
		}
	})
}

// BenchmarkResponseCheck is one response's validation, the vehicle
// lookup's 200, by libopenapi-validator alone (library) and as the
// gateway makes it (gateway: the fast check, the library for what it
// does not accept).
//
//	go test ./internal/gateway -run '^$' -bench ResponseCheck -benchmem
func BenchmarkResponseCheck(b *testing.B) {
	doc, err := fs.ReadFile(plugins.FS(), "vehicle-registry/openapi.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := buildValidator(doc)
	if err != nil {
		b.Fatal(err)
	}
	res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}}
	body := []byte(eqBodies[0])
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("GET", "http://plugin/vehicles/EX4KQ218", nil)
			if err := libCheck(c.lib, req, res, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gateway", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := checkWith(c, "GET", "/vehicles/EX4KQ218", res, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
