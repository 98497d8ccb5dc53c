// Package pkgread reads built .deb and .rpm packages back into plain Go values, checking
// their integrity on the way, so tests and repository index builders can inspect exactly
// what a package would install.
package pkgread

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/blakesmith/ar"
)

// MaxFileData is the largest file whose contents are kept in File.Data and RpmFile.Data.
// Larger files are still hashed and checked, but their Data is nil, so reading a package
// with a huge file does not take that much memory.
const MaxFileData = 64 << 20

// Deb is a .deb read back.
type Deb struct {
	Path string
	// Control holds the fields of the control file, keys as written. Description holds
	// its first line (the synopsis) only; other multi-line fields keep their continuation
	// lines, joined with "\n" and without the leading space.
	Control map[string]string
	// Description is the extended description: the continuation lines of Description,
	// with the leading space removed and " ." lines turned into empty lines.
	Description string
	// ControlFiles are the control.tar members (control, conffiles, md5sums, postinst,
	// prerm, postrm, preinst, triggers, ...), keyed by name without "./".
	ControlFiles map[string]File
	// Conffiles are the lines of conffiles, as written (usually absolute paths).
	Conffiles []string
	// MD5Sums maps an absolute path ("/usr/bin/mathesar") to the md5 hex the package lists.
	MD5Sums map[string]string
	// Files are the data.tar entries, sorted by Path; the top directory is "/".
	Files []File
	// DataCompression is the data.tar member's compression: "gz", "xz", "zst", ... or "".
	DataCompression string
}

// File is one entry of a tar member of a .deb.
type File struct {
	Path string // absolute ("/usr/bin/mathesar"); for ControlFiles, the bare name ("postinst")
	// Mode holds the permission bits plus Go's type bits (fs.ModeDir, fs.ModeSymlink, ...).
	// A hard link is a regular file whose LinkTarget is the path it links to.
	Mode        fs.FileMode
	UID, GID    int
	User, Group string
	Size        int64
	// LinkTarget is a symlink's target as written, or a hard link's absolute target.
	LinkTarget string
	ModTime    time.Time
	// Data is the content of a regular file (and of a hard link, taken from its target);
	// nil for files larger than MaxFileData.
	Data []byte
	// MD5 is the md5 hex of a regular file's content, computed while reading.
	MD5 string
}

// File returns the data.tar entry at path (absolute, e.g. "/usr/bin/mathesar").
func (d *Deb) File(p string) (File, bool) {
	i := sort.Search(len(d.Files), func(i int) bool { return d.Files[i].Path >= p })
	if i < len(d.Files) && d.Files[i].Path == p {
		return d.Files[i], true
	}
	return File{}, false
}

