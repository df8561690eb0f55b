package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chzyer/readline"
)

// errLineInterrupted is Ctrl-C at the prompt: drop what is being typed.
var errLineInterrupted = errors.New("interrupted")

// termReader is the line editor of an interactive SQL session: readline's
// editing keys, history on up/down kept across sessions in a file,
// reverse search with Ctrl-R, and tab completion. The terminal is raw only
// while a line is read, so queries run (and Ctrl-C cancels them) in the
// terminal's normal mode.
type termReader struct {
	rl *readline.Instance
}

// newTermReader returns nil when in is not a terminal. History is kept in
// historyFile (none when empty); complete answers the Tab key.
func newTermReader(in io.Reader, out io.Writer, historyFile string, complete readline.AutoCompleter) (lineReader, error) {
	f, ok := in.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, nil
	}
	if historyFile != "" {
		// readline creates the file world-readable; statements may hold
		// passwords, so it is the user's alone, like psql's.
		h, err := os.OpenFile(historyFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open history file: %w", err)
		}
		h.Close()
	}
	fd := int(f.Fd())
	var saved *readline.State
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:            historyFile,
		HistoryLimit:           1000,
		DisableAutoSaveHistory: true, // a statement is saved once complete, as one line
		HistorySearchFold:      true,
		AutoComplete:           complete,
		Stdin:                  readline.NewCancelableStdin(f),
		Stdout:                 out,
		Stderr:                 out,
		FuncIsTerminal:         func() bool { return true },
		FuncMakeRaw: func() error {
			st, err := readline.MakeRaw(fd)
			saved = st
			return err
		},
		FuncExitRaw: func() error {
			if saved == nil {
				return nil
			}
			return readline.Restore(fd, saved)
		},
		// A terminal that reports no width (a fresh pseudo-terminal) would
		// switch completion off.
		FuncGetWidth: func() int {
			if w := readline.GetScreenWidth(); w > 0 {
				return w
			}
			return 80
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start line editor: %w", err)
	}
	return &termReader{rl: rl}, nil
}

func (r *termReader) ReadLine(prompt string) (string, error) {
	r.rl.SetPrompt(prompt)
	line, err := r.rl.Readline()
	switch {
	case errors.Is(err, readline.ErrInterrupt):
		return "", errLineInterrupted
	case errors.Is(err, io.EOF):
		return "", io.EOF
	}
	return line, err
}

func (r *termReader) AddHistory(entry string) {
	if entry != "" {
		_ = r.rl.SaveHistory(entry) // history is a convenience: a full disk must not end the session
	}
}

func (r *termReader) Close() error { return r.rl.Close() }
