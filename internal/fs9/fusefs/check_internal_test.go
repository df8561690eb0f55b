package fusefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without /dev/fuse or fusermount the error says what is missing and
// what to install, as an UnavailableError the CLI and tests recognise.
func TestCheck_SaysWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "fuse") // a file stands in for the device
	if err := os.WriteFile(dev, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		dev     string
		root    bool
		helpers []string
		want    string // "" for no error
	}{
		{"no device", filepath.Join(dir, "missing"), true, nil, "does not exist"},
		{"not root, no fusermount", dev, false, []string{filepath.Join(dir, "no-fusermount3")}, "apt-get install fuse3"},
		{"not root, fusermount", dev, false, []string{"sh"}, ""},
		{"root needs no fusermount", dev, true, nil, ""},
	} {
		err := check(c.dev, c.root, c.helpers)
		var ue *UnavailableError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an UnavailableError saying %q", c.name, err, c.want)
		}
	}
}
