package wheel

import (
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestOpenValid(t *testing.T) {
	spec := demoSpec()
	path := writeSpec(t, spec)
	w, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if w.Name != spec.Name || w.Version != spec.Version {
		t.Errorf("Name, Version = %q, %q; want %q, %q", w.Name, w.Version, spec.Name, spec.Version)
	}
	if !reflect.DeepEqual(w.RequiresDist, spec.RequiresDist) || !reflect.DeepEqual(w.ProvidesExtra, spec.ProvidesExtra) || w.RequiresPython != spec.RequiresPython {
		t.Errorf("metadata = %q %q %q; want %q %q %q", w.RequiresDist, w.ProvidesExtra, w.RequiresPython, spec.RequiresDist, spec.ProvidesExtra, spec.RequiresPython)
	}
	if w.DistInfo != "demo_pkg-1.0.dist-info" || w.DataDir != "demo_pkg-1.0.data" || !w.RootIsPurelib {
		t.Errorf("DistInfo, DataDir, RootIsPurelib = %q, %q, %v", w.DistInfo, w.DataDir, w.RootIsPurelib)
	}
	if len(w.SHA256) != 64 {
		t.Errorf("SHA256 = %q", w.SHA256)
	}
	got, err := w.ReadFile("demo_pkg/__init__.py")
	if err != nil || string(got) != "VERSION = '1.0'\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := w.ReadFile("nope.py"); err == nil {
		t.Error("ReadFile of a missing entry succeeded")
	}
	// The bytes were verified in memory: changing the file afterwards changes nothing.
	if err := os.WriteFile(path, []byte("gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Install(); err != nil {
		t.Errorf("Install after the file changed on disk: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	spec := demoSpec()
	di := spec.DistInfo()
	dd := spec.DataDir()
	tests := []struct {
		name   string
		spec   func(*BuildSpec)                // optional change to the spec before Write
		mutate func(*testing.T, string) string // returns the (possibly renamed) path
		entry  string                          // entry the error must name ("" for none)
		want   []string                        // text the error must contain
	}{
		{
			name: "not a zip",
			mutate: func(t *testing.T, p string) string {
				if err := os.WriteFile(p, []byte("this is not a zip file"), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"corrupt wheel zip", "re-download or rebuild"},
		},
		{
			name: "truncated",
			mutate: func(t *testing.T, p string) string {
				st, _ := os.Stat(p)
				if err := os.Truncate(p, st.Size()*2/3); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"corrupt wheel zip"},
		},
		{
			name:   "flipped byte",
			mutate: func(t *testing.T, p string) string { flipDataByte(t, p, "demo_pkg/__init__.py"); return p },
			entry:  "demo_pkg/__init__.py",
			want:   []string{"corrupt wheel zip"},
		},
		{
			name: "bad file name",
			mutate: func(t *testing.T, p string) string {
				return rename(t, p, "demo.whl")
			},
			want: []string{"bad file name", "rename or rebuild"},
		},
		{
			name: "edited RECORD hash",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					rec := string(entryData(t, es, di+"/RECORD"))
					good := sha256Entry("", []byte("VERSION = '1.0'\n")).Digest
					bad := sha256Entry("", []byte("tampered")).Digest
					return setEntry(es, di+"/RECORD", []byte(strings.Replace(rec, good, bad, 1)))
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want: []string{"sha256 mismatch",
				"RECORD says " + sha256Entry("", []byte("tampered")).Digest,
				"file has " + sha256Entry("", []byte("VERSION = '1.0'\n")).Digest},
		},
		{
			name: "edited file with stale RECORD",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return setEntry(es, "demo_pkg/__init__.py", []byte("VERSION = '6.6'\n"))
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"sha256 mismatch"},
		},
		{
			name: "edited RECORD size",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					rec := string(entryData(t, es, di+"/RECORD"))
					d := sha256Entry("", []byte("VERSION = '1.0'\n")).Digest
					return setEntry(es, di+"/RECORD", []byte(strings.Replace(rec, d+",16", d+",17", 1)))
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"size mismatch", "RECORD says 17 bytes, file has 16"},
		},
		{
			name: "md5 in RECORD",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					rec := string(entryData(t, es, di+"/RECORD"))
					d := sha256Entry("", []byte("VERSION = '1.0'\n")).Digest
					return setEntry(es, di+"/RECORD", []byte(strings.Replace(rec, "sha256="+d, "md5=AAAA", 1)))
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"md5 is weaker than sha256"},
		},
		{
			name: "no hash in RECORD",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					rec := string(entryData(t, es, di+"/RECORD"))
					d := sha256Entry("", []byte("VERSION = '1.0'\n")).Digest
					return setEntry(es, di+"/RECORD", []byte(strings.Replace(rec, "sha256="+d, "", 1)))
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"without a hash"},
		},
		{
			name: "unparsable RECORD",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return setEntry(es, di+"/RECORD", []byte("only,two\n"))
				})
				return p
			},
			entry: di + "/RECORD",
			want:  []string{"unreadable RECORD", "2 fields, want 3"},
		},
		{
			name: "unlisted file",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return append(es, rawEntry{Name: "demo_pkg/evil.py", Data: []byte("import os\n"), Mode: 0o644})
				})
				return p
			},
			entry: "demo_pkg/evil.py",
			want:  []string{"not listed in RECORD"},
		},
		{
			name: "listed file missing",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry { return withoutEntry(es, "demo_pkg/run.sh") })
				return p
			},
			entry: "demo_pkg/run.sh",
			want:  []string{"listed in RECORD but missing"},
		},
		{
			name:   "dot-dot entry",
			mutate: addEntry("../x"),
			entry:  "../x",
			want:   []string{"unsafe entry name", `".."`, "outside"},
		},
		{
			name:   "nested dot-dot entry",
			mutate: addEntry(dd + "/data/../../../etc/passwd"),
			entry:  dd + "/data/../../../etc/passwd",
			want:   []string{"unsafe entry name", `".."`},
		},
		{
			name:   "absolute entry",
			mutate: addEntry("/etc/cron.d/x"),
			entry:  "/etc/cron.d/x",
			want:   []string{"absolute path"},
		},
		{
			name:   "backslash entry",
			mutate: addEntry(`demo_pkg\..\..\x`),
			entry:  `demo_pkg\..\..\x`,
			want:   []string{"backslash"},
		},
		{
			name:   "drive letter entry",
			mutate: addEntry("C:/Windows/x"),
			entry:  "C:/Windows/x",
			want:   []string{"drive letter"},
		},
		{
			name:   "NUL in entry",
			mutate: addEntry("demo_pkg/a\x00.py"),
			entry:  "demo_pkg/a\x00.py",
			want:   []string{"NUL"},
		},
		{
			name: "symlink entry",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					es = append(es, rawEntry{Name: "demo_pkg/link", Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777})
					return resign(t, es, di)
				})
				return p
			},
			entry: "demo_pkg/link",
			want:  []string{"symlink"},
		},
		{
			name: "duplicate entry",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return append([]rawEntry{{Name: "demo_pkg/__init__.py", Data: []byte("evil"), Mode: 0o644}}, es...)
				})
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"duplicate entry"},
		},
		{
			name: "wrong dist-info name",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					for i := range es {
						es[i].Name = strings.Replace(es[i].Name, di, "other-1.0.dist-info", 1)
					}
					return resign(t, es, "other-1.0.dist-info")
				})
				return p
			},
			entry: "other-1.0.dist-info/",
			want:  []string{"does not match the file name", `"demo_pkg"`},
		},
		{
			name: "dist-info version differs",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					for i := range es {
						es[i].Name = strings.Replace(es[i].Name, di, "demo_pkg-2.0.dist-info", 1)
					}
					return resign(t, es, "demo_pkg-2.0.dist-info")
				})
				return p
			},
			entry: "demo_pkg-2.0.dist-info/",
			want:  []string{"does not match the file name", `version "1.0"`},
		},
		{
			name:   "Wheel-Version 2.0",
			mutate: editDistInfo(di, "WHEEL", "Wheel-Version: 1.0", "Wheel-Version: 2.0"),
			entry:  di + "/WHEEL",
			want:   []string{"Wheel-Version 2.0", "needs a newer installer"},
		},
		{
			name:   "no Root-Is-Purelib",
			mutate: editDistInfo(di, "WHEEL", "Root-Is-Purelib: true\n", ""),
			entry:  di + "/WHEEL",
			want:   []string{"no Root-Is-Purelib"},
		},
		{
			name:   "bad Root-Is-Purelib",
			mutate: editDistInfo(di, "WHEEL", "Root-Is-Purelib: true", "Root-Is-Purelib: yes"),
			entry:  di + "/WHEEL",
			want:   []string{`Root-Is-Purelib is "yes"`},
		},
		{
			name:   "METADATA name mismatch",
			mutate: editDistInfo(di, "METADATA", "Name: Demo.Pkg", "Name: other"),
			entry:  di + "/METADATA",
			want:   []string{`Name "other" does not match`},
		},
		{
			name:   "METADATA version mismatch",
			mutate: editDistInfo(di, "METADATA", "Version: 1.0", "Version: 1.1"),
			entry:  di + "/METADATA",
			want:   []string{`Version "1.1" does not match`},
		},
		{
			name:   "METADATA unparsable",
			mutate: editDistInfo(di, "METADATA", "Metadata-Version: 2.1", "this is no header"),
			entry:  di + "/METADATA",
			want:   []string{"unparsable header block"},
		},
		{
			name:   "METADATA missing",
			mutate: dropDistInfo(di, "METADATA"),
			entry:  di + "/METADATA",
			want:   []string{"missing"},
		},
		{
			name:   "WHEEL missing",
			mutate: dropDistInfo(di, "WHEEL"),
			entry:  di + "/WHEEL",
			want:   []string{"missing"},
		},
		{
			name: "RECORD missing",
			mutate: func(t *testing.T, p string) string {
				rewrite(t, p, func(es []rawEntry) []rawEntry { return withoutEntry(es, di+"/RECORD") })
				return p
			},
			entry: di + "/RECORD",
			want:  []string{"RECORD is missing"},
		},
		{
			name:  "unknown .data scheme",
			spec:  func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: dd + "/weird/x", Data: []byte("x")}) },
			entry: dd + "/weird/x",
			want:  []string{`unknown .data scheme directory "weird"`},
		},
		{
			name:  "file directly in .data",
			spec:  func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: dd + "/loose", Data: []byte("x")}) },
			entry: dd + "/loose",
			want:  []string{"outside any scheme directory"},
		},
		{
			name:  "two entries install to one path",
			spec:  func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: dd + "/purelib/demo_pkg/__init__.py"}) },
			entry: "demo_pkg/__init__.py", // sorts after "demo_pkg-1.0.data/..."
			want:  []string{"installs to site-packages/demo_pkg/__init__.py", dd + "/purelib/demo_pkg/__init__.py"},
		},
		{
			name:  "second dist-info",
			spec:  func(s *BuildSpec) { s.Files = append(s.Files, SpecFile{Path: "zzz-1.0.dist-info/METADATA"}) },
			entry: "zzz-1.0.dist-info/",
			want:  []string{"more than one .dist-info"},
		},
		{
			name: "entry over 2 GiB",
			mutate: func(t *testing.T, p string) string {
				patchCentralSize(t, p, "demo_pkg/__init__.py", 0x80000001)
				return p
			},
			entry: "demo_pkg/__init__.py",
			want:  []string{"over the 2147483648 byte limit per entry"},
		},
		{
			name: "entries over 4 GiB",
			mutate: func(t *testing.T, p string) string {
				for _, n := range []string{"demo_pkg/__init__.py", "demo_pkg/run.sh", "demo_pkg/secret.txt"} {
					patchCentralSize(t, p, n, 0x7fff0000)
				}
				return p
			},
			entry: "demo_pkg/secret.txt",
			want:  []string{"more than 4294967296 bytes uncompressed in total"},
		},
		{
			name:   "entry longer than its header",
			mutate: func(t *testing.T, p string) string { patchCentralSize(t, p, "demo_pkg/__init__.py", 3); return p },
			entry:  "demo_pkg/__init__.py",
			want:   []string{"corrupt wheel zip"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := demoSpec()
			if tc.spec != nil {
				tc.spec(&s)
			}
			p := writeSpec(t, s)
			if tc.mutate != nil {
				p = tc.mutate(t, p)
			}
			w, err := Open(p)
			if err == nil {
				t.Fatalf("Open succeeded on %s (%v)", p, w.Files())
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("error does not name the wheel %s: %s", p, msg)
			}
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error is %T, want *Error: %s", err, msg)
			}
			if we.Entry != tc.entry {
				t.Errorf("error names entry %q, want %q: %s", we.Entry, tc.entry, msg)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			if tc.entry != "" && !strings.Contains(msg, "re-download or rebuild") && !strings.Contains(msg, "newer installer") {
				t.Errorf("error says nothing about what to do: %s", msg)
			}
		})
	}
}

