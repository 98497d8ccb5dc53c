package wheel

import (
	"bytes"
	"crypto/sha256"
	"io/fs"
	"path"
	"sort"
	"testing"
)

func installSpec(t *testing.T, s BuildSpec) map[string]InstalledFile {
	t.Helper()
	w, err := Open(writeSpec(t, s))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	files, err := w.Install()
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if !sort.SliceIsSorted(files, func(i, j int) bool { return files[i].Path < files[j].Path }) {
		t.Errorf("Install result is not sorted by Path")
	}
	byPath := map[string]InstalledFile{}
	for _, f := range files {
		if _, dup := byPath[f.Path]; dup {
			t.Errorf("%s installed twice", f.Path)
		}
		if f.SHA256 != sha256.Sum256(f.Data) {
			t.Errorf("%s: SHA256 does not match Data", f.Path)
		}
		byPath[f.Path] = f
	}
	return byPath
}

func TestInstallSchemes(t *testing.T) {
	for _, purelib := range []bool{true, false} {
		s := demoSpec()
		s.RootIsPurelib = purelib
		root := schemePlatlib
		if purelib {
			root = schemePurelib
		}
		files := installSpec(t, s)
		want := map[string]string{ // installed path -> scheme
			"site-packages/demo_pkg/__init__.py":                    root,
			"site-packages/demo_pkg/run.sh":                         root,
			"site-packages/demo_pkg/secret.txt":                     root,
			"site-packages/demo_pkg/weird, name.txt":                root,
			"site-packages/demo_pkg-1.0.dist-info/METADATA":         root,
			"site-packages/demo_pkg-1.0.dist-info/WHEEL":            root,
			"site-packages/demo_pkg-1.0.dist-info/RECORD":           root,
			"site-packages/demo_pkg-1.0.dist-info/INSTALLER":        root,
			"site-packages/demo_pkg-1.0.dist-info/entry_points.txt": root,
			"site-packages/demo_extra/__init__.py":                  schemePurelib,
			"site-packages/demo_native.so":                          schemePlatlib,
			"bin/demo":                                              schemeScripts,
			"bin/demow":                                             schemeScripts,
			"bin/plain.sh":                                          schemeScripts,
			"data/share/demo/README":                                schemeData,
			"include/Demo.Pkg/demo.h":                               schemeHeaders,
		}
		for p, scheme := range want {
			f, ok := files[p]
			if !ok {
				t.Errorf("purelib=%v: %s not installed", purelib, p)
				continue
			}
			if f.Scheme != scheme {
				t.Errorf("purelib=%v: %s scheme %q, want %q", purelib, p, f.Scheme, scheme)
			}
		}
		for p := range files {
			if _, ok := want[p]; !ok {
				t.Errorf("purelib=%v: unexpected installed file %s", purelib, p)
			}
		}
	}
}

func TestInstallScriptsAndModes(t *testing.T) {
	files := installSpec(t, demoSpec())
	tests := []struct {
		path string
		data string
		mode fs.FileMode
	}{
		{"bin/demo", "#!/usr/bin/env python3\nimport demo_pkg\n", 0o755},
		{"bin/demow", "#!/usr/bin/env python3\r\nimport demo_pkg\r\n", 0o755},
		{"bin/plain.sh", "#!/bin/sh\necho hi\n", 0o755},
		{"site-packages/demo_pkg/run.sh", "#!/bin/sh\n", 0o755},            // 0744 in the wheel
		{"site-packages/demo_pkg/secret.txt", "x", 0o644},                  // 0600 in the wheel
		{"site-packages/demo_native.so", "\x7fELF", 0o755},                 // 0755 in the wheel
		{"site-packages/demo_pkg/__init__.py", "VERSION = '1.0'\n", 0o644}, // 0644 in the wheel
		{"site-packages/demo_pkg-1.0.dist-info/INSTALLER", "mathesar-packaging\n", 0o644},
	}
	for _, tc := range tests {
		f := files[tc.path]
		if string(f.Data) != tc.data || f.Mode != tc.mode {
			t.Errorf("%s = %q mode %o, want %q mode %o", tc.path, f.Data, f.Mode, tc.data, tc.mode)
		}
	}
}

func TestRewriteShebang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"#!python\nx\n", "#!/usr/bin/env python3\nx\n"},
		{"#!pythonw\r\nx", "#!/usr/bin/env python3\r\nx"},
		{"#!python3.11 -E\nx", "#!/usr/bin/env python3\nx"},
		{"#!python", "#!/usr/bin/env python3\n"},
		{"#!/usr/bin/python\nx", "#!/usr/bin/python\nx"},
		{" #!python\n", " #!python\n"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := string(rewriteShebang([]byte(tc.in))); got != tc.want {
			t.Errorf("rewriteShebang(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInstallRecord(t *testing.T) {
	s := demoSpec()
	s.Files = append(s.Files,
		SpecFile{Path: s.DistInfo() + "/RECORD.jws", Data: []byte("{}")},
		SpecFile{Path: s.DistInfo() + "/INSTALLER", Data: []byte("pip\n")})
	files := installSpec(t, s)
	if _, ok := files["site-packages/demo_pkg-1.0.dist-info/RECORD.jws"]; ok {
		t.Error("RECORD.jws was installed")
	}
	if got := string(files["site-packages/demo_pkg-1.0.dist-info/INSTALLER"].Data); got != "mathesar-packaging\n" {
		t.Errorf("INSTALLER = %q", got)
	}
	rec := files["site-packages/demo_pkg-1.0.dist-info/RECORD"]
	rows, err := ParseRecord(bytes.NewReader(rec.Data))
	if err != nil {
		t.Fatalf("installed RECORD does not parse: %v\n%s", err, rec.Data)
	}
	if len(rows) != len(files) {
		t.Errorf("RECORD has %d rows for %d installed files:\n%s", len(rows), len(files), rec.Data)
	}
	last := rows[len(rows)-1]
	if last.Path != "demo_pkg-1.0.dist-info/RECORD" || last.HashAlgo != "" || last.HasSize {
		t.Errorf("last RECORD row = %+v, want RECORD with no hash or size", last)
	}
	listed := map[string]bool{}
	for _, r := range rows[:len(rows)-1] {
		p := path.Clean(path.Join("site-packages", r.Path))
		listed[p] = true
		f, ok := files[p]
		if !ok {
			t.Errorf("RECORD lists %s (%s), which was not installed", r.Path, p)
			continue
		}
		want := sha256Entry(r.Path, f.Data)
		if r != want {
			t.Errorf("RECORD row %+v, want %+v", r, want)
		}
	}
	for p := range files {
		if !listed[p] && p != "site-packages/demo_pkg-1.0.dist-info/RECORD" {
			t.Errorf("%s installed but not in RECORD", p)
		}
	}
	for _, p := range []string{"../bin/demo", "../include/Demo.Pkg/demo.h", "../data/share/demo/README", "demo_pkg/weird, name.txt"} {
		if !listed[path.Clean(path.Join("site-packages", p))] {
			t.Errorf("RECORD lacks %s:\n%s", p, rec.Data)
		}
	}
	if !bytes.Contains(rec.Data, []byte(`"demo_pkg/weird, name.txt",sha256=`)) {
		t.Errorf("RECORD does not quote a path with a comma:\n%s", rec.Data)
	}
}
