//go:build !linux

package cli

import (
	"errors"
	"io"
)

var errLineInterrupted = errors.New("interrupted")

// newTermReader has no line editor off Linux: the plain reader is used.
func newTermReader(io.Reader, io.Writer) lineReader { return nil }
