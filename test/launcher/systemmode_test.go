package launcher_test

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
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

// debianCluster is a throwaway cluster made with Debian's postgresql-common tools.
type debianCluster struct {
	version, name string
	port          int
}

// newDebianCluster creates and starts a cluster on a free port, dropped when t ends.
func newDebianCluster(t *testing.T) *debianCluster {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	c := &debianCluster{version: strconv.Itoa(pgMajor(t)), name: "mtest" + hex.EncodeToString(b), port: freePort(t)}
	t.Cleanup(func() {
		// --stop drops a running cluster too; ignore "does not exist" after a failed create.
		out, err := runTool(90*time.Second, "pg_dropcluster", "--stop", c.version, c.name)
		if err != nil {
			t.Errorf("pg_dropcluster --stop %s %s: %v\n%s", c.version, c.name, err, out)
		}
	})
	start := time.Now()
	if out, err := runTool(120*time.Second, "pg_createcluster", c.version, c.name, "-p", strconv.Itoa(c.port), "--start"); err != nil {
		t.Fatalf("pg_createcluster %s %s: %v\n%s", c.version, c.name, err, out)
	}
	t.Logf("created cluster %s/%s on port %d in %.1fs", c.version, c.name, c.port, time.Since(start).Seconds())
	return c
}

// psql runs a query as the postgres superuser over the cluster's socket.
func (c *debianCluster) psql(t *testing.T, query string) string {
	t.Helper()
	out, err := runTool(30*time.Second, "runuser", "-u", "postgres", "--", "psql", "-X", "-p", strconv.Itoa(c.port), "-h", "/var/run/postgresql", "-Atc", query)
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(out)
}

