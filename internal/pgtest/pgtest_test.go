package pgtest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
)

func TestStartStop(t *testing.T) {
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
