// Package nspawn boots a throwaway Debian system in a systemd-nspawn container for the
// end-to-end tests: it debootstraps a root file system once into a cache, boots fresh copies
// of it and runs commands inside them with nsenter.
package nspawn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// DefaultCacheDir is where cached root file systems live between runs.
const DefaultCacheDir = "/var/cache/mathesar-e2e"

// DefaultInclude is what a minbase root needs to boot with systemd and to reach an HTTPS
// mirror. gnupg is left out: apt checks a repository against a keyring file named by
// signed-by with gpgv, which minbase already has. dbus is left out too: on some hosts (a
// Firecracker VM with cgroup v1) dbus-daemon cannot watch its config and never connects to
// systemd, which stalls boot for minutes; root's systemctl uses systemd's private socket.
var DefaultInclude = []string{"ca-certificates", "systemd", "systemd-sysv"}

// RootfsOptions say which root file system to make.
type RootfsOptions struct {
	CacheDir string   // [DefaultCacheDir]
	Suite    string   // [bookworm]
	Variant  string   // [minbase]
	Mirror   string   // [http://deb.debian.org/debian]
	Include  []string // [DefaultInclude]
	Log      io.Writer
}

func (o *RootfsOptions) defaults() {
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	if o.Suite == "" {
		o.Suite = "bookworm"
	}
	if o.Variant == "" {
		o.Variant = "minbase"
	}
	if o.Mirror == "" {
		o.Mirror = "http://deb.debian.org/debian"
	}
	if o.Include == nil {
		o.Include = DefaultInclude
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// CacheKey names a cached root by what went into it, so changing the suite, variant, mirror
// or package list makes a new root instead of reusing a stale one.
func CacheKey(o RootfsOptions) string {
	o.defaults()
	inc := append([]string(nil), o.Include...)
	sort.Strings(inc)
	sum := sha256.Sum256([]byte(o.Mirror + "\n" + strings.Join(inc, ",")))
	return o.Suite + "-" + o.Variant + "-" + hex.EncodeToString(sum[:])[:12]
}

// Rootfs returns the directory of a cached root file system, making it with debootstrap when
// it is not cached yet. The directory must not be booted directly: Boot copies it.
func Rootfs(ctx context.Context, o RootfsOptions) (string, error) {
	o.defaults()
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", errors.New("debootstrap not found: install it with `apt-get install debootstrap` (or `go tool mage deps`)")
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create the cache %s: %w", o.CacheDir, err)
	}
	key := CacheKey(o)
	dir := filepath.Join(o.CacheDir, key)
	// Two test runs at once must not debootstrap into the same place.
	lock := flock.New(dir + ".lock")
	if err := lock.Lock(); err != nil {
		return "", fmt.Errorf("lock %s: %w", dir+".lock", err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "usr", "lib", "systemd", "systemd")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(o.CacheDir, "."+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create a temporary root in %s: %w", o.CacheDir, err)
	}
	defer os.RemoveAll(tmp)
	// MkdirTemp makes 0700; as the container's / that would lock out every user but root
	// (apt's _apt among them).
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	args := []string{"--variant=" + o.Variant, "--include=" + strings.Join(o.Include, ","), o.Suite, tmp, o.Mirror}
	start := time.Now()
	fmt.Fprintf(o.Log, "nspawn: debootstrap %s into %s\n", strings.Join(args, " "), dir)
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("debootstrap %s: %w; is the mirror %s reachable? its last output:\n%s", o.Suite, err, o.Mirror, out.String())
	}
	// The image is copied for every boot: leave out what apt can fetch again.
	os.RemoveAll(filepath.Join(tmp, "var", "cache", "apt", "archives"))
	os.MkdirAll(filepath.Join(tmp, "var", "cache", "apt", "archives", "partial"), 0o755)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("remove the incomplete root %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("move the new root into %s: %w", dir, err)
	}
	fmt.Fprintf(o.Log, "nspawn: debootstrap done in %.0fs\n", time.Since(start).Seconds())
	return dir, nil
}

// tail keeps the last 4 KiB written to it, for error messages.
type tail struct{ buf []byte }

const tailSize = 4096

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }
