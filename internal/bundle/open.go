package bundle

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// MainName is the zip path of the zipapp entry point, the only entry besides the
// manifest that the manifest does not list.
const MainName = "__main__.py"

// maxManifestSize bounds how much of manifest.json is read, so that a damaged or hostile
// pyz cannot make the launcher allocate without limit. Mathesar's manifest is well under
// 2 MiB; 64 MiB leaves room for much larger bundles.
const maxManifestSize = 64 << 20

// ReinstallHint is the next step printed after every "is damaged" error. A package
// other than the Debian one (a tarball, an RPM) may set its own.
var ReinstallHint = "reinstall the package (apt install --reinstall mathesar)"

// ErrDamaged is matched (errors.Is) by every error that says the pyz is damaged or was
// tampered with.
var ErrDamaged = errors.New("pyz is damaged")

// DamagedError reports a pyz whose contents do not match its manifest, or whose manifest
// or zip structure is invalid. Nothing from such a pyz may be run.
type DamagedError struct {
	Path   string // the pyz
	Reason string // what is wrong, naming the file concerned
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged: %s; %s", e.Path, e.Reason, ReinstallHint)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// Bundle is an open pyz whose manifest has been read and checked against the zip's
// directory. Its methods may be called from several goroutines at once.
type Bundle struct {
	Path     string
	Manifest Manifest

	zr *zip.ReadCloser
	// entries[i] is the zip entry of Manifest.Files[i].
	entries []*zip.File
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// abiName keeps ABI names usable as path components and lock-file names.
	abiName = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// Open opens a pyz, reads and validates its manifest: schema, build id, clean relative
// paths and targets, modes, ABIs, and that the zip holds exactly the listed files (plus
// __main__.py and the manifest) with the listed sizes. It does not hash contents; see
// Verify and Extract.
func Open(pyz string) (*Bundle, error) {
	zr, err := zip.OpenReader(pyz)
	if err != nil {
		if zr != nil { // with GODEBUG=zipinsecurepath=0 a reader comes with ErrInsecurePath
			zr.Close()
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("open %s: %w; check the path and its permissions", pyz, err)
		}
		// A truncated or overwritten file loses its central directory first.
		return nil, &DamagedError{Path: pyz, Reason: fmt.Sprintf("cannot read the zip directory (%v)", err)}
	}
	b := &Bundle{Path: pyz, zr: zr}
	if err := b.load(); err != nil {
		zr.Close()
		return nil, err
	}
	return b, nil
}

// Close releases the pyz file.
func (b *Bundle) Close() error {
	if err := b.zr.Close(); err != nil {
		return fmt.Errorf("close %s: %w", b.Path, err)
	}
	return nil
}

func (b *Bundle) damaged(format string, args ...any) error {
	return &DamagedError{Path: b.Path, Reason: fmt.Sprintf(format, args...)}
}

func (b *Bundle) load() error {
	byName := make(map[string]*zip.File, len(b.zr.File))
	for _, zf := range b.zr.File {
		if _, dup := byName[zf.Name]; dup {
			return b.damaged("the zip holds %s twice", zf.Name)
		}
		byName[zf.Name] = zf
	}
	mf, ok := byName[ManifestName]
	if !ok {
		return b.damaged("it has no %s", ManifestName)
	}
	if mf.UncompressedSize64 > maxManifestSize {
		return b.damaged("%s is %d bytes, more than the %d allowed", ManifestName, mf.UncompressedSize64, maxManifestSize)
	}
	rc, err := mf.Open()
	if err != nil {
		return b.damaged("cannot open %s (%v)", ManifestName, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	rc.Close()
	if err != nil {
		return b.damaged("cannot read %s (%v)", ManifestName, err)
	}
	if err := json.Unmarshal(data, &b.Manifest); err != nil {
		return b.damaged("%s is not valid JSON (%v)", ManifestName, err)
	}
	m := &b.Manifest
	if m.Schema != SchemaVersion {
		// Not damage in the usual sense, but the same remedy: the launcher and the pyz come
		// from one package and must be installed together.
		return b.damaged("%s has schema %d but this launcher reads schema %d", ManifestName, m.Schema, SchemaVersion)
	}
	if want := ComputeBuildID(m); m.BuildID != want {
		return b.damaged("%s says build id %q but its contents give %s", ManifestName, m.BuildID, want)
	}
	if err := b.checkABIs(); err != nil {
		return err
	}
	b.entries = make([]*zip.File, len(m.Files))
	listed := make(map[string]File, len(m.Files))
	for i, f := range m.Files {
		if err := b.checkFile(f); err != nil {
			return err
		}
		// Files with the same contents may share one zip entry (schema 2), but never with
		// differing digests, sizes, modes or ABIs.
		if first, dup := listed[f.Path]; dup {
			if first.SHA256 != f.SHA256 || first.Size != f.Size || first.Mode != f.Mode || first.ABI != f.ABI {
				return b.damaged("%s lists %s twice with different contents", ManifestName, f.Path)
			}
		}
		listed[f.Path] = f
		zf, ok := byName[f.Path]
		if !ok {
			return b.damaged("%s is listed in %s but missing from the zip", f.Path, ManifestName)
		}
		if zf.UncompressedSize64 != uint64(f.Size) {
			return b.damaged("%s is %d bytes but the manifest says %d", f.Path, zf.UncompressedSize64, f.Size)
		}
		b.entries[i] = zf
	}
	for _, zf := range b.zr.File {
		if _, ok := listed[zf.Name]; !ok && zf.Name != MainName && zf.Name != ManifestName {
			return b.damaged("the zip holds %s, which %s does not list", zf.Name, ManifestName)
		}
	}
	return b.checkTargets()
}

func (b *Bundle) checkABIs() error {
	if len(b.Manifest.Python.ABIs) == 0 {
		return b.damaged("%s lists no Python ABIs", ManifestName)
	}
	for _, abi := range b.Manifest.Python.ABIs {
		if abi == CommonABI || !abiName.MatchString(abi) {
			return b.damaged("%s lists the invalid Python ABI %q", ManifestName, abi)
		}
	}
	return nil
}

// cleanRelative reports whether p is a slash-separated relative path with no empty,
// "." or ".." component, so that joining it under a directory cannot leave it.
func cleanRelative(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p {
		return false
	}
	return !slices.Contains(strings.Split(p, "/"), "..")
}

func (b *Bundle) checkFile(f File) error {
	if !cleanRelative(f.Path) {
		return b.damaged("%s lists the unsafe zip path %q", ManifestName, f.Path)
	}
	if !cleanRelative(f.Target) || f.Target == "." {
		return b.damaged("%s: unsafe unpack target %q", f.Path, f.Target)
	}
	// The ABI must agree with the directory the file sits in, so that Extract's choice of
	// files by ABI is the choice the layout describes.
	var wantABI string
	switch {
	case strings.HasPrefix(f.Path, "app/"):
		wantABI = CommonABI
	case strings.HasPrefix(f.Path, "lib/"):
		abi, _, ok := strings.Cut(strings.TrimPrefix(f.Path, "lib/"), "/")
		if !ok {
			return b.damaged("%s is outside lib/<abi>/", f.Path)
		}
		wantABI = abi
	default:
		return b.damaged("%s is outside app/ and lib/", f.Path)
	}
	if f.ABI != wantABI {
		return b.damaged("%s has ABI %q in %s but sits under the %s files", f.Path, f.ABI, ManifestName, wantABI)
	}
	if f.ABI != CommonABI && !slices.Contains(b.Manifest.Python.ABIs, f.ABI) {
		return b.damaged("%s is for ABI %s, which %s does not list", f.Path, f.ABI, ManifestName)
	}
	if f.Mode != 0o644 && f.Mode != 0o755 {
		return b.damaged("%s has mode %o; only 644 and 755 are allowed", f.Path, f.Mode)
	}
	if f.Size < 0 {
		return b.damaged("%s has negative size %d", f.Path, f.Size)
	}
	if !sha256Hex.MatchString(f.SHA256) {
		return b.damaged("%s has the malformed sha256 %q", f.Path, f.SHA256)
	}
	return nil
}

// checkTargets makes sure that, for every ABI, the files Extract would write do not
// collide: no two share a target, and no target is a directory of another.
func (b *Bundle) checkTargets() error {
	for _, abi := range b.Manifest.Python.ABIs {
		owner := map[string]string{} // target -> zip path
		for _, i := range b.selected(abi) {
			f := b.Manifest.Files[i]
			if other, dup := owner[f.Target]; dup {
				return b.damaged("%s and %s both unpack to %s", other, f.Path, f.Target)
			}
			owner[f.Target] = f.Path
		}
		for t, p := range owner {
			for d := path.Dir(t); d != "."; d = path.Dir(d) {
				if other, clash := owner[d]; clash {
					return b.damaged("%s unpacks to %s, which %s needs as a directory", other, d, p)
				}
			}
		}
	}
	return nil
}

// selected returns the indexes of the files that make up the tree for abi.
func (b *Bundle) selected(abi string) []int {
	var idx []int
	for i, f := range b.Manifest.Files {
		if f.ABI == CommonABI || f.ABI == abi {
			idx = append(idx, i)
		}
	}
	return idx
}

// CheckABI returns nil when the pyz holds a tree for abi (such as "cp311"), and otherwise
// an error naming the ABIs it does hold.
func (b *Bundle) CheckABI(abi string) error {
	if abi != CommonABI && slices.Contains(b.Manifest.Python.ABIs, abi) {
		return nil
	}
	p := b.Manifest.Python
	return fmt.Errorf("%s has no files for Python ABI %q: it serves %s (CPython %s to %s); run it with one of those Pythons",
		b.Path, abi, strings.Join(p.ABIs, ", "), p.Min, p.Max)
}
