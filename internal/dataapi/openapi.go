package dataapi

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/db9/db9/internal/dataapi/schema"
)

// buildOpenAPI answers GET / with a Swagger 2.0 description of the tables,
// views and functions of the profile schema that the principal may reach
// (exposure only; grants are not consulted), as PostgREST's root does.
func (s *scope) buildOpenAPI(req *request) (*built, error) {
	paths := map[string]any{"/": map[string]any{"get": map[string]any{"produces": []string{"application/openapi+json", "application/json"},
		"responses": map[string]any{"200": map[string]any{"description": "OK"}}, "summary": "OpenAPI description (this document)", "tags": []string{"Introspection"}}}}
	defs := map[string]any{}
	var names []string
	for q := range s.sc.Tables {
		if q.Schema == s.profile && s.visible(q) {
			names = append(names, q.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		t := s.sc.Tables[schema.QName{Schema: s.profile, Name: n}]
		props := map[string]any{}
		var required []string
		for _, c := range t.Columns {
			p := map[string]any{"format": c.Type.Display, "type": swaggerType(c.Type)}
			if contains(t.PK, c.Name) {
				p["description"] = "Note:\nThis is a Primary Key.<pk/>"
			}
			if c.Default != nil {
				p["default"] = *c.Default
			}
			if len(c.Enum) > 0 {
				p["enum"] = c.Enum
			}
			props[c.Name] = p
			if !c.Nullable && c.Default == nil {
				required = append(required, c.Name)
			}
		}
		def := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			def["required"] = required
		}
		if t.Description != nil {
			def["description"] = *t.Description
		}
		defs[n] = def
		ok := map[string]any{"200": map[string]any{"description": "OK"}}
		ops := map[string]any{"get": map[string]any{"tags": []string{n}, "responses": ok}}
		if !t.IsView() || t.Kind == "v" {
			for _, m := range []string{"post", "patch", "delete"} {
				ops[m] = map[string]any{"tags": []string{n}, "responses": ok}
			}
		}
		paths["/"+n] = ops
	}
	var fnames []string
	for q := range s.sc.Functions {
		if q.Schema == s.profile && s.visible(q) {
			fnames = append(fnames, q.Name)
		}
	}
	sort.Strings(fnames)
	for _, n := range fnames {
		f := s.sc.Functions[schema.QName{Schema: s.profile, Name: n}][0]
		props := map[string]any{}
		for _, a := range f.InArgs() {
			props[a.Name] = map[string]any{"format": a.Type.Display, "type": swaggerType(a.Type)}
		}
		body := map[string]any{"in": "body", "name": "args", "required": true,
			"schema": map[string]any{"type": "object", "properties": props}}
		op := map[string]any{"tags": []string{"(rpc) " + n}, "parameters": []any{body},
			"responses": map[string]any{"200": map[string]any{"description": "OK"}}}
		if f.Description != nil {
			op["summary"] = *f.Description
		}
		ops := map[string]any{"post": op}
		if f.Volatility != "v" {
			ops["get"] = map[string]any{"tags": []string{"(rpc) " + n}, "responses": op["responses"]}
		}
		paths["/rpc/"+n] = ops
	}
	doc := map[string]any{
		"swagger":  "2.0",
		"info":     map[string]any{"title": "db9 data API", "description": "PostgREST-compatible API of schema " + s.profile, "version": "12"},
		"basePath": "/", "schemes": []string{"http", "https"},
		"consumes": []string{"application/json", "application/vnd.pgrst.object+json", "text/csv"},
		"produces": []string{"application/json", "application/vnd.pgrst.object+json", "text/csv"},
		"paths":    paths, "definitions": defs,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return &built{static: b, status: http.StatusOK}, nil
}

func swaggerType(t schema.Type) string {
	switch t.Category {
	case "N":
		if t.Name == "int2" || t.Name == "int4" || t.Name == "int8" {
			return "integer"
		}
		return "number"
	case "B":
		return "boolean"
	case "A":
		return "array"
	}
	if t.Name == "json" || t.Name == "jsonb" {
		return "object"
	}
	return "string"
}
