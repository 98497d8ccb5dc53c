package launcher_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a user-install config file with a SECRET_KEY and an external database
// (which `run` does not contact before starting the server).
func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "mathesar.env")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const externalDBConfig = `# written by the launcher tests
SECRET_KEY=testsecretkeytestsecretkeytestsecretkey0123456789
POSTGRES_DB=mathesar_django
POSTGRES_USER=mathesar
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=1
`

func TestPortInUse(t *testing.T) {
	requireSuite(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	// The test's own user: finding the holder's pid needs to see this process's sockets.
	acct := self(t)
	home := sharedDir(t, acct)
	cfg := writeConfig(t, home, externalDBConfig)
	l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_CONFIG=" + cfg)
	r := l.run(t, 60*time.Second, "run", "--addr", "127.0.0.1", "--port", strconv.Itoa(port))
	t.Logf("%s", r)
	if r.code == 0 {
		t.Fatal("run started on a port in use")
	}
	if r.elapsed > 15*time.Second {
		t.Errorf("run took %s to notice the port is in use", r.elapsed)
	}
	for _, want := range []string{"already in use", fmt.Sprintf("pid %d", os.Getpid()), "--port"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "is starting") {
		t.Errorf("run announced a server that cannot start:\n%s", r.stdout)
	}
}

func TestConfigCommands(t *testing.T) {
	requireSuite(t)
	acct := self(t)
	home := sharedDir(t, acct)
	cfg := writeConfig(t, home, externalDBConfig)
	const secret = "testsecretkeytestsecretkeytestsecretkey0123456789"
	l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_CONFIG=" + cfg)

	set := l.mustRun(t, 30*time.Second, "config", "set", "ALLOWED_HOSTS", "example.org")
	if !strings.Contains(set.stdout, "ALLOWED_HOSTS set in "+cfg) {
		t.Errorf("config set: %s", set)
	}
	if got := l.mustRun(t, 30*time.Second, "config", "get", "ALLOWED_HOSTS").stdout; got != "example.org\n" {
		t.Errorf("config get ALLOWED_HOSTS = %q; want example.org", got)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config set changed the file's mode: %v %v", fi.Mode(), err)
	}
	if r := l.run(t, 30*time.Second, "config", "get", "DOMAIN_NAME"); r.code != 1 || r.stdout != "" {
		t.Errorf("config get of an unset key: want exit 1 and no output: %s", r)
	}

	show := l.with("WEB_CONCURRENCY=5").mustRun(t, 30*time.Second, "config", "show")
	t.Logf("config show:\n%s", show.stdout)
	if strings.Contains(show.stdout, secret) {
		t.Errorf("config show prints SECRET_KEY")
	}
	for _, row := range []struct{ key, value, source string }{
		{"SECRET_KEY", "********", "config file (" + cfg + ":2)"},
		{"ALLOWED_HOSTS", "example.org", "config file (" + cfg + ":7)"},
		{"WEB_CONCURRENCY", "5", "environment"},
		{"MATHESAR_PORT", "8000", "default"},
	} {
		re := regexp.MustCompile(`(?m)^` + row.key + `\s+` + regexp.QuoteMeta(row.value) + `\s+` + regexp.QuoteMeta(row.source) + `$`)
		if !re.MatchString(show.stdout) {
			t.Errorf("config show has no row %s  %s  %s", row.key, row.value, row.source)
		}
	}

	unset := l.mustRun(t, 30*time.Second, "config", "unset", "ALLOWED_HOSTS")
	if !strings.Contains(unset.stdout, "ALLOWED_HOSTS removed from "+cfg) {
		t.Errorf("config unset: %s", unset)
	}
	if _, ok := configValue(t, cfg, "ALLOWED_HOSTS"); ok {
		t.Errorf("config unset left ALLOWED_HOSTS in %s", cfg)
	}
	if s, _ := configValue(t, cfg, "SECRET_KEY"); s != secret {
		t.Errorf("config unset ALLOWED_HOSTS changed SECRET_KEY to %q", s)
	}

	// A comment ending in a backslash: systemd before v254 also hid the next line, so the
	// launcher refuses the file and says where.
	bad := writeConfig(t, sharedDir(t, acct), "SECRET_KEY=abc\n# note \\\nALLOWED_HOSTS=example.org\n")
	for _, args := range [][]string{{"config", "show"}, {"config", "get", "SECRET_KEY"}} {
		r := l.with("MATHESAR_CONFIG="+bad).run(t, 30*time.Second, args...)
		t.Logf("%s", r)
		if r.code == 0 || !strings.Contains(r.stderr, bad+":2") {
			t.Errorf("want an error naming %s:2: %s", bad, r)
		}
	}
}

func TestManAndCompletion(t *testing.T) {
	requireSuite(t)
	acct := self(t)
	home := sharedDir(t, acct)
	l := launcher{as: acct, env: userEnv(home)}
	dir := filepath.Join(home, "man")
	l.mustRun(t, 30*time.Second, "man", "--dir", dir)
	for _, page := range []string{"mathesar.1", "mathesar-run.1", "mathesar-setup.1", "mathesar-doctor.1", "mathesar-config-set.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("man page: %v", err)
			continue
		}
		if !strings.Contains(string(b), ".TH ") {
			t.Errorf("%s has no .TH header", page)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "mathesar-check-database.1")); err == nil {
		t.Errorf("the hidden check-database command got a man page:\n%.200s", b)
	}

	for _, tc := range []struct{ shell, marker string }{
		{"bash", "complete -o default -F __start_mathesar mathesar"},
		{"zsh", "#compdef mathesar"},
		{"fish", "complete -c mathesar"},
	} {
		r := l.mustRun(t, 30*time.Second, "completion", tc.shell)
		if !strings.Contains(r.stdout, tc.marker) {
			t.Errorf("completion %s: no %q in %d bytes", tc.shell, tc.marker, len(r.stdout))
		}
	}
}

