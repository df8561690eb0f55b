// Package logkey is the vocabulary of db9's structured log: the attribute
// keys every component uses with log/slog, so that one key means one thing
// in every line and a search for `db=<id>` finds all of a database's lines.
//
// The convention: a component takes the *slog.Logger it is given and sets
// its name once, where it is built (log.With(logkey.Component, "proxy")),
// never per call; per-call attributes use the keys below, never a string
// literal. A key that is new gets its constant here first.
//
// It deliberately holds no logger, no handler and no helpers: loggers are
// passed in explicitly (no globals), and formatting is slog's.
package logkey
