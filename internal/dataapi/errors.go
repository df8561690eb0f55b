package dataapi

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/pgrst"
)

// statusForSQLState is PostgREST's table from SQLSTATE to HTTP status
// (docs.postgrest.org, "HTTP Status Codes"). anonymous decides 42501.
func statusForSQLState(code string, anonymous bool) int {
	switch code {
	case "23503", "23505":
		return 409
	case "25006":
		return 405
	case "42883", "42P01":
		return 404
	case "42P17":
		return 500
	case "42501":
		if anonymous {
			return 401
		}
		return 403
	case "53400":
		return 500
	case "P0001":
		return 400
	}
	if len(code) < 2 {
		return 500
	}
	switch code[:2] {
	case "08", "53":
		return 503
	case "09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "P0", "XX":
		return 500
	case "0L", "0P", "28":
		return 403
	}
	return 400
}

// toPgrst turns any error of a request into the PostgREST error to answer.
func toPgrst(err error, anonymous bool) *pgrst.Error {
	var pe *pgrst.Error
	if errors.As(err, &pe) {
		return pe
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		e := &pgrst.Error{Status: statusForSQLState(pg.Code, anonymous), Code: pg.Code,
			Message: pg.Message, Details: pg.Detail, Hint: pg.Hint}
		if e.Status == 401 {
			e.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
		}
		// PostgREST's custom statuses: RAISE SQLSTATE 'PT404' answers 404.
		if strings.HasPrefix(pg.Code, "PT") && len(pg.Code) == 5 {
			if n := atoiStatus(pg.Code[2:]); n >= 100 {
				e.Status = n
			}
		}
		return e
	}
	if errors.Is(err, errBodyTooLarge) {
		return &pgrst.Error{Status: 413, Code: "PGRST102", Message: "Request body too large"}
	}
	return &pgrst.Error{Status: 503, Code: "PGRST000", Message: "Database client error. Retrying the connection."}
}

func atoiStatus(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

var errBodyTooLarge = errors.New("request body too large")
