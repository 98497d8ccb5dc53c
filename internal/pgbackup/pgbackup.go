// Package pgbackup backs up Mathesar's internal database: it runs pg_dump (custom format)
// into a directory of dated dumps, keeps the newest few, and says how to restore one.
package pgbackup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

// DefaultKeep is how many dumps of one database are kept after a backup.
const DefaultKeep = 5

// stampLayout is the UTC time in a dump's name (ISO 8601 basic format), which sorts as text.
const stampLayout = "20060102T150405Z"

// Options describe one backup. Zero fields take the defaults in brackets.
type Options struct {
	Conn  *pgsetup.ConnInfo // the database to dump (required)
	Dir   string            // where dumps go, created if missing (required)
	Label string            // the Mathesar version whose data this is, for the file name (required)
	Keep  int               // dumps of this database kept afterwards; 0 keeps every one
	// RunAs is the OS user pg_dump runs as, so a socket database is reached by peer
	// authentication as the role that owns it; nil runs it as this process's user.
	// Switching to another user needs root.
	RunAs *svcuser.Account
	// Group, when >= 0, becomes the group of the directory and the dump, so RunAs can read
	// a dump back with pg_restore. -1 leaves the groups alone.
	Group    int
	FileMode os.FileMode      // mode of the dump [0600]
	DirMode  os.FileMode      // mode of Dir [0700]
	PgDump   string           // pg_dump to run [FindTool("pg_dump")]
	Now      func() time.Time // clock, for the file name [time.Now]
}

// Result is a finished backup.
type Result struct {
	Path    string   // the new dump
	Size    int64    // its size in bytes
	Removed []string // older dumps deleted by the rotation, oldest first
}

