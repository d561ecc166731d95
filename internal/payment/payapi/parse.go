package payapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/payment"
)

// payError is an error in GOV.UK Pay's shape: {field|header, code,
// description}, with the HTTP status Pay answers it with.
type payError struct {
	status      int
	Field       string `json:"field,omitempty"`
	Header      string `json:"header,omitempty"`
	Code        string `json:"code"`
	Description string `json:"description"`
	cause       error  // logged, never shown
}

func (e *payError) Error() string { return e.Code + " " + e.Description }

func newError(status int, code, description string) *payError {
	return &payError{status: status, Code: code, Description: description}
}

func fieldError(status int, code, field, description string) *payError {
	return &payError{status: status, Code: code, Field: field, Description: description}
}

// Pay's errors that do not depend on a field.
var (
	errBlocked = func() *payError {
		return newError(400, "P0920", "Request blocked by security rules. Please consult API documentation for more information.")
	}
	errParse      = func() *payError { return newError(400, "P0197", "Unable to parse JSON") }
	errRateLimit  = func() *payError { return newError(429, "P0900", "Too many requests") }
	errDownstream = func(code string, cause error) *payError {
		return &payError{status: 500, Code: code, Description: "Downstream system error", cause: cause}
	}
)

// createRequest is a parsed POST /v1/payments body.
type createRequest struct {
	Amount         int64
	Reference      string
	Description    string
	ReturnURL      string
	Language       string
	Email          string
	Metadata       map[string]any
	DelayedCapture bool
	Moto           bool
	// canonical is the body as the fields parsed to, re-encoded with
	// sorted keys: two bodies that say the same thing hash alike, however
	// they are spaced or ordered (the Idempotency-Key comparison).
	canonical []byte
}

// hash is the canonical body's SHA-256.
func (c createRequest) hash() string {
	sum := sha256.Sum256(c.canonical)
	return hex.EncodeToString(sum[:])
}

// checkContentType refuses a POST without a JSON body type (P0920, as Pay).
func checkContentType(r *http.Request) *payError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errBlocked()
	}
	return nil
}

// stringFields of the create body: their JSON type must be string.
var stringFields = []string{"reference", "description", "return_url", "language", "email"}

// parseCreate parses a create body as GOV.UK Pay does: an empty body is
// P0920, JSON that does not parse (or is not an object) P0197, a missing
// required field 400 P0101, a value of the wrong JSON type 400 P0102 and a
// value out of range 422 P0102 (the range checks of payment.Validate
// follow). Unknown fields are ignored, as Pay ignores them.
func parseCreate(body []byte) (createRequest, *payError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return createRequest{}, errBlocked()
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return createRequest{}, errParse()
	}
	var c createRequest
	canon := map[string]any{}
	for _, f := range []string{"amount", "reference", "description", "return_url"} {
		if v, ok := raw[f]; !ok || string(v) == "null" {
			return createRequest{}, fieldError(400, "P0101", f, "Missing mandatory attribute: "+f)
		}
	}
	amount, perr := parseAmount("amount", raw["amount"], "P0102")
	if perr != nil {
		return createRequest{}, perr
	}
	c.Amount = amount
	canon["amount"] = amount
	strs := map[string]*string{"reference": &c.Reference, "description": &c.Description, "return_url": &c.ReturnURL, "language": &c.Language, "email": &c.Email}
	for _, f := range stringFields {
		v, ok := raw[f]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, strs[f]); err != nil {
			return createRequest{}, fieldError(400, "P0102", f, "Invalid attribute value: "+f+". Must be a valid string format")
		}
		if strings.ContainsRune(*strs[f], 0) {
			// PostgreSQL cannot store a NUL in text; no real value has one.
			return createRequest{}, fieldError(422, "P0102", f, "Invalid attribute value: "+f+". Must be valid text")
		}
		canon[f] = *strs[f]
	}
	bools := map[string]*bool{"delayed_capture": &c.DelayedCapture, "moto": &c.Moto}
	for f, dst := range bools {
		v, ok := raw[f]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return createRequest{}, fieldError(400, "P0102", f, "Invalid attribute value: "+f+". Must be true or false")
		}
		canon[f] = *dst
	}
	if v, ok := raw["metadata"]; ok && string(v) != "null" {
		md, perr := parseMetadata(v)
		if perr != nil {
			return createRequest{}, perr
		}
		c.Metadata = md
		canon["metadata"] = md
	}
	if v, ok := raw["prefilled_cardholder_details"]; ok && string(v) != "null" {
		// Accepted for compatibility and not kept: the provider's page
		// asks the payer. It must still be an object, as Pay requires.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
			return createRequest{}, fieldError(400, "P0102", "prefilled_cardholder_details", "Invalid attribute value: prefilled_cardholder_details. Must be an object")
		}
	}
	b, err := json.Marshal(canon)
	if err != nil {
		return createRequest{}, errParse()
	}
	c.canonical = b
	return c, nil
}

