package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/portico-gov/portico/internal/web"
)

// Document returns the OpenAPI 3.1 document of the registered operations,
// encoded as JSON.
// Schemas are generated from the Go response types by reflection (JSON
// Schema 2020-12, which OpenAPI 3.1 uses as is); shared types land in
// components/schemas. Errors are described once as the Problem schema.
func (a *API) Document() ([]byte, error) {
	r := &jsonschema.Reflector{
		Anonymous: true,
		// Required follows encoding/json: a field without omitempty is
		// always present.
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case reflect.TypeFor[json.RawMessage]():
				return &jsonschema.Schema{} // any JSON value
			case reflect.TypeFor[time.Time]():
				return &jsonschema.Schema{Type: "string", Format: "date-time"}
			}
			return nil
		},
	}
	components := map[string]any{}
	var collision error
	schemaOf := func(v any) any {
		s := r.Reflect(v)
		for name, def := range s.Definitions {
			if old, ok := components[name]; ok {
				a, _ := json.Marshal(old)
				b, _ := json.Marshal(def)
				if string(a) != string(b) && collision == nil {
					collision = fmt.Errorf("api: two response types are both named %s; rename one", name)
				}
			}
			components[name] = def
		}
		s.Definitions = nil
		s.Version = ""
		return s
	}
	paths := map[string]map[string]any{}
	for _, op := range a.ops {
		o := map[string]any{
			"operationId": op.ID,
			"summary":     op.Summary,
			"responses": map[string]any{
				"200": map[string]any{
					"description": "OK",
					"content":     map[string]any{"application/json": map[string]any{"schema": schemaOf(op.Response)}},
				},
				"default": map[string]any{
					"description": "An error (RFC 9457)",
					"content":     map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
				},
			},
		}
		if op.Description != "" {
			o["description"] = op.Description
		}
		if op.Tag != "" {
			o["tags"] = []string{op.Tag}
		}
		switch op.Auth {
		case Citizen:
			o["security"] = []any{map[string]any{"portico": []string{"openid", ScopeApplications}}}
		case Staff:
			o["security"] = []any{map[string]any{"portico": []string{"openid"}}}
		case AgencySystem:
			o["security"] = []any{map[string]any{"portico": []string{op.Scope}}}
		default:
			o["security"] = []any{}
		}
		var params []any
		for _, p := range op.Params {
			typ := p.Type
			if typ == "" {
				typ = "string"
			}
			params = append(params, map[string]any{
				"name": p.Name, "in": p.In, "description": p.Description,
				"required": p.Required || p.In == "path", "schema": map[string]any{"type": typ},
			})
		}
		if params != nil {
			o["parameters"] = params
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
	}
	schemaOf(web.Problem{}) // adds components/schemas/Problem
	if collision != nil {
		return nil, collision
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Portico API",
			"version": "1",
			"description": "Public catalog reads, a signed-in person's applications (a bearer token with the " +
				"\"applications\" scope from Portico's OpenID Provider), cases for agency staff, and an agency's events for its " +
				"systems (a client_credentials token with the \"events.read\" scope).",
		},
		"paths":             paths,
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"components": map[string]any{
			"schemas": components,
			"securitySchemes": map[string]any{
				"portico": map[string]any{
					"type":             "openIdConnect",
					"openIdConnectUrl": "/.well-known/openid-configuration",
				},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("api: document: %w", err)
	}
	// The reflector refers to shared types as #/$defs/T; OpenAPI keeps
	// them in components.
	return bytes.ReplaceAll(b, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`)), nil
}

// documentOnce caches the encoded document: operations are registered at
// start-up only.
type documentCache struct {
	once sync.Once
	body []byte
	err  error
}

func (a *API) serveDocument(w http.ResponseWriter, r *http.Request) {
	a.doc.once.Do(func() {
		a.doc.body, a.doc.err = a.Document()
	})
	if a.doc.err != nil {
		web.WriteProblem(w, r, a.web.Logger(), a.doc.err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(a.doc.body)
}
