package wheel

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// demoSpec is a wheel with a file in every scheme, used across the tests.
func demoSpec() BuildSpec {
	s := BuildSpec{
		Name:           "Demo.Pkg",
		Version:        "1.0",
		Tags:           "py2.py3-none-any",
		RootIsPurelib:  true,
		RequiresDist:   []string{`requests>=2; extra == "http"`, `tomli; python_version < "3.11"`},
		ProvidesExtra:  []string{"http"},
		RequiresPython: ">=3.10",
	}
	d := s.DataDir()
	s.Files = []SpecFile{
		{Path: "demo_pkg/__init__.py", Data: []byte("VERSION = '1.0'\n")},
		{Path: "demo_pkg/run.sh", Data: []byte("#!/bin/sh\n"), Mode: 0o744},
		{Path: "demo_pkg/secret.txt", Data: []byte("x"), Mode: 0o600},
		{Path: "demo_pkg/weird, name.txt", Data: []byte("comma in name\n")},
		{Path: s.DistInfo() + "/entry_points.txt", Data: []byte("[console_scripts]\ndemo = demo_pkg:main\n")},
		{Path: d + "/purelib/demo_extra/__init__.py", Data: []byte("")},
		{Path: d + "/platlib/demo_native.so", Data: []byte("\x7fELF"), Mode: 0o755},
		{Path: d + "/scripts/demo", Data: []byte("#!python\nimport demo_pkg\n")},
		{Path: d + "/scripts/demow", Data: []byte("#!pythonw -E\r\nimport demo_pkg\r\n"), Mode: 0o644},
		{Path: d + "/scripts/plain.sh", Data: []byte("#!/bin/sh\necho hi\n")},
		{Path: d + "/data/share/demo/README", Data: []byte("data file\n")},
		{Path: d + "/headers/demo.h", Data: []byte("#define DEMO 1\n")},
	}
	return s
}

func writeSpec(t *testing.T, s BuildSpec) string {
	t.Helper()
	p, err := Write(t.TempDir(), s)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return p
}

// rawEntry is a zip entry as the corruption tests rebuild it.
type rawEntry = zipEntry

func readRaw(t *testing.T, path string) []rawEntry {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	var out []rawEntry
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
		out = append(out, rawEntry{Name: f.Name, Data: data, Mode: f.Mode()})
	}
	return out
}

// rewrite rebuilds the wheel at path with edit applied to its entries, keeping the
// RECORD as it was unless edit changes it.
func rewrite(t *testing.T, path string, edit func([]rawEntry) []rawEntry) {
	t.Helper()
	entries := edit(readRaw(t, path))
	var buf bytes.Buffer
	if err := writeZip(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// resign rewrites the RECORD entry of entries so that it lists every other entry with
// a correct hash, as a careful attacker or a sloppy tool would.
func resign(t *testing.T, entries []rawEntry, distInfo string) []rawEntry {
	t.Helper()
	var rows []RecordEntry
	idx := -1
	for i, e := range entries {
		if e.Name == distInfo+"/RECORD" {
			idx = i
			continue
		}
		rows = append(rows, sha256Entry(e.Name, e.Data))
	}
	rows = append(rows, RecordEntry{Path: distInfo + "/RECORD"})
	rec, err := encodeRecord(rows)
	if err != nil {
		t.Fatal(err)
	}
	if idx < 0 {
		t.Fatalf("no RECORD in entries")
	}
	entries[idx].Data = rec
	return entries
}

func setEntry(entries []rawEntry, name string, data []byte) []rawEntry {
	for i := range entries {
		if entries[i].Name == name {
			entries[i].Data = data
		}
	}
	return entries
}

func withoutEntry(entries []rawEntry, name string) []rawEntry {
	var out []rawEntry
	for _, e := range entries {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}

func entryData(t *testing.T, entries []rawEntry, name string) []byte {
	t.Helper()
	for _, e := range entries {
		if e.Name == name {
			return e.Data
		}
	}
	t.Fatalf("no entry %s", name)
	return nil
}

// patchCentralSize sets the uncompressed size that the central directory declares for
// an entry, which is what archive/zip trusts.
func patchCentralSize(t *testing.T, path, name string, size uint32) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig := []byte("PK\x01\x02")
	found := false
	for i := 0; i+46 <= len(data); i++ {
		if !bytes.Equal(data[i:i+4], sig) {
			continue
		}
		nameLen := int(data[i+28]) | int(data[i+29])<<8
		if string(data[i+46:i+46+nameLen]) != name {
			continue
		}
		data[i+24], data[i+25], data[i+26], data[i+27] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
		found = true
	}
	if !found {
		t.Fatalf("no central directory header for %s", name)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipDataByte flips one byte in the stored (compressed) data of an entry.
func flipDataByte(t *testing.T, path, name string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int64 = -1
	for _, f := range zr.File {
		if f.Name == name {
			if off, err = f.DataOffset(); err != nil {
				t.Fatal(err)
			}
			off += int64(f.CompressedSize64 / 2)
		}
	}
	zr.Close()
	if off < 0 {
		t.Fatalf("no entry %s", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, path, base string) string {
	t.Helper()
	dst := filepath.Join(filepath.Dir(path), base)
	if err := os.Rename(path, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}
