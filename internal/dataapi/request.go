package dataapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/db9/db9/internal/dataapi/payload"
	"github.com/db9/db9/internal/dataapi/pgrst"
)

// outKind is the representation the client accepted.
type outKind int

const (
	outJSON outKind = iota
	outObject
	outCSV
	outPlanJSON
	outPlanText
	outOpenAPI
)

// request is one parsed HTTP request of the data API.
type request struct {
	method   string
	path     string // after /rest/v1: "/", "/posts", "/rpc/fn"
	p        *Principal
	prefer   pgrst.Prefer
	pairs    []pgrst.KV
	body     []byte
	out      outKind
	planOpts []string
	rng      *pgrst.Range
	profile  string // header value
	headers  http.Header
	csvBody  bool // body was text/csv, now a JSON array of rows
}

// maxBody bounds request bodies (bulk inserts included).
const maxBody = 64 << 20

func parseRequest(r *http.Request, path string, p *Principal) (*request, error) {
	req := &request{method: r.Method, path: path, p: p, headers: r.Header}
	var err error
	if req.pairs, err = pgrst.SplitQuery(r.URL.RawQuery); err != nil {
		return nil, err
	}
	req.prefer = pgrst.ParsePrefer(r.Header.Values("Prefer"))
	if req.prefer.Handling == "strict" && len(req.prefer.Invalid) > 0 {
		return nil, &pgrst.Error{Status: 400, Code: "PGRST122", Message: "Invalid preferences given with handling=strict",
			Details: "Invalid preferences: " + strings.Join(req.prefer.Invalid, ", ")}
	}
	if req.out, req.planOpts, err = negotiate(r.Header.Get("Accept"), path); err != nil {
		return nil, err
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		req.profile = r.Header.Get("Accept-Profile")
		if rg, ok := pgrst.ParseRange(r.Header.Get("Range")); ok && (r.Header.Get("Range-Unit") == "" || r.Header.Get("Range-Unit") == "items") {
			req.rng = new(pgrst.Range) // allocated only with a Range header
			*req.rng = rg
		}
	} else {
		req.profile = r.Header.Get("Content-Profile")
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, &pgrst.Error{Status: 400, Code: "PGRST102", Message: "Could not read the request body"}
		}
		if len(b) > maxBody {
			return nil, errBodyTooLarge
		}
		req.body = b
		if len(bytes.TrimSpace(b)) > 0 {
			ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
			switch ct = strings.ToLower(strings.TrimSpace(ct)); ct {
			case "", "application/json", "application/vnd.pgrst.object+json", "text/plain":
			case "text/csv":
				if req.body, err = payload.CSVToJSON(b); err != nil {
					return nil, err
				}
				req.csvBody = true
			default:
				return nil, &pgrst.Error{Status: 415, Code: "PGRST107", Message: "The request's Content-Type is not acceptable: " + ct}
			}
		}
	}
	return req, nil
}

// negotiate picks the response representation from Accept, in the order
// the client listed the types.
func negotiate(accept, path string) (outKind, []string, error) {
	if strings.TrimSpace(accept) == "" {
		if path == "/" || path == "" {
			return outOpenAPI, nil, nil
		}
		return outJSON, nil, nil
	}
	// Cut rather than Split: no slices for the common single media type.
	for rest, more := accept, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		mt, params, _ := strings.Cut(part, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		var opts []string
		for params != "" {
			var f string
			f, params, _ = strings.Cut(params, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if k == "options" {
				opts = strings.Split(strings.Trim(v, `"`), "|")
			}
		}
		root := path == "/" || path == ""
		switch mt {
		case "*/*", "application/*", "application/json", "application/vnd.pgrst.array+json":
			if root {
				return outOpenAPI, nil, nil
			}
			return outJSON, nil, nil
		case "application/openapi+json":
			if root {
				return outOpenAPI, nil, nil
			}
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			return outObject, nil, nil
		case "text/csv":
			return outCSV, nil, nil
		case "application/vnd.pgrst.plan+json", "application/vnd.pgrst.plan":
			return outPlanJSON, opts, nil
		case "application/vnd.pgrst.plan+text":
			return outPlanText, opts, nil
		}
	}
	return 0, nil, &pgrst.Error{Status: 406, Code: "PGRST107", Message: fmt.Sprintf("None of these media types are available: %s", accept)}
}
