// Package svcuser manages the identity Mathesar runs under on a packaged install: the
// `mathesar` system account, dropping root to it, the directories it owns, and what
// systemd says about its service.
package svcuser

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"syscall"
)

// DefaultName is the account deb and rpm packages create.
const DefaultName = "mathesar"

// ErrNoUser is returned by Lookup when the account does not exist.
var ErrNoUser = errors.New("service account does not exist")

// Account is a system user as the process needs it to switch identity.
type Account struct {
	Name     string
	UID, GID int
	Home     string
	// Groups holds every group id of the account, the primary one included, sorted.
	Groups []int
}

// Lookup returns the account called name ("" means DefaultName), or an error wrapping
// ErrNoUser when there is none.
func Lookup(name string) (*Account, error) {
	if name == "" {
		name = DefaultName
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("look up user %s: %w (reinstall the package, or create it with `useradd --system --home-dir /var/lib/mathesar %s`)", name, ErrNoUser, name)
		}
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	a := &Account{Name: u.Username, Home: u.HomeDir}
	if a.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	if a.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("list groups of user %s: %w", name, err)
	}
	seen := map[int]bool{a.GID: true}
	a.Groups = []int{a.GID}
	for _, g := range gids {
		id, err := strconv.Atoi(g)
		if err != nil {
			return nil, fmt.Errorf("user %s: group id %q: %w", name, g, err)
		}
		if !seen[id] {
			seen[id] = true
			a.Groups = append(a.Groups, id)
		}
	}
	sort.Ints(a.Groups)
	return a, nil
}

// DropTo switches the whole process to the account for good: supplementary groups,
// then gid, then uid (each later step needs the privilege the earlier ones keep), and
// sets HOME, USER and LOGNAME so child processes see the account's environment. Since
// Go 1.16 these calls apply to every thread. It needs euid 0; when the process already
// runs as the account it does nothing.
func DropTo(a *Account) error {
	if a == nil {
		return errors.New("drop privileges: no account given")
	}
	if os.Getuid() == a.UID && os.Geteuid() == a.UID {
		return nil
	}
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("cannot switch to user %s from uid %d: run as root or as %s (for example `sudo -u %s mathesar ...`)", a.Name, euid, a.Name, a.Name)
	}
	if err := syscall.Setgroups(a.Groups); err != nil {
		return fmt.Errorf("set groups of user %s %v: %w", a.Name, a.Groups, err)
	}
	if err := syscall.Setgid(a.GID); err != nil {
		return fmt.Errorf("set gid %d of user %s: %w", a.GID, a.Name, err)
	}
	if err := syscall.Setuid(a.UID); err != nil {
		return fmt.Errorf("set uid %d of user %s: %w", a.UID, a.Name, err)
	}
	// setuid as root also sets the saved uid; make sure root cannot be regained, since a
	// process that silently kept it would leave root-owned files behind.
	if a.UID != 0 {
		if err := syscall.Setuid(0); err == nil {
			return fmt.Errorf("switched to user %s but could still regain root: refusing to continue", a.Name)
		}
	}
	for k, v := range map[string]string{"HOME": a.Home, "USER": a.Name, "LOGNAME": a.Name} {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("set %s for user %s: %w", k, a.Name, err)
		}
	}
	return nil
}

// ShouldDrop says whether an application command (migrate, manage, run) should switch
// to the service account: only when running as root and the account exists, so nothing
// under the data directory ends up owned by root. Without the account (a source or
// developer install) commands keep running as the invoking user.
func ShouldDrop(name string) (*Account, bool, error) {
	if os.Geteuid() != 0 {
		return nil, false, nil
	}
	a, err := Lookup(name)
	if errors.Is(err, ErrNoUser) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if a.UID == 0 {
		return a, false, nil
	}
	return a, true, nil
}
