package pgrst

import (
	"encoding/json"
	"fmt"
)

// Error is a PostgREST error: the JSON body {code, details, hint, message}
// and the HTTP status it is answered with. Details and Hint are JSON null
// when empty, as PostgREST sends them.
type Error struct {
	Status  int
	Code    string
	Message string
	Details string
	// DetailList, when set, is sent as the details instead of Details:
	// PostgREST answers some errors (PGRST201) with an array of objects.
	DetailList any
	Hint       string
	// Headers are added to the response (e.g. WWW-Authenticate on 401).
	Headers map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// MarshalJSON writes PostgREST's body, keys in its order.
func (e *Error) MarshalJSON() ([]byte, error) {
	var details, hint any
	if e.DetailList != nil {
		details = e.DetailList
	} else if e.Details != "" {
		details = e.Details
	}
	if e.Hint != "" {
		hint = e.Hint
	}
	return json.Marshal(struct {
		Code    string `json:"code"`
		Details any    `json:"details"`
		Hint    any    `json:"hint"`
		Message string `json:"message"`
	}{e.Code, details, hint, e.Message})
}

// ParseError is PGRST100: a query parameter that does not parse.
func ParseError(param, value, details string) *Error {
	return &Error{Status: 400, Code: "PGRST100",
		Message: fmt.Sprintf("\"failed to parse %s parameter (%s)\"", param, value),
		Details: details}
}

// Errorf builds an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}