// Dump runs pg_dump --format=custom of o.Conn into o.Dir as
// <database>-<label>-<UTC time>.dump, then keeps the newest o.Keep dumps of that database.
// The dump is written to a temporary file and renamed into place only once pg_dump has
// succeeded and the archive reads back, so a dump under its final name is always whole and
// a failed backup never deletes an older one. The password (if any) reaches pg_dump through
// PGPASSWORD, never its arguments.
func Dump(ctx context.Context, o Options) (Result, error) {
	if o.Conn == nil || o.Dir == "" || o.Label == "" {
		return Result{}, errors.New("backup needs a database, a directory and a label")
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	if o.DirMode == 0 {
		o.DirMode = 0o700
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tool := o.PgDump
	if tool == "" {
		var err error
		if tool, err = FindTool("pg_dump"); err != nil {
			return Result{}, err
		}
	}
	if err := prepareDir(o.Dir, o.DirMode, o.Group); err != nil {
		return Result{}, err
	}
	name := FileName(o.Conn.Database, o.Label, o.Now())
	final := filepath.Join(o.Dir, name)
	if _, err := os.Lstat(final); err == nil {
		return Result{}, fmt.Errorf("%s already exists: a backup was taken this very second; wait a second and run it again", final)
	}

	tmp, err := os.CreateTemp(o.Dir, "."+name+".tmp-*")
	if err != nil {
		return Result{}, fmt.Errorf("create a temporary file in %s: %w", o.Dir, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := protect(tmp, o.FileMode, o.Group); err != nil {
		return Result{}, err
	}
	if err := runPgDump(ctx, tool, o.Conn, o.RunAs, tmp); err != nil {
		return Result{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Result{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	size, err := checkArchive(ctx, tmp, tool)
	if err != nil {
		return Result{}, fmt.Errorf("the dump of %s did not read back (%w); no backup was kept: check the disk and run the backup again", o.Conn.Database, err)
	}
	if err := tmp.Close(); err != nil {
		return Result{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// A link, not a rename: a dump of the same name made meanwhile is never replaced.
	if err := os.Link(tmp.Name(), final); err != nil {
		return Result{}, fmt.Errorf("move the dump to %s: %w", final, err)
	}
	done = true
	os.Remove(tmp.Name())
	syncDir(o.Dir)

	res := Result{Path: final, Size: size}
	if o.Keep > 0 {
		if res.Removed, err = Rotate(o.Dir, o.Conn.Database, o.Keep); err != nil {
			return res, fmt.Errorf("the backup %s is complete, but removing older dumps failed: %w", final, err)
		}
	}
	return res, nil
}

// prepareDir creates dir with mode and, when group >= 0, gives it that group. An existing
// directory gets the mode and group too: the restore command reads dumps as the group's
// user, which needs to traverse the directory.
func prepareDir(dir string, mode os.FileMode, group int) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("create the backup directory %s: %w", dir, err)
	}
	if group >= 0 {
		if err := os.Chown(dir, -1, group); err != nil {
			return fmt.Errorf("give %s to group %d: %w", dir, group, err)
		}
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("set the mode of %s: %w", dir, err)
	}
	return nil
}

func protect(f *os.File, mode os.FileMode, group int) error {
	if group >= 0 {
		if err := f.Chown(-1, group); err != nil {
			return fmt.Errorf("give %s to group %d: %w", f.Name(), group, err)
		}
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("set the mode of %s: %w", f.Name(), err)
	}
	return nil
}

// runPgDump writes the archive to out. pg_dump gets only the connection's PG* variables:
// nothing of the caller's environment (root's PGPASSFILE, PGSERVICE, …) changes what it
// reaches.
func runPgDump(ctx context.Context, tool string, ci *pgsetup.ConnInfo, as *svcuser.Account, out *os.File) error {
	cmd := exec.CommandContext(ctx, tool, "--format=custom", "--no-password")
	cmd.Env = ConnEnv(ci)
	cmd.Dir = "/"
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if as != nil && as.UID != os.Geteuid() {
		if os.Geteuid() != 0 {
			return fmt.Errorf("pg_dump must run as the %s user to log in to %s, which needs root: run the backup with sudo", as.Name, ci)
		}
		groups := make([]uint32, len(as.Groups))
		for i, g := range as.Groups {
			groups[i] = uint32(g)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(as.UID), Gid: uint32(as.GID), Groups: groups}}
		cmd.Env = append(cmd.Env, "HOME="+as.Home, "USER="+as.Name, "LOGNAME="+as.Name)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("back up %s: %s failed: %s; %s", ci, tool, msg, hint(msg, ci))
	}
	return nil
}

// hint turns pg_dump's complaint into the next step.
func hint(msg string, ci *pgsetup.ConnInfo) string {
	switch {
	case strings.Contains(msg, "server version mismatch") || strings.Contains(msg, "aborting because of server version mismatch"):
		return "pg_dump must be at least as new as the server: install the client of the server's version (apt install postgresql-client-NN, or dnf install postgresqlNN) and run the backup again"
	case strings.Contains(msg, "password authentication failed") || strings.Contains(msg, "no password supplied") || strings.Contains(msg, "Peer authentication failed"):
		return fmt.Sprintf("check the POSTGRES_USER and POSTGRES_PASSWORD settings for user %s (`mathesar doctor`)", ci.User)
	case strings.Contains(msg, "connection to server") || strings.Contains(msg, "could not connect") || strings.Contains(msg, "No such file or directory"):
		return "check that PostgreSQL is running and reachable (`mathesar doctor`)"
	default:
		return "fix the error above and run the backup again"
	}
}

// ConnEnv is the environment that makes libpq tools (pg_dump, pg_restore, psql) reach ci:
// PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE and, if there is one, PGPASSWORD, plus a
// connect timeout so an unreachable server fails in seconds. Sorted.
func ConnEnv(ci *pgsetup.ConnInfo) []string {
	ssl := ci.SSLMode
	if ssl == "" {
		ssl = "prefer" // Mathesar's default for POSTGRES_SSLMODE
	}
	env := []string{
		"LC_ALL=C",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"PGAPPNAME=mathesar-backup",
		"PGCONNECT_TIMEOUT=10",
		"PGDATABASE=" + ci.Database,
		"PGHOST=" + ci.Host,
		"PGPORT=" + strconv.Itoa(ci.Port),
		"PGSSLMODE=" + ssl,
		"PGUSER=" + ci.User,
	}
	if ci.Password != "" {
		env = append(env, "PGPASSWORD="+ci.Password)
	}
	sort.Strings(env)
	return env
}

// archiveMagic starts every custom-format archive (pg_backup_archiver.c).
var archiveMagic = []byte("PGDMP")

// checkArchive proves f is a readable archive: it starts with the magic, and pg_restore
// (beside pg_dump) can list its contents. It returns the size.
func checkArchive(ctx context.Context, f *os.File, pgDump string) (int64, error) {
	head := make([]byte, len(archiveMagic))
	if _, err := f.ReadAt(head, 0); err != nil {
		return 0, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if !bytes.Equal(head, archiveMagic) {
		return 0, fmt.Errorf("%s is not a pg_dump archive", f.Name())
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	restore := filepath.Join(filepath.Dir(pgDump), "pg_restore")
	if _, err := os.Stat(restore); err == nil {
		cmd := exec.CommandContext(ctx, restore, "--list", f.Name())
		cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		cmd.Stdout = io.Discard
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("pg_restore --list: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
	}
	return fi.Size(), nil
}

// syncDir makes the rename durable; a failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// unsafeInName are the characters a version may hold that have no place in a file name
// (a deb epoch's colon, a path separator).
var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._+~-]`)

// FileName is the name of a dump of database db taken at t by version label.
func FileName(db, label string, t time.Time) string {
	return db + "-" + unsafeInName.ReplaceAllString(label, "_") + "-" + t.UTC().Format(stampLayout) + ".dump"
}

// Dumps are the dumps of one database in a directory, oldest first.
type Dumps []DumpFile

// DumpFile is one dump found in a backup directory.
type DumpFile struct {
	Path  string
	Label string
	Time  time.Time
}

// List returns the dumps of database db in dir, oldest first (by the time in the name,
// then by name). Files that do not follow FileName's pattern are not Mathesar's and are
// left out. A missing directory has no dumps.
func List(dir, db string) (Dumps, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the backups in %s: %w", dir, err)
	}
	var out Dumps
	prefix := db + "-"
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".dump") {
			continue
		}
		rest := strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".dump")
		i := strings.LastIndexByte(rest, '-')
		if i <= 0 {
			continue
		}
		t, err := time.Parse(stampLayout, rest[i+1:])
		if err != nil {
			continue
		}
		out = append(out, DumpFile{Path: filepath.Join(dir, name), Label: rest[:i], Time: t})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// WithLabel returns the dumps taken with label (as FileName writes it), oldest first.
func (d Dumps) WithLabel(label string) Dumps {
	want := unsafeInName.ReplaceAllString(label, "_")
	var out Dumps
	for _, f := range d {
		if f.Label == want {
			out = append(out, f)
		}
	}
	return out
}

// Rotate deletes all but the newest keep dumps of database db in dir and returns the
// deleted paths, oldest first.
func Rotate(dir, db string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("keep %d dumps: keep at least 1", keep)
	}
	all, err := List(dir, db)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i := 0; i < len(all)-keep; i++ {
		if err := os.Remove(all[i].Path); err != nil {
			return removed, fmt.Errorf("remove the old dump %s: %w", all[i].Path, err)
		}
		removed = append(removed, all[i].Path)
	}
	return removed, nil
}

// RestoreCommand is the command that puts database ci.Database back as it was in dump:
// pg_restore --create --clean drops the database and creates it again from the archive,
// so tables that a failed or unwanted migration added go too, and a later upgrade
// migrates from a clean state. It connects to the maintenance database postgres as the
// database's owner, which may drop it and, with CREATEDB (which `mathesar setup` grants),
// create it. Nothing may be connected to the database meanwhile: stop Mathesar first.
// osUser, when not empty, prefixes `sudo -u osUser`, the OS user that peer authentication
// lets in as ci.User and that may read the dump. No password is in the command: pg_restore
// asks for one when the server wants it.
func RestoreCommand(ci *pgsetup.ConnInfo, dump, osUser string) []string {
	var argv []string
	if osUser != "" {
		argv = append(argv, "sudo", "-u", osUser)
	}
	return append(argv, "pg_restore",
		"--host", ci.Host, "--port", strconv.Itoa(ci.Port), "--username", ci.User,
		"--dbname", "postgres", "--clean", "--if-exists", "--create", dump)
}

// Probe tells whether a PostgreSQL server listens where ci points (its socket file or
// TCP port), without logging in: a backup of a server that is down is skipped rather than
// failed when the caller allows it.
func Probe(ctx context.Context, ci *pgsetup.ConnInfo, timeout time.Duration) error {
	network, addr := "tcp", net.JoinHostPort(ci.Host, strconv.Itoa(ci.Port))
	if strings.HasPrefix(ci.Host, "/") {
		network, addr = "unix", filepath.Join(ci.Host, ".s.PGSQL."+strconv.Itoa(ci.Port))
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("no PostgreSQL server answers at %s: %w", addr, err)
	}
	return c.Close()
}

// toolDirs are where packagers put versioned PostgreSQL client programs.
var toolDirs = []string{
	"/usr/lib/postgresql/*/bin",                       // Debian, Ubuntu
	"/usr/pgsql-*/bin",                                // PGDG RPMs
	"/opt/homebrew/opt/postgresql@*/bin",              // Homebrew, Apple silicon
	"/usr/local/opt/postgresql@*/bin",                 // Homebrew, Intel
	"/home/linuxbrew/.linuxbrew/opt/postgresql@*/bin", // Homebrew on Linux
}

var majorInPath = regexp.MustCompile(`(?:postgresql/|pgsql-|postgresql@)(\d+)`)

// FindTool returns the newest versioned PostgreSQL client program called name (pg_dump,
// pg_restore) in the packagers' directories, else the one on PATH. The newest, because
// pg_dump refuses a server newer than itself and reads any older one; Debian's
// /usr/bin/pg_dump wrapper would pick the version of a local cluster, which need not be
// the server the dump is of.
func FindTool(name string) (string, error) {
	return findTool(name, toolDirs, os.Getenv("PATH"))
}

func findTool(name string, globs []string, path string) (string, error) {
	best, bestMajor := "", -1
	for _, pattern := range globs {
		dirs, _ := filepath.Glob(pattern) // only ErrBadPattern, impossible for these constants
		for _, d := range dirs {
			m := majorInPath.FindStringSubmatch(d)
			if m == nil {
				continue
			}
			major, _ := strconv.Atoi(m[1])
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				continue
			}
			if major > bestMajor {
				best, bestMajor = p, major
			}
		}
	}
	if best != "" {
		return best, nil
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (looked in %s and PATH): install the PostgreSQL client (apt install postgresql-client, or dnf install postgresql)", name, strings.Join(globs, ", "))
}
