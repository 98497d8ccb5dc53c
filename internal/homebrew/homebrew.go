// Package homebrew renders the Homebrew formula of a release (dist/homebrew/Formula/mathesar.rb,
// a tap that can be pushed as it is) from the release's tarballs and checksums file.
package homebrew

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	pkgbrew "github.com/mathesar-foundation/mathesar-packaging/packaging/homebrew"
)

const (
	// EnvBaseURL names the variable that overrides DefaultBaseURL (see BaseURLFromEnv).
	EnvBaseURL = "MATHESAR_DOWNLOAD_URL"
	// DefaultBaseURL is where the release's tarballs are downloaded from; {{version}} is
	// replaced by the release version.
	DefaultBaseURL = "https://github.com/mathesar-foundation/mathesar-packaging/releases/download/v{{version}}"
	// DefaultPython is the Homebrew Python formula's version the formula depends on.
	DefaultPython = "3.13"
	// PostgreSQL is the major version of the postgresql@N formula the formula depends on.
	PostgreSQL = "17"
	// FormulaPath is where Write puts the formula, relative to dist/: a tap's layout.
	FormulaPath = "homebrew/Formula/mathesar.rb"
)

// Options configure a render.
type Options struct {
	// Version is the release version as in the artifacts' names: Mathesar's version and
	// the packaging revision, e.g. 0.10.1-1. Empty: read from the one *_checksums.txt in Dist.
	Version string
	// BaseURL is the directory URL of the tarballs; "{{version}}" in it is replaced by
	// Version. Empty: DefaultBaseURL.
	BaseURL string
	// Dist is the directory holding the tarballs and the checksums file.
	Dist string
	// Python is the version of the python@X.Y formula to depend on, e.g. "3.13". Empty:
	// DefaultPython. It must lie inside every bundle's CPython range.
	Python string
}

// Platform is one tarball the formula installs.
type Platform struct {
	OS, Arch string // GoReleaser's names: darwin/linux, amd64/arm64
	URL      string
	SHA256   string
	// PythonMin and PythonMax are the CPython range of the tarball's bundle.
	PythonMin, PythonMax string
}

// platforms are the tarballs a formula needs, in the order of its on_macos/on_linux ×
// on_arm/on_intel blocks.
var platforms = [][2]string{{"darwin", "arm64"}, {"darwin", "amd64"}, {"linux", "arm64"}, {"linux", "amd64"}}

// The values end up inside Ruby string literals; these patterns keep quotes, backslashes
// and #{} out, so no input can change what the formula does.
var (
	versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+~_-]*$`)
	pythonRE  = regexp.MustCompile(`^3\.([0-9]+)$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// BaseURLFromEnv returns MATHESAR_DOWNLOAD_URL, or DefaultBaseURL when it is unset.
func BaseURLFromEnv(getenv func(string) string) string {
	if u := getenv(EnvBaseURL); u != "" {
		return u
	}
	return DefaultBaseURL
}

// TarballName is the name of the release tarball for one platform.
func TarballName(version, goos, goarch string) string {
	return fmt.Sprintf("mathesar_%s_%s_%s.tar.gz", version, goos, goarch)
}

// ChecksumsName is the name of the release's checksums file.
func ChecksumsName(version string) string {
	return fmt.Sprintf("mathesar_%s_checksums.txt", version)
}

// Render returns the formula for the release in o.Dist. It fails, naming the file, when a
// tarball is missing, is not listed in the checksums file or does not match it, or when
// o.Python is outside a bundle's CPython range.
func Render(o Options) ([]byte, error) {
	o, err := withDefaults(o)
	if err != nil {
		return nil, err
	}
	sumsPath := filepath.Join(o.Dist, ChecksumsName(o.Version))
	sums, err := readChecksums(sumsPath)
	if err != nil {
		return nil, err
	}
	base := strings.ReplaceAll(o.BaseURL, "{{version}}", o.Version)
	data := formulaData{Version: o.Version, Python: o.Python, PostgreSQL: PostgreSQL}
	for _, p := range platforms {
		pl, err := inspect(o, sums, sumsPath, base, p[0], p[1])
		if err != nil {
			return nil, err
		}
		data.add(pl)
	}
	tmpl, err := template.New("mathesar.rb.tmpl").Option("missingkey=error").Parse(pkgbrew.FormulaTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse the formula template packaging/homebrew/mathesar.rb.tmpl: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render the formula template packaging/homebrew/mathesar.rb.tmpl: %w", err)
	}
	return buf.Bytes(), nil
}

