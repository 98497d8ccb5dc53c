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
	// HomebrewPrefix is the Homebrew prefix (e.g. /opt/homebrew) of a launcher installed
	// by the Homebrew formula, "" otherwise.
	HomebrewPrefix string
}

// MediaDir holds uploaded files (Mathesar's MEDIA_ROOT).
func (l Layout) MediaDir() string { return filepath.Join(l.DataDir, "media") }

// PGDataDir is the private PostgreSQL cluster of a user install.
func (l Layout) PGDataDir() string { return filepath.Join(l.DataDir, "pgdata") }

// Env is the part of the process environment layout reads, so tests can pass their own.
type Env func(string) string

// Detect works out the layout of the running launcher. MATHESAR_MODE (system|user) forces a
// mode; otherwise a launcher at /usr/bin/mathesar is a system install and anything else a
// user install. A user install inside a Homebrew keg keeps its config and data in the
// prefix's etc/ and var/ (see HomebrewPrefixOf). MATHESAR_CONFIG, MATHESAR_DATA_DIR and
// MATHESAR_PYZ override single paths.
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
	if l.Mode == User {
		l.HomebrewPrefix = HomebrewPrefixOf(exe, getenv)
	}
	var err error
	if l.ConfigFile, err = configFile(l.Mode, l.HomebrewPrefix, getenv); err != nil {
		return l, err
	}
	if l.DataDir, err = dataDir(l.Mode, l.HomebrewPrefix, getenv); err != nil {
		return l, err
	}
	l.Pyz = FindPyz(exe, getenv)
	return l, nil
}

func configFile(m Mode, brew string, getenv Env) (string, error) {
	if p := getenv("MATHESAR_CONFIG"); p != "" {
		return p, nil
	}
	if m == System {
		return "/etc/mathesar/mathesar.env", nil
	}
	if brew != "" {
		return HomebrewConfigFile(brew), nil
	}
	dir, err := xdg(getenv, "XDG_CONFIG_HOME", ".config")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mathesar", "mathesar.env"), nil
}

func dataDir(m Mode, brew string, getenv Env) (string, error) {
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
	if brew != "" {
		return HomebrewDataDir(brew), nil
	}
	dir, err := xdg(getenv, "XDG_DATA_HOME", filepath.Join(".local", "share"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mathesar"), nil
}

// HomebrewConfigFile is the config file of a Homebrew install: the formula's etc (what
// Homebrew's `etc/"mathesar"` names), which brew keeps across upgrades and uninstalls.
func HomebrewConfigFile(prefix string) string {
	return filepath.Join(prefix, "etc", "mathesar", "mathesar.env")
}

// HomebrewDataDir is the data directory of a Homebrew install: `var/"mathesar"`, where
// the formula's service runs and which brew also keeps across upgrades.
func HomebrewDataDir(prefix string) string {
	return filepath.Join(prefix, "var", "mathesar")
}

// HomebrewPrefixOf returns the Homebrew prefix of a launcher installed by the formula, or ""
// when exe is not in a mathesar keg. Homebrew puts a keg at <prefix>/Cellar/mathesar/<version>
// and the formula keeps the launcher in the keg's libexec/bin, so the layout follows from
// the path alone, with no variable to set in the service or the user's shell; the same
// layout is what `mathesar config show`, `doctor`, `run` and `brew services` then agree on.
// HOMEBREW_PREFIX, when set and exe is under its Cellar/mathesar or opt/mathesar, wins:
// that covers a path whose symlinks were not resolved (<prefix>/opt/mathesar/...) and a
// prefix whose Cellar is not named by the path alone. A HOMEBREW_PREFIX that exe is not
// under (say, a second Homebrew on the same Mac) is ignored.
func HomebrewPrefixOf(exe string, getenv Env) string {
	exe = filepath.Clean(exe)
	if p := getenv("HOMEBREW_PREFIX"); filepath.IsAbs(p) {
		p = filepath.Clean(p)
		for _, keg := range []string{"Cellar", "opt"} {
			if strings.HasPrefix(exe, filepath.Join(p, keg, "mathesar")+string(filepath.Separator)) {
				return p
			}
		}
	}
	// The last Cellar/mathesar/<version>/ in the path, so a prefix that itself contains
	// such a name still resolves to the keg the launcher is in.
	const marker = "/Cellar/mathesar/"
	i := strings.LastIndex(filepath.ToSlash(exe), marker)
	if i <= 0 {
		return ""
	}
	version, rest, ok := strings.Cut(exe[i+len(marker):], "/")
	if !ok || version == "" || rest == "" {
		return ""
	}
	return exe[:i]
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
// and tarball layout (bin/../lib/mathesar, which is also the Homebrew formula's
// libexec/bin/../lib/mathesar, as it installs the tarball's tree into libexec), other
// libexec layouts, and the launcher's own directory.
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
	return "", fmt.Errorf("%w next to %s (looked in %s): %s, or set MATHESAR_PYZ", ErrNoPyz, l.Executable, strings.Join(PyzCandidates(l.Executable), ", "), l.ReinstallHint())
}

// ReinstallHint says how to put a missing or damaged bundle back, for this install method.
func (l Layout) ReinstallHint() string {
	switch {
	case l.HomebrewPrefix != "":
		return "reinstall Mathesar (brew reinstall mathesar)"
	case l.Mode == System:
		return "reinstall the package (apt install --reinstall mathesar, or dnf reinstall mathesar)"
	default:
		return "reinstall Mathesar: unpack its tarball again"
	}
}
