package open311api

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseCreate: any form body parses without panicking; a parse without
// problems names a service, and every attribute it keeps came from an
// attribute[CODE] field with a plain code.
func FuzzParseCreate(f *testing.F) {
	for _, seed := range []string{
		"api_key=o311_x&service_code=pothole&lat=39.78&long=-89.65&attribute[SIZE]=large",
		"service_code=pothole&attribute[WHERE][]=lane&attribute[WHERE][]=bike&address_string=100+Main",
		"service_code=&lat=NaN&long=Inf",
		"attribute[]=x&attribute[[a]]=y&attribute=z&attributes[A]=1",
		"service_code=a&service_code=b&lat=1e400",
		"%zz=1&lat=-90&long=180",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		c, errs := ParseCreate(form)
		for _, e := range errs {
			if e.Code != 400 || e.Description == "" {
				t.Fatalf("error %+v", e)
			}
		}
		if len(errs) == 0 && c.Report.ServiceCode == "" {
			t.Fatalf("no errors and no service_code: %q", body)
		}
		if (c.Report.Lat != nil && (*c.Report.Lat < -90 || *c.Report.Lat > 90)) || (c.Report.Long != nil && (*c.Report.Long < -180 || *c.Report.Long > 180)) {
			t.Fatalf("coordinates out of range kept: %q", body)
		}
		for code := range c.Report.Attributes {
			if code == "" || strings.ContainsAny(code, "[]") {
				t.Fatalf("attribute code %q kept from %q", code, body)
			}
			if len(form["attribute["+code+"]"])+len(form["attribute["+code+"][]"]) == 0 {
				t.Fatalf("attribute %q not in the form %q", code, body)
			}
		}
	})
}

// FuzzParseQuery: any query string parses without panicking, and every id
// kept is positive.
func FuzzParseQuery(f *testing.F) {
	f.Add("service_request_id=1,2,3&status=open,closed&start_date=2026-01-01T00:00:00Z")
	f.Add("service_request_id=-1&end_date=2026-13-40")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		out, _ := ParseQuery(q)
		for _, id := range out.IDs {
			if id <= 0 {
				t.Fatalf("id %d kept from %q", id, raw)
			}
		}
	})
}
