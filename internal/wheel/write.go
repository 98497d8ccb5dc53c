package wheel

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
)

// BuildSpec describes a wheel to write (used by tests and the sample wheelhouse builder).
type BuildSpec struct {
	Name, Version  string
	BuildTag       string
	Tags           string // tag set as in a filename, e.g. "cp311-cp311-linux_x86_64" or "py3-none-any"
	RootIsPurelib  bool
	RequiresDist   []string
	ProvidesExtra  []string
	RequiresPython string
	Files          []SpecFile
}

// SpecFile is one file of a BuildSpec; Path is relative to the wheel root, so
// .data files are spelled "<DataDir()>/scripts/tool". Mode 0 means 0o644.
type SpecFile struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// DistInfo is the .dist-info directory the written wheel will have.
func (s BuildSpec) DistInfo() string {
	return EscapeName(s.Name) + "-" + EscapeVersion(s.Version) + ".dist-info"
}

// DataDir is the .data directory for files in non-root schemes.
func (s BuildSpec) DataDir() string {
	return EscapeName(s.Name) + "-" + EscapeVersion(s.Version) + ".data"
}

// Filename is the base name the written wheel will have.
func (s BuildSpec) Filename() string {
	n := EscapeName(s.Name) + "-" + EscapeVersion(s.Version)
	if s.BuildTag != "" {
		n += "-" + s.BuildTag
	}
	return n + "-" + s.Tags + ".whl"
}

// zipEpoch is the earliest time a zip (MS-DOS) timestamp can hold, used for every entry
// so that the same spec always gives the same bytes.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipEntry is one file to put in a zip.
type zipEntry struct {
	Name string
	Data []byte
	Mode fs.FileMode
}

// writeZip writes entries in the given order with fixed timestamps and deflate.
func writeZip(dst io.Writer, entries []zipEntry) error {
	zw := zip.NewWriter(dst)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: zipEpoch}
		fh.SetMode(e.Mode)
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", e.Name, err)
		}
		if _, err := fw.Write(e.Data); err != nil {
			return fmt.Errorf("zip entry %s: %w", e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish zip: %w", err)
	}
	return nil
}

func (s BuildSpec) validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("name %q is not a valid project name (letters, digits, '.', '_', '-')", s.Name)
	}
	if strings.TrimSpace(s.Version) != s.Version {
		return fmt.Errorf("version %q has surrounding whitespace", s.Version)
	}
	if _, err := pep440.Parse(s.Version); err != nil {
		return fmt.Errorf("version %q is not a PEP 440 version", s.Version)
	}
	if s.BuildTag != "" && (s.BuildTag[0] < '0' || s.BuildTag[0] > '9' || strings.ContainsAny(s.BuildTag, "-/\\ \t\r\n")) {
		return fmt.Errorf("build tag %q must start with a digit and contain no '-', slash or space", s.BuildTag)
	}
	if _, err := ParseTagSet(s.Tags); err != nil {
		return err
	}
	values := append(append([]string{s.RequiresPython}, s.RequiresDist...), s.ProvidesExtra...)
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("metadata value %q contains a line break", v)
		}
	}
	return nil
}

// Write writes a valid, deterministic wheel into dir and returns its path: entries
// sorted with the .dist-info files last (the spec asks for them at the end of the
// archive) and RECORD very last, 1980-01-01 timestamps, WHEEL, METADATA 2.1 and a
// RECORD with sha256 digests and sizes. The file appears atomically.
func Write(dir string, spec BuildSpec) (string, error) {
	if err := spec.validate(); err != nil {
		return "", fmt.Errorf("write wheel %s %s: %w; fix the build spec", spec.Name, spec.Version, err)
	}
	base := spec.Filename()
	if _, err := ParseFilename(base); err != nil {
		return "", fmt.Errorf("write wheel: %w", err)
	}
	distInfo := spec.DistInfo()
	generated := map[string][]byte{
		distInfo + "/METADATA": spec.metadata(),
		distInfo + "/WHEEL":    spec.wheelFile(),
	}
	var entries []zipEntry
	seen := map[string]bool{}
	for _, f := range spec.Files {
		if err := checkEntryName(f.Path); err != nil || strings.HasSuffix(f.Path, "/") {
			return "", fmt.Errorf("write wheel %s: file %q: not a safe relative file path (%v); fix the build spec", base, f.Path, err)
		}
		if seen[f.Path] || generated[f.Path] != nil || f.Path == distInfo+"/RECORD" {
			return "", fmt.Errorf("write wheel %s: file %q given twice or clashes with a generated dist-info file; fix the build spec", base, f.Path)
		}
		seen[f.Path] = true
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		entries = append(entries, zipEntry{Name: f.Path, Data: f.Data, Mode: mode})
	}
	for name, data := range generated {
		entries = append(entries, zipEntry{Name: name, Data: data, Mode: 0o644})
	}
	inDistInfo := func(name string) bool { return strings.HasPrefix(name, distInfo+"/") }
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i].Name, entries[j].Name
		if inDistInfo(a) != inDistInfo(b) {
			return !inDistInfo(a)
		}
		return a < b
	})
	rows := make([]RecordEntry, 0, len(entries)+1)
	for _, e := range entries {
		rows = append(rows, sha256Entry(e.Name, e.Data))
	}
	rows = append(rows, RecordEntry{Path: distInfo + "/RECORD"})
	record, err := encodeRecord(rows)
	if err != nil {
		return "", fmt.Errorf("write wheel %s: %w", base, err)
	}
	entries = append(entries, zipEntry{Name: distInfo + "/RECORD", Data: record, Mode: 0o644})

	var buf bytes.Buffer
	if err := writeZip(&buf, entries); err != nil {
		return "", fmt.Errorf("write wheel %s: %w", base, err)
	}
	dst := filepath.Join(dir, base)
	if err := atomicfile.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write wheel %s: %w", base, err)
	}
	return dst, nil
}

func (s BuildSpec) metadata() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Name, s.Version)
	if s.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", s.RequiresPython)
	}
	for _, r := range s.RequiresDist {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	for _, e := range s.ProvidesExtra {
		fmt.Fprintf(&b, "Provides-Extra: %s\n", e)
	}
	return []byte(b.String())
}

func (s BuildSpec) wheelFile() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Wheel-Version: 1.0\nGenerator: %s\nRoot-Is-Purelib: %t\n", InstallerName, s.RootIsPurelib)
	tags, _ := ParseTagSet(s.Tags) // validated already
	for _, t := range tags {
		fmt.Fprintf(&b, "Tag: %s\n", t)
	}
	if s.BuildTag != "" {
		fmt.Fprintf(&b, "Build: %s\n", s.BuildTag)
	}
	return []byte(b.String())
}
