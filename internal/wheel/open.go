package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Zip bomb guard: limits on what the zip headers declare, enforced again while reading.
const (
	maxTotalSize = 4 << 30 // all entries together, uncompressed
	maxEntrySize = 2 << 30 // one entry, uncompressed
)

const (
	fixRebuild = "re-download or rebuild the wheel"
	fixNewer   = "it needs a newer installer than mathesar-packaging; use a wheel with Wheel-Version 1.x"
)

// Error is a problem with one wheel file, and with one entry of it when Entry is set.
type Error struct {
	Wheel   string // path of the .whl file
	Entry   string // zip entry name, "" when the problem is the file as a whole
	Problem string
	Fix     string // what the reader should do next
	Err     error  // underlying error, if any
}

func (e *Error) Error() string {
	s := "wheel " + e.Wheel
	if e.Entry != "" {
		s += ": entry " + strconv.Quote(e.Entry)
	}
	s += ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Wheel is a wheel file that Open read and verified completely.
type Wheel struct {
	Path           string
	Filename       Filename
	SHA256         string // hex digest of the .whl file
	Name, Version  string // from METADATA
	RequiresDist   []string
	ProvidesExtra  []string
	RequiresPython string
	RootIsPurelib  bool
	DistInfo       string // "name-version.dist-info"
	DataDir        string // "name-version.data"

	zr     *zip.Reader
	files  map[string]*zip.File   // regular file entries by name
	record map[string]RecordEntry // RECORD rows by path
	plan   []placement            // where Install puts each entry, sorted by entry name
}

// placement maps one wheel entry to its place in the install scheme.
type placement struct {
	entry  string
	path   string // slash path under the install root
	scheme string
}

// The schemes of a wheel install and where each lands under the install root. Purelib
// and platlib are the same directory in a virtual environment, but a wheel says which
// one it means, so both are kept.
const (
	schemePurelib = "purelib"
	schemePlatlib = "platlib"
	schemeScripts = "scripts"
	schemeData    = "data"
	schemeHeaders = "headers"
)

var schemeDirs = map[string]string{
	schemePurelib: "site-packages",
	schemePlatlib: "site-packages",
	schemeScripts: "bin",
	schemeData:    "data",
	schemeHeaders: "include",
}

func (w *Wheel) fail(entry, fix string, err error, format string, args ...any) *Error {
	return &Error{Wheel: w.Path, Entry: entry, Problem: fmt.Sprintf(format, args...), Fix: fix, Err: err}
}

// Open reads and verifies a wheel completely and returns it. The whole file is held in
// memory, so what Install and ReadFile return is exactly what was verified even if the
// file changes on disk afterwards.
func Open(path string) (*Wheel, error) {
	w := &Wheel{Path: path}
	fn, err := ParseFilename(filepath.Base(path))
	if err != nil {
		return nil, w.fail("", "", err, "bad file name")
	}
	w.Filename = fn
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open wheel %s: %w", path, err)
	}
	if st.Size() > maxTotalSize {
		return nil, w.fail("", fixRebuild, nil, "file is %d bytes, over the %d byte limit", st.Size(), int64(maxTotalSize))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open wheel %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	w.SHA256 = hex.EncodeToString(sum[:])
	w.zr, err = zip.NewReader(bytes.NewReader(data), int64(len(data)))
	// ErrInsecurePath comes with a usable reader; checkEntries gives a better message.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, w.fail("", fixRebuild, err, "corrupt wheel zip")
	}
	steps := []func() error{w.checkEntries, w.findDirs, w.checkRecord, w.readWheelFile, w.readMetadata, w.planInstall}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// checkEntryName refuses entry names that could escape the install root or that
// different systems read differently.
func checkEntryName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.ContainsRune(name, 0):
		return errors.New("name contains a NUL byte")
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return errors.New("name contains a control character")
	case strings.Contains(name, `\`):
		return errors.New("name contains a backslash")
	case strings.HasPrefix(name, "/"):
		return errors.New("absolute path")
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z'):
		return errors.New("path starts with a drive letter")
	}
	for _, part := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		switch part {
		case "..":
			return errors.New(`path contains ".." and would land outside the install directories`)
		case "", ".":
			return errors.New(`path has an empty or "." component`)
		}
	}
	return nil
}

func (w *Wheel) checkEntries() error {
	w.files = map[string]*zip.File{}
	seen := map[string]bool{}
	var total uint64
	for _, f := range w.zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return w.fail(f.Name, fixRebuild, nil, "unsafe entry name: %v", err)
		}
		if seen[f.Name] {
			return w.fail(f.Name, fixRebuild, nil, "duplicate entry")
		}
		seen[f.Name] = true
		mode := f.Mode()
		if mode&fs.ModeSymlink != 0 {
			return w.fail(f.Name, fixRebuild, nil, "symlink entry; wheels may only hold regular files")
		}
		isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/")
		if !isDir && mode.Type() != 0 {
			return w.fail(f.Name, fixRebuild, nil, "entry is a %v, not a regular file", mode.Type())
		}
		if f.Flags&0x1 != 0 {
			return w.fail(f.Name, fixRebuild, nil, "entry is encrypted")
		}
		if f.UncompressedSize64 > maxEntrySize {
			return w.fail(f.Name, fixRebuild, nil, "entry declares %d bytes uncompressed, over the %d byte limit per entry", f.UncompressedSize64, uint64(maxEntrySize))
		}
		total += f.UncompressedSize64
		if total > maxTotalSize {
			return w.fail(f.Name, fixRebuild, nil, "entries declare more than %d bytes uncompressed in total", uint64(maxTotalSize))
		}
		if !isDir {
			w.files[f.Name] = f
		}
	}
	return nil
}

// matchesFilename reports whether a "name-version" stem of a .dist-info or .data
// directory names the same project and version as the wheel's file name.
func (w *Wheel) matchesFilename(stem string) bool {
	i := strings.LastIndex(stem, "-")
	if i < 0 {
		return false
	}
	return NormalizeName(stem[:i]) == w.Filename.Project() && sameVersion(stem[i+1:], w.Filename.Version)
}

// findDirs finds the one .dist-info directory and the optional .data directory.
func (w *Wheel) findDirs() error {
	var distInfos, datas []string
	seen := map[string]bool{}
	for _, f := range w.zr.File {
		top, _, nested := strings.Cut(f.Name, "/")
		if !nested || seen[top] {
			continue
		}
		seen[top] = true
		switch {
		case strings.HasSuffix(top, ".dist-info"):
			distInfos = append(distInfos, top)
		case strings.HasSuffix(top, ".data"):
			datas = append(datas, top)
		}
	}
	sort.Strings(distInfos)
	sort.Strings(datas)
	switch len(distInfos) {
	case 0:
		return w.fail("", fixRebuild, nil, "no .dist-info directory")
	case 1:
	default:
		return w.fail(distInfos[1]+"/", fixRebuild, nil, "more than one .dist-info directory (%s)", strings.Join(distInfos, ", "))
	}
	w.DistInfo = distInfos[0]
	if !w.matchesFilename(strings.TrimSuffix(w.DistInfo, ".dist-info")) {
		return w.fail(w.DistInfo+"/", fixRebuild, nil, "dist-info directory does not match the file name's project %q version %q", w.Filename.Name, w.Filename.Version)
	}
	if len(datas) > 1 {
		return w.fail(datas[1]+"/", fixRebuild, nil, "more than one .data directory (%s)", strings.Join(datas, ", "))
	}
	if len(datas) == 1 {
		w.DataDir = datas[0]
		if !w.matchesFilename(strings.TrimSuffix(w.DataDir, ".data")) {
			return w.fail(w.DataDir+"/", fixRebuild, nil, ".data directory does not match the file name's project %q version %q", w.Filename.Name, w.Filename.Version)
		}
	}
	return nil
}

// unrecorded reports whether an entry is legitimately absent from RECORD.
func (w *Wheel) unrecorded(name string) bool {
	switch name {
	case w.DistInfo + "/RECORD", w.DistInfo + "/RECORD.jws", w.DistInfo + "/RECORD.p7s":
		return true
	}
	return false
}

// newHash returns a hash for a RECORD algorithm; weaker ones than sha256 are refused
// as the spec requires.
func newHash(algo string) (hash.Hash, error) {
	switch strings.ToLower(algo) {
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	case "md5", "sha1", "sha224":
		return nil, fmt.Errorf("hash algorithm %s is weaker than sha256", algo)
	}
	return nil, fmt.Errorf("unsupported hash algorithm %q (want sha256, sha384 or sha512)", algo)
}

// readEntry copies an entry's content to sink, never more than its header declares,
// and returns the digest under algo ("" for none).
func (w *Wheel) readEntry(name, algo string, sink io.Writer) ([]byte, error) {
	f := w.files[name]
	if f == nil {
		return nil, w.fail(name, fixRebuild, nil, "no such file in the wheel")
	}
	h := hash.Hash(sha256.New())
	if algo != "" {
		var err error
		if h, err = newHash(algo); err != nil {
			return nil, w.fail(name, fixRebuild, err, "bad RECORD hash")
		}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, w.fail(name, fixRebuild, err, "corrupt wheel zip")
	}
	defer rc.Close()
	n, err := io.Copy(io.MultiWriter(h, sink), io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, w.fail(name, fixRebuild, err, "corrupt wheel zip")
	}
	if uint64(n) != f.UncompressedSize64 {
		return nil, w.fail(name, fixRebuild, nil, "corrupt wheel zip: entry holds %d bytes, its header says %d", n, f.UncompressedSize64)
	}
	return h.Sum(nil), nil
}

// readVerified returns an entry's content after checking it against RECORD.
func (w *Wheel) readVerified(name string) ([]byte, error) {
	var buf bytes.Buffer
	if err := w.verify(name, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (w *Wheel) verify(name string, sink io.Writer) error {
	e, ok := w.record[name]
	if !ok && !w.unrecorded(name) {
		return w.fail(name, fixRebuild, nil, "not listed in RECORD")
	}
	sum, err := w.readEntry(name, e.HashAlgo, sink)
	if err != nil {
		return err
	}
	if e.HashAlgo == "" {
		return nil
	}
	want, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e.Digest, "="))
	if err != nil {
		return w.fail(name, fixRebuild, err, "RECORD digest %q is not urlsafe base64", e.Digest)
	}
	if !bytes.Equal(want, sum) {
		return w.fail(name, fixRebuild, nil, "%s mismatch: RECORD says %s, file has %s", e.HashAlgo, e.Digest, base64.RawURLEncoding.EncodeToString(sum))
	}
	if e.HasSize && uint64(e.Size) != w.files[name].UncompressedSize64 {
		return w.fail(name, fixRebuild, nil, "size mismatch: RECORD says %d bytes, file has %d", e.Size, w.files[name].UncompressedSize64)
	}
	return nil
}

func (w *Wheel) checkRecord() error {
	recName := w.DistInfo + "/RECORD"
	if w.files[recName] == nil {
		return w.fail(recName, fixRebuild, nil, "RECORD is missing")
	}
	var buf bytes.Buffer
	if _, err := w.readEntry(recName, "", &buf); err != nil {
		return err
	}
	rows, err := ParseRecord(&buf)
	if err != nil {
		return w.fail(recName, fixRebuild, err, "unreadable RECORD")
	}
	w.record = map[string]RecordEntry{}
	for _, e := range rows {
		if _, dup := w.record[e.Path]; dup {
			return w.fail(e.Path, fixRebuild, nil, "listed twice in RECORD")
		}
		w.record[e.Path] = e
		if w.unrecorded(e.Path) {
			continue
		}
		if e.HashAlgo == "" {
			return w.fail(e.Path, fixRebuild, nil, "RECORD lists it without a hash")
		}
		if _, err := newHash(e.HashAlgo); err != nil {
			return w.fail(e.Path, fixRebuild, err, "bad RECORD hash")
		}
		if w.files[e.Path] == nil {
			return w.fail(e.Path, fixRebuild, nil, "listed in RECORD but missing from the wheel")
		}
	}
	for _, f := range w.zr.File {
		if w.files[f.Name] == nil || w.unrecorded(f.Name) {
			continue
		}
		if err := w.verify(f.Name, io.Discard); err != nil {
			return err
		}
	}
	return nil
}

// readHeaders reads an RFC 822 style header block (WHEEL, METADATA) with net/mail,
// which, unlike net/textproto, accepts everything RFC 5322 allows in field values.
func (w *Wheel) readHeaders(name string) (mail.Header, error) {
	if w.files[name] == nil {
		return nil, w.fail(name, fixRebuild, nil, "missing")
	}
	data, err := w.readVerified(name)
	if err != nil {
		return nil, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, w.fail(name, fixRebuild, err, "unparsable header block")
	}
	return msg.Header, nil
}

func (w *Wheel) readWheelFile() error {
	name := w.DistInfo + "/WHEEL"
	h, err := w.readHeaders(name)
	if err != nil {
		return err
	}
	v := h.Get("Wheel-Version")
	if v == "" {
		return w.fail(name, fixRebuild, nil, "no Wheel-Version")
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return w.fail(name, fixRebuild, nil, "Wheel-Version %q is not major.minor", v)
	}
	if n != 1 {
		return w.fail(name, fixNewer, nil, "Wheel-Version %s is not supported", v)
	}
	switch strings.ToLower(h.Get("Root-Is-Purelib")) {
	case "true":
		w.RootIsPurelib = true
	case "false":
		w.RootIsPurelib = false
	case "":
		return w.fail(name, fixRebuild, nil, "no Root-Is-Purelib")
	default:
		return w.fail(name, fixRebuild, nil, "Root-Is-Purelib is %q, want true or false", h.Get("Root-Is-Purelib"))
	}
	return nil
}

func (w *Wheel) readMetadata() error {
	name := w.DistInfo + "/METADATA"
	h, err := w.readHeaders(name)
	if err != nil {
		return err
	}
	if h.Get("Metadata-Version") == "" {
		return w.fail(name, fixRebuild, nil, "no Metadata-Version")
	}
	w.Name, w.Version = h.Get("Name"), h.Get("Version")
	if !nameRE.MatchString(w.Name) {
		return w.fail(name, fixRebuild, nil, "Name %q is not a valid project name", w.Name)
	}
	if NormalizeName(w.Name) != w.Filename.Project() {
		return w.fail(name, fixRebuild, nil, "Name %q does not match the file name's project %q", w.Name, w.Filename.Name)
	}
	if w.Version == "" {
		return w.fail(name, fixRebuild, nil, "no Version")
	}
	if !sameVersion(w.Version, w.Filename.Version) {
		return w.fail(name, fixRebuild, nil, "Version %q does not match the file name's version %q", w.Version, w.Filename.Version)
	}
	w.RequiresDist = h["Requires-Dist"]
	w.ProvidesExtra = h["Provides-Extra"]
	w.RequiresPython = h.Get("Requires-Python")
	return nil
}

// place says where an entry goes, or why it cannot be installed.
func (w *Wheel) place(name string) (placement, error) {
	if w.DataDir != "" {
		if rest, ok := strings.CutPrefix(name, w.DataDir+"/"); ok {
			scheme, rel, ok := strings.Cut(rest, "/")
			if !ok {
				return placement{}, errors.New("file directly in the .data directory, outside any scheme directory")
			}
			dir, known := schemeDirs[scheme]
			if !known {
				return placement{}, fmt.Errorf("unknown .data scheme directory %q (want purelib, platlib, scripts, data or headers)", scheme)
			}
			if scheme == schemeHeaders {
				dir += "/" + w.Name
			}
			return placement{entry: name, path: dir + "/" + rel, scheme: scheme}, nil
		}
	}
	scheme := schemePlatlib
	if w.RootIsPurelib {
		scheme = schemePurelib
	}
	return placement{entry: name, path: schemeDirs[scheme] + "/" + name, scheme: scheme}, nil
}

// planInstall maps every entry to its installed path up front so a wheel that cannot
// be installed fails in Open, not half-way through a bundle build.
func (w *Wheel) planInstall() error {
	used := map[string]string{
		w.installedPath("RECORD"):    w.DistInfo + "/RECORD",
		w.installedPath("INSTALLER"): w.DistInfo + "/INSTALLER",
	}
	for _, name := range w.Files() {
		if w.unrecorded(name) || name == w.DistInfo+"/INSTALLER" {
			continue // replaced or dropped by Install
		}
		p, err := w.place(name)
		if err != nil {
			return w.fail(name, fixRebuild, err, "cannot install")
		}
		if other, clash := used[p.path]; clash {
			return w.fail(name, fixRebuild, nil, "installs to %s, as does entry %q", p.path, other)
		}
		used[p.path] = name
		w.plan = append(w.plan, p)
	}
	return nil
}

// installedPath is where a file of the .dist-info directory lands.
func (w *Wheel) installedPath(file string) string {
	return schemeDirs[schemePurelib] + "/" + w.DistInfo + "/" + file
}

// Files returns the names of the wheel's regular file entries, sorted.
func (w *Wheel) Files() []string {
	names := make([]string, 0, len(w.files))
	for n := range w.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadFile returns the content of one entry, checked again against RECORD.
func (w *Wheel) ReadFile(name string) ([]byte, error) {
	return w.readVerified(name)
}
