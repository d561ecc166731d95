package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/pb33f/libopenapi"
	oav "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
)

// validator checks plug-in responses against the plug-in's OpenAPI
// document (libopenapi-validator): the status code must be declared for
// the operation and the body must match its schema.
//
// The library does not document its validator as safe for concurrent
// use, so no oav.Validator is ever used by two calls at once; instead of
// one validator behind a mutex (which made every call to a plug-in wait
// for the one before it to be validated), the validator keeps a free
// list of them built from the same document: a call takes one (building
// it when the list is empty) and gives it back. At most as many are
// built as calls are validated at once (the gateway's MaxConcurrent per
// plug-in bounds that); the list keeps up to its capacity.
type validator struct {
	doc  []byte
	free chan *checker
}

// checker is one pooled validator: the library's, and the fast check in
// front of it (fastcheck.go), over the same document.
type checker struct {
	lib  oav.Validator
	fast *fastCheck
}

// newValidator parses doc once to fail early and keeps the validator
// built for that first check. spare is how many idle validators it keeps.
func newValidator(doc []byte, spare int) (*validator, error) {
	first, err := buildValidator(doc)
	if err != nil {
		return nil, err
	}
	v := &validator{doc: doc, free: make(chan *checker, max(spare, 1))}
	v.free <- first
	return v, nil
}

func buildValidator(doc []byte) (c *checker, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("the document cannot be read (%v)", r)
		}
	}()
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{})
	if err != nil {
		return nil, err
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, err
	}
	// oav.NewValidator is NewValidatorFromV3Model of this model.
	return &checker{lib: oav.NewValidatorFromV3Model(&m.Model), fast: newFastCheck(&m.Model)}, nil
}

// take returns a validator no other call is using.
func (v *validator) take() (*checker, error) {
	select {
	case val := <-v.free:
		return val, nil
	default:
		return buildValidator(v.doc)
	}
}

// give returns val to the free list, or drops it when the list is full.
func (v *validator) give(val *checker) {
	select {
	case v.free <- val:
	default:
	}
}

// check validates a response to method path (the operation's path,
// filled, without the base URL's prefix) with a validator of the free
// list.
func (v *validator) check(method, path string, res *http.Response, body []byte) error {
	val, err := v.take()
	if err != nil {
		return fmt.Errorf("the OpenAPI document: %w", err)
	}
	defer v.give(val)
	return checkWith(val, method, path, res, body)
}

// checkWith is check with c, which the caller took (take) and no other
// call is using. The fast check accepts what it can prove valid; the
// library decides everything else (fastcheck.go).
func checkWith(c *checker, method, path string, res *http.Response, body []byte) error {
	req, err := http.NewRequest(method, "http://plugin"+path, nil)
	if err != nil {
		return err
	}
	if c.fast.valid(req, res.StatusCode, res.Header, body) {
		return nil
	}
	return libCheck(c.lib, req, res, body)
}

// libCheck is libopenapi-validator's verdict on the response to req.
func libCheck(val oav.Validator, req *http.Request, res *http.Response, body []byte) error {
	copyRes := &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	ok, errs := val.ValidateHttpResponse(req, copyRes)
	if ok {
		return nil
	}
	var parts []string
	for _, e := range errs {
		msg := e.Message
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
		for _, s := range e.SchemaValidationErrors {
			msg += fmt.Sprintf(" [%s %s]", s.FieldPath, s.Reason)
		}
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		parts = append(parts, "the response does not match the OpenAPI document")
	}
	return fmt.Errorf("status %d: %s", res.StatusCode, strings.Join(parts, "; "))
}
