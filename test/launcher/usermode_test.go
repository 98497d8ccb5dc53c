package launcher_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUserMode is a user install from scratch: setup creates the config and the private
// cluster, run serves the app with it, SIGTERM stops both, setup again changes nothing.
func TestUserMode(t *testing.T) {
	requireSuite(t)
	acct := appUser(t)
	home := sharedDir(t, acct)
	l := launcher{as: acct, env: userEnv(home)}
	configFile := filepath.Join(home, "config", "mathesar", "mathesar.env")
	pgdata := filepath.Join(home, "data", "mathesar", "pgdata")
	// Registered after sharedDir, so it runs before the directory is removed.
	t.Cleanup(func() { stopLeftoverCluster(t, l, pgdata) })

	r := l.mustRun(t, 120*time.Second, "setup")
	t.Logf("setup took %.1fs", r.elapsed.Seconds())
	fi, err := os.Stat(configFile)
	if err != nil {
		t.Fatalf("setup wrote no config file: %v\n%s", err, r)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o; want 0600", configFile, fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != acct.uid {
		t.Errorf("%s belongs to uid %d; want %d (%s)", configFile, st.Uid, acct.uid, acct.name)
	}
	secret, ok := configValue(t, configFile, "SECRET_KEY")
	if !ok || len(secret) < 50 {
		t.Fatalf("config has SECRET_KEY %q; want a generated key", secret)
	}
	if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); err == nil {
		t.Errorf("setup left the private cluster running")
	}

	port := freePort(t)
	srv := l.start(t, "run", "--port", strconv.Itoa(port))
	body := waitForPage(t, srv, fmt.Sprintf("http://127.0.0.1:%d/", port), 30*time.Second, seedRow, "Mathesar sample 0.1.0+sample")
	t.Logf("GET /:\n%s", body)
	if want := fmt.Sprintf("open http://localhost:%d/", port); !strings.Contains(srv.stdout.String(), want) {
		t.Errorf("run did not print %q; stdout:\n%s", want, srv.stdout)
	}

	// Static files come collected in the bundle: nothing was collected at run time, yet
	// the server has them.
	waitForPage(t, srv, fmt.Sprintf("http://127.0.0.1:%d/static/sample/sample.css", port), 10*time.Second, "font-family")

	all := processes(t)
	tree := descendants(all, srv.cmd.Process.Pid)
	var sawGunicorn bool
	for _, p := range tree {
		sawGunicorn = sawGunicorn || strings.Contains(p.cmdline, "gunicorn")
	}
	if !sawGunicorn {
		t.Errorf("no gunicorn process under the launcher (pid %d): %v", srv.cmd.Process.Pid, tree)
	}
	checkNoSecretsInArgv(t, all, tree, secret)

	postmaster := postmasterPID(t, pgdata)
	code := srv.stop(t, syscall.SIGTERM, 30*time.Second)
	t.Logf("the launcher exited with %d after SIGTERM", code)
	if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); err == nil {
		t.Errorf("postmaster.pid is still in %s after the launcher exited", pgdata)
	}
	if !exitsWithin(postmaster, 5*time.Second) {
		t.Errorf("the private cluster's postmaster (pid %d) still runs after the launcher exited", postmaster)
	}
	for _, p := range processes(t) {
		if (p.ppid == postmaster || p.ppid == srv.cmd.Process.Pid) && alive(p.pid) {
			t.Errorf("process %d (%s) outlived the launcher", p.pid, p.cmdline)
		}
	}

	l.mustRun(t, 120*time.Second, "setup")
	if again, _ := configValue(t, configFile, "SECRET_KEY"); again != secret {
		t.Errorf("setup again changed SECRET_KEY")
	}

	d := l.with(fmt.Sprintf("MATHESAR_PORT=%d", freePort(t))).run(t, 60*time.Second, "doctor")
	t.Logf("doctor:\n%s", d.stdout)
	if d.code != 0 {
		t.Errorf("doctor: want exit 0: %s", d)
	}
	if !regexp.MustCompile(`(?m)^skip\s+service\s`).MatchString(d.stdout) {
		t.Errorf("doctor does not skip the service check in a user install:\n%s", d.stdout)
	}
}

// checkNoSecretsInArgv fails when the secret key shows in any process's arguments, or when
// a password-bearing setting does in the arguments of the launcher's processes.
func checkNoSecretsInArgv(t *testing.T, all, tree []proc, secret string) {
	t.Helper()
	for _, p := range all {
		if strings.Contains(p.cmdline, secret) {
			t.Errorf("/proc/%d/cmdline holds SECRET_KEY: %s", p.pid, p.cmdline)
		}
	}
	for _, p := range tree {
		for _, bad := range []string{"SECRET_KEY", "PASSWORD", "PGPASSWORD"} {
			if strings.Contains(p.cmdline, bad) {
				t.Errorf("/proc/%d/cmdline mentions %s: %s", p.pid, bad, p.cmdline)
			}
		}
	}
	t.Logf("checked the arguments of %d processes (%d under the launcher)", len(all), len(tree))
}
