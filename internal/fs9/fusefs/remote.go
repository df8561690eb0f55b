package fusefs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
	"github.com/db9/db9/internal/logkey"
)

// remote is the mount's connection to the server, dialed again when the
// server closed it (after 300 s idle, or a restart).
type remote struct {
	dial func(context.Context) (*wsclient.Client, error)
	log  *slog.Logger

	mu sync.Mutex
	c  *wsclient.Client // nil until dialed or after it failed
}

// client returns the open connection, dialing one when there is none.
func (r *remote) client(ctx context.Context) (*wsclient.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		return r.c, nil
	}
	c, err := r.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the files: %w", err)
	}
	r.c = c
	return c, nil
}

// drop forgets a connection that failed, unless another request already
// replaced it.
func (r *remote) drop(c *wsclient.Client, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != c {
		return
	}
	r.c = nil
	r.log.Info("fs9 connection lost; dialing again on the next request", logkey.Err, cause)
	go c.Close()
}

// close ends the connection.
func (r *remote) close() {
	r.mu.Lock()
	c := r.c
	r.c = nil
	r.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// do runs fn on the connection; when fn failed on the connection itself
// (not with an fs9 code, and not because ctx ended) it runs once more on a
// new one.
func (r *remote) do(ctx context.Context, fn func(c *wsclient.Client) error) error {
	c, err := r.client(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	var fe *fs9.Error
	if err == nil || errors.As(err, &fe) || ctx.Err() != nil {
		return err
	}
	r.drop(c, err)
	if c, err = r.client(ctx); err != nil {
		return err
	}
	return fn(c)
}

// call sends one request and decodes its answer's data into out (nil:
// ignored).
func (r *remote) call(ctx context.Context, op string, args map[string]any, out any) error {
	return r.do(ctx, func(c *wsclient.Client) error {
		data, err := c.Call(ctx, op, args)
		if err != nil || out == nil {
			return err
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s answer: %w", op, err)
		}
		return nil
	})
}

func (r *remote) stat(ctx context.Context, p string) (info wsclient.Info, err error) {
	err = r.do(ctx, func(c *wsclient.Client) error {
		info, err = c.Stat(ctx, p)
		return err
	})
	return info, err
}

func (r *remote) readDir(ctx context.Context, p string) (es []wsclient.Info, err error) {
	err = r.do(ctx, func(c *wsclient.Client) error {
		es, err = c.ReadDir(ctx, p)
		return err
	})
	return es, err
}

// readAt reads up to n bytes at off (fewer at the end of the file).
func (r *remote) readAt(ctx context.Context, p string, off, n int64) ([]byte, error) {
	var v struct {
		Content []byte `json:"content"` // base64
	}
	err := r.call(ctx, "read", map[string]any{"path": p, "offset": off, "length": n}, &v)
	return v.Content, err
}

func (r *remote) readFile(ctx context.Context, p string) (b []byte, err error) {
	err = r.do(ctx, func(c *wsclient.Client) error {
		b, err = c.ReadFile(ctx, p)
		return err
	})
	return b, err
}

func (r *remote) writeFile(ctx context.Context, p string, b []byte) error {
	return r.do(ctx, func(c *wsclient.Client) error {
		_, err := c.WriteFile(ctx, p, b)
		return err
	})
}
