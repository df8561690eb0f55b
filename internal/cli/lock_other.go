//go:build !unix

package cli

import "time"

// lockFile is a no-op where flock is unavailable.
func lockFile(path string, timeout time.Duration) (unlock func(), err error) {
	return func() {}, nil
}