func pgMajor(t *testing.T) int {
	t.Helper()
	_, v, err := pgsetup.FindServerBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runTool(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// ensureServiceAccount makes sure the `mathesar` OS user exists, as the package would.
func ensureServiceAccount(t *testing.T) account {
	t.Helper()
	if _, err := user.Lookup("mathesar"); err != nil {
		out, err := runTool(30*time.Second, "useradd", "--system", "--home-dir", "/var/lib/mathesar", "--no-create-home", "--shell", "/usr/sbin/nologin", "mathesar")
		if err != nil {
			t.Fatalf("useradd mathesar: %v\n%s", err, out)
		}
		t.Logf("created the OS user mathesar (useradd --system); it is left in place, as a package install would")
	}
	return lookupAccount(t, "mathesar")
}

// TestSystemMode is a package install against the machine's PostgreSQL: setup creates the
// owned role and database with peer authentication, run serves as the service account,
// doctor reports, and the failure paths leave the configuration alone.
func TestSystemMode(t *testing.T) {
	requireSuite(t)
	if os.Geteuid() != 0 {
		t.Skip("a system install is set up by root; run the suite as root to cover it")
	}
	for _, tool := range []string{"pg_createcluster", "pg_dropcluster", "pg_ctlcluster", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the system-mode test needs Debian's postgresql-common", tool)
		}
	}
	svc := ensureServiceAccount(t)
	cluster := newDebianCluster(t)
	port := strconv.Itoa(cluster.port)

	base := sharedDir(t, self(t))
	configFile := filepath.Join(base, "etc", "mathesar.env")
	if err := os.Mkdir(filepath.Dir(configFile), 0o755); err != nil {
		t.Fatal(err)
	}
	l := launcher{as: self(t), env: []string{
		"PATH=" + hostPATH,
		"HOME=" + base,
		"LANG=C.UTF-8",
		"MATHESAR_MODE=system",
		"MATHESAR_CONFIG=" + configFile,
		"MATHESAR_DATA_DIR=" + filepath.Join(base, "data"),
		"MATHESAR_CACHE_DIR=" + filepath.Join(base, "cache"),
	}}

	r := l.mustRun(t, 120*time.Second, "setup", "--postgres-port", port)
	t.Logf("setup took %.1fs:\n%s", r.elapsed.Seconds(), r.stdout)
	if got := cluster.psql(t, "SELECT rolname FROM pg_roles WHERE rolname = 'mathesar'"); got != "mathesar" {
		t.Errorf("role mathesar: got %q", got)
	}
	if got := cluster.psql(t, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mathesar_django'"); got != "mathesar" {
		t.Errorf("owner of database mathesar_django: got %q; want mathesar", got)
	}
	fi, err := os.Stat(configFile)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || st.Uid != 0 || int(st.Gid) != svc.gid {
		t.Errorf("%s: mode %04o owner %d:%d; want 0640 root:mathesar (0:%d)", configFile, fi.Mode().Perm(), st.Uid, st.Gid, svc.gid)
	}
	if _, ok := configValue(t, configFile, "POSTGRES_PASSWORD"); ok {
		t.Errorf("the owned database uses peer authentication, but the config holds POSTGRES_PASSWORD")
	}
	secret, ok := configValue(t, configFile, "SECRET_KEY")
	if !ok || secret == "" {
		t.Fatal("setup wrote no SECRET_KEY")
	}

	t.Run("run as the service account", func(t *testing.T) {
		web := freePort(t)
		srv := l.start(t, "run", "--port", strconv.Itoa(web))
		waitForPage(t, srv, fmt.Sprintf("http://127.0.0.1:%d/", web), 30*time.Second, seedRow, "Mathesar sample 0.1.0+sample")
		// The launcher execs Python in place, so its pid is the server's.
		pid := srv.cmd.Process.Pid
		all := processes(t)
		tree := descendants(all, pid)
		if len(tree) == 0 || !strings.Contains(tree[0].cmdline, "gunicorn") {
			t.Errorf("pid %d is not the gunicorn Python process: %v", pid, tree)
		}
		want := strconv.Itoa(svc.uid)
		for _, p := range tree {
			if uids := processUIDs(t, p.pid); strings.Join(uids, " ") != strings.Join([]string{want, want, want, want}, " ") {
				t.Errorf("process %d (%s) runs with uids %v; want %s (mathesar) for all", p.pid, p.cmdline, uids, want)
			}
		}
		checkNoSecretsInArgv(t, all, tree, secret)
		srv.stop(t, syscall.SIGTERM, 30*time.Second)
	})

	t.Run("doctor", func(t *testing.T) {
		d := l.with(fmt.Sprintf("MATHESAR_PORT=%d", freePort(t))).run(t, 60*time.Second, "doctor")
		t.Logf("mathesar doctor (exit %d):\n%s%s", d.code, d.stdout, d.stderr)
		if d.code != 0 {
			t.Errorf("doctor: want exit 0")
		}
		for _, check := range []string{"python", "bundle", "config", "site", "database", "cache"} {
			if !regexp.MustCompile(`(?m)^ok\s+` + check + `\s`).MatchString(d.stdout) {
				t.Errorf("doctor does not report ok for %s", check)
			}
		}
	})

	t.Run("site file the service cannot read", func(t *testing.T) {
		sso := filepath.Join(filepath.Dir(configFile), "sso.yml")
		if err := os.WriteFile(sso, []byte("version: 2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(sso)
		d := l.run(t, 60*time.Second, "doctor", "--skip", "database,port,service")
		if d.code != 1 || !regexp.MustCompile(`(?m)^FAIL\s+site\s+.*sso\.yml: the mathesar user cannot read it`).MatchString(d.stdout) || !strings.Contains(d.stdout, "fix: sudo chgrp mathesar "+sso) {
			t.Errorf("doctor with a root-only sso.yml: want FAIL site with the chgrp fix:\n%s", d.stdout)
		}
		if err := os.Chown(sso, 0, svc.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(sso, 0o640); err != nil {
			t.Fatal(err)
		}
		d = l.run(t, 60*time.Second, "doctor", "--skip", "database,port,service")
		if !regexp.MustCompile(`(?m)^ok\s+site\s+sso\.yml in `).MatchString(d.stdout) {
			t.Errorf("doctor after chgrp mathesar && chmod 0640: want ok site:\n%s", d.stdout)
		}
	})

	t.Run("setup again", func(t *testing.T) {
		l.mustRun(t, 120*time.Second, "setup", "--postgres-port", port)
		if again, _ := configValue(t, configFile, "SECRET_KEY"); again != secret {
			t.Errorf("setup again changed SECRET_KEY")
		}
		if got := cluster.psql(t, "SELECT count(*) FROM pg_database WHERE datname = 'mathesar_django'"); got != "1" {
			t.Errorf("databases named mathesar_django: %s", got)
		}
	})

	t.Run("bad connection string", func(t *testing.T) {
		before, err := os.ReadFile(configFile)
		if err != nil {
			t.Fatal(err)
		}
		r := l.run(t, 60*time.Second, "setup", "--connection-string", "postgres://mathesar:wrong@127.0.0.1:1/x")
		t.Logf("%s", r)
		if r.code == 0 {
			t.Fatalf("setup with an unreachable server succeeded")
		}
		if !strings.Contains(r.stderr, "127.0.0.1") || !regexp.MustCompile(`127\.0\.0\.1:1\b|port 1\b`).MatchString(r.stderr) {
			t.Errorf("the error does not name host 127.0.0.1 and port 1")
		}
		if strings.Contains(r.stderr, "wrong") {
			t.Errorf("the error shows the password")
		}
		after, err := os.ReadFile(configFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("a failed setup changed %s:\nbefore:\n%s\nafter:\n%s", configFile, before, after)
		}
	})

	t.Run("postgres stopped", func(t *testing.T) {
		if out, err := runTool(60*time.Second, "pg_ctlcluster", cluster.version, cluster.name, "stop"); err != nil {
			t.Fatalf("pg_ctlcluster stop: %v\n%s", err, out)
		}
		d := l.with(fmt.Sprintf("MATHESAR_PORT=%d", freePort(t))).run(t, 60*time.Second, "doctor")
		t.Logf("mathesar doctor (exit %d):\n%s%s", d.code, d.stdout, d.stderr)
		if d.code != 1 {
			t.Errorf("doctor: want exit 1")
		}
		if !regexp.MustCompile(`(?m)^FAIL\s+database\s.*\n\s+fix: \S`).MatchString(d.stdout) {
			t.Errorf("doctor does not report FAIL database with a fix line")
		}

		r := l.run(t, 60*time.Second, "setup", "--allow-missing-postgres", "--postgres-port", port)
		t.Logf("%s", r)
		if r.code != 0 {
			t.Fatalf("setup --allow-missing-postgres: want exit 0")
		}
		if !strings.Contains(r.stdout, "not set up yet") || !strings.Contains(r.stdout, "sudo mathesar setup") {
			t.Errorf("setup --allow-missing-postgres does not say which command finishes the set-up")
		}
	})
}
