package httpapi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// rawHTTP is a minimal HTTP/1.1 keep-alive client for one connection, so
// that the load generator's own cost stays as small as pgx's on the direct
// side: one write and (usually) one read per request.
type rawHTTP struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

func newRawHTTP(addr, path, token string, body []byte) (*rawHTTP, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, token, len(body))
	b.Write(body)
	return &rawHTTP{conn: c, r: bufio.NewReaderSize(c, 64<<10), req: b.Bytes()}, nil
}

// do sends the request and returns the response body; a non-200 is an error.
func (h *rawHTTP) do() ([]byte, error) {
	if _, err := h.conn.Write(h.req); err != nil {
		return nil, err
	}
	status, err := h.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n := -1
	for {
		line, err := h.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 0 {
		return nil, fmt.Errorf("response without Content-Length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(h.r, body); err != nil {
		return nil, err
	}
	if !strings.Contains(status, " 200 ") {
		return nil, fmt.Errorf("%s: %s", strings.TrimSpace(status), body)
	}
	return body, nil
}

func (h *rawHTTP) close() { h.conn.Close() }