// parseAmount reads an integer amount of minor units: a JSON number with
// no fraction. Anything else is 400 code "Must be a valid numeric
// format"; a whole number too large for int64 is out of range (422), as
// any amount above the maximum is.
func parseAmount(field string, v json.RawMessage, code string) (int64, *payError) {
	var n json.Number
	// json.Number also takes a quoted number; Pay does not.
	if t := bytes.TrimSpace(v); len(t) == 0 || t[0] == '"' || json.Unmarshal(t, &n) != nil {
		return 0, fieldError(400, code, field, "Invalid attribute value: "+field+". Must be a valid numeric format")
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return i, nil
	}
	// A number with a fraction or an exponent: an integer only if it is
	// one exactly ("1e3" is 1000; "12.5" is not an amount).
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil && !isRange(err) {
		return 0, fieldError(400, code, field, "Invalid attribute value: "+field+". Must be a valid numeric format")
	}
	if f != math.Trunc(f) || math.IsNaN(f) {
		return 0, fieldError(400, code, field, "Invalid attribute value: "+field+". Must be a valid numeric format")
	}
	switch {
	case f < 1:
		return 0, fieldError(422, code, field, "Invalid attribute value: "+field+". Must be greater than or equal to 1")
	case f > payment.MaxAmount:
		return 0, fieldError(422, code, field, fmt.Sprintf("Invalid attribute value: %s. Must be less than or equal to %d", field, payment.MaxAmount))
	}
	return int64(f), nil
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// parseMetadata reads metadata: an object of at most payment.MaxMetadata
// keys whose values are strings, numbers or booleans (payment.Validate
// checks the lengths and counts). Pay refuses an empty object too.
func parseMetadata(v json.RawMessage) (map[string]any, *payError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil || raw == nil {
		return nil, fieldError(422, "P0102", "metadata", "Invalid attribute value: metadata. Must be an object of JSON key-value pairs")
	}
	if len(raw) == 0 {
		return nil, fieldError(422, "P0102", "metadata", "Invalid attribute value: metadata. Must have at least 1 key-value pair")
	}
	out := make(map[string]any, len(raw))
	for k, rv := range raw {
		if strings.ContainsRune(k, 0) || bytes.Contains(rv, []byte(`\u0000`)) {
			return nil, fieldError(422, "P0102", "metadata", "Invalid attribute value: metadata. Keys and values must be valid text")
		}
		var x any
		dec := json.NewDecoder(bytes.NewReader(rv))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return nil, errParse()
		}
		switch val := x.(type) {
		case string, bool:
			out[k] = val
		case json.Number:
			f, err := val.Float64()
			if err != nil || math.IsInf(f, 0) {
				return nil, fieldError(422, "P0102", "metadata", "Invalid attribute value: metadata. Values must be of type String, Boolean or Number")
			}
			out[k] = f
		default:
			return nil, fieldError(422, "P0102", "metadata", "Invalid attribute value: metadata. Values must be of type String, Boolean or Number")
		}
	}
	return out, nil
}

// idempotencyKey is the Idempotency-Key header's form: 1 to 255 of
// A-Z, a-z, 0-9 and hyphen.
var idempotencyKey = regexp.MustCompile(`^[A-Za-z0-9-]{1,255}$`)

// checkIdempotencyKey returns the header's key ("" when absent) or Pay's
// 422 P0102 naming the header.
func checkIdempotencyKey(r *http.Request) (string, *payError) {
	vs, present := r.Header["Idempotency-Key"]
	if !present {
		return "", nil
	}
	if len(vs) != 1 || !idempotencyKey.MatchString(vs[0]) {
		return "", &payError{status: 422, Header: "Idempotency-Key", Code: "P0102",
			Description: "Invalid attribute value: Idempotency-Key. Must be 1 to 255 characters of letters, digits and hyphens"}
	}
	return vs[0], nil
}

// refundRequest is a parsed POST …/refunds body.
type refundRequest struct {
	Amount    int64
	Available int64 // -1 when refund_amount_available was not given
}

// parseRefund parses a refund body: amount required (400 P0601 when
// missing), an integer (400 P0602 otherwise; 422 P0602 out of range);
// refund_amount_available optional, an integer.
func parseRefund(body []byte) (refundRequest, *payError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return refundRequest{}, errBlocked()
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return refundRequest{}, errParse()
	}
	v, ok := raw["amount"]
	if !ok || string(v) == "null" {
		return refundRequest{}, fieldError(400, "P0601", "amount", "Missing mandatory attribute: amount")
	}
	amt, perr := parseAmount("amount", v, "P0602")
	if perr != nil {
		return refundRequest{}, perr
	}
	rr := refundRequest{Amount: amt, Available: -1}
	if v, ok := raw["refund_amount_available"]; ok && string(v) != "null" {
		var n json.Number
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] == '"' || json.Unmarshal(t, &n) != nil {
			return refundRequest{}, fieldError(400, "P0602", "refund_amount_available", "Invalid attribute value: refund_amount_available. Must be a valid numeric format")
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || i < 0 {
			return refundRequest{}, fieldError(422, "P0602", "refund_amount_available", "Invalid attribute value: refund_amount_available. Must be a whole number of at least 0")
		}
		rr.Available = i
	}
	return rr, nil
}
