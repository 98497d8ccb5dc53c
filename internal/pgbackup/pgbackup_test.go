package pgbackup

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

// me is the OS user running the tests; the shared server lets it in as the role "owner"
// too, as peer authentication lets the mathesar OS user in as its role on a real system.
var me = func() string {
	u, err := user.Current()
	if err != nil {
		panic(err)
	}
	return u.Username
}()

var pg = &pgtest.Shared{Options: pgtest.Options{
	PasswordAuth: true,
	PeerMap: []pgtest.PeerMapping{
		{OSUser: me, Role: "owner"},
		{OSUser: "nobody", Role: "nobodyrole"},
	},
}}

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

func TestFileName(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	cases := []struct{ db, label, want string }{
		{"mathesar_django", "0.10.1-1", "mathesar_django-0.10.1-1-20250304T040607Z.dump"},
		{"mathesar_django", "1:0.2.0~rc1-1", "mathesar_django-1_0.2.0~rc1-1-20250304T040607Z.dump"},
		{"db", "../../etc", "db-.._.._etc-20250304T040607Z.dump"},
		{"db", "previous", "db-previous-20250304T040607Z.dump"},
	}
	for _, c := range cases {
		if got := FileName(c.db, c.label, at); got != c.want {
			t.Errorf("FileName(%q, %q) = %q; want %q", c.db, c.label, got, c.want)
		}
	}
}

// touch creates the named empty files in dir.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestRotate(t *testing.T) {
	// Sorted by the time in the name, not by the version: 0.9 is newer than 0.10 here.
	dumps := []string{
		"mathesar_django-0.10.0-1-20240101T000000Z.dump",
		"mathesar_django-0.9.0-1-20240301T000000Z.dump",
		"mathesar_django-previous-20240201T000000Z.dump",
		"mathesar_django-0.11.0-1-20240401T000000Z.dump",
	}
	others := []string{
		"other_db-0.1-20200101T000000Z.dump",               // another database
		"mathesar_django-0.1-notastamp.dump",               // not ours
		"mathesar_django-0.1-20200101T000000Z.txt",         // not a dump
		".mathesar_django-0.1-20200101T000000Z.dump.tmp-1", // a temp file
		"README",
	}
	cases := []struct {
		keep int
		want []string // dumps left
	}{
		{1, []string{dumps[3]}},
		{2, []string{dumps[1], dumps[3]}},
		{3, []string{dumps[1], dumps[2], dumps[3]}},
		{5, dumps},
	}
	for _, c := range cases {
		dir := t.TempDir()
		touch(t, dir, append(append([]string{}, dumps...), others...)...)
		removed, err := Rotate(dir, "mathesar_django", c.keep)
		if err != nil {
			t.Fatal(err)
		}
		left := names(t, dir)
		want := append(append([]string{}, c.want...), others...)
		sort.Strings(want)
		if !reflect.DeepEqual(left, want) {
			t.Errorf("keep %d: left %q; want %q", c.keep, left, want)
		}
		if len(removed) != len(dumps)-len(c.want) {
			t.Errorf("keep %d: removed %q", c.keep, removed)
		}
	}
	if _, err := Rotate(t.TempDir(), "db", 0); err == nil {
		t.Error("Rotate with keep 0 succeeded")
	}
	all, err := List(filepath.Join(t.TempDir(), "missing"), "db")
	if err != nil || len(all) != 0 {
		t.Errorf("List of a missing directory = %v, %v", all, err)
	}
}

func TestListWithLabel(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir,
		"db-1_0.2-1-20240102T000000Z.dump",
		"db-1_0.2-1-20240101T000000Z.dump",
		"db-0.3-1-20240103T000000Z.dump")
	all, err := List(dir, "db")
	if err != nil {
		t.Fatal(err)
	}
	got := all.WithLabel("1:0.2-1")
	if len(got) != 2 || filepath.Base(got[0].Path) != "db-1_0.2-1-20240101T000000Z.dump" || filepath.Base(got[1].Path) != "db-1_0.2-1-20240102T000000Z.dump" {
		t.Errorf("WithLabel = %+v", got)
	}
	if want := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); !got[0].Time.Equal(want) {
		t.Errorf("time %v; want %v", got[0].Time, want)
	}
}

