// Package layout decides where an installation keeps its bundle, config, data and cache:
// the fixed system paths of a deb/rpm install, or the XDG paths of a user (tarball or
// Homebrew) install.
package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Mode is how Mathesar was installed.
type Mode string

const (
	// System is a deb/rpm install: /usr/bin/mathesar, /etc/mathesar, /var/lib/mathesar,
	// run as the mathesar service user.
	System Mode = "system"
	// User is a tarball or Homebrew install run by an ordinary user.
	User Mode = "user"
)

// SystemBinary is where the deb and rpm install the launcher.
const SystemBinary = "/usr/bin/mathesar"

// Layout is the set of paths one installation uses.
type Layout struct {
	Mode       Mode
	Executable string // the launcher, symlinks resolved
	ConfigFile string
	DataDir    string // state: media, static files, the private PostgreSQL cluster
	Pyz        string
}

// MediaDir holds uploaded files (Mathesar's MEDIA_ROOT).
func (l Layout) MediaDir() string { return filepath.Join(l.DataDir, "media") }

// StaticDir holds collected static files, outside the read-only code.
func (l Layout) StaticDir() string { return filepath.Join(l.DataDir, "static") }

// PGDataDir is the private PostgreSQL cluster of a user install.
func (l Layout) PGDataDir() string { return filepath.Join(l.DataDir, "pgdata") }

// Env is the part of the process environment layout reads, so tests can pass their own.
type Env func(string) string

// Detect works out the layout of the running launcher. MATHESAR_MODE (system|user) forces a
// mode; otherwise a launcher at /usr/bin/mathesar is a system install and anything else a
// user install. MATHESAR_CONFIG, MATHESAR_DATA_DIR and MATHESAR_PYZ override single paths.
func Detect(getenv Env) (Layout, error) {
	exe, err := os.Executable()
	if err != nil {
		return Layout{}, fmt.Errorf("find the mathesar executable: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return For(exe, getenv)
}

// For computes the layout of a launcher at exe.
func For(exe string, getenv Env) (Layout, error) {
	l := Layout{Executable: exe, Mode: User}
	if exe == SystemBinary {
		l.Mode = System
	}
	switch m := getenv("MATHESAR_MODE"); m {
	case "":
	case string(System), string(User):
		l.Mode = Mode(m)
	default:
		return l, fmt.Errorf("MATHESAR_MODE=%q: use system or user", m)
	}
	var err error
	if l.ConfigFile, err = configFile(l.Mode, getenv); err != nil {
		return l, err
	}
	if l.DataDir, err = dataDir(l.Mode, getenv); err != nil {
		return l, err
	}
	l.Pyz = FindPyz(exe, getenv)
	return l, nil
}

func configFile(m Mode, getenv Env) (string, error) {
	if p := getenv("MATHESAR_CONFIG"); p != "" {
		return p, nil
	}
	if m == System {
		return "/etc/mathesar/mathesar.env", nil
	}
	dir, err := xdg(getenv, "XDG_CONFIG_HOME", ".config")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mathesar", "mathesar.env"), nil
}

func dataDir(m Mode, getenv Env) (string, error) {
	if p := getenv("MATHESAR_DATA_DIR"); p != "" {
		return p, nil
	}
	if m == System {
		// systemd's StateDirectory= exports the path it created.
		if p := getenv("STATE_DIRECTORY"); p != "" {
			first, _, _ := strings.Cut(p, ":")
			return first, nil
		}
		return "/var/lib/mathesar", nil
	}
	dir, err := xdg(getenv, "XDG_DATA_HOME", filepath.Join(".local", "share"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mathesar"), nil
}

// xdg returns an XDG base directory; a relative value is ignored, as the spec says.
func xdg(getenv Env, key, fallback string) (string, error) {
	if p := getenv(key); filepath.IsAbs(p) {
		return p, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("neither %s nor HOME is set: set HOME or MATHESAR_CONFIG and MATHESAR_DATA_DIR", key)
	}
	return filepath.Join(home, fallback), nil
}

// PyzCandidates lists where a launcher at exe looks for its bundle, in order: the deb/rpm
// and tarball layout (bin/../lib/mathesar), Homebrew's libexec, and the launcher's own
// directory.
func PyzCandidates(exe string) []string {
	bin := filepath.Dir(exe)
	prefix := filepath.Dir(bin)
	return []string{
		filepath.Join(prefix, "lib", "mathesar", "mathesar.pyz"),
		filepath.Join(prefix, "libexec", "mathesar", "mathesar.pyz"),
		filepath.Join(prefix, "libexec", "mathesar.pyz"),
		filepath.Join(bin, "mathesar.pyz"),
	}
}

// FindPyz returns MATHESAR_PYZ, or the first candidate that exists, or "" when none does.
func FindPyz(exe string, getenv Env) string {
	if p := getenv("MATHESAR_PYZ"); p != "" {
		return p
	}
	for _, c := range PyzCandidates(exe) {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// ErrNoPyz says the bundle was not found.
var ErrNoPyz = errors.New("mathesar.pyz not found")

// RequirePyz returns the bundle path or an error naming where it looked and the fix.
func (l Layout) RequirePyz() (string, error) {
	if l.Pyz != "" {
		if _, err := os.Stat(l.Pyz); err != nil {
			return "", fmt.Errorf("%w at %s (from MATHESAR_PYZ): %v; point MATHESAR_PYZ at the bundle or reinstall Mathesar", ErrNoPyz, l.Pyz, err)
		}
		return l.Pyz, nil
	}
	return "", fmt.Errorf("%w next to %s (looked in %s): reinstall Mathesar (apt install --reinstall mathesar), or set MATHESAR_PYZ", ErrNoPyz, l.Executable, strings.Join(PyzCandidates(l.Executable), ", "))
}
