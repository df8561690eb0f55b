package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// tailChunk is the most one read asks for: under the 10 MiB a
// non-streamed call may carry.
const tailChunk = 8 << 20

func (a fsCommands) newFSTailfCmd() *cobra.Command {
	var lines int
	cmd := &cobra.Command{
		Use:   "tailf [-n N] <db>:/path",
		Short: "Print a file's last lines, then what is added to it (until interrupted)",
		Long: "Prints the last N lines of a file, then follows it through watch: when it grows, the new " +
			"bytes are printed. fs9 replaces files whole, so a file that got shorter (or was removed and " +
			"written again) is noted on stderr and printed again from its start. A file that does not " +
			"exist yet is waited for.",
		Example: "  db9 fs tailf myapp:/logs/app.log\n  db9 fs tailf -n 0 myapp:/logs/app.log",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			if lines < 0 {
				return usage(errors.New("-n must be 0 or more"), "db9 fs tailf --help")
			}
			// Subscribe before the first read: a change between the two is
			// then seen rather than lost.
			if _, err := c.Watch(ctx, p.path); err != nil {
				return err
			}
			t := &tailer{a: a.app, c: c, path: p.path}
			var off int64
			st, err := c.Stat(ctx, p.path)
			switch {
			case wsclient.IsCode(err, fs9.ENOENT):
				// As `tail -F`: a log file that is not written yet is waited for.
				a.note("%s: no such file yet; waiting for it to be written", p.path)
			case err != nil:
				return err
			case st.Type != "file":
				return hint(fs9.Errorf(fs9.EISDIR, "%s is a %s", p.path, st.Type), "tailf follows one file; `db9 fs watch` follows a directory")
			default:
				if off, err = t.last(ctx, st.Size, lines); err != nil {
					return err
				}
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case raw := <-c.Pushes():
					var ev struct {
						Push    string `json:"push"`
						Path    string `json:"path"`
						OldPath string `json:"old_path"`
					}
					if json.Unmarshal(raw, &ev) != nil || ev.Push == "watch_heartbeat" ||
						ev.Push == "watch_event" && ev.Path != p.path && ev.OldPath != p.path {
						continue
					}
					if off, err = t.follow(ctx, off); err != nil {
						return err
					}
				}
			}
		}),
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", 10, "how many of the last lines to print first")
	return cmd
}

// tailer prints a file's content from an offset on.
type tailer struct {
	a    *app
	c    *wsclient.Client
	path string
}

// readAt reads [off, off+n) (less at the end of the file).
func (t *tailer) readAt(ctx context.Context, off, n int64) ([]byte, error) {
	var v struct {
		Content []byte `json:"content"` // base64
	}
	data, err := t.c.Call(ctx, "read", map[string]any{"path": t.path, "offset": off, "length": n})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode read answer: %w", err)
	}
	return v.Content, nil
}

// last prints the last n lines of a file of size bytes and returns the
// offset following continues from.
func (t *tailer) last(ctx context.Context, size int64, n int) (int64, error) {
	if n == 0 || size == 0 {
		return size, nil
	}
	window := int64(64 << 10)
	for {
		start := max(size-window, 0)
		b, err := t.readAt(ctx, start, size-start)
		if err != nil {
			return 0, err
		}
		if i, ok := lastLines(b, n); ok || start == 0 || window >= tailChunk {
			_, err := t.a.stdout().Write(b[i:])
			return start + int64(len(b)), err
		}
		window *= 4
	}
}

// lastLines returns where the last n lines of b start; ok is false when b
// holds fewer than n whole lines (the start may lie before b).
func lastLines(b []byte, n int) (int, bool) {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end-- // a final newline ends the last line, it starts none
	}
	for ; n > 0; n-- {
		i := bytes.LastIndexByte(b[:end], '\n')
		if i < 0 {
			return 0, false
		}
		end = i
	}
	return end + 1, true
}

// follow prints what the file holds past off and returns the new offset.
func (t *tailer) follow(ctx context.Context, off int64) (int64, error) {
	st, err := t.c.Stat(ctx, t.path)
	if wsclient.IsCode(err, fs9.ENOENT) {
		if off > 0 {
			t.a.note("%s: removed; waiting for it to come back", t.path)
		}
		return 0, nil
	}
	if err != nil {
		return off, err
	}
	if st.Size < off {
		t.a.note("%s: file truncated", t.path)
		off = 0
	}
	for off < st.Size {
		b, err := t.readAt(ctx, off, min(st.Size-off, tailChunk))
		if wsclient.IsCode(err, fs9.ENOENT) {
			return 0, nil
		}
		if err != nil {
			return off, err
		}
		if len(b) == 0 {
			break // replaced by a shorter file meanwhile: the next event says so
		}
		if _, err := t.a.stdout().Write(b); err != nil {
			return off, err
		}
		off += int64(len(b))
	}
	return off, nil
}
