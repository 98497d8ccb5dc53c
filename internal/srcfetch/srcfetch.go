// Package srcfetch provides the pinned Mathesar source release a build uses when no
// checkout is given: it reads the pin (version, tarball URL, sha256) from the packaging
// configuration, downloads the tarball into a cache when online, verifies its sha256 and
// unpacks it safely, so the unpacked tree can serve as MATHESAR_SRC.
package srcfetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/mathesarsrc"
)

// PinFile is where the pin lives, relative to the repository root.
const PinFile = "packaging/mathesar-source.json"

// Pin names one Mathesar source release and the digest it must have.
type Pin struct {
	Version string // Mathesar release, e.g. 0.10.1; must equal the tree's __version__
	URL     string // the release tarball (.tar.gz)
	SHA256  string // lowercase hex digest of the tarball; "" refuses to fetch
	Strip   int    // leading path components to drop; GitHub archives have one top directory
	File    string // where the pin was read from, for messages; "" means PinFile
}

var (
	versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._+-]*$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// LoadPin reads and validates the pin file at path. "strip" defaults to 1 when absent.
func LoadPin(path string) (Pin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Pin{}, fmt.Errorf("read the Mathesar source pin: %w", err)
	}
	var raw struct {
		Version string `json:"version"`
		URL     string `json:"url"`
		SHA256  string `json:"sha256"`
		Strip   *int   `json:"strip"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// A misspelt key ("sha265") would otherwise read as an empty digest and mislead.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Pin{}, fmt.Errorf("%s: %w: it must be one JSON object with version, url, sha256 and optionally strip", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Pin{}, fmt.Errorf("%s: data after the JSON object: it must hold one object with version, url, sha256 and optionally strip", path)
	}
	p := Pin{Version: raw.Version, URL: raw.URL, SHA256: raw.SHA256, Strip: 1, File: path}
	if raw.Strip != nil {
		p.Strip = *raw.Strip
	}
	if err := p.check(); err != nil {
		return Pin{}, err
	}
	return p, nil
}

func (p Pin) file() string {
	if p.File == "" {
		return PinFile
	}
	return p.File
}

// check validates everything but the presence of the digest, which Fetch reports with
// its own instructions.
func (p Pin) check() error {
	f := p.file()
	if p.Version == "" {
		return fmt.Errorf("%s: no version: set it to the Mathesar release to build, e.g. \"0.10.1\"", f)
	}
	// The version names a cache directory, so it must be one plain path component.
	if !versionRE.MatchString(p.Version) {
		return fmt.Errorf("%s: version %q is not a release version such as \"0.10.1\"", f, p.Version)
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return fmt.Errorf("%s: url %q is not an https:// address: pin the release tarball, e.g. https://github.com/mathesar-foundation/mathesar/archive/refs/tags/%s.tar.gz", f, p.URL, p.Version)
	}
	if p.SHA256 != "" && !sha256RE.MatchString(p.SHA256) {
		return fmt.Errorf("%s: sha256 %q is not 64 lowercase hex digits: record the output of `sha256sum` of the tarball", f, p.SHA256)
	}
	if p.Strip < 0 {
		return fmt.Errorf("%s: strip %d is negative: it counts the leading directories to drop (1 for GitHub archives)", f, p.Strip)
	}
	return nil
}

// isLoopback allows plain http for test servers only; anything else goes over TLS.
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// Options configures Fetch.
type Options struct {
	CacheRoot string       // e.g. <repo>/build/source
	Client    *http.Client // nil: a client with connect and response timeouts
	Log       io.Writer    // progress; nil discards it
}

// key names the cache entry; the digest part keeps a re-pinned release apart.
func (p Pin) key() string { return p.Version + "-" + p.SHA256[:12] }

// marker is written beside the tree (not inside it, where it would be bundled) once the
// tree is complete; it records what the tree was made from.
func (p Pin) marker() string { return fmt.Sprintf("sha256=%s strip=%d\n", p.SHA256, p.Strip) }

// Fetch returns the unpacked source tree of pin: CacheRoot/<version>-<sha256[:12]>. A
// complete tree is returned without touching the network (cached is true); otherwise the
// tarball is downloaded beside it, verified, unpacked into a temporary directory and
// renamed into place, under a lock so concurrent builds fetch it once.
func Fetch(ctx context.Context, pin Pin, o Options) (dir string, cached bool, err error) {
	if err := pin.check(); err != nil {
		return "", false, err
	}
	if pin.SHA256 == "" {
		// Trusting whatever the first download returned would make the pin meaningless.
		return "", false, fmt.Errorf("%s pins Mathesar %s without a sha256: download %s, check it against the release, and record `sha256sum` of it in the file", pin.file(), pin.Version, pin.URL)
	}
	if o.CacheRoot == "" {
		return "", false, errors.New("no source cache directory given: pass one such as <repo>/build/source")
	}
	root, err := filepath.Abs(o.CacheRoot)
	if err != nil {
		return "", false, fmt.Errorf("source cache %s: %w", o.CacheRoot, err)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	key := pin.key()
	dir = filepath.Join(root, key)
	markerPath := dir + ".complete"
	if isComplete(dir, markerPath, pin) {
		return dir, true, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", false, fmt.Errorf("create the source cache: %w", err)
	}
	lock := flock.New(filepath.Join(root, "."+key+".lock"))
	locked, err := lock.TryLock()
	if err == nil && !locked {
		fmt.Fprintf(log, "source: another build is fetching Mathesar %s into %s: waiting for it\n", pin.Version, root)
		_, err = lock.TryLockContext(ctx, 250*time.Millisecond)
	}
	if err != nil {
		return "", false, fmt.Errorf("lock the source cache %s: %w", lock.Path(), err)
	}
	defer lock.Unlock()
	if isComplete(dir, markerPath, pin) {
		return dir, true, nil
	}
	// Under the lock, anything else of this key is what a killed or failed fetch left.
	if err := removeStale(root, key); err != nil {
		return "", false, err
	}

	tarball, err := download(ctx, pin, root, key, o.Client, log)
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tarball)
	tmp, err := os.MkdirTemp(root, "."+key+".tmp-")
	if err != nil {
		return "", false, fmt.Errorf("create the source cache: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing is left to remove after the rename
	if err := unpackFile(tarball, pin.URL, tmp, pin.Strip); err != nil {
		return "", false, err
	}
	got, err := mathesarsrc.Version(tmp)
	if err != nil {
		return "", false, fmt.Errorf("%s unpacks without mathesar/__init__.py's __version__: it is not a Mathesar source archive; check the url in %s", pin.URL, pin.file())
	}
	if got != pin.Version {
		return "", false, fmt.Errorf("%s holds Mathesar %s, but %s pins %s: fix the version or the url in the pin", pin.URL, got, pin.file(), pin.Version)
	}
	// The marker must not reach the disk before the tree it vouches for.
	if err := syncDir(tmp); err != nil {
		return "", false, fmt.Errorf("flush the source cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, fmt.Errorf("move the unpacked source into place: %w", err)
	}
	if err := atomicfile.WriteFile(markerPath, []byte(pin.marker()), 0o644); err != nil {
		return "", false, fmt.Errorf("mark the source tree complete: %w", err)
	}
	fmt.Fprintf(log, "source: Mathesar %s unpacked into %s\n", pin.Version, dir)
	return dir, false, nil
}

func isComplete(dir, markerPath string, pin Pin) bool {
	data, err := os.ReadFile(markerPath)
	if err != nil || string(data) != pin.marker() {
		return false
	}
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}

// removeStale deletes the tree, marker, downloads and temporary trees of key.
func removeStale(root, key string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("read the source cache: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if n == key || n == key+".complete" || strings.HasPrefix(n, "."+key+".tmp-") || strings.HasPrefix(n, "."+key+".download-") {
			if err := os.RemoveAll(filepath.Join(root, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clear a stale source cache entry: %w", err)
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return syncFilesystem(d)
}
