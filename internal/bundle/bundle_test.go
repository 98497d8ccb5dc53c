package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testFiles is a small bundle with a package split between lib/common and two ABIs, the
// shape that Extract must make whole again.
func testFiles() map[string][]byte {
	return map[string][]byte{
		"app/manage.py":                             []byte("print('manage')\n"),
		"app/mathesar/__init__.py":                  []byte("__version__ = '0.10.1'\n"),
		"lib/common/site-packages/yaml/__init__.py": []byte("from ._yaml import *\n"),
		"lib/common/bin/gunicorn":                   []byte("#!/usr/bin/env python3\n"),
		"lib/cp311/site-packages/yaml/_yaml.so":     bytes.Repeat([]byte("311"), 5000),
		"lib/cp312/site-packages/yaml/_yaml.so":     bytes.Repeat([]byte("312"), 7000),
	}
}

func testManifest() Manifest {
	return Manifest{
		App:      App{Name: "mathesar", Version: "0.10.1", Sample: true},
		Python:   PythonRange{Min: "3.11", Max: "3.12"},
		Platform: Platform{OS: "linux", Arch: "amd64", Tags: []string{"manylinux_2_17_x86_64"}},
		Files:    []File{{Path: "lib/common/bin/gunicorn", Mode: 0o755}},
	}
}

func writeTestPyz(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mathesar.pyz")
	if err := WriteForTest(p, testManifest(), testFiles()); err != nil {
		t.Fatal(err)
	}
	return p
}

// readEntries returns the entries of a zip in their stored order.
func readEntries(t *testing.T, p string) []ZipEntry {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out []ZipEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ZipEntry{Name: f.Name, Data: data, Mode: uint32(f.Mode().Perm())})
	}
	return out
}

// editManifest rewrites the manifest entry; with rehash the build id is recomputed so that
// the check under test, not the build id check, must catch the change.
func editManifest(t *testing.T, entries []ZipEntry, rehash bool, edit func(*Manifest)) []ZipEntry {
	t.Helper()
	for i, e := range entries {
		if e.Name != ManifestName {
			continue
		}
		var m Manifest
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatal(err)
		}
		edit(&m)
		if rehash {
			m.BuildID = ComputeBuildID(&m)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		entries[i].Data = data
	}
	return entries
}

