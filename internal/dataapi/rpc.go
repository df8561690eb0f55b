package dataapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/db9/db9/internal/dataapi/payload"
	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
)

func rpcNotFound(q schema.QName, args []string) error {
	return &pgrst.Error{Status: 404, Code: "PGRST202",
		Message: fmt.Sprintf("Could not find the function %s(%s) in the schema cache", q, strings.Join(args, ", ")),
		Hint:    "If a new function was created in the database with this name and parameters, try reloading the schema cache."}
}

// chooseFunction picks the overload whose arguments the given names fit:
// every argument without a default is given, nothing unknown is.
func chooseFunction(cands []*schema.Function, given []string, rawBody bool) ([]*schema.Function, *schema.Function) {
	var fits []*schema.Function
	for _, f := range cands {
		in := f.InArgs()
		if rawBody && len(in) == 1 && in[0].Name == "" && (in[0].Type.Name == "json" || in[0].Type.Name == "jsonb") {
			return nil, f
		}
		names := map[string]bool{}
		ok := true
		for i, a := range in {
			if a.Name == "" {
				ok = false
			}
			names[a.Name] = true
			if i < len(in)-f.NDefaults && !contains(given, a.Name) {
				ok = false
			}
		}
		for _, g := range given {
			if !names[g] {
				ok = false
			}
		}
		if ok {
			fits = append(fits, f)
		}
	}
	if len(fits) == 1 {
		return nil, fits[0]
	}
	return fits, nil
}

// buildRPC builds GET|POST /rpc/name.
func (s *scope) buildRPC(req *request, name string) (*built, error) {
	qn0 := schema.QName{Schema: s.profile, Name: name}
	var cands []*schema.Function
	if s.visible(qn0) {
		cands = s.sc.Functions[qn0]
	}
	if len(cands) == 0 {
		var keys []string
		for _, kv := range req.pairs {
			keys = append(keys, kv.Key)
		}
		return nil, rpcNotFound(qn0, keys)
	}
	argNames := map[string]bool{}
	for _, f := range cands {
		for _, a := range f.InArgs() {
			argNames[a.Name] = true
		}
	}
	q, err := pgrst.ParseQuery(req.pairs, func(k string) bool { return argNames[k] && req.method != http.MethodPost })
	if err != nil {
		if req.method != http.MethodPost {
			// A parameter that is neither an argument nor a filter: the
			// caller meant an overload that does not exist.
			var keys []string
			for _, kv := range req.pairs {
				keys = append(keys, kv.Key)
			}
			return nil, rpcNotFound(qn0, keys)
		}
		return nil, err
	}
	b := &sqlgen.Builder{}
	var given []string
	var bodyObj map[string]json.RawMessage
	rawBody := false
	if req.method == http.MethodPost {
		trimmed := bytes.TrimSpace(req.body)
		if len(trimmed) == 0 {
			trimmed = []byte("{}")
		}
		if !json.Valid(trimmed) {
			return nil, payload.InvalidBody("")
		}
		if trimmed[0] == '{' && json.Unmarshal(trimmed, &bodyObj) == nil {
			given = payload.SortedKeys(bodyObj)
		}
		rawBody = true
		req.body = trimmed
	} else {
		for _, kv := range q.Params {
			if !contains(given, kv.Key) {
				given = append(given, kv.Key)
			}
		}
		sort.Strings(given)
	}
	fits, f := chooseFunction(cands, given, rawBody && (bodyObj == nil || req.prefer.SingleObj))
	if f == nil {
		if len(fits) > 1 {
			return nil, &pgrst.Error{Status: 300, Code: "PGRST203",
				Message: fmt.Sprintf("Could not choose the best candidate function between: %s", qn0)}
		}
		return nil, rpcNotFound(qn0, given)
	}
	// The call, with named arguments.
	var call string
	in := f.InArgs()
	from := ""
	switch {
	case req.method == http.MethodPost && len(in) == 1 && in[0].Name == "":
		call = sqlgen.QualifiedName(qn0) + "(" + b.P(string(req.body)) + ")"
	case req.method == http.MethodPost:
		var defs, named []string
		for _, a := range in {
			if !contains(given, a.Name) {
				continue
			}
			defs = append(defs, sqlgen.Ident(a.Name)+" "+sqlgen.TypeName(a.Type))
			named = append(named, sqlgen.Ident(a.Name)+" := "+sqlgen.Ident("pgrst_args")+"."+sqlgen.Ident(a.Name))
		}
		if len(defs) > 0 {
			from = "json_to_record(" + b.P(string(req.body)) + ") AS " + sqlgen.Ident("pgrst_args") + "(" + strings.Join(defs, ", ") + "), LATERAL "
		}
		call = sqlgen.QualifiedName(qn0) + "(" + strings.Join(named, ", ") + ")"
	default:
		var named []string
		for _, a := range in {
			for _, kv := range q.Params {
				if kv.Key == a.Name {
					named = append(named, sqlgen.Ident(a.Name)+" := CAST("+b.P(kv.Value)+" AS "+sqlgen.TypeName(a.Type)+")")
					break
				}
			}
		}
		call = sqlgen.QualifiedName(qn0) + "(" + strings.Join(named, ", ") + ")"
	}
	alias := "pgrst_call"
	bt := &built{status: 200, readOnly: req.method != http.MethodPost || f.Volatility != "v"}
	if f.Ret.Name == "void" && !f.RetSet {
		bt.void = true
	}
	source := from + call + " AS " + sqlgen.Ident(alias)
	var inner string
	scalar := f.Scalar()
	if scalar {
		inner = "SELECT " + sqlgen.Ident(alias) + "." + sqlgen.Ident(alias) + " AS " + sqlgen.Ident("pgrst_scalar") + " FROM " + source
		if len(q.Nodes) > 0 {
			inner = "SELECT * FROM (" + inner + ") AS " + sqlgen.Ident("pgrst_scalar_src")
		}
	} else {
		var t *schema.Table
		if f.RetRelation != nil {
			t = s.sc.Table(*f.RetRelation)
		} else if cols := f.OutColumns(); len(cols) > 0 {
			t = &schema.Table{Schema: s.profile, Name: alias, Columns: cols}
		}
		if t != nil && t.Name != alias {
			// Rows of a table type: embedding works from the table.
			t2 := *t
			t = &t2
		}
		root, err := s.plan(b, t, alias, q)
		if err != nil {
			return nil, err
		}
		sp, err := b.Render(root, nil, nil)
		if err != nil {
			return nil, err
		}
		inner = sp.SQL(source, true)
		if req.prefer.Count == "exact" {
			bt.main.sql = sp.CountSQL(source)
		}
	}
	body := bodyExpr(req.out, scalar)
	if !f.RetSet && req.out == outJSON {
		body = bodyExpr(outObject, scalar)
	}
	total := bt.main.sql
	main := finalSQL("", inner, total, body, "")
	if req.out == outPlanJSON || req.out == outPlanText {
		if main, err = explain(req.out, req.planOpts, inner); err != nil {
			return nil, err
		}
	}
	bt.main = stmt{sql: main, args: b.Args()}
	return bt, nil
}
