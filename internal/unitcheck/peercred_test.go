//go:build linux

package unitcheck

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPeerCredAcrossUserNamespace backs the unit's PrivateUsers=yes: PostgreSQL's peer
// authentication reads SO_PEERCRED on the accepted socket, and the kernel reports the
// connecting process's uid as seen from the reader's (the server's) user namespace. With
// the identity mapping PrivateUsers= sets up for the service user, the server therefore
// sees the service's real uid. The second case shows that it is the kernel's translation
// at work, not a coincidence: a process that believes it is uid 0 inside its namespace is
// reported as the host uid it is mapped from.
//
// The client is CPython, which is what connects in the real service (through libpq).
func TestPeerCredAcrossUserNamespace(t *testing.T) {
	// The system interpreter, as the service uses: one under a person's home (pyenv)
	// could not be run by the uid the client switches to.
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: install Debian's python3 package (`go tool mage deps` does)", python)
	}
	asRoot := os.Geteuid() == 0
	// Root plays a service user (nobody); anyone else plays themself, the only uid an
	// unprivileged process may map.
	hostUID, hostGID := os.Getuid(), os.Getgid()
	if asRoot {
		hostUID, hostGID = 65534, 65534
	}
	id := func(inside, outside int) []syscall.SysProcIDMap {
		return []syscall.SysProcIDMap{{ContainerID: inside, HostID: outside, Size: 1}}
	}
	tests := []struct {
		name          string
		uidMap        []syscall.SysProcIDMap
		gidMap        []syscall.SysProcIDMap
		cred          *syscall.Credential // nil: keep the uid the namespace maps us to
		wantInsideUID int                 // what the client's getuid() says
	}{
		{
			// What PrivateUsers=yes builds: root and the service user, each mapped to itself.
			name:          "PrivateUsers identity mapping",
			uidMap:        identityWithRoot(asRoot, hostUID),
			gidMap:        identityWithRoot(asRoot, hostGID),
			cred:          credIf(asRoot, hostUID, hostGID),
			wantInsideUID: hostUID,
		},
		{
			name:          "namespace root mapped from the host uid",
			uidMap:        id(0, hostUID),
			gidMap:        id(0, hostGID),
			cred:          credIf(asRoot, 0, 0),
			wantInsideUID: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock, ln := listenWorldWritable(t)
			cmd := exec.Command(python, "-I", "-c", `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"%d\n" % os.getuid())
s.close()
`, sock)
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:  syscall.CLONE_NEWUSER,
				UidMappings: tt.uidMap,
				GidMappings: tt.gidMap,
				Credential:  tt.cred,
				// An unprivileged mapping must deny setgroups; systemd does the same.
				GidMappingsEnableSetgroups: false,
			}
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
					t.Skipf("this kernel or sandbox refuses a new user namespace (%v): the check needs one, as PrivateUsers= does", err)
				}
				t.Fatalf("start the client: %v", err)
			}
			defer func() {
				if err := cmd.Wait(); err != nil {
					t.Errorf("client: %v: %s", err, out)
				}
			}()

			if err := ln.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			conn, err := ln.AcceptUnix()
			if err != nil {
				t.Fatalf("accept the client's connection: %v (client said: %s)", err, out)
			}
			defer conn.Close()
			seen := peerUID(t, conn)
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("read the client's uid: %v", err)
			}
			inside, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("client sent %q: %v", line, err)
			}
			t.Logf("client believes it is uid %d; the server's SO_PEERCRED says uid %d", inside, seen)
			if inside != tt.wantInsideUID {
				t.Errorf("client runs as uid %d inside its namespace, want %d", inside, tt.wantInsideUID)
			}
			if seen != hostUID {
				t.Errorf("SO_PEERCRED reports uid %d, want the host uid %d", seen, hostUID)
			}
		})
	}
}

func identityWithRoot(asRoot bool, id int) []syscall.SysProcIDMap {
	m := []syscall.SysProcIDMap{{ContainerID: id, HostID: id, Size: 1}}
	if asRoot && id != 0 {
		m = append([]syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}, m...)
	}
	return m
}

// credIf switches the client to uid:gid inside its namespace; only root's client needs to,
// since an unprivileged one already is its mapped uid.
func credIf(asRoot bool, uid, gid int) *syscall.Credential {
	if !asRoot {
		return nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

// listenWorldWritable listens where any uid can connect, as PostgreSQL's socket in
// /var/run/postgresql allows.
func listenWorldWritable(t *testing.T) (string, *net.UnixListener) {
	t.Helper()
	// t.TempDir's parent is private to this user; another uid could not reach a socket in it.
	dir, err := os.MkdirTemp("", "unitcheck-peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, ".s.PGSQL.5432")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatalf("listen on %s: %v", sock, err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	return sock, ln
}

// peerUID is what PostgreSQL's getpeereid() reads.
func peerUID(t *testing.T, conn *net.UnixConn) int {
	t.Helper()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		t.Fatal(err)
	}
	if credErr != nil {
		t.Fatalf("getsockopt SO_PEERCRED: %v", credErr)
	}
	return int(cred.Uid)
}
