// Package repotree writes a package repository's tree so it is reproducible and appears
// whole: gzip without name or time, files written inside a temporary tree, every mode and
// mtime normalised, and the finished tree swapped in for the old one. The APT and YUM
// builders share it.
package repotree

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// GzipBytes compresses with no file name and a zero mtime, so the bytes depend on data only.
func GzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return b.Bytes(), nil
}

// WriteFile writes inside the temporary tree; the tree as a whole is renamed into place.
func WriteFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("%w", err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}

func CopyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("%w", err)
	}
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return nil
}

// Stamp gives every file and directory fixed modes and the repository time, so an archive
// or mirror of the tree is as reproducible as its contents.
func Stamp(root string, at time.Time) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return os.Chmod(p, 0o755)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, at, at)
	})
	if err != nil {
		return fmt.Errorf("set modes and times: %w", err)
	}
	// Directories last and deepest first: writing a child changes its parent's mtime.
	for _, d := range slices.Backward(dirs) {
		if err := os.Chtimes(d, at, at); err != nil {
			return fmt.Errorf("set times: %w", err)
		}
	}
	return nil
}

// Describe maps each path under root (relative, "." for root) to its mode, mtime and, for a
// file, the sha256 of its contents: everything Stamp and the writers make reproducible, so
// two builds that should be identical can be compared path by path.
func Describe(root string) (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		entry := info.Mode().String() + " " + info.ModTime().UTC().Format(time.RFC3339)
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		m[rel] = entry
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", root, err)
	}
	return m, nil
}

// ReplaceDir moves the finished tree to dir. An existing dir is first moved aside and
// removed after, so a failure leaves either the old or the new repository at dir.
func ReplaceDir(tmp, dir string) error {
	old := ""
	if _, err := os.Lstat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("move old repository %s aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("move repository into %s: %w", dir, err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("remove old repository %s: %w", old, err)
		}
	}
	return nil
}
