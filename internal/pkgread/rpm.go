package pkgread

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/cavaliergopher/rpm"
)

// Rpm is an .rpm read back.
type Rpm struct {
	Path                          string
	Name, Version, Release, Arch  string
	Epoch                         int
	Summary, Description, License string
	// Dependencies as `rpm -qp --requires` prints them: "name" or "name op [epoch:]version[-release]".
	Requires, Recommends, Suggests, Provides, Conflicts, Obsoletes []string
	// Scripts maps prein, postin, preun, postun, pretrans, posttrans to the script body.
	Scripts map[string]string
	// ScriptInterpreters maps the same names to the interpreter and its arguments ("/bin/sh").
	ScriptInterpreters map[string]string
	Files              []RpmFile // sorted by Path
	// Signed tells whether the signature header holds an OpenPGP signature (RSA, DSA or GPG).
	Signed             bool
	PayloadCompression string // as the header says: "gzip", "xz", "zstd", ...
}

// RpmFile is one file the header lists, checked against the payload.
type RpmFile struct {
	Path                                              string
	Mode                                              fs.FileMode // permission bits plus Go's type bits
	Owner, Group                                      string
	Size                                              int64
	ModTime                                           time.Time
	Config, NoReplace, MissingOK, Doc, License, Ghost bool
	// LinkTarget is a symlink's target as written.
	LinkTarget string
	// Digest is the file's digest hex from the header (sha256 unless the header's
	// FILEDIGESTALGO says otherwise); empty for directories, symlinks and ghosts.
	Digest string
	// Data is a regular file's content from the payload; nil for ghosts and for files
	// larger than MaxFileData.
	Data []byte
}

// File returns the file at path (absolute).
func (r *Rpm) File(p string) (RpmFile, bool) {
	i := sort.Search(len(r.Files), func(i int) bool { return r.Files[i].Path >= p })
	if i < len(r.Files) && r.Files[i].Path == p {
		return r.Files[i], true
	}
	return RpmFile{}, false
}

// Header tags, from rpm's include/rpm/rpmtag.h.
const (
	tagSummary        = 1004
	tagDescription    = 1005
	tagLicense        = 1014
	tagFileSizes      = 1028
	tagFileModes      = 1030
	tagFileMTimes     = 1034
	tagFileDigests    = 1035
	tagFileLinkTos    = 1036
	tagFileFlags      = 1037
	tagFileUserName   = 1039
	tagFileGroupName  = 1040
	tagDirIndexes     = 1116
	tagBaseNames      = 1117
	tagDirNames       = 1118
	tagLongFileSizes  = 5008
	tagFileDigestAlgo = 5011
	tagPayloadDigest  = 5092
	tagPayloadAlgo    = 5093

	sigTagDSA    = 267
	sigTagRSA    = 268
	sigTagSHA1   = 269
	sigTagSHA256 = 273
	sigTagPGP    = 1002
	sigTagGPG    = 1005
)

// pgpHash maps rpm's PGPHASHALGO numbers to hash constructors.
var pgpHash = map[int64]func() hash.Hash{
	1: md5.New, 2: sha1.New, 8: sha256.New, 9: sha512.New384, 10: sha512.New, 11: sha256.New224,
}

var scriptTags = []struct {
	name              string
	body, interpreter int
}{
	{"prein", 1023, 1085}, {"postin", 1024, 1086}, {"preun", 1025, 1087}, {"postun", 1026, 1088},
	{"pretrans", 1151, 1153}, {"posttrans", 1152, 1154},
}

// fullReader makes every Read fill its buffer: cavaliergopher/rpm reads the 16-byte
// header records with a bare Read, which a bufio.Reader may answer short at its
// buffer's edge.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) { return io.ReadFull(f.r, p) }