// ReadDeb reads the .deb at path: it checks the ar magic, that debian-binary is "2.0\n",
// the member order (debian-binary, control.tar*, data.tar*), that every member is whole,
// that each md5sums entry matches the data and that each conffile is in the data.
func ReadDeb(path string) (*Deb, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open deb: %w", err)
	}
	defer f.Close()
	// bufio hides os.File's Seek from the ar reader: with a Seek it would skip past the
	// end of a truncated file without an error.
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(8)
	if err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("%s: not a .deb: it does not start with the ar magic \"!<arch>\\n\"; check that the file is a Debian binary package and was fully written", path)
	}
	d := &Deb{Path: path, ControlFiles: map[string]File{}, MD5Sums: map[string]string{}}
	// The order deb(5) requires; members named "_..." may sit between them.
	const (
		wantBinary = iota
		wantControl
		wantData
		done
	)
	state := wantBinary
	consumed := &countingReader{r: br}
	arr := ar.NewReader(consumed)
	for state != done {
		hdr, err := arr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read ar member header after %s: %w; the file is truncated or corrupt, rebuild it", path, stateName(state), err)
		}
		// GNU ar ends names with "/"; dpkg accepts both spellings.
		name := strings.TrimSuffix(hdr.Name, "/")
		body := &countingReader{r: io.LimitReader(arr, hdr.Size)}
		switch {
		case state == wantBinary:
			if name != "debian-binary" {
				return nil, fmt.Errorf("%s: first member is %q, want debian-binary; this is an ar archive but not a .deb", path, name)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				return nil, fmt.Errorf("%s: read debian-binary: %w", path, err)
			}
			if body.n != hdr.Size {
				return nil, truncated(path, name, hdr.Size, body.n)
			}
			if string(b) != "2.0\n" {
				return nil, fmt.Errorf("%s: debian-binary is %q, want \"2.0\\n\"; the package format is unsupported or the member is corrupt", path, b)
			}
			state = wantControl
		case strings.HasPrefix(name, "_"):
			// Reserved for extensions such as signatures (deb(5)): nothing to read.
		case state == wantControl:
			comp, ok := strings.CutPrefix(name, "control.tar")
			if !ok {
				return nil, fmt.Errorf("%s: member %q comes where control.tar.* must be; the members are out of order", path, name)
			}
			if err := d.readControl(body, strings.TrimPrefix(comp, ".")); err != nil {
				return nil, memberError(path, name, hdr.Size, body, err)
			}
			state = wantData
		case state == wantData:
			comp, ok := strings.CutPrefix(name, "data.tar")
			if !ok {
				return nil, fmt.Errorf("%s: member %q comes where data.tar.* must be; the members are out of order", path, name)
			}
			d.DataCompression = strings.TrimPrefix(comp, ".")
			if err := d.readData(body, d.DataCompression); err != nil {
				return nil, memberError(path, name, hdr.Size, body, err)
			}
			// Nothing after data.tar is read, so check here that its padding byte is there:
			// the ar reader would take a missing one for the end of the archive.
			if _, err := io.Copy(io.Discard, body); err == nil && body.n == hdr.Size && hdr.Size%2 == 1 {
				if st, err := f.Stat(); err == nil && st.Size() < consumed.n+1 {
					return nil, fmt.Errorf("%s: member %s is truncated: its padding byte is missing; the file was cut short, rebuild or download it again", path, name)
				}
			}
			state = done
		}
		// Drain what the decompressor left (trailing padding) so the size check sees it all.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, fmt.Errorf("%s: member %s: %w", path, name, err)
		}
		if body.n != hdr.Size {
			return nil, truncated(path, name, hdr.Size, body.n)
		}
	}
	if state != done {
		return nil, fmt.Errorf("%s: the file ends before %s; it is truncated or not a binary package, rebuild it", path, stateName(state))
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func truncated(path, member string, want, got int64) error {
	return fmt.Errorf("%s: member %s is truncated: its header says %d bytes but the file ends after %d; the file was cut short, rebuild or download it again", path, member, want, got)
}

// memberError reports a member that could not be read, as truncation when the file ends
// inside the member: that is the cause, and the decompressor's error would hide it.
func memberError(path, member string, size int64, body *countingReader, err error) error {
	if _, drainErr := io.Copy(io.Discard, body); drainErr == nil && body.n != size {
		return truncated(path, member, size, body.n)
	}
	return fmt.Errorf("%s: member %s: %w", path, member, err)
}

func stateName(state int) string {
	return [...]string{"debian-binary", "control.tar", "data.tar", "the end"}[state]
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readTar calls fn for each entry of the (compressed) tar in r, with the entry's content
// hashed and, up to MaxFileData, kept.
func readTar(r io.Reader, comp string, fn func(h *tar.Header, data []byte, sum string) error) error {
	zr, closeZ, err := decompress(r, comp)
	if err != nil {
		return err
	}
	defer closeZ()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		var data []byte
		var sum string
		if h.Typeflag == tar.TypeReg {
			hash := md5.New()
			var keep bytes.Buffer
			w := io.Writer(hash)
			if h.Size <= MaxFileData {
				w = io.MultiWriter(hash, &keep)
			}
			n, err := io.Copy(w, tr)
			if err != nil {
				return fmt.Errorf("read %s: %w", h.Name, err)
			}
			if n != h.Size {
				return fmt.Errorf("read %s: got %d bytes, tar header says %d", h.Name, n, h.Size)
			}
			if h.Size <= MaxFileData {
				data = keep.Bytes()
			}
			sum = hex.EncodeToString(hash.Sum(nil))
		}
		if err := fn(h, data, sum); err != nil {
			return err
		}
	}
}

func fileFromTar(p string, h *tar.Header, data []byte, sum string) File {
	return File{
		Path: p, Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid, User: h.Uname, Group: h.Gname,
		Size: h.Size, LinkTarget: h.Linkname, ModTime: h.ModTime, Data: data, MD5: sum,
	}
}

func (d *Deb) readControl(r io.Reader, comp string) error {
	err := readTar(r, comp, func(h *tar.Header, data []byte, sum string) error {
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if name == "." || name == "" {
			return nil
		}
		d.ControlFiles[name] = fileFromTar(name, h, data, sum)
		return nil
	})
	if err != nil {
		return err
	}
	control, ok := d.ControlFiles["control"]
	if !ok {
		return errors.New("no control file in it; the package was built without DEBIAN/control")
	}
	if d.Control, d.Description, err = parseControl(control.Data); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	for _, field := range []string{"Package", "Version", "Architecture"} {
		if d.Control[field] == "" {
			return fmt.Errorf("control has no %s field; add it to the package's control data", field)
		}
	}
	if cf, ok := d.ControlFiles["conffiles"]; ok {
		for _, line := range strings.Split(string(cf.Data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				d.Conffiles = append(d.Conffiles, line)
			}
		}
	}
	if ms, ok := d.ControlFiles["md5sums"]; ok {
		for i, line := range strings.Split(string(ms.Data), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			// "md5hex  relative/path"; the path may hold spaces.
			sum, p, ok := strings.Cut(line, " ")
			p = strings.TrimLeft(p, " *")
			if !ok || len(sum) != 32 || p == "" {
				return fmt.Errorf("md5sums line %d is %q, want \"<md5 hex>  <path>\"", i+1, line)
			}
			d.MD5Sums[path.Clean("/"+p)] = strings.ToLower(sum)
		}
	}
	return nil
}

// parseControl reads one deb822 paragraph. Hand-written because the format is a few lines
// of rules and the project's packages need nothing a deb822 library adds.
func parseControl(b []byte) (map[string]string, string, error) {
	fields := map[string]string{}
	var key, desc string
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if len(fields) > 0 {
				return fields, desc, nil
			}
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if key == "" {
				return nil, "", fmt.Errorf("line %d is a continuation line before any field", i+1)
			}
			cont := line[1:]
			if strings.TrimSpace(cont) == "." {
				cont = ""
			}
			if key == "Description" {
				desc += cont + "\n"
			} else {
				fields[key] += "\n" + cont
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, "", fmt.Errorf("line %d is %q, want \"Field: value\"", i+1, line)
			}
			key = k
			if _, dup := fields[key]; dup {
				return nil, "", fmt.Errorf("field %s appears twice", key)
			}
			fields[key] = strings.TrimSpace(v)
		}
	}
	return fields, desc, nil
}

