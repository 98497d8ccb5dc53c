// Package pgtest starts throwaway PostgreSQL servers for tests: a fresh cluster per test
// (Start, StartWith) or one shared by a package's tests (Shared), reachable only through a
// Unix socket and stopped when the test or the package's tests end.
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
	"sync"
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
	// PasswordAuth lets roles given a password by CreateRoleAndDB log in with it
	// (scram-sha-256 over the socket), as Mathesar does against a remote server; every other
	// role still logs in by peer authentication only.
	PasswordAuth bool
}

// passwordGroup is the role whose members log in by password when Options.PasswordAuth is
// set. pg_hba.conf cannot name roles that do not exist yet, but it can name the members of
// a group, checked at each connection, so roles made later by tests are covered.
const passwordGroup = "pgtest_password"

// errUnavailable marks a machine that cannot run a test server: the tests skip there.
var errUnavailable = errors.New("cannot run a test PostgreSQL server here")

// Server is a running throwaway cluster.
type Server struct {
	DataDir   string
	SocketDir string // short, so the socket path fits in sun_path
	Port      int    // names the socket file; no TCP port is opened
	BinDir    string
	// SuperUser is both the OS user running the server and its superuser role: "postgres"
	// when the test runs as root (PostgreSQL refuses to run as root), else the test's own user.
	SuperUser string

	cred         *syscall.Credential // nil when the server runs as the test's own user
	passwordAuth bool
	owned        []string // directories removed when the server is closed
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
// works, and opts.PeerMap. Any other OS user is refused, which tests can rely on. With
// opts.PasswordAuth, roles given a password by CreateRoleAndDB log in with it instead.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	begin := time.Now()
	s, err := start(t.TempDir(), opts)
	failOrSkip(t, err)
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Errorf("stop test PostgreSQL: %v", err)
		}
	})
	s.logStarted(t, begin)
	return s
}

func failOrSkip(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (s *Server) logStarted(t testing.TB, begin time.Time) {
	t.Helper()
	t.Logf("pgtest: PostgreSQL in %s on socket %s as OS user %s, started in %v",
		s.DataDir, s.SocketDir, s.SuperUser, time.Since(begin).Round(time.Millisecond))
}

// Shared is one server for all the tests of a package, which is faster than a server per
// test (initdb takes about a second) when each test isolates itself with a role and
// database of its own (CreateRoleAndDB). The zero value is ready to use; set Options before
// the first Server call. The package's TestMain must stop it:
//
//	var pg = &pgtest.Shared{Options: pgtest.Options{PasswordAuth: true}}
//
//	func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }
type Shared struct {
	Options Options

	once sync.Once
	srv  *Server
	err  error
}

// Server returns the shared server, starting it on first use, so a run that selects no
// test needing it starts none. It skips the test when no PostgreSQL server binaries exist.
// Tests must not Stop it.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	begin, startedHere := time.Now(), false
	sh.once.Do(func() {
		startedHere = true
		// Not t.TempDir: it goes away when this first test ends, and the server outlives it.
		base, err := os.MkdirTemp("", "pgtest-")
		if err != nil {
			sh.err = fmt.Errorf("create the shared test server's directory: %w", err)
			return
		}
		if sh.srv, sh.err = start(base, sh.Options); sh.err != nil {
			os.RemoveAll(base)
			return
		}
		sh.srv.owned = append(sh.srv.owned, base)
	})
	if startedHere && sh.err == nil {
		sh.srv.logStarted(t, begin)
	}
	failOrSkip(t, sh.err)
	return sh.srv
}

// Close stops the shared server, if it was started, and removes its files.
func (sh *Shared) Close() error {
	if sh.srv == nil {
		return nil
	}
	return sh.srv.close()
}

