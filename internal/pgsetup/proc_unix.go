//go:build unix

package pgsetup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
)

// credentialFor returns the uid, gid and supplementary groups of an OS account, so a child
// process can run as it (Go cannot safely switch the identity of one thread of a running
// process, so every identity change goes through a fresh process).
func credentialFor(u *user.User) (*syscall.Credential, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: bad uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: bad gid %q: %w", u.Username, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("list groups of user %s: %w", u.Username, err)
	}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			continue
		}
		cred.Groups = append(cred.Groups, uint32(g))
	}
	return cred, nil
}

// selfCommandAs prepares a command that runs the current executable as OS user u.
//
// The executable may sit in a directory u cannot traverse (a test binary under a 0700
// go-build directory, a launcher under /root). On Linux the open file is handed to the
// child as fd 3 and executed through /proc/self/fd/3, which is how fexecve(3) works: the
// kernel checks only the file's own execute bit, not the directories above it.
func selfCommandAs(u *user.User) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the running executable: %w", err)
	}
	cred, err := credentialFor(u)
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if runtime.GOOS == "linux" {
		f, err := os.Open(exe)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", exe, err)
		}
		cmd = exec.Command("/proc/self/fd/3")
		cmd.ExtraFiles = []*os.File{f}
	} else {
		cmd = exec.Command(exe)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	return cmd, nil
}

// closeExtraFiles releases the executable handle selfCommandAs opened.
func closeExtraFiles(cmd *exec.Cmd) {
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
}

// detach puts a daemon started through cmd in its own process group, so a Ctrl-C meant for
// the launcher does not reach PostgreSQL before the launcher has stopped it in order.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// processAlive reports whether a process with this pid exists (EPERM means it exists but
// belongs to someone else).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
