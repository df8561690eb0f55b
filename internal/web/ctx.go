package web

import (
	"context"
	"net/http"
)

func contextWithValue(r *http.Request, id string) context.Context {
	return context.WithValue(r.Context(), reqIDKey, id)
}
