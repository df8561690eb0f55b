package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Credentials is ~/.db9/credentials, the file DB9's CLI and SDK share.
type Credentials struct {
	Token           string
	CustomerID      string
	AnonymousID     string
	AnonymousSecret string
	IsAnonymous     bool
}

// canRefresh reports whether the session is anonymous and can be renewed.
func (c Credentials) canRefresh() bool {
	return c.IsAnonymous && c.AnonymousID != "" && c.AnonymousSecret != ""
}

// Settings is ~/.db9/config.toml: what the CLI remembers between runs that
// is not a secret (the file layer of defaults → file → env → flags).
type Settings struct {
	APIURL   string
	Database string
}

// store reads and writes the files under ~/.db9. Directory 0700, files
// 0600, written atomically (temporary file, fsync, rename).
type store struct{ dir string }

func (s store) credentialsPath() string { return filepath.Join(s.dir, "credentials") }
func (s store) settingsPath() string    { return filepath.Join(s.dir, "config.toml") }

// LoadCredentials returns the stored credentials; ok is false when there
// is no file.
func (s store) LoadCredentials() (c Credentials, ok bool, err error) {
	kv, ok, err := s.read(s.credentialsPath())
	if err != nil || !ok {
		return c, ok, err
	}
	c.Token, c.CustomerID = kv.str("token"), kv.str("customer_id")
	c.AnonymousID, c.AnonymousSecret = kv.str("anonymous_id"), kv.str("anonymous_secret")
	c.IsAnonymous = kv.str("is_anonymous") == "true"
	return c, true, nil
}

// lockCredentials serialises what db9 processes do when there are no
// credentials yet (agents run commands in parallel): the first registers
// an account, the others wait and then use it.
func (s store) lockCredentials() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.dir, err)
	}
	return lockFile(filepath.Join(s.dir, "credentials.lock"), time.Minute)
}

// SaveCredentials replaces the credentials file, keeping keys it does not know.
func (s store) SaveCredentials(c Credentials) error {
	kv, _, err := s.read(s.credentialsPath())
	if err != nil {
		kv = tomlDoc{}
	}
	kv.set("token", quoteTOML(c.Token))
	kv.setOrDrop("customer_id", c.CustomerID)
	kv.setOrDrop("anonymous_id", c.AnonymousID)
	kv.setOrDrop("anonymous_secret", c.AnonymousSecret)
	kv.set("is_anonymous", strconv.FormatBool(c.IsAnonymous))
	return s.write(s.credentialsPath(), kv)
}

// RemoveCredentials deletes the credentials file; a missing one is fine.
func (s store) RemoveCredentials() (existed bool, err error) {
	err = os.Remove(s.credentialsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// LoadSettings returns the remembered settings (zero when there is no file).
func (s store) LoadSettings() (Settings, error) {
	kv, _, err := s.read(s.settingsPath())
	return Settings{APIURL: kv.str("api_url"), Database: kv.str("database")}, err
}

// SaveSettings replaces the settings file, keeping keys it does not know.
func (s store) SaveSettings(st Settings) error {
	kv, _, err := s.read(s.settingsPath())
	if err != nil {
		kv = tomlDoc{}
	}
	kv.setOrDrop("api_url", st.APIURL)
	kv.setOrDrop("database", st.Database)
	return s.write(s.settingsPath(), kv)
}

func (s store) read(path string) (tomlDoc, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return tomlDoc{}, false, nil
	}
	if err != nil {
		return tomlDoc{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	kv, err := parseTOML(string(b))
	if err != nil {
		return tomlDoc{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return kv, true, nil
}

func (s store) write(path string, kv tomlDoc) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	// The directory holds secrets: keep it private even if it existed.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", s.dir, err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(kv.String()); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tomlDoc is the flat subset of TOML these files use: top-level
// `key = value` pairs (strings, booleans, numbers), comments and blank
// lines. Anything from the first [table] on is kept verbatim in tail, so
// files that other tools extended survive a rewrite.
type tomlDoc struct {
	keys []string
	vals map[string]string // raw TOML values
	tail string
}

func (d *tomlDoc) set(k, raw string) {
	if d.vals == nil {
		d.vals = map[string]string{}
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = raw
}

func (d *tomlDoc) setOrDrop(k, v string) {
	if v != "" {
		d.set(k, quoteTOML(v))
		return
	}
	if _, ok := d.vals[k]; ok {
		delete(d.vals, k)
		for i, x := range d.keys {
			if x == k {
				d.keys = append(d.keys[:i], d.keys[i+1:]...)
				break
			}
		}
	}
}

// str returns the value of k as a Go string ("" when absent).
func (d tomlDoc) str(k string) string {
	raw, ok := d.vals[k]
	if !ok {
		return ""
	}
	if strings.HasPrefix(raw, "'") {
		return strings.Trim(raw, "'")
	}
	if strings.HasPrefix(raw, `"`) {
		s, err := strconv.Unquote(raw)
		if err == nil {
			return s
		}
	}
	return raw
}

func (d tomlDoc) String() string {
	var b strings.Builder
	for _, k := range d.keys {
		fmt.Fprintf(&b, "%s = %s\n", k, d.vals[k])
	}
	if d.tail != "" {
		b.WriteString("\n" + d.tail)
	}
	return b.String()
}

func parseTOML(s string) (tomlDoc, error) {
	var d tomlDoc
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n, offset := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		offset += len(line) + 1
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "#"):
			continue
		case strings.HasPrefix(t, "["):
			d.tail = s[offset-len(line)-1:]
			return d, nil
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return d, fmt.Errorf("line %d: want key = value", n)
		}
		k = strings.Trim(strings.TrimSpace(k), `"`)
		raw, err := tomlValue(strings.TrimSpace(v))
		if err != nil {
			return d, fmt.Errorf("line %d: %s: %w", n, k, err)
		}
		d.set(k, raw)
	}
	return d, sc.Err()
}

// tomlValue returns the raw value at the start of v, without a trailing comment.
func tomlValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		for i := 1; i < len(v); i++ {
			if v[i] == '\\' {
				i++
				continue
			}
			if v[i] == '"' {
				raw := v[:i+1]
				if _, err := strconv.Unquote(raw); err != nil {
					return "", fmt.Errorf("bad string %s", raw)
				}
				return raw, nil
			}
		}
		return "", errors.New("unterminated string")
	case strings.HasPrefix(v, "'"):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated string")
		}
		return v[:end+2], nil
	}
	if i := strings.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("missing value")
	}
	return v, nil
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
