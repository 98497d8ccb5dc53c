package svcuser

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// EnsureDir makes path a directory with mode (permission bits only) owned by the
// account and its primary group. Missing parents are created 0755 and left to root, so
// the account can reach path without owning the tree above it. An existing directory is
// fixed only when root or the account owns it: a directory someone else owns is an
// administrator's choice (say, a data disk), and it is reported rather than taken over.
func EnsureDir(path string, mode os.FileMode, a *Account) error {
	if a == nil {
		return fmt.Errorf("prepare directory %s: no account given", path)
	}
	mode = mode.Perm()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create parents of %s: %w", path, err)
	}
	if err := os.Mkdir(path, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create directory %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists but is not a directory: move it away or choose another location", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("inspect %s: owner unavailable on this system", path)
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if uid != 0 && uid != a.UID {
		return fmt.Errorf("%s is owned by %s, not root or %s: refusing to take it over; run `chown -R %s: %s` if Mathesar should use it, or choose another directory",
			path, describeUID(uid), a.Name, a.Name, path)
	}
	// Chmod, unlike Mkdir, is not reduced by the umask, so it also completes a new dir.
	if fi.Mode().Perm() != mode {
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("set mode %04o on %s: %w (run as root or as %s)", mode, path, err, a.Name)
		}
	}
	if uid != a.UID || gid != a.GID {
		if err := os.Chown(path, a.UID, a.GID); err != nil {
			return fmt.Errorf("give %s to user %s: %w (run as root)", path, a.Name, err)
		}
	}
	return nil
}

func describeUID(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return "user " + u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
