package repotree

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
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

func TestDescribe(t *testing.T) {
	root := t.TempDir()
	if err := WriteFile(filepath.Join(root, "dists", "Release"), []byte("Suite: stable\n")); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := Stamp(root, at); err != nil {
		t.Fatal(err)
	}
	first, err := Describe(root)
	if err != nil {
		t.Fatal(err)
	}
	got := first[filepath.Join("dists", "Release")]
	if want := fmt.Sprintf("-rw-r--r-- 2024-03-01T00:00:00Z %x", sha256.Sum256([]byte("Suite: stable\n"))); got != want {
		t.Errorf("Release is described as %q, want %q", got, want)
	}
	if first["."] == "" || first["dists"] == "" || len(first) != 3 {
		t.Errorf("Describe = %v, want the root, dists and dists/Release", first)
	}
	// A change of contents, mode or time shows.
	for name, change := range map[string]func(p string) error{
		"contents": func(p string) error { return os.WriteFile(p, []byte("Suite: other\n"), 0o644) },
		"mode":     func(p string) error { return os.Chmod(p, 0o600) },
		"time":     func(p string) error { return os.Chtimes(p, at.Add(time.Second), at.Add(time.Second)) },
	} {
		p := filepath.Join(root, "dists", "Release")
		if err := change(p); err != nil {
			t.Fatal(err)
		}
		now, err := Describe(root)
		if err != nil {
			t.Fatal(err)
		}
		if now[filepath.Join("dists", "Release")] == got {
			t.Errorf("a change of %s does not show in Describe", name)
		}
		if err := Stamp(root, at); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("Suite: stable\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Stamp(root, at); err != nil {
			t.Fatal(err)
		}
	}
}
