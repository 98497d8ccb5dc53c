package pgsetup_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
)

// serviceUserEnv carries the connection for TestHelperServiceUserConnects.
const serviceUserEnv = "PGSETUP_TEST_SERVICE_CONN"

// TestSystemMode runs EnsureSystemDatabase against a cluster run by the postgres OS user
// (when root) with peer authentication only. The service user is stood in for by the OS
// user "nobody", mapped to role mathesar in pg_ident, so no OS account is created. The
// proof that the service can log in by peer is the test re-running itself as nobody and
// connecting (TestHelperServiceUserConnects); root, which has no mapping to mathesar, must
// be refused, which shows peer authentication is what decides.
//
// As non-root the test's own user is both SuperUser and service user (mapped to mathesar).
func TestSystemMode(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	service := me.Username
	if root {
		service = "nobody"
		if _, err := user.Lookup(service); err != nil {
			t.Skipf("needs the OS user nobody: %v", err)
		}
	}
	srv := pgtest.StartWith(t, pgtest.Options{PeerMap: []pgtest.PeerMapping{{OSUser: service, Role: "mathesar"}}})
	opts := pgsetup.SystemOptions{SocketDir: srv.SocketDir, SuperUser: srv.SuperUser, ServiceUser: service}

	ctx := context.Background()
	var first *pgsetup.ConnInfo
	for i := range 2 { // the second run must change nothing and succeed
		start := time.Now()
		ci, err := pgsetup.EnsureSystemDatabase(ctx, opts)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		t.Logf("run %d took %v", i+1, time.Since(start).Round(time.Millisecond))
		if i == 0 {
			first = ci
		} else if *ci != *first {
			t.Fatalf("second run returned %+v, first %+v", ci, first)
		}
	}
	want := pgsetup.ConnInfo{Host: srv.SocketDir, Port: 5432, User: "mathesar", Database: "mathesar_django", SSLMode: "disable"}
	if *first != want {
		t.Fatalf("ConnInfo = %+v, want %+v", first, want)
	}

	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var roles int
	var login, createdb, super bool
	if err := conn.QueryRow(ctx, `SELECT count(*) OVER (), rolcanlogin, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'mathesar'`).Scan(&roles, &login, &createdb, &super); err != nil {
		t.Fatalf("role mathesar: %v", err)
	}
	if roles != 1 || !login || !createdb || super {
		t.Errorf("role mathesar: count %d login %v createdb %v superuser %v; want 1 true true false", roles, login, createdb, super)
	}
	var owner string
	if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mathesar_django'`).Scan(&owner); err != nil {
		t.Fatalf("database mathesar_django: %v", err)
	}
	if owner != "mathesar" {
		t.Errorf("mathesar_django owned by %s, want mathesar", owner)
	}

	if root {
		out, err := pgtest.RunTestAs(t, service, "TestHelperServiceUserConnects", []string{serviceUserEnv + "=" + first.Host})
		t.Logf("as OS user %s:\n%s", service, out)
		if err != nil {
			t.Fatalf("OS user %s could not log in as mathesar: %v", service, err)
		}
		if !strings.Contains(out, "connected as mathesar") {
			t.Fatal("the helper test did not report a connection")
		}
		err = pgsetup.Check(ctx, first, 3*time.Second)
		if err == nil || !strings.Contains(err.Error(), "Peer authentication failed") {
			t.Fatalf("root logging in as mathesar: %v; want a peer authentication failure", err)
		}
	} else if err := pgsetup.Check(ctx, first, 3*time.Second); err != nil {
		t.Fatalf("service user: %v", err)
	}

	// A database of the same name owned by someone else is reported, not taken over.
	if err := srv.Exec(`CREATE DATABASE other_db`); err != nil {
		t.Fatal(err)
	}
	opts.Database = "other_db"
	_, err = pgsetup.EnsureSystemDatabase(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "already exists but is owned by "+srv.SuperUser+", not mathesar") {
		t.Fatalf("foreign-owned database: %v", err)
	}
}

// TestHelperServiceUserConnects is run by TestSystemMode as the service OS user; on its own
// it has nothing to do.
func TestHelperServiceUserConnects(t *testing.T) {
	host := os.Getenv(serviceUserEnv)
	if host == "" {
		t.Skip("run by TestSystemMode")
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.TLSConfig, cfg.Fallbacks = host, 5432, "mathesar", "mathesar_django", nil, nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
		t.Fatal(err)
	}
	me, _ := user.Current()
	t.Logf("OS user %s connected as %s", me.Username, who)
	if who != "mathesar" {
		t.Fatalf("current_user = %s", who)
	}
}

func TestSystemModeNotRunning(t *testing.T) {
	stale := t.TempDir()
	// A socket file with no server behind it, as a crashed server leaves.
	l, err := net.Listen("unix", filepath.Join(stale, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct{ name, dir string }{
		{"empty socket dir", t.TempDir()},
		{"missing socket dir", filepath.Join(t.TempDir(), "nope")},
		{"stale socket", stale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := pgsetup.EnsureSystemDatabase(context.Background(), pgsetup.SystemOptions{SocketDir: tc.dir})
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v, want under 3s", took)
			}
			var nr *pgsetup.NotRunningError
			if !errors.As(err, &nr) {
				t.Fatalf("error = %v (%T), want *NotRunningError", err, err)
			}
			msg := err.Error()
			for _, part := range []string{"PostgreSQL is not running", filepath.Join(tc.dir, ".s.PGSQL.5432"), "run `sudo mathesar setup`", "sudo mathesar setup --connection-string postgres://"} {
				if !strings.Contains(msg, part) {
					t.Errorf("message %q lacks %q", msg, part)
				}
			}
			_, _, binErr := pgsetup.FindServerBinaries()
			if nr.Installed != (binErr == nil) {
				t.Errorf("Installed = %v, but FindServerBinaries says %v", nr.Installed, binErr)
			}
		})
	}
}

// TestSystemModeSilentServer: something accepts on the socket but never answers. Set-up
// must give up by itself.
func TestSystemModeSilentServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	me, _ := user.Current()
	start := time.Now()
	// Running as the SuperUser keeps the work in this process: the point is the timeout.
	_, err = pgsetup.EnsureSystemDatabase(context.Background(), pgsetup.SystemOptions{SocketDir: dir, SuperUser: me.Username, Timeout: time.Second})
	took := time.Since(start)
	if err == nil {
		t.Fatal("set-up succeeded against a silent socket")
	}
	if took > 3*time.Second {
		t.Errorf("gave up after %v, want within 3s", took)
	}
	t.Logf("gave up after %v: %v", took.Round(time.Millisecond), err)
}

// TestBootstrapQuoting creates roles and databases whose names need quoting, twice each.
func TestBootstrapQuoting(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	ctx := context.Background()
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tests := []struct{ role, db string }{
		{"mathesar", "mathesar_django"},
		{`we"ird Role`, "my-db; DROP TABLE x"},
		{"UPPER", "Δ database"},
	}
	for _, tc := range tests {
		for range 2 {
			if err := pgsetup.Bootstrap(ctx, conn, tc.role, tc.db); err != nil {
				t.Fatalf("Bootstrap(%q, %q): %v", tc.role, tc.db, err)
			}
		}
		var owner string
		if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, tc.db).Scan(&owner); err != nil || owner != tc.role {
			t.Errorf("database %q: owner %q, %v; want %q", tc.db, owner, err, tc.role)
		}
	}
	if err := pgsetup.Bootstrap(ctx, conn, "", "x"); err == nil {
		t.Error("Bootstrap accepted an empty role name")
	}
}