// addEntry returns a mutation adding an entry (listed in RECORD, so that only the
// name can be what is refused).
func addEntry(name string) func(*testing.T, string) string {
	return func(t *testing.T, p string) string {
		rewrite(t, p, func(es []rawEntry) []rawEntry {
			es = append(es, rawEntry{Name: name, Data: []byte("payload"), Mode: 0o644})
			return resign(t, es, demoSpec().DistInfo())
		})
		return p
	}
}

// editDistInfo returns a mutation replacing text in a dist-info file and re-signing
// RECORD, so that the edited content itself is what Open judges.
func editDistInfo(di, file, old, new string) func(*testing.T, string) string {
	return func(t *testing.T, p string) string {
		rewrite(t, p, func(es []rawEntry) []rawEntry {
			name := di + "/" + file
			data := string(entryData(t, es, name))
			if !strings.Contains(data, old) {
				t.Fatalf("%s lacks %q:\n%s", name, old, data)
			}
			return resign(t, setEntry(es, name, []byte(strings.Replace(data, old, new, 1))), di)
		})
		return p
	}
}

func dropDistInfo(di, file string) func(*testing.T, string) string {
	return func(t *testing.T, p string) string {
		rewrite(t, p, func(es []rawEntry) []rawEntry {
			return resign(t, withoutEntry(es, di+"/"+file), di)
		})
		return p
	}
}

