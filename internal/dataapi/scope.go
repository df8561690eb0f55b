package dataapi

import (
	"strings"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
)

// scope is what one request may see: the schema cache filtered by the
// principal's exposed schemas and tables, and the profile schema chosen by
// Accept-Profile/Content-Profile.
type scope struct {
	sc      *schema.Schema
	p       *Principal
	profile string
}

func (s *scope) schemaExposed(n string) bool {
	if schema.PlatformSchema(n) {
		return false
	}
	for _, x := range s.p.Schemas {
		if x == n {
			return true
		}
	}
	return false
}

// visible reports whether a table, view or function may be reached at all.
func (s *scope) visible(q schema.QName) bool {
	if !s.schemaExposed(q.Schema) {
		return false
	}
	if len(s.p.Tables) == 0 {
		return true
	}
	for _, t := range s.p.Tables {
		if t == q.Name || t == q.Schema+"."+q.Name {
			return true
		}
	}
	return false
}

// table resolves a table of the profile schema; anything not visible is
// reported exactly as a missing one.
func (s *scope) table(name string) (*schema.Table, error) {
	q := schema.QName{Schema: s.profile, Name: name}
	t := s.sc.Table(q)
	if t == nil || !s.visible(q) {
		return nil, &pgrst.Error{Status: 404, Code: "PGRST205",
			Message: "Could not find the table '" + q.String() + "' in the schema cache"}
	}
	return t, nil
}

// plan resolves the select tree of q for t against what the request sees.
func (s *scope) plan(b *sqlgen.Builder, t *schema.Table, alias string, q *pgrst.Query) (*sqlgen.Node, error) {
	return sqlgen.Plan(b, s.sc, s.visible, t, alias, q)
}

// chooseProfile picks the schema named by the profile header (or the
// default, the first exposed schema).
func chooseProfile(p *Principal, header string) (string, error) {
	var exposed []string
	for _, s := range p.Schemas {
		if !schema.PlatformSchema(s) {
			exposed = append(exposed, s)
		}
	}
	if len(exposed) == 0 {
		return "", &pgrst.Error{Status: 406, Code: "PGRST106", Message: "No schema is exposed to this key"}
	}
	if header == "" {
		return exposed[0], nil
	}
	for _, s := range exposed {
		if s == header {
			return s, nil
		}
	}
	return "", &pgrst.Error{Status: 406, Code: "PGRST106",
		Message: "The schema must be one of the following: " + strings.Join(exposed, ", ")}
}
