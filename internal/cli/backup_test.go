package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
)

var testUser = func() string {
	u, err := user.Current()
	if err != nil {
		panic(err)
	}
	return u.Username
}()

// pg lets the test's OS user in as role "cliowner", as peer authentication lets the
// mathesar OS user in as the role owning Mathesar's database.
var pg = &pgtest.Shared{Options: pgtest.Options{PeerMap: []pgtest.PeerMapping{{OSUser: testUser, Role: "cliowner"}}}}

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// userInstall is a user install in a temporary directory, configured with config.
type userInstall struct {
	dir, config, data string
	env               []string
}

func newUserInstall(t *testing.T, config string) userInstall {
	t.Helper()
	dir := t.TempDir()
	u := userInstall{dir: dir, config: filepath.Join(dir, "mathesar.env"), data: filepath.Join(dir, "data")}
	u.env = []string{"MATHESAR_MODE=user", "MATHESAR_CONFIG=" + u.config, "MATHESAR_DATA_DIR=" + u.data, "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	if config != "" {
		if err := os.WriteFile(u.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// run runs the mathesar command line in-process with u's environment.
func (u userInstall) run(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{}
	for _, kv := range u.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	a := &app{stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }, environ: u.env}
	root := a.rootCommand()
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = root.ExecuteContext(ctx)
	t.Logf("mathesar %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	return out.String(), err
}

func dbConfig(host string, port int, user, db string) string {
	return "SECRET_KEY=k\nPOSTGRES_HOST=" + host + "\nPOSTGRES_PORT=" + strconv.Itoa(port) +
		"\nPOSTGRES_USER=" + user + "\nPOSTGRES_DB=" + db + "\n"
}

// TestBackupCommand backs up a configured database of a user install, then prints the
// failed-upgrade block that names the dump.
func TestBackupCommand(t *testing.T) {
	srv := pg.Server(t)
	ci, err := srv.CreateRoleAndDB("cliowner", "", "clidb")
	if err != nil {
		t.Fatal(err)
	}
	u := newUserInstall(t, dbConfig(ci.Host, ci.Port, ci.User, ci.Database))

	out, err := u.run(t, "backup", "--label", "1:0.9.0-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(u.data, "backups")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("backup directory %s: %v, %v", dir, entries, err)
	}
	name := entries[0].Name()
	if !regexp.MustCompile(`^clidb-1_0\.9\.0-1-\d{8}T\d{6}Z\.dump$`).MatchString(name) {
		t.Errorf("dump name %s", name)
	}
	dump := filepath.Join(dir, name)
	fi, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Errorf("%s: mode %04o size %d; want 0600 and a dump", dump, fi.Mode().Perm(), fi.Size())
	}
	restore := "pg_restore --host " + ci.Host + " --port " + strconv.Itoa(ci.Port) + " --username cliowner --dbname postgres --clean --if-exists --create " + dump
	if !strings.Contains(out, "Backed up database clidb to "+dump) || !strings.Contains(out, restore) {
		t.Errorf("output does not name the dump and the restore command %q", restore)
	}

	cases := []struct {
		args, want []string
	}{
		{[]string{"deb", "1:0.9.0-1"}, []string{dump, restore, "sudo apt install mathesar=1:0.9.0-1", "sudo dpkg --configure -a"}},
		{[]string{"rpm", "previous"}, []string{"No backup was taken", "sudo mathesar setup"}},
	}
	for _, c := range cases {
		out, err := u.run(t, append([]string{"package-hook", "upgrade-failed"}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("upgrade-failed %v: output lacks %q", c.args, w)
			}
		}
		if strings.Contains(out, "sudo -u") {
			t.Errorf("a user install's restore command switches user")
		}
	}
}

func TestBackupNotPossible(t *testing.T) {
	noServer := dbConfig(t.TempDir(), 5432, "mathesar", "mathesar_django")
	cases := []struct {
		name, config string
		args         []string
		wantOut      string // on success
		wantErr      string
		notSetUp     bool
	}{
		{"nothing configured, package script", "SECRET_KEY=k\n", []string{"--if-set-up"}, "no backup taken: no internal database is configured", "", false},
		{"nothing configured", "", nil, "", "nothing to back up", true},
		{"server down, package script", noServer, []string{"--if-set-up"}, "no backup taken: no PostgreSQL server answers", "", false},
		{"server down", noServer, nil, "", "start PostgreSQL", false},
		{"negative keep", noServer, []string{"--keep", "-1"}, "", "--keep -1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := newUserInstall(t, c.config)
			out, err := u.run(t, append([]string{"backup"}, c.args...)...)
			if c.wantErr == "" {
				if err != nil || !strings.Contains(out, c.wantOut) {
					t.Errorf("got %v, output %q; want success saying %q", err, out, c.wantOut)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("got %v; want an error saying %q", err, c.wantErr)
			}
			var ns notSetUpError
			if errors.As(err, &ns) != c.notSetUp {
				t.Errorf("not-set-up error (exit %d): %t; want %t", ExitNotSetUp, errors.As(err, &ns), c.notSetUp)
			}
			if _, err := os.Stat(filepath.Join(u.data, "backups")); err == nil {
				t.Errorf("the backup directory was created although nothing was dumped")
			}
		})
	}
}

// TestStartAfterSetup covers the cases that never touch systemd: a user install and
// --no-start, which the package scripts pass.
func TestStartAfterSetup(t *testing.T) {
	cases := []struct {
		mode    layout.Mode
		noStart bool
		want    string
	}{
		{layout.User, false, "Start it:          mathesar run"},
		{layout.User, true, "Start it:          mathesar run"},
		{layout.System, true, "Start it:          sudo systemctl enable --now mathesar   (package installs start it for you)"},
	}
	for _, c := range cases {
		a := &app{layout: layout.Layout{Mode: c.mode}}
		got, err := a.startAfterSetup(context.Background(), c.noStart)
		if err != nil || got != c.want {
			t.Errorf("%s, no-start %t: %q, %v; want %q", c.mode, c.noStart, got, err, c.want)
		}
	}
}
