package unpackcache

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// SystemRoot is the cache of the system service and of root.
const SystemRoot = "/var/cache/mathesar"

// systemHome is the home directory the Debian package gives the mathesar system user.
const systemHome = "/var/lib/mathesar"

// DefaultRoot picks the cache root, first match wins: $MATHESAR_CACHE_DIR; systemd's
// $CACHE_DIRECTORY (its first entry); /var/cache/mathesar for root and for the mathesar
// system user; $XDG_CACHE_HOME/mathesar; ~/.cache/mathesar.
func DefaultRoot() (string, error) {
	return defaultRoot(os.Getenv, os.Geteuid(), user.Current)
}

func defaultRoot(getenv func(string) string, euid int, current func() (*user.User, error)) (string, error) {
	if dir := getenv(EnvCacheDir); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("%s=%q is not an absolute path; set it to one such as /var/cache/mathesar", EnvCacheDir, dir)
		}
		return filepath.Clean(dir), nil
	}
	// systemd joins several CacheDirectory= entries with colons; the first is ours.
	if dirs := getenv("CACHE_DIRECTORY"); dirs != "" {
		if dir, _, _ := strings.Cut(dirs, ":"); filepath.IsAbs(dir) {
			return filepath.Clean(dir), nil
		}
	}
	if euid == 0 {
		return SystemRoot, nil
	}
	u, err := current()
	if err == nil && u.Username == "mathesar" && filepath.Clean(u.HomeDir) == systemHome {
		return SystemRoot, nil
	}
	// The XDG spec says to ignore a relative XDG_CACHE_HOME.
	if dir := getenv("XDG_CACHE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "mathesar"), nil
	}
	home := getenv("HOME")
	if home == "" && err == nil {
		home = u.HomeDir
	}
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("find a cache directory: neither $HOME nor the user database gives a home directory; set %s", EnvCacheDir)
	}
	return filepath.Join(home, ".cache", "mathesar"), nil
}
