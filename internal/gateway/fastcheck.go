package gateway

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/radix"
	"github.com/pb33f/libopenapi-validator/router"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// fastCheck accepts the common valid response without
// libopenapi-validator's per-response overhead (ADR 78): the library
// rebuilds its validation options and walks the schema to hash it, to
// look its compiled schema up in a cache, on every response. fastCheck
// resolves the response the same way with the library's own functions
// (paths.FindPath over the same radix tree and router the library builds,
// helpers.ExtractOperation, the status code then its range then default,
// helpers.FindMediaType, the body registry's decoder, content.Canonicalize)
// and validates the decoded body with the schema the library compiles
// (schema_validation.CompileSchemaForValidation for a response body, the
// same version), compiled once per schema here.
//
// Its contract is one-sided: valid reports true only when the library
// would accept the response too (TestFastCheckAgreesWithLibrary,
// FuzzFastCheck). Every other response, and every case it does not
// handle (no match, declared headers, no content, a media type that is
// not JSON, an empty or null body, a HEAD request, strict mode), makes
// it report false, and the caller asks the library, whose verdict and
// messages then stand. So a response is never accepted that the library
// would refuse; a refused one costs what it did before.
//
// Like the library's validator it is not safe for concurrent use: each
// pooled validator has its own (validator.take).
type fastCheck struct {
	doc      *v3.Document
	opts     *config.ValidationOptions
	version  float32
	compiled map[*base.Schema]*jsonschema.Schema // nil value: the schema did not compile (the library decides)
}

// newFastCheck builds the options as oav.NewValidatorFromV3Model does
// for routing (the radix tree and the path-only router over it) and
// bodies (the default registry; the library's xml and form compatibility
// decoders are not needed, fastCheck handles JSON alone).
func newFastCheck(doc *v3.Document) *fastCheck {
	opts := config.NewValidationOptions()
	opts.PathTree = radix.BuildPathTree(doc)
	ro := []router.Option{router.WithPathLookup(opts.PathTree)}
	if opts.RegexCache != nil {
		ro = append(ro, router.WithRegexCache(opts.RegexCache))
	}
	if !opts.StrictServerMatching {
		ro = append(ro, router.WithPathOnlyMatching())
	}
	opts.Router = router.NewRouter(doc, ro...)
	return &fastCheck{doc: doc, opts: opts, version: helpers.VersionToFloat(doc.Version), compiled: map[*base.Schema]*jsonschema.Schema{}}
}

// valid reports whether the response (status, header, body) to req is
// certainly valid; false means "ask the library", not "invalid".
func (f *fastCheck) valid(req *http.Request, status int, header http.Header, body []byte) bool {
	if f.opts.StrictMode || !f.opts.ValidateResponseBody || req.Method == http.MethodHead || len(body) == 0 {
		return false
	}
	item, errs, _ := paths.FindPath(req, f.doc, f.opts)
	if item == nil || len(errs) > 0 {
		return false
	}
	op := helpers.ExtractOperation(req, item)
	if op == nil || op.Responses == nil || op.Responses.Codes == nil {
		return false
	}
	res := op.Responses.Codes.GetOrZero(strconv.Itoa(status))
	if res == nil {
		res = op.Responses.Codes.GetOrZero(strconv.Itoa(status/100) + "XX")
	}
	if res == nil {
		res = op.Responses.Default
	}
	if res == nil || res.Headers != nil || res.Content == nil || res.Content.Len() == 0 {
		return false
	}
	ct := header.Get(helpers.ContentTypeHeader)
	mt, ok := helpers.FindMediaType(res.Content, ct)
	if !ok || mt.Schema == nil || !strings.Contains(strings.ToLower(ct), helpers.JSONType) {
		return false
	}
	schema := mt.Schema.Schema()
	if schema == nil || schema.GoLow() == nil {
		return false
	}
	decoder, normalized, params := f.opts.BodyRegistry.Decoder(ct)
	if decoder == nil {
		decoder = content.JSONDecoder()
	}
	value, err := decoder.Decode(&content.DecodeInput{Context: req.Context(), Body: bytes.NewReader(body), Header: header,
		MediaType: normalized, Parameters: params, Schema: schema, Encoding: mt.Encoding, Direction: content.Response})
	if err == nil {
		value, err = content.Canonicalize(value)
	}
	if err != nil || value == nil {
		return false
	}
	cs, seen := f.compiled[schema]
	if !seen {
		c, err := schema_validation.CompileSchemaForValidation(schema, schema_validation.SchemaValidationPurposeResponseBody, f.opts, f.version)
		if err == nil && c != nil {
			cs = c.CompiledSchema
		}
		f.compiled[schema] = cs
	}
	return cs != nil && cs.Validate(value) == nil
}
