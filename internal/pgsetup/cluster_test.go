package pgsetup_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
)

// userModeEnv marks the unprivileged re-run of TestUserMode.
const userModeEnv = "PGSETUP_TEST_USER_MODE"

// TestUserMode exercises a private cluster the way a tarball or Homebrew user gets one.
// PostgreSQL refuses to run as root, so as root the test re-runs itself as the OS user
// nobody with HOME, XDG_DATA_HOME and TMPDIR in a temp dir nobody owns.
func TestUserMode(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Parallel()
		if _, _, err := pgsetup.FindServerBinaries(); err != nil {
			t.Skipf("%v; install it with `go tool mage deps`", err)
		}
		home := t.TempDir()
		if err := pgtest.MakeTraversable(home); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		out, err := pgtest.RunTestAs(t, "nobody", "TestUserMode", []string{
			userModeEnv + "=1", "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "share"), "TMPDIR=" + home})
		t.Logf("as OS user nobody:\n%s", out)
		if err != nil {
			t.Fatalf("user-mode test as nobody: %v", err)
		}
		if !strings.Contains(out, "--- PASS: TestUserMode") {
			t.Fatal("the unprivileged run did not pass TestUserMode")
		}
		return
	}
	if os.Getenv(userModeEnv) == "" {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("XDG_DATA_HOME", filepath.Join(home, "share"))
	}
	if _, _, err := pgsetup.FindServerBinaries(); err != nil {
		t.Skipf("%v; install it with `go tool mage deps`", err)
	}
	ctx := context.Background()
	dataDir, err := pgsetup.DefaultDataDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(os.Getenv("XDG_DATA_HOME"), "mathesar", "pgdata"); dataDir != want {
		t.Fatalf("DefaultDataDir() = %s, want %s", dataDir, want)
	}
	c, err := pgsetup.NewCluster(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c.NoSync = true
	// A free TCP port, so that "nothing listens on it" is PostgreSQL's doing, not luck.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()

	start := time.Now()
	for range 2 { // the second Init finds the cluster and leaves it alone
		if err := c.Init(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	t.Logf("init and start took %v; socket dir %s", time.Since(start).Round(time.Millisecond), c.SocketDir)
	if !c.Running() || c.Reused() {
		t.Fatalf("after Start: Running %v, Reused %v", c.Running(), c.Reused())
	}
	if fi, err := os.Stat(c.SocketDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir %s: %v, %v; want mode 0700", c.SocketDir, fi.Mode(), err)
	}

	ci := c.ConnInfo()
	if err := pgsetup.Check(ctx, ci, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if ci.User != "mathesar" || ci.Database != "mathesar_django" || ci.Host != c.SocketDir || ci.Password != "" {
		t.Errorf("ConnInfo = %+v", ci)
	}
	if out := psql(t, c, "SHOW listen_addresses"); out != "" {
		t.Errorf("listen_addresses = %q, want empty", out)
	}
	if out := psql(t, c, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mathesar_django'"); out != "mathesar" {
		t.Errorf("mathesar_django owner = %q", out)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.Port), time.Second); err == nil {
		conn.Close()
		t.Errorf("something listens on 127.0.0.1:%d", c.Port)
	}

	// A second launcher finds the server running and reuses it; its Stop leaves it running.
	c2, err := pgsetup.NewCluster(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !c2.Reused() || c2.Port != c.Port || c2.SocketDir != c.SocketDir {
		t.Errorf("second Start: Reused %v, port %d, socket %s; want reuse of port %d, %s", c2.Reused(), c2.Port, c2.SocketDir, c.Port, c.SocketDir)
	}
	if err := c2.Stop(ctx); err != nil || !c.Running() {
		t.Fatalf("Stop of the reusing cluster: %v; still running: %v", err, c.Running())
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("still running after Stop")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	if err := pgsetup.Check(ctx, ci, time.Second); err == nil {
		t.Error("Check succeeded after Stop")
	}
}

// psql asks the cluster as its superuser, through the real client, for one value.
func psql(t *testing.T, c *pgsetup.Cluster, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.BinDir, "psql"), "-X", "-At", "-h", c.SocketDir, "-p", strconv.Itoa(c.Port),
		"-U", c.SuperUser, "-d", "postgres", "-c", sql)
	// psql warns on stderr when it cannot enter the working directory (a non-root test run
	// from /root); only stdout carries the answer.
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("psql %q: %v: %s", sql, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestNewClusterSocketDir(t *testing.T) {
	long := "/home/" + strings.Repeat("a-very-long-directory-name/", 4) + "pgdata"
	tests := []struct {
		dataDir string
		want    string
	}{
		{"/home/alice/.local/share/mathesar/pgdata", "/home/alice/.local/share/mathesar/run"},
		{long, "/tmp/mathesar-pg-" + strconv.Itoa(os.Getuid())},
	}
	for _, tc := range tests {
		c, err := pgsetup.NewCluster(tc.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		if c.SocketDir != tc.want {
			t.Errorf("NewCluster(%s).SocketDir = %s, want %s", tc.dataDir, c.SocketDir, tc.want)
		}
		if n := len(filepath.Join(c.SocketDir, ".s.PGSQL.5432")); n > 103 {
			t.Errorf("socket path for %s is %d bytes", tc.dataDir, n)
		}
	}
}

func TestClusterRefusals(t *testing.T) {
	ctx := context.Background()
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "stray"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := pgsetup.NewCluster(notEmpty)
	err := c.Init(ctx)
	want := "holds no PostgreSQL cluster"
	if os.Geteuid() == 0 {
		want = "cannot run as root"
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Init on a non-empty dir: %v; want %q", err, want)
	}
	c, _ = pgsetup.NewCluster(filepath.Join(t.TempDir(), "none"))
	if err := c.Start(ctx); err == nil || !strings.Contains(err.Error(), "run `mathesar setup`") {
		t.Errorf("Start without Init: %v", err)
	}
	if c.Running() {
		t.Error("Running() true for an empty data dir")
	}
}

func TestFindServerBinaries(t *testing.T) {
	dir, version, err := pgsetup.FindServerBinaries()
	if err != nil {
		t.Skipf("%v; install it with `go tool mage deps`", err)
	}
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)`).FindSubmatch(out)
	if m == nil || string(m[1]) != strconv.Itoa(version) {
		t.Errorf("FindServerBinaries() = %s, %d; postgres --version says %q", dir, version, out)
	}
}
