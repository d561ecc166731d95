package payapi

import (
	"testing"

	"github.com/portico-gov/portico/internal/payment"
)

// FuzzParseCreate: the create body parser, on any bytes, never panics;
// it either refuses with one of Pay's 400/422 errors or gives a request
// whose canonical form parses again to the same request (so the
// Idempotency-Key comparison is stable), and whose payment Validate then
// checks without panicking.
func FuzzParseCreate(f *testing.F) {
	for _, s := range []string{
		`{"amount": 4500, "reference": "DMV-1", "description": "Renewal", "return_url": "https://x.example/done"}`,
		`{"amount": 1e3, "reference": "r", "description": "d", "return_url": "https://x.example/", "metadata": {"a": 1.5, "b": true, "c": "x"}}`,
		`{"amount": "12", "reference": 1}`,
		`{"amount": 12.5}`,
		`{"amount": 99999999999999999999999, "reference": "r", "description": "d", "return_url": "u"}`,
		`{"amount": 1, "reference": "r", "description": "d", "return_url": "u", "metadata": {}}`,
		`{"amount": 1, "reference": "r", "description": "d", "return_url": "u", "prefilled_cardholder_details": {"cardholder_name": "A"}}`,
		`[]`, `null`, ``, `{`, `{} {}`, `{"amount": -0}`, `{"amount": 1E-7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, perr := parseCreate(body)
		if perr != nil {
			if perr.status != 400 && perr.status != 422 {
				t.Fatalf("status %d for %q", perr.status, body)
			}
			if perr.Code == "" || perr.Description == "" {
				t.Fatalf("empty error %+v", perr)
			}
			return
		}
		again, perr := parseCreate(req.canonical)
		if perr != nil {
			t.Fatalf("canonical %s does not parse: %v", req.canonical, perr)
		}
		if again.hash() != req.hash() {
			t.Fatalf("canonical form is not stable: %s vs %s", req.canonical, again.canonical)
		}
		_, _ = payment.Validate(payment.New{Agency: "dmv", Amount: req.Amount, Reference: req.Reference, Description: req.Description,
			ReturnURL: req.ReturnURL, Language: req.Language, Email: req.Email, Metadata: req.Metadata, DelayedCapture: req.DelayedCapture})
	})
}

// FuzzParseRefund: the refund body parser never panics and refuses only
// with 400 or 422.
func FuzzParseRefund(f *testing.F) {
	for _, s := range []string{`{"amount": 100, "refund_amount_available": 1000}`, `{"amount": "1"}`, `{}`, `x`, `{"amount": 1, "refund_amount_available": -1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, perr := parseRefund(body)
		if perr != nil {
			if perr.status != 400 && perr.status != 422 {
				t.Fatalf("status %d for %q", perr.status, body)
			}
			return
		}
		if r.Available < -1 {
			t.Fatalf("available %d", r.Available)
		}
	})
}
