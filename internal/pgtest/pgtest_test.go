package pgtest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	// Start logs its own duration (about 1.5 s here); it is not asserted, as a shared
	// two-core machine under load can take several times that.
	srv := pgtest.Start(t)
	if err := srv.Exec(`CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(`CREATE TABLE t (id int)`); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second CREATE TABLE: %v; want an error from the server", err)
	}
	ctx := context.Background()
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	var listen, hba string
	if err := conn.QueryRow(ctx, `SELECT current_setting('listen_addresses'), (SELECT string_agg(auth_method, ',') FROM pg_hba_file_rules)`).Scan(&listen, &hba); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if listen != "" || hba != "peer" {
		t.Errorf("listen_addresses %q, auth methods %q; want none and peer", listen, hba)
	}
	for range 2 { // stopping twice is fine
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(srv.DataDir + "/postmaster.pid"); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	if err := srv.Exec(`SELECT 1`); err == nil {
		t.Error("Exec succeeded on a stopped server")
	}
}

func TestPasswordAuth(t *testing.T) {
	t.Parallel()
	srv := pgtest.StartWith(t, pgtest.Options{PasswordAuth: true})
	// The quote checks that the password reaches the server intact.
	const password = "pa'ss word"
	app, err := srv.CreateRoleAndDB("app", password, "appdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateRoleAndDB("app", password, "appdb"); err != nil {
		t.Fatalf("creating the same role and database again: %v", err)
	}
	if _, err := srv.CreateRoleAndDB("plain", "", "plaindb"); err != nil {
		t.Fatal(err)
	}
	var hba, owner string
	if err := srv.QueryRow("appdb", `SELECT (SELECT string_agg(auth_method, ',' ORDER BY line_number) FROM pg_hba_file_rules),
		pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`, &hba, &owner); err != nil {
		t.Fatal(err)
	}
	if hba != "scram-sha-256,peer" || owner != "app" {
		t.Errorf("auth methods %q, appdb owner %q; want scram-sha-256,peer and app", hba, owner)
	}
	if want := (pgsetup.ConnInfo{Host: srv.SocketDir, Port: srv.Port, User: "app", Password: password, Database: "appdb", SSLMode: "disable"}); *app != want {
		t.Errorf("CreateRoleAndDB returned %+v, want %+v", *app, want)
	}

	tests := []struct {
		name, role, password, db string
		wantErr                  string // "" for a successful connection
	}{
		{name: "right password", role: "app", password: password, db: "appdb"},
		{name: "wrong password", role: "app", password: "nope", db: "appdb", wantErr: `password authentication failed for user "app"`},
		{name: "role without a password stays peer only", role: "plain", password: password, db: "plaindb", wantErr: `Peer authentication failed for user "plain"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ci := srv.ConnInfo(tt.role, tt.db)
			ci.Password = tt.password
			err := pgsetup.Check(context.Background(), ci, 5*time.Second)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("connect as %s: %v; want error containing %q", tt.role, err, tt.wantErr)
			}
		})
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	var sh pgtest.Shared
	if err := sh.Close(); err != nil {
		t.Fatalf("Close before any test used the server: %v", err)
	}
	srv := sh.Server(t)
	if again := sh.Server(t); again != srv {
		t.Fatal("second Server call started another server")
	}
	if err := srv.Exec(`CREATE TABLE shared (id int)`); err != nil {
		t.Fatal(err)
	}
	_, err := srv.CreateRoleAndDB("app", "secret", "appdb")
	if err == nil || !strings.Contains(err.Error(), "PasswordAuth: true") {
		t.Errorf("CreateRoleAndDB with a password on a peer-only server: %v; want an error naming PasswordAuth", err)
	}
	for range 2 { // closing twice is fine
		if err := sh.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{srv.DataDir, srv.SocketDir} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s after Close: %v; want it removed", dir, err)
		}
	}
	if err := srv.Exec(`SELECT 1`); err == nil {
		t.Error("Exec succeeded after Close")
	}
}