func TestOpenVerifyExtract(t *testing.T) {
	p := writeTestPyz(t)
	b, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Manifest.BuildID != ComputeBuildID(&b.Manifest) || len(b.Manifest.BuildID) != 64 {
		t.Fatalf("build id %q", b.Manifest.BuildID)
	}
	if got := b.Manifest.Python.ABIs; !slices.Equal(got, []string{"cp311", "cp312"}) {
		t.Fatalf("ABIs = %v", got)
	}
	if err := b.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}

	for _, abi := range []string{"cp311", "cp312"} {
		t.Run(abi, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "tree")
			var calls []Progress
			if err := b.Extract(context.Background(), abi, dest, func(p Progress) { calls = append(calls, p) }); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{} // target -> zip path
			for zp := range testFiles() {
				switch rest, _ := strings.CutPrefix(zp, "lib/"); {
				case strings.HasPrefix(zp, "app/"):
					want[zp] = zp
				case strings.HasPrefix(rest, "common/"), strings.HasPrefix(rest, abi+"/"):
					want[strings.SplitN(rest, "/", 2)[1]] = zp
				}
			}
			got := map[string]fs.FileMode{}
			err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dest, p)
				info, err := d.Info()
				if err != nil {
					return err
				}
				got[filepath.ToSlash(rel)] = info.Mode().Perm()
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if zp, ok := want[filepath.ToSlash(rel)]; !ok || !bytes.Equal(data, testFiles()[zp]) {
					t.Errorf("%s: unexpected file or contents (from %q)", rel, zp)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("extracted %v, want the targets of %v", got, want)
			}
			if got["bin/gunicorn"] != 0o755 || got["app/manage.py"] != 0o644 {
				t.Errorf("modes: %v", got)
			}
			last := calls[len(calls)-1]
			if len(calls) != len(want) || last.FilesDone != last.FilesTotal || last.BytesDone != last.BytesTotal || last.FilesTotal != len(want) {
				t.Errorf("progress calls %v", calls)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	good := writeTestPyz(t)
	tests := []struct {
		name   string
		edit   func(t *testing.T, entries []ZipEntry) []ZipEntry
		verify bool // the damage shows only when contents are hashed
		want   string
	}{
		{
			name: "flipped byte in a stored file",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				for i := range es {
					if es[i].Name == "lib/common/site-packages/yaml/__init__.py" {
						es[i].Data = bytes.Clone(es[i].Data)
						es[i].Data[3] ^= 0x20
					}
				}
				return es
			},
			verify: true,
			want:   "lib/common/site-packages/yaml/__init__.py has sha256 ",
		},
		{
			name: "bad build id",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, false, func(m *Manifest) { m.App.Version = "9.9.9" })
			},
			want: "manifest.json says build id",
		},
		{
			name: "file missing from the zip",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return slices.DeleteFunc(es, func(e ZipEntry) bool { return e.Name == "app/manage.py" })
			},
			want: "app/manage.py is listed in manifest.json but missing from the zip",
		},
		{
			name: "extra zip entry",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return append(es, ZipEntry{Name: "lib/common/site-packages/evil.pth", Data: []byte("import os"), Mode: 0o644})
			},
			want: "the zip holds lib/common/site-packages/evil.pth, which manifest.json does not list",
		},
		{
			name: "size differs from the manifest",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				for i := range es {
					if es[i].Name == "app/manage.py" {
						es[i].Data = append(bytes.Clone(es[i].Data), '#')
					}
				}
				return es
			},
			want: "app/manage.py is 17 bytes but the manifest says 16",
		},
		{
			name: "target with ..",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[0].Target = "../x" })
			},
			want: `unsafe unpack target "../x"`,
		},
		{
			name: "target with .. inside",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[0].Target = "app/../../x" })
			},
			want: `unsafe unpack target "app/../../x"`,
		},
		{
			name: "absolute target",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[0].Target = "/etc/cron.d/x" })
			},
			want: `unsafe unpack target "/etc/cron.d/x"`,
		},
		{
			name: "two files with one target",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[1].Target = m.Files[0].Target })
			},
			want: "both unpack to app/manage.py",
		},
		{
			name: "mode 4755",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[0].Mode = 0o4755 })
			},
			want: "has mode 4755",
		},
		{
			name: "ABI disagrees with directory",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Files[0].ABI = "cp311" })
			},
			want: `app/manage.py has ABI "cp311" in manifest.json but sits under the common files`,
		},
		{
			name: "newer schema",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) { m.Schema = SchemaVersion + 1 })
			},
			want: fmt.Sprintf("manifest.json has schema %d but this launcher reads schema %d", SchemaVersion+1, SchemaVersion),
		},
		{
			name: "a shared entry listed with another digest",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return editManifest(t, es, true, func(m *Manifest) {
					i := slices.IndexFunc(m.Files, func(f File) bool { return f.Path == "app/manage.py" })
					f := m.Files[i]
					f.Target += ".copy"
					f.SHA256 = strings.Repeat("0", 64)
					m.Files = append(m.Files, f)
				})
			},
			want: "lists app/manage.py twice with different contents",
		},
		{
			name: "no manifest",
			edit: func(t *testing.T, es []ZipEntry) []ZipEntry {
				return slices.DeleteFunc(es, func(e ZipEntry) bool { return e.Name == ManifestName })
			},
			want: "it has no manifest.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mathesar.pyz")
			if err := WriteZipForTest(p, time.Unix(315532800, 0), tt.edit(t, readEntries(t, good))); err != nil {
				t.Fatal(err)
			}
			b, err := Open(p)
			if tt.verify {
				if err != nil {
					t.Fatalf("Open: %v (the damage should need hashing to find)", err)
				}
				defer b.Close()
				err = b.Verify(context.Background())
				checkDamaged(t, err, p, tt.want)
				for _, abi := range b.Manifest.Python.ABIs {
					dest := filepath.Join(t.TempDir(), "tree")
					err := b.Extract(context.Background(), abi, dest, nil)
					checkDamaged(t, err, p, tt.want)
					if _, serr := os.Stat(filepath.Join(dest, "site-packages/yaml/__init__.py")); !errors.Is(serr, fs.ErrNotExist) {
						t.Errorf("the mismatching file was left in the tree (stat: %v)", serr)
					}
				}
				return
			}
			if err == nil {
				b.Close()
			}
			checkDamaged(t, err, p, tt.want)
		})
	}
}

func checkDamaged(t *testing.T, err error, p, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), want) ||
		!strings.HasPrefix(err.Error(), p+" is damaged: ") || !strings.HasSuffix(err.Error(), "; "+ReinstallHint) {
		t.Fatalf("error %q: want a damaged error containing %q", err, want)
	}
}

func TestOpenTruncated(t *testing.T) {
	good := writeTestPyz(t)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []int{0, 10, len(data) / 2, len(data) - 1} {
		p := filepath.Join(t.TempDir(), "mathesar.pyz")
		if err := os.WriteFile(p, data[:keep], 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := Open(p)
		if err == nil {
			b.Close()
		}
		checkDamaged(t, err, p, "cannot read the zip directory")
	}
}

func TestOpenMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.pyz")
	_, err := Open(p)
	if err == nil || errors.Is(err, ErrDamaged) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v; want a not-exist error that does not claim damage", err)
	}
}

func TestExtractRefuses(t *testing.T) {
	b, err := Open(writeTestPyz(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, abi, dest, want string }{
		{"unknown ABI", "cp39", t.TempDir(), `no files for Python ABI "cp39": it serves cp311, cp312 (CPython 3.11 to 3.12)`},
		{"common is not an ABI", "common", t.TempDir(), `no files for Python ABI "common"`},
		{"non-empty destination", "cp311", nonEmpty, "the directory is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Extract(context.Background(), tt.abi, tt.dest, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Extract: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExtractCancelled(t *testing.T) {
	b, err := Open(writeTestPyz(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Extract(ctx, "cp311", filepath.Join(t.TempDir(), "t"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract with a cancelled context: %v", err)
	}
}
