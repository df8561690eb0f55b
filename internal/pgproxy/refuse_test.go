package pgproxy

import (
	"context"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/platform"
)

// refuseAll is an Authenticator that refuses every login, for tests of the
// startup phase alone.
type refuseAll struct{}

func (refuseAll) Login(context.Context, string, string, string) (*control.PGSession, error) {
	return nil, platform.Errorf(platform.CodeUnauthorized, "password authentication failed")
}