// TestOpenAccepts covers wheels that differ from what Write produces but are valid.
func TestOpenAccepts(t *testing.T) {
	di := demoSpec().DistInfo()
	tests := []struct {
		name   string
		mutate func(*testing.T, string)
		check  func(*testing.T, *Wheel)
	}{
		{
			name: "directory entries",
			mutate: func(t *testing.T, p string) {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return append([]rawEntry{{Name: "demo_pkg/", Mode: fs.ModeDir | 0o755}, {Name: di + "/", Mode: fs.ModeDir | 0o755}}, es...)
				})
			},
		},
		{
			name: "newer minor Wheel-Version",
			mutate: func(t *testing.T, p string) {
				editDistInfo(di, "WHEEL", "Wheel-Version: 1.0", "Wheel-Version: 1.9")(t, p)
			},
		},
		{
			name: "Root-Is-Purelib false",
			mutate: func(t *testing.T, p string) {
				editDistInfo(di, "WHEEL", "Root-Is-Purelib: true", "Root-Is-Purelib: false")(t, p)
			},
			check: func(t *testing.T, w *Wheel) {
				if w.RootIsPurelib {
					t.Error("RootIsPurelib = true")
				}
			},
		},
		{
			name: "unlisted signature",
			mutate: func(t *testing.T, p string) {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					return append(es, rawEntry{Name: di + "/RECORD.p7s", Data: []byte("sig"), Mode: 0o644})
				})
			},
			check: func(t *testing.T, w *Wheel) {
				files, err := w.Install()
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					if strings.HasSuffix(f.Path, "RECORD.p7s") {
						t.Errorf("%s installed", f.Path)
					}
				}
			},
		},
		{
			name: "sha512 and padded digests",
			mutate: func(t *testing.T, p string) {
				rewrite(t, p, func(es []rawEntry) []rawEntry {
					rec := string(entryData(t, es, di+"/RECORD"))
					data := []byte("VERSION = '1.0'\n")
					d256 := sha256Entry("", data).Digest
					sum := sha512Sum(data)
					rec = mustReplace(t, rec, "sha256="+d256, "sha512="+sum)
					d := sha256Entry("", []byte("#!/bin/sh\n")).Digest
					rec = mustReplace(t, rec, d+",", d+"=,")
					return setEntry(es, di+"/RECORD", []byte(rec))
				})
			},
		},
		{
			name: "continuation lines in METADATA",
			mutate: func(t *testing.T, p string) {
				editDistInfo(di, "METADATA", "Requires-Python: >=3.10\n", "Requires-Python: >=3.10\nDescription: first\n        |second\n")(t, p)
			},
			check: func(t *testing.T, w *Wheel) {
				if w.RequiresPython != ">=3.10" {
					t.Errorf("RequiresPython = %q", w.RequiresPython)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeSpec(t, demoSpec())
			tc.mutate(t, p)
			w, err := Open(p)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

func sha512Sum(data []byte) string {
	sum := sha512.Sum512(data)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in:\n%s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}
