package pgsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// connectTimeout bounds every attempt to reach a local server, so set-up never hangs on a
// server that is starting, stuck or absent.
const connectTimeout = 3 * time.Second

// SystemOptions describe the machine's own PostgreSQL and what to create in it. Zero fields
// take the defaults in brackets.
type SystemOptions struct {
	SocketDir   string        // server's Unix socket directory [/var/run/postgresql]
	Port        int           // server port, which names the socket file [5432]
	SuperUser   string        // OS user that peer authentication lets in as the same-named superuser role [postgres]
	Role        string        // role Mathesar logs in as [mathesar]
	Database    string        // Mathesar's database, owned by Role [mathesar_django]
	ServiceUser string        // OS user the Mathesar service runs as [mathesar]
	Timeout     time.Duration // whole set-up, including CREATE DATABASE [30s]
}

func (o *SystemOptions) setDefaults() {
	if o.SocketDir == "" {
		o.SocketDir = "/var/run/postgresql"
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.SuperUser == "" {
		o.SuperUser = "postgres"
	}
	if o.Role == "" {
		o.Role = DefaultRole
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.ServiceUser == "" {
		o.ServiceUser = DefaultRole
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
}

// NotRunningError says that no PostgreSQL server answers on the local socket. Installed
// tells whether server binaries were found, which changes the advice.
type NotRunningError struct {
	Socket    string // the socket file that was tried
	Installed bool
	Err       error
}

func (e *NotRunningError) Error() string {
	const elsewhere = " and run `sudo mathesar setup`, or point Mathesar at another server with `sudo mathesar setup --connection-string postgres://…`"
	if !e.Installed {
		return "PostgreSQL is not running (it does not seem to be installed; no server at " + e.Socket + "): install and start it (sudo apt install postgresql, or sudo dnf install postgresql-server && sudo postgresql-setup --initdb && sudo systemctl start postgresql)" + elsewhere
	}
	return "PostgreSQL is not running (no server at " + e.Socket + "): start it (sudo systemctl start postgresql)" + elsewhere
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// EnsureSystemDatabase creates Role and Database in the local PostgreSQL through peer
// authentication as SuperUser, idempotently, and returns how the service connects: over the
// socket as Role, by peer authentication, with no password. When the process is not already
// SuperUser it must be root; the SQL then runs in a re-executed copy of this program as
// SuperUser (see ChildMain). If the OS account ServiceUser exists, the function also proves
// that it can log in as Role. A server that is absent or not running gives a
// *NotRunningError within a few seconds.
func EnsureSystemDatabase(ctx context.Context, opts SystemOptions) (*ConnInfo, error) {
	opts.setDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	socket := filepath.Join(opts.SocketDir, ".s.PGSQL."+strconv.Itoa(opts.Port))
	d := net.Dialer{Timeout: connectTimeout}
	probe, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		_, _, binErr := FindServerBinaries()
		return nil, &NotRunningError{Socket: socket, Installed: binErr == nil, Err: err}
	}
	probe.Close()

	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("look up the current OS user: %w", err)
	}
	req := childRequest{Op: "bootstrap", SocketDir: opts.SocketDir, Port: opts.Port,
		User: opts.SuperUser, Database: "postgres", Role: opts.Role, TargetDB: opts.Database}
	if _, err := runAs(ctx, me, opts.SuperUser, req); err != nil {
		return nil, fmt.Errorf("create role %s and database %s as OS user %s: %w", opts.Role, opts.Database, opts.SuperUser, err)
	}

	ci := &ConnInfo{Host: opts.SocketDir, Port: opts.Port, User: opts.Role, Database: opts.Database, SSLMode: "disable"}
	if _, err := user.Lookup(opts.ServiceUser); err == nil {
		req := childRequest{Op: "whoami", SocketDir: opts.SocketDir, Port: opts.Port, User: opts.Role, Database: opts.Database}
		who, err := runAs(ctx, me, opts.ServiceUser, req)
		if err == nil && who != opts.Role {
			err = fmt.Errorf("logged in as %s", who)
		}
		if err != nil {
			return nil, fmt.Errorf("role %s and database %s are ready, but OS user %s cannot log in as %s over %s: %w; make sure pg_hba.conf lets it in by peer authentication (Debian's default `local all all peer` does) and run `sudo mathesar setup` again",
				opts.Role, opts.Database, opts.ServiceUser, opts.Role, opts.SocketDir, err)
		}
	}
	return ci, nil
}

// runAs performs req as OS user osUser: in this process when it already is that user,
// otherwise in a child of this executable started with that user's credentials, which
// needs root. It returns the child's current_user for "whoami".
func runAs(ctx context.Context, me *user.User, osUser string, req childRequest) (string, error) {
	deadline, ok := ctx.Deadline()
	if ok {
		req.TimeoutMS = time.Until(deadline).Milliseconds()
	}
	if me.Username == osUser {
		res := serveChild(req)
		if res.Error != "" {
			return "", errors.New(res.Error)
		}
		return res.CurrentUser, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("this needs root to act as OS user %s: run it with sudo", osUser)
	}
	u, err := user.Lookup(osUser)
	if err != nil {
		return "", fmt.Errorf("look up OS user %s: %w", osUser, err)
	}
	cmd, err := selfCommandAs(u)
	if err != nil {
		return "", err
	}
	defer closeExtraFiles(cmd)
	// A clean environment: the child must not pick up root's PG* variables or ~/.pgpass.
	cmd.Env = []string{childEnv + "=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("encode request: %w", err)
	}
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s as OS user %s: %w", cmd.Path, osUser, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	waitErr := cmd.Wait()
	stop()
	if ctx.Err() != nil {
		return "", fmt.Errorf("helper process as OS user %s did not finish in time: %w", osUser, ctx.Err())
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return "", fmt.Errorf("helper process as OS user %s failed (%v): %s", osUser, waitErr, strings.TrimSpace(stderr.String()))
	}
	if res.Error != "" {
		return "", errors.New(res.Error)
	}
	return res.CurrentUser, nil
}