// TestNotSetUpExitsConfig checks the status mathesar.service relies on: `run` on an
// instance with no SECRET_KEY, or no database in a system install, exits 78 (EX_CONFIG),
// which the unit lists in RestartPreventExitStatus= so it does not restart in a loop.
func TestNotSetUpExitsConfig(t *testing.T) {
	requireSuite(t)
	acct := self(t)
	home := sharedDir(t, acct)
	cases := map[string]struct {
		config string
		env    []string
		want   string
	}{
		"no SECRET_KEY":               {"# empty\n", nil, "SECRET_KEY is not set"},
		"system install, no database": {"SECRET_KEY=abcdefabcdefabcdefabcdefabcdefabcdef\n", []string{"MATHESAR_MODE=system"}, "no internal database is configured"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// Readable by all: as root, a system-mode run reads it as the mathesar user.
			cfg := writeConfig(t, home, c.config)
			if err := os.Chmod(cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			l := launcher{as: acct, env: userEnv(home)}.with(append([]string{"MATHESAR_CONFIG=" + cfg, "MATHESAR_DATA_DIR=" + t.TempDir(), "MATHESAR_CACHE_DIR=" + t.TempDir()}, c.env...)...)
			r := l.run(t, 30*time.Second, "run", "--addr", "127.0.0.1", "--port", strconv.Itoa(freePort(t)))
			if r.code != 78 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("run exited %d, want 78 with %q:\n%s", r.code, c.want, r)
			}
		})
	}
}

// TestSiteFiles: the admin's local.py and sso.yml live beside the config file, not in the
// read-only code tree, and reach Mathesar through the bundle's site hook.
func TestSiteFiles(t *testing.T) {
	requireSuite(t)
	acct := self(t)
	home := sharedDir(t, acct)
	// The database settings point nowhere: `manage check` loads the settings only.
	cfg := writeConfig(t, home, "SECRET_KEY=abcdefabcdefabcdefabcdefabcdefabcdef\nPOSTGRES_DB=mathesar_django\nPOSTGRES_USER=mathesar\nPOSTGRES_HOST=/nonexistent\n")
	dir := filepath.Dir(cfg)
	l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_CONFIG="+cfg, "MATHESAR_DATA_DIR="+t.TempDir(), "MATHESAR_CACHE_DIR="+t.TempDir())
	site := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if body == "" {
			os.Remove(p)
			return
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if r := l.run(t, 60*time.Second, "manage", "check"); r.code != 0 || !strings.Contains(r.stdout, "no issues") {
		t.Fatalf("manage check without site files: %s", r)
	}
	site("local.py", "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n")
	if r := l.run(t, 60*time.Second, "manage", "check"); r.code == 0 || !strings.Contains(r.stderr, "supports only PostgreSQL") {
		t.Fatalf("manage check with %s/local.py choosing SQLite: want the settings to refuse it: %s", dir, r)
	}
	site("local.py", "")
	site("sso.yml", "providers: [unclosed\n")
	r := l.run(t, 60*time.Second, "manage", "check")
	if r.code != 78 || !strings.Contains(r.stderr, filepath.Join(dir, "sso.yml")) {
		t.Fatalf("manage check with a broken sso.yml: want exit 78 naming the file: %s", r)
	}
}
