//go:build linux

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

// errLineInterrupted is Ctrl-C at the prompt: drop what is being typed.
var errLineInterrupted = errors.New("interrupted")

// termReader is a small line editor for the SQL session on a Linux
// terminal: cursor keys, Home/End, Ctrl-A/E/K/U/W/L, history on up/down.
// The terminal is in raw mode only while a line is being read, so
// queries run (and Ctrl-C works) in the normal mode.
type termReader struct {
	f     *os.File
	in    *bufio.Reader
	out   io.Writer
	hist  []string
	saved syscall.Termios
}

// newTermReader returns nil when in is not a terminal it can drive.
func newTermReader(in io.Reader, out io.Writer) lineReader {
	f, ok := in.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	r := &termReader{f: f, in: bufio.NewReader(f), out: out}
	if err := ioctlTermios(f.Fd(), syscall.TCGETS, &r.saved); err != nil {
		return nil
	}
	return r
}

func ioctlTermios(fd uintptr, req uintptr, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}

func (r *termReader) raw() error {
	t := r.saved
	t.Iflag &^= syscall.ICRNL | syscall.IXON | syscall.INLCR | syscall.IGNCR
	t.Lflag &^= syscall.ICANON | syscall.ECHO | syscall.ISIG | syscall.IEXTEN
	t.Cc[syscall.VMIN], t.Cc[syscall.VTIME] = 1, 0
	return ioctlTermios(r.f.Fd(), syscall.TCSETS, &t)
}

func (r *termReader) restore() { _ = ioctlTermios(r.f.Fd(), syscall.TCSETS, &r.saved) }

func (r *termReader) AddHistory(e string) {
	if e != "" && (len(r.hist) == 0 || r.hist[len(r.hist)-1] != e) {
		r.hist = append(r.hist, e)
	}
}

func (r *termReader) Close() error { r.restore(); return nil }

func (r *termReader) ReadLine(prompt string) (string, error) {
	if err := r.raw(); err != nil {
		return "", err
	}
	defer r.restore()
	var buf []rune
	pos, idx, draft := 0, len(r.hist), ""
	redraw := func() {
		tail := textWidth(string(buf[pos:]))
		s := "\r" + prompt + string(buf) + "\x1b[K"
		if tail > 0 {
			s += fmt.Sprintf("\x1b[%dD", tail)
		}
		fmt.Fprint(r.out, s)
	}
	set := func(s string) { buf = []rune(s); pos = len(buf) }
	redraw()
	for {
		c, _, err := r.in.ReadRune()
		if err != nil {
			fmt.Fprint(r.out, "\r\n")
			return "", io.EOF
		}
		switch c {
		case '\r', '\n':
			fmt.Fprint(r.out, "\r\n")
			return string(buf), nil
		case 3: // Ctrl-C
			fmt.Fprint(r.out, "^C\r\n")
			return "", errLineInterrupted
		case 4: // Ctrl-D
			if len(buf) == 0 {
				fmt.Fprint(r.out, "\r\n")
				return "", io.EOF
			}
			if pos < len(buf) {
				buf = append(buf[:pos], buf[pos+1:]...)
			}
		case 127, 8: // Backspace
			if pos > 0 {
				buf = append(buf[:pos-1], buf[pos:]...)
				pos--
			}
		case 1: // Ctrl-A
			pos = 0
		case 5: // Ctrl-E
			pos = len(buf)
		case 11: // Ctrl-K
			buf = buf[:pos]
		case 21: // Ctrl-U
			buf, pos = append([]rune{}, buf[pos:]...), 0
		case 23: // Ctrl-W
			i := pos
			for i > 0 && buf[i-1] == ' ' {
				i--
			}
			for i > 0 && buf[i-1] != ' ' {
				i--
			}
			buf, pos = append(buf[:i], buf[pos:]...), i
		case 12: // Ctrl-L
			fmt.Fprint(r.out, "\x1b[H\x1b[2J")
		case 27: // escape sequences
			seq := r.escape()
			switch seq {
			case "[A", "OA": // up
				if idx > 0 {
					if idx == len(r.hist) {
						draft = string(buf)
					}
					idx--
					set(r.hist[idx])
				}
			case "[B", "OB": // down
				if idx < len(r.hist) {
					idx++
					if idx == len(r.hist) {
						set(draft)
					} else {
						set(r.hist[idx])
					}
				}
			case "[C", "OC":
				pos = min(pos+1, len(buf))
			case "[D", "OD":
				pos = max(pos-1, 0)
			case "[H", "OH", "[1~", "[7~":
				pos = 0
			case "[F", "OF", "[4~", "[8~":
				pos = len(buf)
			case "[3~":
				if pos < len(buf) {
					buf = append(buf[:pos], buf[pos+1:]...)
				}
			}
		case '\t':
			buf = append(buf[:pos], append([]rune("    "), buf[pos:]...)...)
			pos += 4
		default:
			if c >= 32 {
				buf = append(buf[:pos], append([]rune{c}, buf[pos:]...)...)
				pos++
			}
		}
		redraw()
	}
}

// escape reads the rest of an escape sequence (after ESC).
func (r *termReader) escape() string {
	var b strings.Builder
	c, err := r.in.ReadByte()
	if err != nil {
		return ""
	}
	b.WriteByte(c)
	if c != '[' && c != 'O' {
		return b.String()
	}
	for {
		c, err := r.in.ReadByte()
		if err != nil {
			return b.String()
		}
		b.WriteByte(c)
		if c >= 0x40 && c <= 0x7e {
			return b.String()
		}
	}
}
