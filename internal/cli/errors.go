package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
	"github.com/db9/db9/internal/platform"
)

// hintedError is an error the CLI explains: one line, and a hint saying
// what to do about it.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

// hint attaches a hint to err (nil stays nil).
func hint(err error, h string) error {
	if err == nil {
		return nil
	}
	return &hintedError{err: err, hint: h}
}

// usage marks a usage error; helpFor is the command to read help on, or
// a whole hint sentence when it does not start with "db9".
func usage(err error, helpFor string) error {
	if strings.HasPrefix(helpFor, "db9") {
		return hint(err, "see `"+helpFor+"`")
	}
	return hint(err, helpFor)
}

// exitStatus makes the process exit with a given code without printing
// anything (psql ran and reported its own errors).
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errUnsupported is a 404 from an endpoint this server does not have yet.
func errUnsupported(a *app, feature string) error {
	return hint(fmt.Errorf("the server at %s does not offer %s", a.apiURL(), feature),
		"this needs a newer db9 server")
}

// explain turns API and transport errors into one clear line with a hint.
func (a *app) explain(err error) error {
	if err == nil {
		return nil
	}
	var he *hintedError
	var es *exitStatus
	if errors.As(err, &he) || errors.As(err, &es) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	var te *client.TransportError
	if errors.As(err, &te) {
		return hint(fmt.Errorf("cannot reach the db9 API at %s: %v", te.URL, te.Err),
			"is `db9 server` running there? Point --api-url or DB9_API_URL at it")
	}
	var ae *client.Error
	if !errors.As(err, &ae) {
		return err
	}
	msg := ae.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(ae.Status))
	}
	e := errors.New(msg)
	switch client.CodeOf(err) {
	case platform.CodeUnauthorized:
		switch a.source {
		case authEnv:
			return hint(fmt.Errorf("the API key in DB9_API_KEY was rejected: %s", msg), "check DB9_API_KEY; it may be expired, revoked or for another server")
		default:
			return hint(fmt.Errorf("the saved token was rejected: %s", msg), "log in again with `db9 login --api-key <key>`")
		}
	case platform.CodeQuotaExceeded:
		return hint(e, "delete a database (`db9 delete <db> --yes`) or claim the account (`db9 claim --id-token <token>`)")
	case platform.CodeForbidden:
		return hint(e, "the token's scope does not allow this; use an unscoped token")
	case platform.CodeNotFound:
		return hint(e, "`db9 list` shows your databases")
	case platform.CodeConflict:
		return hint(e, "`db9 list` shows your databases and their states")
	case platform.CodeRateLimited:
		h := "retry in a moment"
		if ae.RetryAfter != "" {
			h = "retry after " + ae.RetryAfter + "s"
		}
		return hint(e, h)
	case platform.CodeNotImplemented:
		return hint(e, "the server is not configured for this")
	}
	if ae.Status >= 500 {
		return hint(fmt.Errorf("server error: %s", msg), "the server log has the details; retry later")
	}
	return e
}

// notFoundDB explains a 404 on a call about database db: either the
// database does not exist, or the endpoint does not (an older server).
func (a *app) notFoundDB(ctx context.Context, s *session, db, feature string, err error) error {
	if !client.IsNotFound(err) {
		return err
	}
	if _, gerr := s.c.Databases.Get(ctx, db); client.IsNotFound(gerr) {
		return dbNotFound(db)
	} else if gerr != nil {
		return gerr
	}
	if feature == "" {
		return err
	}
	return errUnsupported(a, feature)
}

func dbNotFound(db string) error {
	return hint(fmt.Errorf("database %q not found", db), "`db9 list` shows your databases")
}

// describeError is the one line Run prints for err.
func describeError(err error) string {
	var he *hintedError
	if errors.As(err, &he) {
		return oneLine(he.err) + " (hint: " + he.hint + ")"
	}
	return oneLine(err)
}

// markCommandErrors wraps the RunE of c and its subcommands so that ran
// is set once a command's own code runs. An error that reaches Run with
// ran unset is cobra's (unknown command, missing required flag): a usage
// error, told apart without reading its text.
func markCommandErrors(c *cobra.Command, ran *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*ran = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		markCommandErrors(sub, ran)
	}
}
