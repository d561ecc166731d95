package open311api

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/report"
)

// Create is a parsed POST requests.{fmt}: the report and who sends it.
type Create struct {
	APIKey       string
	Jurisdiction string
	Report       report.NewReport
}

// apiError is one element of the spec's error array.
type apiError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

// maxFieldCount bounds the fields of one request, so a body of a million
// attribute[...] keys is refused before it is looked at.
const maxFieldCount = 200

// ParseCreate reads the form-encoded fields of POST requests.{fmt}
// (GeoReport v2): api_key, jurisdiction_id, service_code, lat and long,
// address_string, address_id, attribute[CODE] (attribute[CODE][] for each
// value of a multivaluelist), email, device_id, account_id, first_name,
// last_name, phone, description, media_url. It checks the shape only
// (numbers are numbers, one value per plain field); the service's
// definition is checked by report.Check. Problems are 400 errors in the
// spec's format, in a stable order.
func ParseCreate(form url.Values) (Create, []apiError) {
	var c Create
	var errs []apiError
	bad := func(format string, args ...any) {
		errs = append(errs, apiError{Code: 400, Description: fmt.Sprintf(format, args...)})
	}
	if len(form) > maxFieldCount {
		bad("Too many fields: at most %d.", maxFieldCount)
		return c, errs
	}
	one := func(name string) string {
		vs := form[name]
		if len(vs) > 1 {
			bad("%s: give one value.", name)
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	c.APIKey = one("api_key")
	c.Jurisdiction = strings.TrimSpace(one("jurisdiction_id"))
	r := &c.Report
	r.ServiceCode = strings.TrimSpace(one("service_code"))
	if r.ServiceCode == "" {
		bad("service_code: required.")
	}
	coord := func(name string, limit float64) *float64 {
		v := strings.TrimSpace(one(name))
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < -limit || f > limit {
			bad("%s: must be a number from -%g to %g (WGS84 degrees).", name, limit, limit)
			return nil
		}
		return &f
	}
	r.Lat, r.Long = coord("lat", 90), coord("long", 180)
	r.Address = one("address_string")
	r.AddressID = one("address_id")
	r.Email = one("email")
	r.DeviceID = one("device_id")
	r.AccountID = one("account_id")
	r.FirstName = one("first_name")
	r.LastName = one("last_name")
	r.Phone = one("phone")
	r.Description = one("description")
	r.MediaURL = one("media_url")
	r.Zip = one("zipcode")
	r.Attributes = map[string][]string{}
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		code, ok := attributeCode(name)
		if !ok {
			if strings.HasPrefix(name, "attribute") {
				bad("%s: attributes are sent as attribute[CODE].", truncate(name))
			}
			continue
		}
		r.Attributes[code] = append(r.Attributes[code], form[name]...)
	}
	return c, errs
}

// attributeCode returns CODE from "attribute[CODE]" or "attribute[CODE][]".
func attributeCode(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "attribute[")
	if !ok {
		return "", false
	}
	rest = strings.TrimSuffix(rest, "[]")
	code, ok := strings.CutSuffix(rest, "]")
	if !ok || code == "" || strings.ContainsAny(code, "[]") {
		return "", false
	}
	return code, true
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// parseList splits a comma-separated query value, dropping blanks.
func parseList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseQuery reads GET requests.{fmt}'s filters.
func ParseQuery(q url.Values) (report.Query, []apiError) {
	var out report.Query
	var errs []apiError
	bad := func(format string, args ...any) {
		errs = append(errs, apiError{Code: 400, Description: fmt.Sprintf(format, args...)})
	}
	for _, v := range parseList(q.Get("service_request_id")) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad("service_request_id: %q is not a service request id.", truncate(v))
			continue
		}
		out.IDs = append(out.IDs, n)
	}
	out.ServiceCodes = parseList(q.Get("service_code"))
	out.Statuses = parseList(q.Get("status"))
	for _, st := range out.Statuses {
		if st != report.StatusOpen && st != report.StatusClosed {
			bad("status: must be open or closed.")
			break
		}
	}
	date := func(name string) time.Time {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return time.Time{}
		}
		t, err := report.ParseDatetime(v)
		if err != nil {
			bad("%s: must be a W3C datetime such as 2026-04-14T06:37:38-06:00.", name)
		}
		return t
	}
	out.Start, out.End = date("start_date"), date("end_date")
	out.Jurisdiction = strings.TrimSpace(q.Get("jurisdiction_id"))
	return out, errs
}
