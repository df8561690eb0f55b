package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// TestApp_Explain_ByCode: the hint follows the API's error code, never the
// words of its message.
func TestApp_Explain_ByCode(t *testing.T) {
	a := newApp(Env{Getenv: func(string) string { return "" }})
	a.source = authFile
	tests := []struct {
		name     string
		err      error
		wantHint string
	}{
		{"quota", &client.Error{Status: 403, Code: "quota_exceeded", Message: "quota reached"}, "delete a database"},
		{"scope whose message mentions a quota", &client.Error{Status: 403, Code: "forbidden", Message: "quota_exceeded? no: scope ro"}, "token's scope"},
		{"not found", &client.Error{Status: 404, Code: "not_found", Message: "database not found"}, "`db9 list` shows your databases"},
		{"404 without a code", fmt.Errorf("get: %w", &client.Error{Status: 404}), "`db9 list` shows your databases"},
		{"conflict", &client.Error{Status: 409, Code: "conflict", Message: "busy"}, "their states"},
		{"rate limited", &client.Error{Status: 429, Code: "rate_limited", RetryAfter: "7"}, "retry after 7s"},
		{"unauthorized", &client.Error{Status: 401, Code: "unauthorized", Message: "invalid token"}, "log in again"},
		{"not implemented", &client.Error{Status: 501, Code: "not_implemented"}, "not configured"},
		{"server error", &client.Error{Status: 500, Code: "internal", Message: "boom"}, "server log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeError(a.explain(tt.err))
			_, h, ok := strings.Cut(got, "(hint: ")
			if !ok || !strings.Contains(h, tt.wantHint) {
				t.Errorf("explain(%v) = %q, want the hint %q", tt.err, got, tt.wantHint)
			}
		})
	}
	// An error that is not the API's keeps its text, whatever it says.
	plain := errors.New("not found: quota_exceeded")
	if got := a.explain(plain); got != plain {
		t.Errorf("explain(plain error) = %v", got)
	}
}

// TestRun_CobraErrorsGetUsageHint: errors cobra raises before a command
// runs (unknown command, missing required flag) are usage errors.
func TestRun_CobraErrorsGetUsageHint(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"wal-archive"}} {
		var out bytes.Buffer
		code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		if code != 1 || !strings.HasSuffix(strings.TrimSpace(out.String()), "(hint: add --help for usage)") {
			t.Errorf("db9 %s: exit %d, %q", strings.Join(args, " "), code, out.String())
		}
	}
}

// TestMarkCommandErrors: a command's own error is never taken for cobra's,
// even when its words look like one.
func TestMarkCommandErrors(t *testing.T) {
	root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(&cobra.Command{Use: "own", RunE: func(*cobra.Command, []string) error {
		return errors.New("unknown command in the user's file")
	}})
	var ran bool
	markCommandErrors(root, &ran)
	root.SetArgs([]string{"own"})
	if err := root.Execute(); err == nil || !ran {
		t.Fatalf("own command: err %v, ran %v", err, ran)
	}
	ran = false
	root.SetArgs([]string{"nosuch"})
	if err := root.Execute(); err == nil || ran {
		t.Fatalf("unknown command: err %v, ran %v", err, ran)
	}
}
