package wheel

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDeterministic(t *testing.T) {
	s := demoSpec()
	s.BuildTag = "2local"
	a := writeSpec(t, s)
	b := writeSpec(t, s)
	if filepath.Base(a) != "demo_pkg-1.0-2local-py2.py3-none-any.whl" {
		t.Errorf("file name %s", filepath.Base(a))
	}
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		t.Fatal("two writes of the same spec differ")
	}
	// A different file order in the spec gives the same bytes too.
	r := s
	r.Files = append([]SpecFile(nil), s.Files...)
	for i, j := 0, len(r.Files)-1; i < j; i, j = i+1, j-1 {
		r.Files[i], r.Files[j] = r.Files[j], r.Files[i]
	}
	if dr, _ := os.ReadFile(writeSpec(t, r)); !bytes.Equal(da, dr) {
		t.Error("reordering the spec's files changed the wheel")
	}

	zr, err := zip.NewReader(bytes.NewReader(da), int64(len(da)))
	if err != nil {
		t.Fatal(err)
	}
	di := s.DistInfo() + "/"
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(zipEpoch) && f.Modified.Format("2006-01-02 15:04:05") != "1980-01-01 00:00:00" {
			t.Errorf("%s modified %v, want 1980-01-01", f.Name, f.Modified)
		}
	}
	if names[len(names)-1] != di+"RECORD" {
		t.Errorf("last entry %s, want RECORD", names[len(names)-1])
	}
	seenDistInfo := false
	for i, n := range names[:len(names)-1] {
		in := strings.HasPrefix(n, di)
		if seenDistInfo && !in {
			t.Errorf("%s comes after the dist-info files", n)
		}
		seenDistInfo = seenDistInfo || in
		if i > 0 && strings.HasPrefix(names[i-1], di) == in && names[i-1] > n {
			t.Errorf("entries out of order: %s before %s", names[i-1], n)
		}
	}

	w, err := Open(a)
	if err != nil {
		t.Fatalf("Open of a written wheel: %v", err)
	}
	if w.Filename.Build != "2local" {
		t.Errorf("Build = %q", w.Filename.Build)
	}
	wheelFile, _ := w.ReadFile(di + "WHEEL")
	for _, line := range []string{"Wheel-Version: 1.0", "Root-Is-Purelib: true", "Tag: py2-none-any", "Tag: py3-none-any", "Build: 2local"} {
		if !strings.Contains(string(wheelFile), line+"\n") {
			t.Errorf("WHEEL lacks %q:\n%s", line, wheelFile)
		}
	}
	meta, _ := w.ReadFile(di + "METADATA")
	if !strings.HasPrefix(string(meta), "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\n") {
		t.Errorf("METADATA:\n%s", meta)
	}
}

func TestWriteNoTempLeft(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, demoSpec()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "demo_pkg-1.0-py2.py3-none-any.whl" {
		t.Errorf("dir holds %v", entries)
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*BuildSpec)
		want string
	}{
		{"bad name", func(s *BuildSpec) { s.Name = "-bad" }, "not a valid project name"},
		{"bad version", func(s *BuildSpec) { s.Version = "one" }, "not a PEP 440 version"},
		{"bad build tag", func(s *BuildSpec) { s.BuildTag = "b1" }, "must start with a digit"},
		{"bad tags", func(s *BuildSpec) { s.Tags = "py3-none" }, "want interpreters-abis-platforms"},
		{"escaping file", func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: "../x"}) }, "not a safe relative file path"},
		{"absolute file", func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: "/x"}) }, "not a safe relative file path"},
		{"duplicate file", func(s *BuildSpec) { s.Files = append(s.Files, s.Files[0]) }, "given twice"},
		{"own METADATA", func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: s.DistInfo() + "/METADATA"}) }, "clashes"},
		{"header injection", func(s *BuildSpec) { s.RequiresDist = []string{"a\nName: evil"} }, "line break"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := demoSpec()
			tc.edit(&s)
			dir := t.TempDir()
			_, err := Write(dir, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write error = %v, want one containing %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("failed Write left %v", entries)
			}
		})
	}
}