// Run is the body of a TestMain: it runs the tests, then closes the server, and returns the
// exit code, failing the run if the server does not stop.
func (sh *Shared) Run(m *testing.M) int {
	code := m.Run()
	if err := sh.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stop the shared test PostgreSQL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// start initialises a cluster in base/data, whose log goes to base/server.log, and starts
// it. Errors wrapping errUnavailable mean this machine cannot run one.
func start(base string, opts Options) (s *Server, err error) {
	bin, _, err := pgsetup.FindServerBinaries()
	if errors.Is(err, pgsetup.ErrNoServerBinaries) {
		return nil, fmt.Errorf("%w: %v; install PostgreSQL with `go tool mage deps`", errUnavailable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("find PostgreSQL: %w", err)
	}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current OS user: %w", err)
	}
	s = &Server{BinDir: bin, Port: pgsetup.DefaultPort, SuperUser: me.Username, passwordAuth: opts.PasswordAuth}
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root needs an unprivileged `postgres` OS user to run the server (install PostgreSQL, which creates it): %v", errUnavailable, err)
		}
		s.SuperUser = owner.Username
		if s.cred, err = Credential(owner); err != nil {
			return nil, err
		}
	}

	s.DataDir = filepath.Join(base, "data")
	// base may be long (t.TempDir() holds the test name), so the socket gets its own short
	// directory under /tmp. It is 0755: tests let other local OS users try to connect, and
	// peer authentication, not the directory, decides who gets in.
	sock, err := os.MkdirTemp("/tmp", "pgt")
	if err != nil {
		return nil, fmt.Errorf("create the socket directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(sock)
		}
	}()
	s.SocketDir = sock
	s.owned = []string{sock}
	if err := os.Chmod(sock, 0o755); err != nil {
		return nil, err
	}
	if owner != nil {
		if err := MakeTraversable(base); err != nil {
			return nil, err
		}
		for _, d := range []string{base, sock} {
			if err := chownTo(d, s.cred); err != nil {
				return nil, err
			}
		}
	}

	if err := s.run("initdb", "-D", s.DataDir, "-U", s.SuperUser, "-E", "UTF8", "--locale=C",
		"--auth-local=peer", "--auth-host=reject", "--no-sync", "--no-instructions"); err != nil {
		return nil, err
	}
	if err := s.configure(me.Username, opts); err != nil {
		return nil, err
	}
	logFile := filepath.Join(base, "server.log")
	if err := s.run("pg_ctl", "start", "-w", "-s", "-t", "30", "-D", s.DataDir, "-l", logFile); err != nil {
		logText, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("%w\nserver log %s:\n%s", err, logFile, logText)
	}
	if opts.PasswordAuth {
		if err := s.Exec("CREATE ROLE " + passwordGroup + " NOLOGIN"); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

// configure writes the authentication rules and the server settings into the new cluster.
func (s *Server) configure(testUser string, opts Options) error {
	ident := []PeerMapping{{s.SuperUser, s.SuperUser}}
	if testUser != s.SuperUser {
		ident = append(ident, PeerMapping{testUser, s.SuperUser})
	}
	ident = append(ident, opts.PeerMap...)
	var identText strings.Builder
	for _, m := range ident {
		fmt.Fprintf(&identText, "pgtest %q %q\n", m.OSUser, m.Role)
	}
	hba := "local all all peer map=pgtest\n"
	if opts.PasswordAuth {
		// The first matching line decides; superusers are not members of the group unless
		// granted, so they keep peer authentication.
		hba = "local all +" + passwordGroup + " scram-sha-256\n" + hba
	}
	// Durability is pointless for a throwaway cluster and costs most of the start-up time.
	conf := fmt.Sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = %d\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n", s.SocketDir, s.Port)
	// The files belong to the server's OS user; root writing them keeps that owner.
	return errors.Join(
		s.writeConf("pg_hba.conf", hba, false),
		s.writeConf("pg_ident.conf", identText.String(), false),
		s.writeConf("postgresql.conf", conf, true))
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

func (s *Server) run(name string, args ...string) error {
	if out, err := s.command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *Server) writeConf(name, text string, appendTo bool) error {
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
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
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

// close stops the server and removes the directories it made for itself.
func (s *Server) close() error {
	err := s.Stop()
	for _, d := range s.owned {
		err = errors.Join(err, os.RemoveAll(d))
	}
	return err
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

// withConn runs fn on a superuser connection to database db, all within 10 seconds.
func (s *Server) withConn(db string, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, db)
	if err != nil {
		return fmt.Errorf("connect to database %s as %s: %w", db, s.SuperUser, err)
	}
	defer conn.Close(context.Background())
	return fn(ctx, conn)
}

// Exec runs sql as the superuser in database postgres.
func (s *Server) Exec(sql string, args ...any) error {
	return s.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("exec %q: %w", sql, err)
		}
		return nil
	})
}

// QueryRow runs a query returning one row as the superuser in database db and scans the
// row into dest.
func (s *Server) QueryRow(db, sql string, dest ...any) error {
	return s.withConn(db, func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
			return fmt.Errorf("query %q in database %s: %w", sql, db, err)
		}
		return nil
	})
}

// CreateRoleAndDB makes role (LOGIN CREATEDB) and database db owned by it, Mathesar's
// documented set-up, with pgsetup.Bootstrap, and returns how to reach db as role. A
// non-empty password becomes the role's, and the role logs in with it (scram-sha-256),
// which needs Options.PasswordAuth. A role without one logs in by peer authentication, so
// only as an OS user that Options.PeerMap maps to it.
func (s *Server) CreateRoleAndDB(role, password, db string) (*pgsetup.ConnInfo, error) {
	if password != "" && !s.passwordAuth {
		return nil, fmt.Errorf("role %s is to log in by password, but the test server takes peer authentication only: start it with pgtest.Options{PasswordAuth: true}", role)
	}
	err := s.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		if err := pgsetup.Bootstrap(ctx, conn, role, db); err != nil {
			return err
		}
		if password == "" {
			return nil
		}
		// ALTER ROLE takes no bind parameters; format() quotes the name and the password on
		// the server, so no quoting is hand-written here.
		var alter string
		if err := conn.QueryRow(ctx, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password).Scan(&alter); err != nil {
			return fmt.Errorf("quote the password of role %s: %w", role, err)
		}
		if _, err := conn.Exec(ctx, alter); err != nil {
			return fmt.Errorf("set the password of role %s: %w", role, err)
		}
		if _, err := conn.Exec(ctx, "GRANT "+passwordGroup+" TO "+pgx.Identifier{role}.Sanitize()); err != nil {
			return fmt.Errorf("let role %s log in by password: %w", role, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create role %s and database %s: %w", role, db, err)
	}
	ci := s.ConnInfo(role, db)
	ci.Password = password
	return ci, nil
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
