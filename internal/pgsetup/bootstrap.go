package pgsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bootstrap makes sure role exists (LOGIN, CREATEDB, no password) and database db exists
// owned by it. It is idempotent and safe to run while another set-up runs it too. conn must
// belong to a superuser (or a role with CREATEROLE and CREATEDB). An existing database owned
// by another role is left alone and reported: handing it over silently could give Mathesar
// someone else's data.
func Bootstrap(ctx context.Context, conn *pgx.Conn, role, db string) error {
	if role == "" || db == "" {
		return errors.New("bootstrap needs a role and a database name")
	}
	roleID := pgx.Identifier{role}.Sanitize()
	dbID := pgx.Identifier{db}.Sanitize()

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE ROLE "+roleID+" LOGIN CREATEDB"); err != nil && !isCode(err, "42710") { // duplicate_object: created meanwhile
			return fmt.Errorf("create role %s: %w", role, err)
		}
	}
	// Mathesar needs both; an existing role may have been made without them.
	if _, err := conn.Exec(ctx, "ALTER ROLE "+roleID+" LOGIN CREATEDB"); err != nil {
		return fmt.Errorf("grant LOGIN CREATEDB to role %s: %w", role, err)
	}

	owner, err := databaseOwner(ctx, conn, db)
	if err != nil {
		return err
	}
	if owner == "" {
		// CREATE DATABASE cannot run in a transaction; pgx sends an argument-less Exec as one
		// simple-protocol statement, outside any transaction.
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+dbID+" OWNER "+roleID+" ENCODING 'UTF8' TEMPLATE template0"); err != nil && !isCode(err, "42P04") { // duplicate_database
			return fmt.Errorf("create database %s: %w", db, err)
		}
		if owner, err = databaseOwner(ctx, conn, db); err != nil {
			return err
		}
	}
	if owner != role {
		return fmt.Errorf("database %s already exists but is owned by %s, not %s: as a PostgreSQL superuser run `ALTER DATABASE %s OWNER TO %s;` if it is Mathesar's, or choose another database name",
			db, owner, role, dbID, roleID)
	}
	return nil
}

func databaseOwner(ctx context.Context, conn *pgx.Conn, db string) (string, error) {
	var owner string
	err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1", db).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up database %s: %w", db, err)
	}
	return owner, nil
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// childEnv marks a process started by runChild. Its value is ignored; the request comes on
// stdin so that nothing about the database appears in the process list.
const childEnv = "MATHESAR_PGSETUP_CHILD"

// childRequest is what a parent asks of a child running as another OS user.
type childRequest struct {
	Op        string `json:"op"` // "bootstrap" or "whoami"
	SocketDir string `json:"socket_dir"`
	Port      int    `json:"port"`
	User      string `json:"user"`     // role to log in as (peer authentication)
	Database  string `json:"database"` // database to log in to
	Role      string `json:"role,omitempty"`
	TargetDB  string `json:"target_db,omitempty"`
	TimeoutMS int64  `json:"timeout_ms"`
}

type childResult struct {
	Error       string `json:"error,omitempty"`
	CurrentUser string `json:"current_user,omitempty"`
}

// ChildMain must be called at the start of main() (and of TestMain in tests that reach
// EnsureSystemDatabase). In an ordinary run it returns false at once. In a process that
// EnsureSystemDatabase started as another OS user it does the requested database work,
// writes the result to stdout and exits; it never returns then.
func ChildMain() (handled bool) {
	if os.Getenv(childEnv) == "" {
		return false
	}
	var req childRequest
	var res childResult
	if err := json.NewDecoder(io.LimitReader(os.Stdin, 1<<20)).Decode(&req); err != nil {
		res.Error = fmt.Sprintf("read request on stdin: %v", err)
	} else {
		res = serveChild(req)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(2)
	}
	if res.Error != "" {
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

func serveChild(req childRequest) childResult {
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ci := &ConnInfo{Host: req.SocketDir, Port: req.Port, User: req.User, Database: req.Database, SSLMode: "disable"}
	conn, err := connect(ctx, ci, min(timeout, connectTimeout))
	if err != nil {
		return childResult{Error: fmt.Sprintf("connect to %s as %s: %v", ci.hostPort(), req.User, err)}
	}
	defer closeQuietly(conn)
	switch req.Op {
	case "bootstrap":
		if err := Bootstrap(ctx, conn, req.Role, req.TargetDB); err != nil {
			return childResult{Error: err.Error()}
		}
		return childResult{}
	case "whoami":
		var who string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
			return childResult{Error: fmt.Sprintf("query current_user: %v", err)}
		}
		return childResult{CurrentUser: who}
	default:
		return childResult{Error: fmt.Sprintf("unknown request %q", req.Op)}
	}
}
