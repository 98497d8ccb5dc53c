package samplewheels

// A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary directory,
// listening only on a Unix socket there, shared by the package's tests. Kept self-contained so that it can move to a
// shared test-helper package later.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pgServer is a running test cluster; its superuser is "postgres" with a random password.
type pgServer struct {
	bin        string // directory holding initdb and pg_ctl
	dir        string // cluster root: data/, log, and the socket
	port       int
	superPass  string
	credential *syscall.Credential // set when the tests run as root
}

// findPGBin returns the newest /usr/lib/postgresql/<major>/bin with initdb and pg_ctl.
func findPGBin() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		return pgMajor(matches[i]) > pgMajor(matches[j])
	})
	for _, m := range matches {
		bin := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err == nil {
			return bin
		}
	}
	return ""
}

func pgMajor(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

var (
	sharedOnce sync.Once
	shared     *pgServer
	sharedSkip string
	sharedErr  error
)

// startPostgres returns the package's test cluster, starting it on first use; TestMain
// stops it. Sharing one cluster keeps the tests fast (initdb takes about a second); each
// test isolates itself with a database and role of its own (newDatabase). It skips the
// test when no PostgreSQL server binaries or psql are installed.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedSkip, sharedErr = newCluster() })
	if sharedSkip != "" {
		t.Skip(sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// newCluster runs initdb and pg_ctl start in a fresh temporary directory. It returns a
// reason to skip when this machine has no PostgreSQL to run.
func newCluster() (s *pgServer, skip string, err error) {
	bin := findPGBin()
	if bin == "" {
		return nil, "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install postgresql to run this test", nil
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return nil, "psql not on PATH; install postgresql-client to run this test", nil
	}
	// Not t.TempDir: its parent is private to the test's user, and the server may run as
	// another user (postgres) who must reach the directory.
	dir, err := os.MkdirTemp("", "samplepg-")
	if err != nil {
		return nil, "", fmt.Errorf("create cluster directory: %w", err)
	}
	pass := make([]byte, 16)
	if _, err := rand.Read(pass); err != nil {
		return nil, "", err
	}
	s = &pgServer{bin: bin, dir: dir, port: 5432, superPass: hex.EncodeToString(pass)}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Sprintf("running as root and there is no 'postgres' user to run PostgreSQL as: %v", err), nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	pwfile := filepath.Join(dir, "superuser-password")
	if err := os.WriteFile(pwfile, []byte(s.superPass+"\n"), 0o600); err != nil {
		return nil, "", fmt.Errorf("write password file: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("chmod %s: %w", dir, err)
	}
	if s.credential != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(s.credential.Uid), int(s.credential.Gid)); err != nil {
				return nil, "", fmt.Errorf("hand %s to the postgres user: %w", p, err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	if err := s.runAsServer("initdb", "-D", data, "-U", "postgres", "-A", "scram-sha-256", "--pwfile", pwfile,
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, "", err
	}
	opts := fmt.Sprintf("-c listen_addresses='' -k '%s' -p %d -c fsync=off -c full_page_writes=off", dir, s.port)
	logFile := filepath.Join(dir, "server.log")
	if err := s.runAsServer("pg_ctl", "-D", data, "-l", logFile, "-w", "-t", "30", "-o", opts, "start"); err != nil {
		logText, _ := os.ReadFile(logFile)
		return nil, "", fmt.Errorf("start PostgreSQL: %w\nserver log:\n%s", err, logText)
	}
	return s, "", nil
}

// stop shuts the cluster down and removes its directory.
func (s *pgServer) stop() error {
	defer os.RemoveAll(s.dir)
	if err := s.runAsServer("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("stop the test PostgreSQL: %w", err)
	}
	return nil
}

func (s *pgServer) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C"}
	if s.credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.credential}
	}
	return cmd
}

// runAsServer runs a PostgreSQL server program as the server's user.
func (s *pgServer) runAsServer(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := s.command(ctx, name, args...)
	// pg_ctl start leaves the server holding inherited pipes open, which would make
	// CombinedOutput wait for the server to exit; collect output in a file instead.
	out, err := os.CreateTemp("", "pgcmd-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, text)
	}
	return nil
}

// psql runs sql as the superuser in database db and returns the unaligned, tuples-only output.
func (s *pgServer) psql(t *testing.T, db, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-w", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-")
	cmd.Env = append(os.Environ(), "PGHOST="+s.dir, "PGPORT="+strconv.Itoa(s.port), "PGUSER=postgres",
		"PGDATABASE="+db, "PGPASSWORD="+s.superPass, "PGSSLMODE=disable")
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql in %s: %v\n%s\nSQL:\n%s", db, err, stderr.String(), sql)
	}
	return strings.TrimSpace(stdout.String())
}

// newDatabase creates a login role and a database owned by it (the documented Mathesar
// set-up: role with CREATEDB, database owned by it) and returns the POSTGRES_* variables
// the sample app needs to reach it.
func (s *pgServer) newDatabase(t *testing.T, name string) (env []string, password string) {
	t.Helper()
	password = randomHex(t, 12)
	s.psql(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n",
		name, password, name, name))
	return []string{
		"POSTGRES_DB=" + name,
		"POSTGRES_USER=" + name,
		"POSTGRES_HOST=" + s.dir,
		"POSTGRES_PASSWORD=" + password,
		"POSTGRES_PORT=" + strconv.Itoa(s.port),
		"POSTGRES_SSLMODE=disable",
	}, password
}
