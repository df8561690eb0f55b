package pgrst

import (
	"strconv"
	"strings"
)

// Prefer holds the recognised `Prefer` header preferences.
type Prefer struct {
	Return      string // "", minimal, headers-only, representation
	Count       string // "", exact, planned, estimated
	Resolution  string // "", merge-duplicates, ignore-duplicates
	Missing     string // "", default, null
	Handling    string // "", strict, lenient
	Tx          string // "", commit, rollback
	MaxAffected *int64
	SingleObj   bool // params=single-object
	Invalid     []string
}

var preferValues = map[string][]string{
	"return":     {"minimal", "headers-only", "representation"},
	"count":      {"exact", "planned", "estimated"},
	"resolution": {"merge-duplicates", "ignore-duplicates"},
	"missing":    {"default", "null"},
	"handling":   {"strict", "lenient"},
	"tx":         {"commit", "rollback"},
	"params":     {"single-object"},
}

// ParsePrefer parses every Prefer header value. Unknown preferences are
// listed in Invalid (an error only with handling=strict).
func ParsePrefer(headers []string) Prefer {
	var p Prefer
	for _, h := range headers {
		for _, tok := range strings.Split(h, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			k, v, _ := strings.Cut(tok, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "max-affected" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					p.Invalid = append(p.Invalid, tok)
					continue
				}
				p.MaxAffected = &n
				continue
			}
			ok := false
			for _, allowed := range preferValues[k] {
				if v == allowed {
					ok = true
				}
			}
			if !ok {
				if k != "timezone" {
					p.Invalid = append(p.Invalid, tok)
				}
				continue
			}
			switch k {
			case "return":
				p.Return = v
			case "count":
				p.Count = v
			case "resolution":
				p.Resolution = v
			case "missing":
				p.Missing = v
			case "handling":
				p.Handling = v
			case "tx":
				p.Tx = v
			case "params":
				p.SingleObj = true
			}
		}
	}
	return p
}
