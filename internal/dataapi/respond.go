package dataapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/db9/db9/internal/dataapi/payload"
	"github.com/db9/db9/internal/dataapi/pgrst"
)

// contentRange renders PostgREST's Content-Range: "0-9/*", "*/0".
func contentRange(offset, n int64, total *int64) string {
	t := "*"
	if total != nil {
		t = strconv.FormatInt(*total, 10)
	}
	if n <= 0 {
		return "*/" + t
	}
	return strconv.FormatInt(offset, 10) + "-" + strconv.FormatInt(offset+n-1, 10) + "/" + t
}

func contentType(out outKind) string {
	switch out {
	case outObject:
		return "application/vnd.pgrst.object+json; charset=utf-8"
	case outCSV:
		return "text/csv; charset=utf-8"
	case outPlanJSON:
		return `application/vnd.pgrst.plan+json; for="application/json"; charset=utf-8`
	case outPlanText:
		return `application/vnd.pgrst.plan+text; for="application/json"; charset=utf-8`
	case outOpenAPI:
		return "application/openapi+json; charset=utf-8"
	}
	return "application/json; charset=utf-8"
}

// preferenceApplied lists the preferences that were honoured.
func preferenceApplied(req *request, bt *built) string {
	p := req.prefer
	var out []string
	if p.Resolution != "" && req.method == http.MethodPost {
		out = append(out, "resolution="+p.Resolution)
	}
	if p.Missing != "" && (req.method == http.MethodPost || req.method == http.MethodPut) {
		out = append(out, "missing="+p.Missing)
	}
	if p.Return != "" && bt.mutation {
		out = append(out, "return="+p.Return)
	}
	if p.Count != "" {
		out = append(out, "count="+p.Count)
	}
	if p.Tx != "" {
		out = append(out, "tx="+p.Tx)
	}
	if p.Handling != "" {
		out = append(out, "handling="+p.Handling)
	}
	if p.MaxAffected != nil && p.Handling == "strict" && bt.mutation {
		out = append(out, "max-affected="+strconv.FormatInt(*p.MaxAffected, 10))
	}
	return strings.Join(out, ", ")
}

func respond(w http.ResponseWriter, req *request, bt *built, res *result) error {
	h := w.Header()
	if pa := preferenceApplied(req, bt); pa != "" {
		h.Set("Preference-Applied", pa)
	}
	total := res.total
	if req.prefer.Count == "planned" {
		total = res.planned
	} else if req.prefer.Count == "estimated" && res.total != nil && *res.total > bt.estimateAt && res.planned != nil {
		total = res.planned
	}
	if req.out == outPlanJSON || req.out == outPlanText {
		h.Set("Content-Type", contentType(req.out))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(res.body)
		return nil
	}
	if bt.void {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	status := bt.status
	if !bt.mutation {
		if req.out == outObject && res.pageTotal != 1 {
			return singularError(res.pageTotal)
		}
		if total != nil && bt.status == 200 {
			if bt.offset > 0 && bt.offset >= *total && !(bt.offset == 0 && *total == 0) {
				return &pgrst.Error{Status: 416, Code: "PGRST103", Message: "Requested range not satisfiable",
					Details: "An offset of " + strconv.FormatInt(bt.offset, 10) + " was requested, but there are only " +
						strconv.FormatInt(*total, 10) + " rows."}
			}
			if res.pageTotal < *total {
				status = http.StatusPartialContent
			}
		}
		h.Set("Content-Range", contentRange(bt.offset, res.pageTotal, total))
		h.Set("Content-Type", contentType(req.out))
		w.WriteHeader(status)
		if req.method != http.MethodHead {
			_, _ = w.Write(res.body)
		}
		return nil
	}
	// Mutations: a count of any kind is of the rows affected, which are
	// known exactly (PostgREST does the same; supabase-js reads it from
	// Content-Range for update/delete/insert with { count }).
	if req.prefer.Count != "" {
		total = &res.pageTotal
	}
	if req.method == http.MethodPost {
		h.Set("Content-Range", "*/"+totalText(total))
	} else {
		h.Set("Content-Range", contentRange(0, res.pageTotal, total))
	}
	if req.method == http.MethodPost && req.prefer.Return == "headers-only" && len(res.extra) > 0 {
		h.Set("Location", location(bt.table.Name, res.extra))
	}
	if wantsBody(req) {
		h.Set("Content-Type", contentType(req.out))
		w.WriteHeader(status)
		_, _ = w.Write(res.body)
		return nil
	}
	if req.method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

func totalText(t *int64) string {
	if t == nil {
		return "*"
	}
	return strconv.FormatInt(*t, 10)
}

// location renders /table?pk=eq.v&... from the first inserted row's key.
func location(table string, pk []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(pk, &m) != nil {
		return "/" + table
	}
	keys := payload.SortedKeys(m)
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, url.QueryEscape(k)+"=eq."+url.QueryEscape(payload.ScalarText(m[k])))
	}
	return "/" + url.PathEscape(table) + "?" + strings.Join(parts, "&")
}
