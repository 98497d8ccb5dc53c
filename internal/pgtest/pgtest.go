// Package pgtest starts throwaway PostgreSQL servers for tests: a fresh cluster per call,
// reachable only through a Unix socket, stopped when the test ends.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

// PeerMapping lets OS user OSUser log in as role Role by peer authentication.
type PeerMapping struct{ OSUser, Role string }

// Options adjust a test server.
type Options struct {
	// PeerMap adds OS user → role pairs to the server's pg_ident map, e.g. to let the OS
	// user "nobody" stand in for a "mathesar" service account without creating one.
	PeerMap []PeerMapping
}

// Server is a running throwaway cluster.
type Server struct {
	DataDir   string
	SocketDir string // short, so the socket path fits in sun_path
	Port      int    // names the socket file; no TCP port is opened
	BinDir    string
	// SuperUser is both the OS user running the server and its superuser role: "postgres"
	// when the test runs as root (PostgreSQL refuses to run as root), else the test's own user.
	SuperUser string

	cred *syscall.Credential // nil when the server runs as the test's own user
}

// Start is StartWith with no extra peer mappings.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith initialises and starts a cluster in t.TempDir() and stops it (pg_ctl stop -m
// fast) when the test ends. It skips the test when no PostgreSQL server binaries exist.
//
// Authentication is peer everywhere (`local all all peer map=pgtest`), never trust, so tests
// exercise the same checks as a real system cluster. The map lets in: the server's OS user
// as itself, the test process's OS user (root, when different) as the superuser so Exec
// works, and opts.PeerMap. Any other OS user is refused, which tests can rely on.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, _, err := pgsetup.FindServerBinaries()
	if errors.Is(err, pgsetup.ErrNoServerBinaries) {
		t.Skipf("no PostgreSQL server installed (%v); install it with `go tool mage deps`", err)
	}
	if err != nil {
		t.Fatalf("find PostgreSQL: %v", err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	s := &Server{BinDir: bin, Port: pgsetup.DefaultPort, SuperUser: me.Username}
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root needs an unprivileged `postgres` OS user to run the test server: %v", err)
		}
		s.SuperUser = owner.Username
		if s.cred, err = Credential(owner); err != nil {
			t.Fatal(err)
		}
	}

	base := t.TempDir()
	s.DataDir = filepath.Join(base, "data")
	// t.TempDir() may be long (it holds the test name), so the socket gets its own short
	// directory under /tmp. It is 0755: tests let other local OS users try to connect, and
	// peer authentication, not the directory, decides who gets in.
	sock, err := os.MkdirTemp("/tmp", "pgt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sock) })
	s.SocketDir = sock
	if err := os.Chmod(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		if err := MakeTraversable(base); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{base, sock} {
			if err := chownTo(d, s.cred); err != nil {
				t.Fatal(err)
			}
		}
	}

	start := time.Now()
	s.run(t, "initdb", "-D", s.DataDir, "-U", s.SuperUser, "-E", "UTF8", "--locale=C",
		"--auth-local=peer", "--auth-host=reject", "--no-sync", "--no-instructions")

	ident := []PeerMapping{{s.SuperUser, s.SuperUser}}
	if me.Username != s.SuperUser {
		ident = append(ident, PeerMapping{me.Username, s.SuperUser})
	}
	ident = append(ident, opts.PeerMap...)
	var identText strings.Builder
	for _, m := range ident {
		fmt.Fprintf(&identText, "pgtest %q %q\n", m.OSUser, m.Role)
	}
	// The files belong to the server's OS user; root writing them keeps that owner.
	s.writeConf(t, "pg_hba.conf", "local all all peer map=pgtest\n", false)
	s.writeConf(t, "pg_ident.conf", identText.String(), false)
	// Durability is pointless for a throwaway cluster and costs most of the start-up time.
	s.writeConf(t, "postgresql.conf", fmt.Sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = %d\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n", sock, s.Port), true)

	s.run(t, "pg_ctl", "start", "-w", "-s", "-t", "30", "-D", s.DataDir, "-l", filepath.Join(base, "server.log"))
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop test PostgreSQL: %v", err)
		}
	})
	t.Logf("pgtest: PostgreSQL in %s on socket %s as OS user %s, started in %v", s.DataDir, sock, s.SuperUser, time.Since(start).Round(time.Millisecond))
	return s
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.BinDir, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.Dir = "/"
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := s.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (s *Server) writeConf(t testing.TB, name, text string, appendTo bool) {
	t.Helper()
	flags := os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(filepath.Join(s.DataDir, name), flags, 0)
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

// Stop stops the server now (fast shutdown); stopping a stopped server is not an error.
func (s *Server) Stop() error {
	if _, err := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out, err := s.command("pg_ctl", "stop", "-w", "-s", "-m", "fast", "-D", s.DataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// ConnInfo describes a peer-authenticated connection to db as role over the server's socket.
func (s *Server) ConnInfo(role, db string) *pgsetup.ConnInfo {
	return &pgsetup.ConnInfo{Host: s.SocketDir, Port: s.Port, User: role, Database: db, SSLMode: "disable"}
}

// Connect opens a connection as the superuser to database db (the caller closes it).
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.TLSConfig, cfg.Fallbacks = s.SocketDir, uint16(s.Port), s.SuperUser, db, nil, nil
	cfg.ConnectTimeout = 3 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// Exec runs sql as the superuser in database postgres.
func (s *Server) Exec(sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec %q: %w", sql, err)
	}
	return nil
}

// Credential returns the identity to run a process as OS user u.
func Credential(u *user.User) (*syscall.Credential, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("ids of OS user %s: %w", u.Username, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	return cred, nil
}

func chownTo(dir string, cred *syscall.Credential) error {
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("hand %s to uid %d: %w", dir, cred.Uid, err)
	}
	return nil
}

// MakeTraversable adds search permission for everyone (not read) to dir and to each
// directory above it up to the system temp directory, so another OS user can reach dir
// inside a test's 0700 temp directories.
func MakeTraversable(dir string) error {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("make %s traversable: %w", d, err)
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
			return fmt.Errorf("make %s traversable: %w", d, err)
		}
	}
	return nil
}

// RunTestAs runs the current test binary again as OS user username (the caller must be
// root), limited to test name testName, with exactly the environment env plus PATH. It
// returns the combined output and the exit error. The binary sits in a 0700 go-build
// directory, so on Linux it is executed through /proc/self/fd/3, which checks only the
// file's own execute bit.
func RunTestAs(t testing.TB, username, testName string, env []string) (string, error) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("re-running tests as another user is implemented for Linux only")
	}
	u, err := user.Lookup(username)
	if err != nil {
		t.Skipf("OS user %s is needed to run %s unprivileged: %v", username, testName, err)
	}
	cred, err := Credential(u)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/fd/3", "-test.run=^"+testName+"$", "-test.v", "-test.count=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
