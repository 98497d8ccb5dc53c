//go:build e2e

package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/nspawn"
)

// box is the one container the deb cases share; each case builds on the state the one
// before left, which is what an admin's machine goes through, and saves booting again.
type box struct {
	m    *nspawn.Machine
	port int
}

const sourcesList = "/etc/apt/sources.list.d/mathesar.list"

// TestDeb runs the deb matrix in order in one booted Debian 12.
func TestDeb(t *testing.T) {
	need(t)
	ctx := context.Background()
	cache := filepath.Join(nspawn.DefaultCacheDir, "apt-archives")
	if err := os.MkdirAll(filepath.Join(cache, "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := nspawn.Boot(ctx, nspawn.BootOptions{Root: rootfs, Binds: []nspawn.Bind{
		{Host: work, Container: "/srv/e2e", ReadOnly: true},
		// PostgreSQL's packages are the slow download; keep them between runs.
		{Host: cache, Container: "/var/cache/apt/archives"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("booted %s in %s", m.Name, time.Since(start).Round(100*time.Millisecond))
	b := &box{m: m, port: freePort(t)}
	// Shared network: the container's PostgreSQL must not take the host's port 5432, and
	// Mathesar talks to it over the Unix socket anyway. policy-rc.d keeps the server from
	// starting on install, so case b finds it installed but stopped.
	b.write(t, "/usr/sbin/policy-rc.d", "#!/bin/sh\n# e2e: no daemon starts on package install\nexit 101\n", 0o755)
	b.write(t, "/etc/apt/apt.conf.d/90e2e", "Acquire::Retries \"3\";\nAPT::Keep-Downloaded-Packages \"true\";\n", 0o644)

	// check cases change nothing, so a failure there does not stop the cases after them.
	steps := []struct {
		name  string
		fn    func(*testing.T, *box)
		check bool
	}{
		{"a_install_without_postgresql", caseInstallWithoutPostgres, false},
		{"b_setup_postgresql_stopped_then_started", caseSetupStoppedThenStarted, false},
		{"c_fresh_install_with_postgresql", caseFreshInstall, false},
		{"d_reinstall", caseReinstall, false},
		{"e_config_edit_before_upgrade", caseConfigEdit, false},
		{"f_upgrade_v1_to_v2", caseUpgrade, false},
		{"e_config_edit_kept_after_upgrade", caseConfigKept, true},
		{"g_systemd_analyze_security", caseSecurity, true},
		{"h_journal_has_no_secrets", caseJournal, true},
		{"i_remove", caseRemove, false},
		{"j_purge", casePurge, false},
	}
	failed := ""
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			if failed != "" {
				t.Skipf("case %s failed and this one builds on its state", failed)
			}
			timed(t)
			s.fn(t, b)
		})
		if !ok && failed == "" && !s.check {
			failed = s.name
		}
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (b *box) write(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := b.m.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

// run runs a command inside and returns its result; only failing to run it is fatal.
func (b *box) run(t *testing.T, argv ...string) nspawn.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := b.m.Run(ctx, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// must runs a command inside and fails the test unless it exits 0.
func (b *box) must(t *testing.T, argv ...string) nspawn.Result {
	t.Helper()
	r := b.run(t, argv...)
	if r.ExitCode != 0 {
		t.Fatalf("%s exited %d:\n%s", strings.Join(argv, " "), r.ExitCode, lastLines(r.Combined(), 60))
	}
	return r
}

func (b *box) sh(t *testing.T, script string) nspawn.Result {
	t.Helper()
	return b.must(t, "sh", "-c", script)
}

// psql runs SQL as postgres in a database and returns the unaligned rows.
func (b *box) psql(t *testing.T, db, sql string) string {
	t.Helper()
	return strings.TrimSpace(b.must(t, "runuser", "-u", "postgres", "--", "psql", "-X", "-d", db, "-Atc", sql).Stdout)
}

func (b *box) exists(path string) bool {
	_, err := os.Lstat(b.m.HostPath(path))
	return err == nil
}

func (b *box) unitState(t *testing.T, unit string) (active, enabled string) {
	t.Helper()
	return strings.TrimSpace(b.run(t, "systemctl", "is-active", unit).Stdout), strings.TrimSpace(b.run(t, "systemctl", "is-enabled", unit).Stdout)
}

// waitActive waits until the unit is active, or fails with its status and journal.
func (b *box) waitActive(t *testing.T, unit string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		state := strings.TrimSpace(b.run(t, "systemctl", "is-active", unit).Stdout)
		if state == "active" {
			return
		}
		if time.Now().After(deadline) || state == "failed" {
			st := b.run(t, "systemctl", "status", "--no-pager", unit)
			j := b.run(t, "journalctl", "--no-pager", "-n", "40", "-u", unit)
			t.Fatalf("%s is %s, want active:\n%s\n%s", unit, state, st.Stdout, j.Stdout)
		}
		time.Sleep(time.Second)
	}
}

// sources points apt at the v1 or v2 repository, checked against its keyring file.
func (b *box) sources(t *testing.T, v string) {
	t.Helper()
	dir := "/srv/e2e/" + v + "/apt"
	b.write(t, sourcesList, fmt.Sprintf("deb [signed-by=%s/mathesar-archive-keyring.gpg] file:%s stable main\n", dir, dir), 0o644)
	r := b.must(t, "apt-get", "update")
	for _, bad := range []string{"NO_PUBKEY", "is not signed", "GPG error", "EXPKEYSIG", "BADSIG", "not valid", "unsandboxed"} {
		if strings.Contains(r.Combined(), bad) {
			t.Fatalf("apt-get update with the %s repository reports %q:\n%s", v, bad, r.Combined())
		}
	}
	for _, line := range strings.Split(r.Combined(), "\n") {
		if (strings.HasPrefix(line, "W:") || strings.HasPrefix(line, "E:")) && strings.Contains(line, "/srv/e2e") {
			t.Fatalf("apt-get update warns about the %s repository: %s", v, line)
		}
	}
}

// get fetches Mathesar's page from the host (the container shares its network) until it
// answers 200, and returns the body.
func (b *box) get(t *testing.T) string {
	t.Helper()
	return b.getPath(t, "/")
}

// getPath is get for another path of the server.
func (b *box) getPath(t *testing.T, path string) string {
	t.Helper()
	url := "http://127.0.0.1:" + strconv.Itoa(b.port) + path
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(body)
			}
			last = fmt.Sprintf("status %d: %.300s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(time.Second)
	}
	j := b.run(t, "journalctl", "--no-pager", "-n", "40", "-u", "mathesar")
	t.Fatalf("GET %s never answered 200 (last: %s); journal:\n%s", url, last, j.Stdout)
	return ""
}

const seedRow = "seed item from 0001_initial"

func caseInstallWithoutPostgres(t *testing.T, b *box) {
	b.sources(t, "v1")
	// Recommends would pull in PostgreSQL: this is the admin who declines it.
	r := b.must(t, "apt-get", "install", "-y", "--no-install-recommends", "mathesar")
	t.Logf("apt-get install without PostgreSQL:\n%s", r.Combined())
	if !strings.Contains(r.Combined(), "sudo mathesar setup") {
		t.Errorf("the install output does not tell the admin to run `sudo mathesar setup`:\n%s", r.Combined())
	}
	if b.exists("/usr/lib/postgresql") {
		t.Fatal("PostgreSQL got installed; this case needs a machine without it")
	}
	time.Sleep(5 * time.Second) // a crash loop would show as restarts by now (RestartSec=5s)
	active, enabled := b.unitState(t, "mathesar")
	if enabled != "enabled" || active == "active" || active == "activating" {
		t.Errorf("mathesar.service is %s and %s, want enabled and not running", enabled, active)
	}
	if n := strings.TrimSpace(b.run(t, "systemctl", "show", "-P", "NRestarts", "mathesar").Stdout); n != "0" {
		t.Errorf("mathesar.service restarted %s times, want 0 (no crash loop before setup)", n)
	}
}

func caseSetupStoppedThenStarted(t *testing.T, b *box) {
	b.must(t, "apt-get", "install", "-y", "postgresql")
	if a, _ := b.unitState(t, "postgresql@15-main"); a == "active" {
		t.Fatal("PostgreSQL started on install despite policy-rc.d; this case needs it stopped")
	}
	// Written after the install: an existing /etc/postgresql/15 stops it making the cluster.
	b.write(t, "/etc/postgresql/15/main/conf.d/e2e.conf", "listen_addresses = ''\n", 0o644)
	b.must(t, "rm", "/usr/sbin/policy-rc.d")
	b.must(t, "mathesar", "config", "set", "MATHESAR_PORT", strconv.Itoa(b.port))
	r := b.run(t, "mathesar", "setup")
	if r.ExitCode == 0 || !strings.Contains(r.Combined(), "PostgreSQL is not running") {
		t.Fatalf("mathesar setup with PostgreSQL stopped exited %d, want a failure saying \"PostgreSQL is not running\":\n%s", r.ExitCode, r.Combined())
	}
	t.Logf("mathesar setup, PostgreSQL stopped (exit %d):\n%s", r.ExitCode, r.Combined())
	b.must(t, "systemctl", "start", "postgresql")
	b.waitActive(t, "postgresql@15-main")
	r = b.must(t, "mathesar", "setup")
	t.Logf("mathesar setup:\n%s", r.Combined())
	b.waitActive(t, "mathesar")
	if body := b.get(t); !strings.Contains(body, seedRow) {
		t.Errorf("the page does not show the seed row %q:\n%.500s", seedRow, body)
	}
}

func caseFreshInstall(t *testing.T, b *box) {
	b.must(t, "apt-get", "purge", "-y", "mathesar")
	// Purge keeps the database (by policy); drop it so this install is really fresh.
	b.must(t, "runuser", "-u", "postgres", "--", "dropdb", "--if-exists", "mathesar_django")
	b.must(t, "runuser", "-u", "postgres", "--", "dropuser", "--if-exists", "mathesar")
	if b.exists("/etc/mathesar") {
		t.Fatal("/etc/mathesar survived the purge")
	}
	// The port this run uses, for the service (a drop-in, which purge leaves alone) and for
	// the set-up that apt runs (dpkg passes the environment on), which prints the URL.
	b.write(t, "/etc/systemd/system/mathesar.service.d/e2e-port.conf", fmt.Sprintf("[Service]\nEnvironment=MATHESAR_PORT=%d\n", b.port), 0o644)
	b.must(t, "systemctl", "daemon-reload")
	r := b.must(t, "env", "MATHESAR_PORT="+strconv.Itoa(b.port), "apt-get", "install", "-y", "mathesar")
	t.Logf("TRANSCRIPT apt-get install -y mathesar (PostgreSQL present):\n%s", r.Combined())
	url := fmt.Sprintf("http://localhost:%d/", b.port)
	for _, want := range []string{"==> Mathesar is set up.", url} {
		if !strings.Contains(r.Combined(), want) {
			t.Errorf("the install output lacks %q", want)
		}
	}
	if a, _ := b.unitState(t, "mathesar"); a != "active" {
		t.Errorf("mathesar.service is %s right after apt-get install, want active", a)
	}
	if body := b.get(t); !strings.Contains(body, seedRow) {
		t.Errorf("the page does not show the seed row %q:\n%.500s", seedRow, body)
	}
	// Static files were collected when the bundle was built; the install collected none.
	if css := b.getPath(t, "/static/sample/sample.css"); !strings.Contains(css, "font-family") {
		t.Errorf("GET /static/sample/sample.css = %.200q, want the stylesheet the bundle carries", css)
	}
	if strings.Contains(r.Combined(), "static file") && !strings.Contains(r.Combined(), "Skipping static collection") {
		t.Errorf("the install collected static files into the read-only code tree:\n%s", r.Combined())
	}
}

const v1Row = "written under v1"

func caseReinstall(t *testing.T, b *box) {
	b.psql(t, "mathesar_django", "INSERT INTO sample_items (name) VALUES ('"+v1Row+"')")
	r := b.must(t, "apt-get", "install", "-y", "--reinstall", "mathesar")
	t.Logf("apt-get install --reinstall:\n%s", lastLines(r.Combined(), 30))
	b.waitActive(t, "mathesar")
	if body := b.get(t); !strings.Contains(body, v1Row) {
		t.Errorf("after the reinstall the page lacks the row %q:\n%.500s", v1Row, body)
	}
}

func caseConfigEdit(t *testing.T, b *box) {
	b.must(t, "mathesar", "config", "set", "WEB_CONCURRENCY", "2")
	if !strings.Contains(readFile(t, b, "/etc/mathesar/mathesar.env"), "\nWEB_CONCURRENCY=2\n") {
		t.Fatal("mathesar config set did not write WEB_CONCURRENCY=2 to /etc/mathesar/mathesar.env")
	}
}

func readFile(t *testing.T, b *box, path string) string {
	t.Helper()
	data, err := os.ReadFile(b.m.HostPath(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// upgradeOutput is apt's output of the upgrade, which the conffile case reads too.
var upgradeOutput string

func caseUpgrade(t *testing.T, b *box) {
	if got := b.psql(t, "mathesar_django", "SELECT count(*) FROM sample_items WHERE name = '"+v1Row+"'"); got != "1" {
		t.Fatalf("the row written under v1 is there %s times before the upgrade", got)
	}
	b.sources(t, "v2")
	r := b.must(t, "apt-get", "install", "-y", "mathesar")
	upgradeOutput = r.Combined()
	t.Logf("apt-get install (upgrade to v2):\n%s", upgradeOutput)
	if v := strings.TrimSpace(b.must(t, "dpkg-query", "-W", "-f=${Version}", "mathesar").Stdout); v != v2Version {
		t.Fatalf("installed version is %s after the upgrade, want %s", v, v2Version)
	}
	if got := b.psql(t, "mathesar_django", "SELECT name FROM sample_migrations WHERE name = '"+v2Migration+"'"); got != v2Migration {
		t.Errorf("migration %s is not recorded as applied (got %q)", v2Migration, got)
	}
	if got := b.psql(t, "mathesar_django", "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sample_items' AND column_name = 'note'"); got != "1" {
		t.Errorf("v2's migration did not add sample_items.note")
	}
	if got := b.psql(t, "mathesar_django", "SELECT note FROM sample_items WHERE name = '"+v1Row+"'"); got != "added by 0002" {
		t.Errorf("the row written under v1 reads note=%q after the upgrade, want it kept with the new column's default", got)
	}
	dumps, _ := filepath.Glob(b.m.HostPath("/var/backups/mathesar/mathesar_django-" + v1Version + "-*.dump"))
	if len(dumps) == 0 {
		ls := b.run(t, "ls", "-la", "/var/backups/mathesar")
		t.Errorf("no /var/backups/mathesar/mathesar_django-%s-<timestamp>.dump after the upgrade; ls:\n%s", v1Version, ls.Combined())
	} else if info, err := os.Stat(dumps[0]); err != nil || info.Size() == 0 {
		t.Errorf("the backup %s is empty", dumps[0])
	}
	b.waitActive(t, "mathesar")
	if body := b.get(t); !strings.Contains(body, v1Row) || !strings.Contains(body, seedRow) {
		t.Errorf("after the upgrade the page lacks the rows:\n%.500s", body)
	}
	// The new build's static files, collected into its bundle, not the old ones.
	if css := b.getPath(t, "/static/sample/sample.css"); !strings.HasPrefix(css, v2Stylesheet) {
		t.Errorf("after the upgrade /static/sample/sample.css is not v2's:\n%.200s", css)
	}
	if m := b.getPath(t, "/static/mathesar/manifest.json"); !strings.Contains(m, "assets/main.js") {
		t.Errorf("after the upgrade /static/mathesar/manifest.json = %.200q, want v2's front-end manifest", m)
	}
}

func caseConfigKept(t *testing.T, b *box) {
	env := readFile(t, b, "/etc/mathesar/mathesar.env")
	if !strings.Contains(env, "\nWEB_CONCURRENCY=2\n") {
		t.Errorf("the upgrade lost the admin's WEB_CONCURRENCY=2:\n%s", env)
	}
	if !strings.Contains(env, "SECRET_KEY=") {
		t.Errorf("the upgrade lost SECRET_KEY")
	}
	if strings.Contains(upgradeOutput, "Configuration file '/etc/mathesar/mathesar.env'") {
		t.Errorf("dpkg asked about the conffile during the upgrade:\n%s", upgradeOutput)
	}
	for _, leftover := range []string{".dpkg-dist", ".dpkg-new", ".dpkg-old"} {
		if b.exists("/etc/mathesar/mathesar.env" + leftover) {
			t.Errorf("dpkg left /etc/mathesar/mathesar.env%s", leftover)
		}
	}
	// The restarted service uses it: the sample gunicorn logs the worker count it was given.
	journal := b.must(t, "journalctl", "--no-pager", "-o", "cat", "-u", "mathesar").Stdout
	m := workersRE.FindAllStringSubmatch(journal, -1)
	if len(m) == 0 || m[len(m)-1][1] != "2" {
		t.Errorf("the service's last start did not use WEB_CONCURRENCY=2 (%v):\n%s", m, lastLines(journal, 20))
	}
}

var workersRE = regexp.MustCompile(`(\d+) worker\(s\) requested`)

var exposureRE = regexp.MustCompile(`Overall exposure level for mathesar\.service: ([0-9.]+)`)

func caseSecurity(t *testing.T, b *box) {
	r := b.must(t, "systemd-analyze", "security", "--no-pager", "mathesar.service")
	m := exposureRE.FindStringSubmatch(r.Combined())
	if m == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure:\n%s", r.Combined())
	}
	level, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security: exposure %.1f", level)
	if level > 2.0 {
		t.Errorf("exposure %.1f > 2.0:\n%s", level, r.Combined())
	}
}

func caseJournal(t *testing.T, b *box) {
	journal := b.must(t, "journalctl", "--no-pager", "-o", "cat", "-u", "mathesar").Stdout
	if !strings.Contains(journal, "Started mathesar.service") {
		t.Fatalf("the journal of mathesar.service does not show it starting, so it cannot be checked:\n%s", lastLines(journal, 20))
	}
	secrets := map[string]string{}
	for _, line := range strings.Split(readFile(t, b, "/etc/mathesar/mathesar.env"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(k, "#") && (k == "SECRET_KEY" || strings.Contains(k, "PASSWORD")) && v != "" {
			secrets[k] = v
		}
	}
	if secrets["SECRET_KEY"] == "" {
		t.Fatal("no SECRET_KEY in /etc/mathesar/mathesar.env")
	}
	for k, v := range secrets {
		if strings.Contains(journal, v) {
			t.Errorf("the journal of mathesar.service holds the value of %s", k)
		}
	}
	if m := regexp.MustCompile(`(?i)password[=:]\s*\S+`).FindString(journal); m != "" {
		t.Errorf("the journal of mathesar.service shows a password: %q", m)
	}
}

func caseRemove(t *testing.T, b *box) {
	r := b.must(t, "apt-get", "remove", "-y", "mathesar")
	t.Logf("apt-get remove:\n%s", lastLines(r.Combined(), 20))
	if a, _ := b.unitState(t, "mathesar"); a == "active" {
		t.Errorf("mathesar.service is still %s after remove", a)
	}
	if b.exists("/usr/lib/systemd/system/mathesar.service") {
		t.Error("the unit file is still there after remove")
	}
	// Debian keeps the enablement link of a removed package (dangling) until purge, so a
	// reinstall comes back enabled, as it keeps conffiles; systemd no longer knows the unit.
	if r := b.run(t, "systemctl", "is-enabled", "mathesar"); r.ExitCode == 0 {
		t.Errorf("systemctl is-enabled mathesar says %q after remove", strings.TrimSpace(r.Stdout))
	}
	for _, p := range []string{"/etc/mathesar/mathesar.env", "/var/lib/mathesar"} {
		if !b.exists(p) {
			t.Errorf("%s is gone after remove; remove must keep configuration and state", p)
		}
	}
	if got := b.psql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'mathesar_django'"); got != "1" {
		t.Error("the database mathesar_django is gone after remove")
	}
}

func casePurge(t *testing.T, b *box) {
	r := b.must(t, "apt-get", "purge", "-y", "mathesar")
	t.Logf("apt-get purge:\n%s", lastLines(r.Combined(), 20))
	for _, p := range []string{"/etc/mathesar", "/var/lib/mathesar"} {
		if b.exists(p) {
			t.Errorf("%s is still there after purge", p)
		}
	}
	if b.exists("/etc/systemd/system/multi-user.target.wants/mathesar.service") {
		t.Error("the enablement link of mathesar.service is still there after purge")
	}
	if r := b.run(t, "getent", "passwd", "mathesar"); r.ExitCode == 0 {
		t.Errorf("the user mathesar is still there after purge: %s", r.Stdout)
	}
	if got := b.psql(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'mathesar_django'"); got != "1" {
		t.Error("purge dropped the database mathesar_django; it must never be dropped silently")
	}
	if !strings.Contains(r.Combined(), "dropdb --if-exists mathesar_django") {
		t.Errorf("the purge output does not print the command that drops the database:\n%s", r.Combined())
	}
}
