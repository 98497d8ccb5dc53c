package srcfetch

// The unpacker is written here on archive/tar and compress/gzip rather than taken from an
// extraction library: the standard library already reads the format, and what matters is
// the safety policy (what an entry may be and where it may land), which is ours to state
// and test.

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Limits on an archive, far above Mathesar's (about 1,700 files, 34 MB); variables so
// tests can lower them.
var (
	maxEntries          = 50_000
	maxTotalBytes int64 = 2 << 30
)

// entryError names the archive entry at fault; the archive is never trusted past one.
func entryError(archive, entry, problem string) error {
	return fmt.Errorf("%s: entry %q %s: the tarball is damaged or not a Mathesar source archive", archive, entry, problem)
}

func unpackFile(tarball, archive, dst string, strip int) error {
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", archive, err)
	}
	defer f.Close()
	return unpack(f, archive, dst, strip)
}

// unpack extracts the gzipped tar r into the existing empty directory dst, dropping strip
// leading components of every name. archive names the tarball in errors.
func unpack(r io.Reader, archive, dst string, strip int) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%s: %w: the tarball is damaged or not a gzipped tar archive", archive, err)
	}
	// os.Root refuses to resolve any path, symlinks included, to a place outside dst; the
	// checks below only give the reason in the archive's terms.
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", archive, err)
	}
	defer root.Close()

	tr := tar.NewReader(gz)
	var (
		prefix   []string // the stripped components every entry must share
		entries  int
		total    int64
		last     = "(start of the archive)"
		dirTimes = map[string]time.Time{}
		links    [][2]string // archive name, path in the tree
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: reading past entry %q: %w: the tarball is damaged or not a Mathesar source archive", archive, last, err)
		}
		last = hdr.Name
		// git archive writes the commit id in a pax global header; it is not a file.
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if entries++; entries > maxEntries {
			return entryError(archive, hdr.Name, fmt.Sprintf("is beyond the limit of %d entries", maxEntries))
		}
		rel, err := entryPath(hdr, strip, &prefix)
		if err != nil {
			return entryError(archive, hdr.Name, err.Error())
		}
		if rel == "" {
			continue
		}
		mtime := hdr.ModTime
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel != "." {
				if err := root.MkdirAll(rel, 0o755); err != nil {
					return entryError(archive, hdr.Name, fmt.Sprintf("cannot be made a directory (%v)", err))
				}
			}
			dirTimes[rel] = mtime
		case tar.TypeReg:
			if total += hdr.Size; total > maxTotalBytes {
				return entryError(archive, hdr.Name, fmt.Sprintf("takes the archive beyond the limit of %d bytes unpacked", maxTotalBytes))
			}
			if err := writeFile(root, rel, tr, hdr); err != nil {
				return entryError(archive, hdr.Name, err.Error())
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(rel, hdr.Linkname); err != nil {
				return entryError(archive, hdr.Name, err.Error())
			}
			if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
				return entryError(archive, hdr.Name, fmt.Sprintf("cannot be placed (%v)", err))
			}
			if err := root.Symlink(hdr.Linkname, rel); err != nil {
				return entryError(archive, hdr.Name, fmt.Sprintf("cannot be made a symlink (%v); does it appear twice?", err))
			}
			links = append(links, [2]string{hdr.Name, rel})
		case tar.TypeLink:
			return entryError(archive, hdr.Name, fmt.Sprintf("is a hard link to %q, which a source archive has no use for", hdr.Linkname))
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return entryError(archive, hdr.Name, "is a device or fifo")
		default:
			return entryError(archive, hdr.Name, fmt.Sprintf("has tar type %q, not a file, directory or symlink", hdr.Typeflag))
		}
	}
	// The archive ends at its end-of-archive blocks; gzip's own checksum after them adds
	// nothing to the sha256 the whole download already passed.

	// Each symlink was checked on its own; a chain of them (a -> b/.., b -> .) can still
	// lead out, which only resolving them all together shows.
	for _, l := range links {
		if _, err := root.Stat(l[1]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return entryError(archive, l[0], fmt.Sprintf("is a symlink that does not resolve inside the tree (%v)", err))
		}
	}
	return fixDirs(dst, dirTimes)
}

// entryPath validates hdr.Name and returns it relative to dst: "." for the top directory,
// "" for a directory above it.
func entryPath(hdr *tar.Header, strip int, prefix *[]string) (string, error) {
	name := hdr.Name
	if name == "" {
		return "", errors.New("has no name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("has an absolute path")
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "..":
			return "", errors.New("climbs out of the tree with \"..\"")
		case "", ".":
			continue // "./a" and "a//b" name a/b
		}
		parts = append(parts, p)
	}
	if len(parts) <= strip && hdr.Typeflag != tar.TypeDir {
		return "", fmt.Errorf("lies outside the archive's top directory (the pin strips %d leading components)", strip)
	}
	// Every entry must agree with the stripped components seen so far; directories above
	// the top one ("a/" when stripping "a/b/") are only checked, and leave nothing.
	head := parts[:min(len(parts), strip)]
	if n := min(len(head), len(*prefix)); !slices.Equal(head[:n], (*prefix)[:n]) {
		return "", fmt.Errorf("lies outside the archive's top directory %q", strings.Join(*prefix, "/"))
	}
	if len(head) > len(*prefix) {
		*prefix = slices.Clone(head)
	}
	switch {
	case len(parts) < strip:
		return "", nil
	case len(parts) == strip:
		return ".", nil
	}
	return path.Join(parts[strip:]...), nil
}

// checkLinkTarget refuses a symlink whose target, read from where the link sits, leaves
// the tree.
func checkLinkTarget(rel, target string) error {
	if target == "" {
		return errors.New("is a symlink with no target")
	}
	if path.IsAbs(target) {
		return fmt.Errorf("is a symlink to the absolute path %q", target)
	}
	if t := path.Join(path.Dir(rel), target); t == ".." || strings.HasPrefix(t, "../") {
		return fmt.Errorf("is a symlink to %q, outside the tree", target)
	}
	return nil
}

// writeFile creates rel, which must not exist yet, from the entry's data, with a
// normalised mode and the archive's mtime (the front-end up-to-date check compares them).
func writeFile(root *os.Root, rel string, r io.Reader, hdr *tar.Header) error {
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("cannot be placed (%v)", err)
	}
	// O_EXCL: a duplicate entry, or one aimed at an earlier symlink, is refused rather
	// than written through.
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot be created (%v); does it appear twice?", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		err = f.Chmod(mode) // explicit: the umask would narrow OpenFile's mode
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chtimes(rel, hdr.ModTime, hdr.ModTime)
	}
	if err != nil {
		return fmt.Errorf("cannot be written (%v)", err)
	}
	return nil
}

// fixDirs gives every directory mode 0755 whatever the umask, then the archive's mtimes,
// deepest first, since creating entries inside a directory changes its mtime.
func fixDirs(dst string, times map[string]time.Time) error {
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	if err != nil {
		return fmt.Errorf("set directory modes in %s: %w", dst, err)
	}
	dirs := make([]string, 0, len(times))
	for d := range times {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		if c := strings.Count(b, "/") - strings.Count(a, "/"); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	// "." has no slash but must come after its children too.
	if i := slices.Index(dirs, "."); i >= 0 {
		dirs = append(slices.Delete(dirs, i, i+1), ".")
	}
	for _, d := range dirs {
		if err := os.Chtimes(filepath.Join(dst, filepath.FromSlash(d)), times[d], times[d]); err != nil {
			return fmt.Errorf("set directory times in %s: %w", dst, err)
		}
	}
	return nil
}
