package cli

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxBundle is the server's limit on an uploaded bundle (API.md); the CLI
// checks it first so a too-large directory fails before the upload.
const maxBundle = 10 << 20

var errTooBig = errors.New("over the size limit")

// readSource returns the bytes to upload for --file: stdin ("-") and a
// file are sent as they are (the server reads one file as the module of
// the entrypoint, TypeScript included); a directory is zipped in memory.
func readSource(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxBundle+1))
		if err != nil {
			return nil, fmt.Errorf("read the source from stdin: %w", err)
		}
		return checkSize(b, "stdin")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, hint(fmt.Errorf("cannot read the source: %w", err), "--file takes index.js, index.ts, a directory holding one, or -")
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the source: %w", err)
		}
		return checkSize(b, path)
	}
	b, err := zipDir(path)
	if err != nil {
		return nil, err
	}
	return checkSize(b, path)
}

func checkSize(b []byte, what string) ([]byte, error) {
	if len(b) == 0 {
		return nil, hint(fmt.Errorf("the source %s is empty", what), "--file takes index.js, index.ts, a directory holding one, or -")
	}
	if len(b) > maxBundle {
		return nil, hint(fmt.Errorf("the source %s is over %d bytes", what, maxBundle), "leave node_modules and data files out of the function's directory")
	}
	return b, nil
}

// zipDir zips the files of dir, which must hold index.js or index.ts.
// Hidden files and directories and node_modules are left out: they are not
// the function's code and quickly pass the size limit.
func zipDir(dir string) ([]byte, error) {
	hasIndex := false
	for _, n := range []string{"index.js", "index.ts"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() {
			hasIndex = true
		}
	}
	if !hasIndex {
		return nil, hint(fmt.Errorf("directory %s has no index.js or index.ts", dir), "put the handler in index.js or index.ts, or pass the file itself")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if p != dir && (strings.HasPrefix(name, ".") || name == "node_modules") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		if buf.Len() > maxBundle {
			return errTooBig
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if errors.Is(err, errTooBig) {
		return buf.Bytes(), nil // checkSize explains
	}
	if err != nil {
		return nil, fmt.Errorf("zip directory %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}