// Write renders the formula for the release in dist (o.Dist defaults to dist) and writes it
// to dist/homebrew/Formula/mathesar.rb atomically. It returns the path written.
func Write(dist string, o Options) (string, error) {
	if o.Dist == "" {
		o.Dist = dist
	}
	formula, err := Render(o)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dist, filepath.FromSlash(FormulaPath))
	if err := writeAtomic(path, formula); err != nil {
		return "", err
	}
	return path, nil
}

func withDefaults(o Options) (Options, error) {
	if o.Dist == "" {
		return o, errors.New("homebrew: Options.Dist is empty: pass the directory holding the release's tarballs (dist/)")
	}
	if o.Version == "" {
		v, err := versionFromChecksums(o.Dist)
		if err != nil {
			return o, err
		}
		o.Version = v
	}
	if !versionRE.MatchString(o.Version) {
		return o, fmt.Errorf("release version %q has characters a formula cannot hold: use letters, digits and . + ~ _ -", o.Version)
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if err := checkBaseURL(o.BaseURL); err != nil {
		return o, err
	}
	if o.Python == "" {
		o.Python = DefaultPython
	}
	if !pythonRE.MatchString(o.Python) {
		return o, fmt.Errorf("python %q: name the python@X.Y formula's version, e.g. %s", o.Python, DefaultPython)
	}
	return o, nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(strings.ReplaceAll(raw, "{{version}}", "0"))
	if err != nil {
		return fmt.Errorf("download URL %q (%s): %w", raw, EnvBaseURL, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") || strings.ContainsAny(raw, "\"\\#?") {
		return fmt.Errorf("download URL %q (%s): use an https:// (or file://) directory URL without quotes, backslashes, # or ?", raw, EnvBaseURL)
	}
	return nil
}

// versionFromChecksums finds the version from the one checksums file in dist.
func versionFromChecksums(dist string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dist, ChecksumsName("*")))
	if err != nil {
		return "", err
	}
	if len(matches) != 1 {
		return "", fmt.Errorf("found %d checksums files (%s) in %s: set Options.Version, or run `go tool mage release` to make a dist/ with one release", len(matches), ChecksumsName("*"), dist)
	}
	name := filepath.Base(matches[0])
	return strings.TrimSuffix(strings.TrimPrefix(name, "mathesar_"), "_checksums.txt"), nil
}

// readChecksums reads a sha256sum-style file ("<hex>  <name>", GoReleaser's format).
func readChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the checksums file: %w; run `go tool mage release` to make it", err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !sha256RE.MatchString(fields[0]) {
			return nil, fmt.Errorf("%s:%d: %q is not `<sha256>  <file name>`; regenerate it with `go tool mage release`", path, n, line)
		}
		name := strings.TrimPrefix(fields[1], "*") // sha256sum's binary-mode marker
		if old, ok := sums[name]; ok && old != fields[0] {
			return nil, fmt.Errorf("%s lists %s twice with different sums; regenerate it with `go tool mage release`", path, name)
		}
		sums[name] = fields[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return sums, nil
}

const (
	tarPyz      = "mathesar/lib/mathesar/mathesar.pyz"
	tarLauncher = "mathesar/bin/mathesar"
)

