package repotree

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGzipBytesIsDeterministic(t *testing.T) {
	a, err := GzipBytes([]byte("Package: mathesar\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GzipBytes([]byte("Package: mathesar\n"))
	if !bytes.Equal(a, b) {
		t.Fatal("two compressions of the same data differ")
	}
	r, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	if string(data) != "Package: mathesar\n" || r.Name != "" || !r.ModTime.IsZero() && r.ModTime.Unix() != 0 {
		t.Fatalf("round trip %q, name %q, mtime %v", data, r.Name, r.ModTime)
	}
}

func TestStampAndReplaceDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "apt")
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, ".apt-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(tmp, "dists", "stable", "Release"), []byte("Suite: stable\n")); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := Stamp(tmp, at); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(tmp, dir); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "dists", "stable", "Release"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 || !info.ModTime().Equal(at) {
		t.Errorf("Release: mode %o mtime %v", info.Mode().Perm(), info.ModTime())
	}
	if _, err := os.Stat(filepath.Join(dir, "old")); !os.IsNotExist(err) {
		t.Errorf("the old tree survived: %v", err)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("left beside the repository: %v", entries)
	}
}