func TestFindTool(t *testing.T) {
	root := t.TempDir()
	exe := func(rel string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe("usr/lib/postgresql/13/bin/pg_dump")
	newest := exe("usr/lib/postgresql/16/bin/pg_dump")
	exe("usr/lib/postgresql/9/bin/pg_dump")
	exe("usr/pgsql-15/bin/pg_dump")
	// A newer directory without the program does not count.
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/postgresql/17/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	onPath := exe("bin/pg_restore")
	globs := []string{filepath.Join(root, "usr/lib/postgresql/*/bin"), filepath.Join(root, "usr/pgsql-*/bin")}

	cases := []struct {
		name, path, want string
	}{
		{"pg_dump", "", newest},
		{"pg_restore", filepath.Join(root, "bin"), onPath},
		{"pg_restore", "", ""},
	}
	for _, c := range cases {
		got, err := findTool(c.name, globs, c.path)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "install the PostgreSQL client") {
				t.Errorf("findTool(%s) = %q, %v; want an error saying what to install", c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("findTool(%s) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestRestoreCommand(t *testing.T) {
	ci := &pgsetup.ConnInfo{Host: "/var/run/postgresql", Port: 5432, User: "mathesar", Database: "mathesar_django"}
	got := strings.Join(RestoreCommand(ci, "/var/backups/mathesar/x.dump", "mathesar"), " ")
	want := "sudo -u mathesar pg_restore --host /var/run/postgresql --port 5432 --username mathesar --dbname postgres --clean --if-exists --create /var/backups/mathesar/x.dump"
	if got != want {
		t.Errorf("RestoreCommand:\n got  %s\n want %s", got, want)
	}
	if got := RestoreCommand(ci, "x.dump", ""); got[0] != "pg_restore" {
		t.Errorf("without an OS user: %q", got)
	}
}

// clock returns successive times a minute apart, so the dumps of one test get distinct names.
func clock(start time.Time) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return start.Add(time.Duration(n) * time.Minute)
	}
}

func query(t *testing.T, srv *pgtest.Server, db, sql string) string {
	t.Helper()
	var s string
	if err := srv.QueryRow(db, sql, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDumpRotateRestore takes three dumps keeping two, proves the newest restores into a
// fresh database, then runs RestoreCommand's exact command as the database owner to undo a
// "migration" in place.
func TestDumpRotateRestore(t *testing.T) {
	srv := pg.Server(t)
	ci, err := srv.CreateRoleAndDB("owner", "", "ownerdb")
	if err != nil {
		t.Fatal(err)
	}
	if err := execIn(srv, "ownerdb", `CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text); ALTER TABLE items OWNER TO owner; TRUNCATE items; INSERT INTO items VALUES (1, 'one'), (2, 'it''s two')`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backups")
	o := Options{Conn: ci, Dir: dir, Label: "0.1.0-1", Keep: 2, Group: -1,
		Now: clock(time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC))}
	var results []Result
	for range 3 {
		r, err := Dump(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	left := names(t, dir)
	want := []string{filepath.Base(results[1].Path), filepath.Base(results[2].Path)}
	if !reflect.DeepEqual(left, want) {
		t.Fatalf("after three dumps keeping two: %q; want %q", left, want)
	}
	if !reflect.DeepEqual(results[2].Removed, []string{results[0].Path}) {
		t.Errorf("the third dump removed %q; want the first", results[2].Removed)
	}
	if want := "ownerdb-0.1.0-1-20250102T030700Z.dump"; filepath.Base(results[2].Path) != want {
		t.Errorf("name %s; want %s", filepath.Base(results[2].Path), want)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, results[2].Path: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o; want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	if fi, _ := os.Stat(results[2].Path); fi.Size() != results[2].Size || fi.Size() < 100 {
		t.Errorf("size %d, reported %d", fi.Size(), results[2].Size)
	}

	// The dump restores into a fresh database.
	if err := srv.Exec(`DROP DATABASE IF EXISTS freshcopy`); err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(`CREATE DATABASE freshcopy`); err != nil {
		t.Fatal(err)
	}
	restore, err := FindTool("pg_restore")
	if err != nil {
		t.Fatal(err)
	}
	superuser := srv.ConnInfo(srv.SuperUser, "freshcopy")
	if out, err := run(restore, ConnEnv(superuser), "--no-owner", "--dbname", "freshcopy", results[2].Path); err != nil {
		t.Fatalf("pg_restore into a fresh database: %v\n%s", err, out)
	}
	if got := query(t, srv, "freshcopy", `SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM items`); got != "1=one,2=it's two" {
		t.Errorf("restored rows: %q", got)
	}

	// A "migration" changes data and adds a table; the restore command undoes both.
	if err := execIn(srv, "ownerdb", `UPDATE items SET name = 'changed'; CREATE TABLE added_by_migration (x int); ALTER TABLE added_by_migration OWNER TO owner`); err != nil {
		t.Fatal(err)
	}
	argv := RestoreCommand(ci, results[2].Path, "")
	if out, err := run(filepath.Join(filepath.Dir(restore), argv[0]), []string{"LC_ALL=C"}, argv[1:]...); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if got := query(t, srv, "ownerdb", `SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM items`); got != "1=one,2=it's two" {
		t.Errorf("rows after the restore command: %q", got)
	}
	if got := query(t, srv, "ownerdb", `SELECT count(*)::text FROM pg_tables WHERE tablename = 'added_by_migration'`); got != "0" {
		t.Errorf("the table added after the dump survived the restore command")
	}
	if got := query(t, srv, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'ownerdb'`); got != "owner" {
		t.Errorf("owner of the restored database: %s", got)
	}
}

func execIn(srv *pgtest.Server, db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := srv.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func run(tool string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDumpWithPassword(t *testing.T) {
	srv := pg.Server(t)
	const password = "s3cret 'quoted'"
	ci, err := srv.CreateRoleAndDB("pwrole", password, "pwdb")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Dump(context.Background(), Options{Conn: ci, Dir: t.TempDir(), Label: "x", Group: -1})
	if err != nil {
		t.Fatal(err)
	}
	wrong := *ci
	wrong.Password = "nope"
	_, err = Dump(context.Background(), Options{Conn: &wrong, Dir: filepath.Dir(r.Path), Label: "y", Group: -1})
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Errorf("dump with a wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Errorf("the error shows the password: %v", err)
	}
	if got := names(t, filepath.Dir(r.Path)); len(got) != 1 {
		t.Errorf("a failed dump left files: %q", got)
	}
}

// TestDumpRunAs runs pg_dump as another OS user (root only), as the package does with the
// mathesar user, and gives the dump that user's group.
func TestDumpRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running pg_dump as another OS user needs root")
	}
	acct, err := svcuser.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	srv := pg.Server(t)
	ci, err := srv.CreateRoleAndDB("nobodyrole", "", "nobodydb")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	r, err := Dump(context.Background(), Options{Conn: ci, Dir: dir, Label: "1", RunAs: acct, Group: acct.GID, FileMode: 0o640, DirMode: 0o750})
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o750, r.Path: 0o640} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != mode || st.Uid != 0 || int(st.Gid) != acct.GID {
			t.Errorf("%s: mode %04o owner %d:%d; want %04o 0:%d", path, fi.Mode().Perm(), st.Uid, st.Gid, mode, acct.GID)
		}
	}
	// The superuser's OS user may not log in as nobodyrole: as root without RunAs, peer
	// authentication refuses, which proves RunAs is what let the dump in.
	if _, err := Dump(context.Background(), Options{Conn: ci, Dir: dir, Label: "2", Group: -1}); err == nil || !strings.Contains(err.Error(), "Peer authentication failed") {
		t.Errorf("dump as root without RunAs: %v; want a peer authentication failure", err)
	}
}

func TestDumpUnreachable(t *testing.T) {
	sock := t.TempDir() // no server listens here
	ci := &pgsetup.ConnInfo{Host: sock, Port: 5432, User: "mathesar", Database: "mathesar_django"}
	if err := Probe(context.Background(), ci, time.Second); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("Probe = %v; want an error naming %s", err, sock)
	}
	if _, err := FindTool("pg_dump"); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	_, err := Dump(context.Background(), Options{Conn: ci, Dir: dir, Label: "0.1", Group: -1})
	if err == nil || !strings.Contains(err.Error(), "check that PostgreSQL is running") || !strings.Contains(err.Error(), sock) {
		t.Errorf("Dump = %v; want an error naming the socket and the next step", err)
	}
	if left := names(t, dir); len(left) != 0 {
		t.Errorf("a failed dump left %q", left)
	}
	srv := pg.Server(t)
	if err := Probe(context.Background(), srv.ConnInfo("x", "y"), time.Second); err != nil {
		t.Errorf("Probe of a running server: %v", err)
	}
}
