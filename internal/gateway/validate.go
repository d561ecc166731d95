package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	oav "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
)

// validator checks plug-in responses against the plug-in's OpenAPI
// document (libopenapi-validator): the status code must be declared for
// the operation and the body must match its schema.
type validator struct {
	mu sync.Mutex // the library's validator is not documented as safe for concurrent use
	v  oav.Validator
}

func newValidator(doc []byte) (v *validator, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("the document cannot be read (%v)", r)
		}
	}()
	d, err := libopenapi.NewDocumentWithConfiguration(doc, &datamodel.DocumentConfiguration{})
	if err != nil {
		return nil, err
	}
	val, errs := oav.NewValidator(d)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return &validator{v: val}, nil
}

// check validates a response to method path (the operation's path,
// filled, without the base URL's prefix).
func (v *validator) check(method, path string, res *http.Response, body []byte) error {
	req, err := http.NewRequest(method, "http://plugin"+path, nil)
	if err != nil {
		return err
	}
	copyRes := &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	v.mu.Lock()
	ok, errs := v.v.ValidateHttpResponse(req, copyRes)
	v.mu.Unlock()
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