func (d *Deb) readData(r io.Reader, comp string) error {
	seen := map[string]int{}
	err := readTar(r, comp, func(h *tar.Header, data []byte, sum string) error {
		p := path.Clean("/" + h.Name)
		if _, dup := seen[p]; dup {
			return fmt.Errorf("%s appears twice in data.tar; the package build listed it twice", p)
		}
		f := fileFromTar(p, h, data, sum)
		if h.Typeflag == tar.TypeLink {
			f.LinkTarget = path.Clean("/" + h.Linkname)
			i, ok := seen[f.LinkTarget]
			if !ok {
				return fmt.Errorf("%s is a hard link to %s, which comes later or not at all", p, f.LinkTarget)
			}
			target := d.Files[i]
			f.Size, f.Data, f.MD5 = target.Size, target.Data, target.MD5
		}
		seen[p] = len(d.Files)
		d.Files = append(d.Files, f)
		return nil
	})
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path })
	return err
}

// check compares md5sums and conffiles with the data.
func (d *Deb) check() error {
	var errs []error
	paths := make([]string, 0, len(d.MD5Sums))
	for p := range d.MD5Sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f, ok := d.File(p)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: listed in md5sums but missing from data.tar", p))
		case f.MD5 == "":
			errs = append(errs, fmt.Errorf("%s: listed in md5sums but is not a regular file (mode %s)", p, f.Mode))
		case f.MD5 != d.MD5Sums[p]:
			errs = append(errs, fmt.Errorf("%s: md5sums says %s but data.tar holds %s; the package was changed after it was built, rebuild it", p, d.MD5Sums[p], f.MD5))
		}
	}
	for _, line := range d.Conffiles {
		fields := strings.Fields(line)
		// "remove-on-upgrade /path" names a conffile the package no longer ships.
		if len(fields) > 1 && fields[0] == "remove-on-upgrade" {
			continue
		}
		p := fields[0]
		if f, ok := d.File(p); !ok || !f.Mode.IsRegular() {
			errs = append(errs, fmt.Errorf("%s: listed in conffiles but not a regular file in data.tar", p))
		}
	}
	return errors.Join(errs...)
}