// inspect checks one platform's tarball against the checksums file and reads its bundle's
// manifest, in one pass over the file.
func inspect(o Options, sums map[string]string, sumsPath, base, goos, goarch string) (Platform, error) {
	name := TarballName(o.Version, goos, goarch)
	path := filepath.Join(o.Dist, name)
	p := Platform{OS: goos, Arch: goarch, SHA256: sums[name]}
	if p.SHA256 == "" {
		return p, fmt.Errorf("%s does not list %s (%s/%s): the formula needs a tarball for every platform; run `go tool mage release`", sumsPath, name, goos, goarch)
	}
	f, err := os.Open(path)
	if err != nil {
		return p, fmt.Errorf("tarball for %s/%s: %w; run `go tool mage release` to build every platform", goos, goarch, err)
	}
	defer f.Close()
	h := sha256.New()
	raw := io.TeeReader(f, h)
	m, tarErr := readTarball(raw, path)
	// The rest of the file, which gzip and tar did not need, still counts for the digest.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return p, fmt.Errorf("read %s: %w", path, err)
	}
	// A mismatch explains a damaged tarball better than the gzip or tar error it causes.
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return p, fmt.Errorf("checksum mismatch: %s has sha256 %s but %s says %s; the file changed after the checksums were written: run `go tool mage release` again", path, got, sumsPath, p.SHA256)
	}
	if tarErr != nil {
		return p, tarErr
	}
	if m.Platform.OS != goos || m.Platform.Arch != goarch {
		return p, fmt.Errorf("%s holds a bundle built for %s/%s, not %s/%s: the release packed the wrong pyz; run `go tool mage release` again", path, m.Platform.OS, m.Platform.Arch, goos, goarch)
	}
	if err := checkPython(o.Python, m.Python); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	p.PythonMin, p.PythonMax = m.Python.Min, m.Python.Max
	p.URL, err = url.JoinPath(base, name)
	if err != nil {
		return p, fmt.Errorf("download URL %s + %s: %w", base, name, err)
	}
	return p, nil
}

// readTarball checks that a tarball holds the launcher and reads its bundle's manifest.
// bundle.Open needs a file (a zip is read from its end), so the pyz is copied to a
// temporary one.
func readTarball(r io.Reader, path string) (*bundle.Manifest, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s is not a gzip file: %w", path, err)
	}
	tr := tar.NewReader(zr)
	var manifest *bundle.Manifest
	launcher := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		switch hdr.Name {
		case tarLauncher:
			launcher = hdr.Typeflag == tar.TypeReg && hdr.Mode&0o111 != 0
		case tarPyz:
			if manifest, err = manifestOf(tr, path); err != nil {
				return nil, err
			}
		}
	}
	if !launcher || manifest == nil {
		return nil, fmt.Errorf("%s lacks %s (executable) or %s, which the formula installs: check the archives section of .goreleaser.yaml", path, tarLauncher, tarPyz)
	}
	return manifest, nil
}

func manifestOf(r io.Reader, tarball string) (*bundle.Manifest, error) {
	tmp, err := os.CreateTemp("", "mathesar-formula-*.pyz")
	if err != nil {
		return nil, fmt.Errorf("copy the bundle out of %s: %w", tarball, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, r); err != nil {
		return nil, fmt.Errorf("copy the bundle out of %s: %w", tarball, err)
	}
	b, err := bundle.Open(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("the bundle in %s: %w", tarball, err)
	}
	defer b.Close()
	m := b.Manifest
	return &m, nil
}

// checkPython fails when python (X.Y) is outside the bundle's CPython range.
func checkPython(python string, r bundle.PythonRange) error {
	v, err1 := minor(python)
	lo, err2 := minor(r.Min)
	hi, err3 := minor(r.Max)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("compare python@%s with the bundle's CPython %s-%s: %w", python, r.Min, r.Max, err)
	}
	if v < lo || v > hi {
		return fmt.Errorf("python@%s is outside the bundle's CPython range %s-%s: depend on a Python in that range (Options.Python), or build the bundle for it", python, r.Min, r.Max)
	}
	return nil
}

func minor(v string) (int, error) {
	m := pythonRE.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Errorf("%q is not a 3.X version", v)
	}
	return strconv.Atoi(m[1])
}

// formulaData is what the template sees.
type formulaData struct {
	Version, Python, PostgreSQL string
	// PythonMin and PythonMax are the range every bundle serves (their intersection).
	PythonMin, PythonMax string
	lo, hi               int
	MacOS, Linux         struct{ Arm, Intel Platform }
}

func (d *formulaData) add(p Platform) {
	osBlock := &d.Linux
	if p.OS == "darwin" {
		osBlock = &d.MacOS
	}
	if p.Arch == "arm64" {
		osBlock.Arm = p
	} else {
		osBlock.Intel = p
	}
	// Every bundle passed checkPython, so its versions parse.
	lo, _ := minor(p.PythonMin)
	hi, _ := minor(p.PythonMax)
	if d.PythonMin == "" || lo > d.lo {
		d.PythonMin, d.lo = p.PythonMin, lo
	}
	if d.PythonMax == "" || hi < d.hi {
		d.PythonMax, d.hi = p.PythonMax, hi
	}
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