// ReadRpm reads the .rpm at path: its header fields, dependencies, scripts and files, and
// its payload, checking the header and payload digests and every file's digest, size,
// mode and link target against the header.
func ReadRpm(path string) (*Rpm, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open rpm: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	pkg, err := rpm.Read(fullReader{br})
	if errors.Is(err, rpm.ErrNotRPMFile) {
		return nil, fmt.Errorf("%s: not an .rpm: it does not start with the rpm lead magic ed ab ee db; check that the file is an rpm package and was fully written", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read rpm headers: %w; the file is truncated or corrupt, rebuild it", path, err)
	}
	if err := checkHeaderDigest(f, pkg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h := &pkg.Header
	r := &Rpm{
		Path: path, Name: pkg.Name(), Version: pkg.Version(), Release: pkg.Release(),
		Arch: pkg.Architecture(), Epoch: pkg.Epoch(),
		Summary: h.GetTag(tagSummary).String(), Description: h.GetTag(tagDescription).String(),
		License: h.GetTag(tagLicense).String(), PayloadCompression: pkg.PayloadCompression(),
		Scripts: map[string]string{}, ScriptInterpreters: map[string]string{},
	}
	for _, dep := range []struct {
		into                 *[]string
		what                 string
		name, version, flags int
	}{
		{&r.Requires, "requires", 1049, 1050, 1048},
		{&r.Provides, "provides", 1047, 1113, 1112},
		{&r.Conflicts, "conflicts", 1054, 1055, 1053},
		{&r.Obsoletes, "obsoletes", 1090, 1115, 1114},
		{&r.Recommends, "recommends", 5046, 5047, 5048},
		{&r.Suggests, "suggests", 5049, 5050, 5051},
	} {
		if *dep.into, err = deps(h, dep.name, dep.version, dep.flags); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, dep.what, err)
		}
	}
	for _, s := range scriptTags {
		if body := h.GetTag(s.body); body != nil {
			r.Scripts[s.name] = body.String()
		}
		if prog := h.GetTag(s.interpreter).StringSlice(); len(prog) > 0 {
			r.ScriptInterpreters[s.name] = strings.Join(prog, " ")
		}
	}
	for _, tag := range []int{sigTagDSA, sigTagRSA, sigTagPGP, sigTagGPG} {
		if pkg.Signature.GetTag(tag) != nil {
			r.Signed = true
		}
	}
	if r.Files, err = rpmFiles(h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := r.readPayload(br, h); err != nil {
		return nil, fmt.Errorf("%s: payload: %w", path, err)
	}
	return r, nil
}

// checkHeaderDigest compares the signature header's digest of the main header with the
// bytes on disk, so a header changed after signing is caught.
func checkHeaderDigest(f *os.File, pkg *rpm.Package) error {
	start, end := pkg.HeaderRange()
	for _, c := range []struct {
		tag  int
		name string
		h    func() hash.Hash
	}{{sigTagSHA256, "sha256", sha256.New}, {sigTagSHA1, "sha1", sha1.New}} {
		want := pkg.Signature.GetTag(c.tag).String()
		if want == "" {
			continue
		}
		h := c.h()
		if _, err := io.Copy(h, io.NewSectionReader(f, int64(start), int64(end-start))); err != nil {
			return fmt.Errorf("hash header: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return fmt.Errorf("header %s is %s but the signature header says %s; the header was changed after the package was built, rebuild it", c.name, got, want)
		}
		return nil
	}
	return nil
}

func deps(h *rpm.Header, nameTag, versionTag, flagsTag int) ([]string, error) {
	names := h.GetTag(nameTag).StringSlice()
	versions := h.GetTag(versionTag).StringSlice()
	flags := h.GetTag(flagsTag).Int64Slice()
	if len(names) == 0 {
		return nil, nil
	}
	if len(versions) != len(names) || len(flags) != len(names) {
		return nil, fmt.Errorf("header lists %d names, %d versions and %d flags; the header is corrupt", len(names), len(versions), len(flags))
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if versions[i] == "" {
			continue
		}
		op := ""
		switch flags[i] & (rpm.DepFlagLesser | rpm.DepFlagGreater | rpm.DepFlagEqual) {
		case rpm.DepFlagLesserOrEqual:
			op = "<="
		case rpm.DepFlagGreaterOrEqual:
			op = ">="
		case rpm.DepFlagLesser:
			op = "<"
		case rpm.DepFlagGreater:
			op = ">"
		case rpm.DepFlagEqual:
			op = "="
		}
		out[i] = n + " " + op + " " + versions[i]
	}
	return out, nil
}

// rpmFiles builds the file list from the header's tags. Not the library's Files(): it
// indexes the tag arrays unchecked and panics on a malformed header, where we want an
// error that names the package.
func rpmFiles(h *rpm.Header) ([]RpmFile, error) {
	base := h.GetTag(tagBaseNames).StringSlice()
	n := len(base)
	dirs := h.GetTag(tagDirNames).StringSlice()
	dirIdx := h.GetTag(tagDirIndexes).Int64Slice()
	modes := h.GetTag(tagFileModes).Int64Slice()
	sizes := h.GetTag(tagFileSizes).Int64Slice()
	if long := h.GetTag(tagLongFileSizes).Int64Slice(); long != nil {
		sizes = long
	}
	mtimes := h.GetTag(tagFileMTimes).Int64Slice()
	flags := h.GetTag(tagFileFlags).Int64Slice()
	users := h.GetTag(tagFileUserName).StringSlice()
	groups := h.GetTag(tagFileGroupName).StringSlice()
	digests := h.GetTag(tagFileDigests).StringSlice()
	links := h.GetTag(tagFileLinkTos).StringSlice()
	for _, c := range []struct {
		name string
		len  int
	}{{"DIRINDEXES", len(dirIdx)}, {"FILEMODES", len(modes)}, {"FILESIZES", len(sizes)}, {"FILEMTIMES", len(mtimes)},
		{"FILEFLAGS", len(flags)}, {"FILEUSERNAME", len(users)}, {"FILEGROUPNAME", len(groups)},
		{"FILEDIGESTS", len(digests)}, {"FILELINKTOS", len(links)}} {
		if c.len != n {
			return nil, fmt.Errorf("header lists %d file names but %d %s; the header is corrupt, rebuild the package", n, c.len, c.name)
		}
	}
	files := make([]RpmFile, n)
	for i := range files {
		if dirIdx[i] < 0 || dirIdx[i] >= int64(len(dirs)) {
			return nil, fmt.Errorf("file %q has directory index %d of %d; the header is corrupt", base[i], dirIdx[i], len(dirs))
		}
		fl := flags[i]
		files[i] = RpmFile{
			Path: dirs[dirIdx[i]] + base[i], Mode: rpmMode(modes[i]), Owner: users[i], Group: groups[i],
			Size: sizes[i], ModTime: time.Unix(mtimes[i], 0), LinkTarget: links[i], Digest: digests[i],
			Config: fl&rpm.FileFlagConfig != 0, NoReplace: fl&rpm.FileFlagNoReplace != 0,
			MissingOK: fl&rpm.FileFlagMissingOk != 0, Doc: fl&rpm.FileFlagDoc != 0,
			License: fl&rpm.FileFlagLicense != 0, Ghost: fl&rpm.FileFlagGhost != 0,
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i := 1; i < n; i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("%s is listed twice in the header", files[i].Path)
		}
	}
	return files, nil
}

// rpmMode turns a stat(2) mode into an fs.FileMode (the type is an enum there, bits here).
func rpmMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// readPayload reads the cpio payload from r (positioned just after the header) and checks
// it against the header: the payload digest, and each file's mode, size, digest and link.
func (r *Rpm) readPayload(raw io.Reader, h *rpm.Header) error {
	if format := h.GetTag(1124).String(); format != "" && format != "cpio" {
		return fmt.Errorf("format is %q; only cpio payloads can be read", format)
	}
	comp := r.PayloadCompression
	if comp == "" {
		comp = "gzip" // rpm's default when the tag is absent
	}
	var payloadHash hash.Hash
	wantPayload := h.GetTag(tagPayloadDigest).String()
	if wantPayload != "" {
		algo := h.GetTag(tagPayloadAlgo).Int64()
		newHash, ok := pgpHash[algo]
		if !ok {
			return fmt.Errorf("payload digest algorithm %d is unknown", algo)
		}
		payloadHash = newHash()
		raw = io.TeeReader(raw, payloadHash)
	}
	zr, closeZ, err := decompress(raw, comp)
	if err != nil {
		return fmt.Errorf("%w; the header names payload compression %q", err, comp)
	}
	defer closeZ()

	algo := h.GetTag(tagFileDigestAlgo).Int64()
	if algo == 0 {
		algo = 1 // md5, rpm's default before FILEDIGESTALGO existed
	}
	newHash, ok := pgpHash[algo]
	if !ok {
		return fmt.Errorf("file digest algorithm %d is unknown", algo)
	}
	index := make(map[string]int, len(r.Files))
	for i, f := range r.Files {
		index[f.Path] = i
	}
	seen := map[string]bool{}
	// cpio's newc format stores a hard link set's content once, with its last member.
	type inodeKey struct {
		dev int
		ino int64
	}
	linkSets := map[inodeKey][]int{}
	cr := cpio.NewReader(zr)
	for {
		ch, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read cpio after %d files: %w; the file is truncated or corrupt, rebuild it", len(seen), err)
		}
		// rpmbuild writes "./usr/bin/x", rpmpack (nFPM) may write "/usr/bin/x".
		p := path.Clean("/" + strings.TrimPrefix(ch.Name, "."))
		i, ok := index[p]
		if !ok {
			return fmt.Errorf("%s is in the payload but not in the header", p)
		}
		if seen[p] {
			return fmt.Errorf("%s appears twice in the payload", p)
		}
		seen[p] = true
		f := &r.Files[i]
		if got := rpmMode(int64(ch.Mode)); got != f.Mode {
			return fmt.Errorf("%s: payload mode %s, header says %s", p, got, f.Mode)
		}
		sum, data, n, err := readEntry(cr, ch.Size, newHash)
		if err != nil {
			return fmt.Errorf("%s: %w; the file is truncated or corrupt, rebuild it", p, err)
		}
		if n != ch.Size {
			return fmt.Errorf("%s: payload ends after %d of %d bytes; the file is truncated, rebuild it", p, n, ch.Size)
		}
		switch {
		case f.Mode&fs.ModeSymlink != 0:
			// The cpio reader moves a symlink's target from the content to Linkname.
			if ch.Linkname != f.LinkTarget {
				return fmt.Errorf("%s: payload links to %q, header says %q", p, ch.Linkname, f.LinkTarget)
			}
		case f.Mode.IsRegular():
			set := []int{i}
			if ch.Links > 1 {
				k := inodeKey{ch.DeviceID, ch.Inode}
				linkSets[k] = append(linkSets[k], i)
				if ch.Size == 0 && f.Size > 0 {
					continue // content comes with a later member of the set
				}
				set = linkSets[k]
			}
			for _, j := range set {
				if err := checkContent(&r.Files[j], n, sum, data); err != nil {
					return err
				}
			}
		}
	}
	for _, f := range r.Files {
		if !seen[f.Path] && !f.Ghost {
			return fmt.Errorf("%s is in the header but not in the payload; the payload is truncated or the package is corrupt, rebuild it", f.Path)
		}
	}
	// cpio stops at its trailer; reading on makes the decompressor check its own end
	// (gzip's CRC, xz's index), which catches a file cut short there.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("read past the cpio trailer: %w; the file is truncated or corrupt, rebuild it", err)
	}
	if payloadHash != nil {
		// Hash the compressed bytes the decompressor did not need to read.
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return fmt.Errorf("read to the end: %w", err)
		}
		if got := hex.EncodeToString(payloadHash.Sum(nil)); got != wantPayload {
			return fmt.Errorf("digest is %s but the header says %s; the payload was changed after the package was built, rebuild it", got, wantPayload)
		}
	}
	return nil
}

// readEntry hashes the n bytes of the current cpio entry, keeping them if n <= MaxFileData.
func readEntry(r io.Reader, n int64, newHash func() hash.Hash) (sum string, data []byte, read int64, err error) {
	h := newHash()
	w := io.Writer(h)
	var keep bytes.Buffer
	if n <= MaxFileData {
		w = io.MultiWriter(h, &keep)
	}
	read, err = io.Copy(w, io.LimitReader(r, n))
	if n <= MaxFileData {
		data = keep.Bytes()
	}
	return hex.EncodeToString(h.Sum(nil)), data, read, err
}

func checkContent(f *RpmFile, n int64, sum string, data []byte) error {
	if n != f.Size {
		return fmt.Errorf("%s: payload holds %d bytes, header says %d", f.Path, n, f.Size)
	}
	if sum != f.Digest {
		return fmt.Errorf("%s: digest of the payload is %s but the header says %s; the package was changed after it was built, rebuild it", f.Path, sum, f.Digest)
	}
	f.Data = data
	return nil
}
