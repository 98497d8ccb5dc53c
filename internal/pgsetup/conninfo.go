// Package pgsetup gives Mathesar its internal PostgreSQL database: it validates a remote
// server, bootstraps the role and database on the machine's own PostgreSQL (system mode), or
// runs a private socket-only cluster for one user (user mode), and describes the result as
// the POSTGRES_* settings Mathesar reads.
package pgsetup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of Mathesar's documented internal-database set-up.
const (
	DefaultRole     = "mathesar"
	DefaultDatabase = "mathesar_django"
	DefaultPort     = 5432
)

// ConnInfo is where Mathesar's internal database lives. Host is a host name, an IP address
// or an absolute Unix socket directory.
type ConnInfo struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	SSLMode  string // disable, prefer or require; empty means Mathesar's default (prefer)
}

// Env returns the settings as POSTGRES_* assignments for Mathesar's environment, sorted by
// name. POSTGRES_PASSWORD is present only when there is a password.
func (c *ConnInfo) Env() []string {
	env := []string{
		"POSTGRES_DB=" + c.Database,
		"POSTGRES_HOST=" + c.Host,
		"POSTGRES_PORT=" + strconv.Itoa(c.Port),
		"POSTGRES_USER=" + c.User,
	}
	if c.Password != "" {
		env = append(env, "POSTGRES_PASSWORD="+c.Password)
	}
	if c.SSLMode != "" {
		env = append(env, "POSTGRES_SSLMODE="+c.SSLMode)
	}
	sort.Strings(env)
	return env
}

// String is a postgres:// URL without the password, fit for logs and messages.
func (c *ConnInfo) String() string {
	return c.url(false)
}

// url renders the connection as a URL; the password is included only for handing the URL to
// pgx in memory, never for printing.
func (c *ConnInfo) url(withPassword bool) string {
	u := url.URL{Scheme: "postgres", Path: "/" + c.Database}
	if withPassword && c.Password != "" {
		u.User = url.UserPassword(c.User, c.Password)
	} else {
		u.User = url.User(c.User)
	}
	q := url.Values{}
	if strings.HasPrefix(c.Host, "/") {
		// A socket directory cannot be written in the authority part of a URL.
		q.Set("host", c.Host)
		q.Set("port", strconv.Itoa(c.Port))
	} else {
		u.Host = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	}
	if c.SSLMode != "" {
		q.Set("sslmode", c.SSLMode)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// hostPort names the server in messages: HOST:PORT, or SOCKETDIR:PORT for a socket.
func (c *ConnInfo) hostPort() string {
	if strings.HasPrefix(c.Host, "/") {
		return c.Host + ":" + strconv.Itoa(c.Port)
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// ParseConnectionString reads a postgres:// or postgresql:// URL or a key=value DSN with
// pgx's parser, so it accepts what libpq accepts. As with psql, parts left out take libpq's
// defaults (PG* environment variables, ~/.pgpass, then localhost:5432 and the OS user).
// Mathesar takes one server and sslmode disable, prefer or require; anything else is refused
// with the reason.
func ParseConnectionString(s string) (*ConnInfo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty connection string: give one like postgres://mathesar:PASSWORD@db.example.com:5432/mathesar_django")
	}
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		// pgconn's parse errors never echo the password (it masks it), so they are safe to show.
		return nil, fmt.Errorf("read connection string: %w; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE or \"host=HOST user=USER dbname=DATABASE\"", err)
	}
	for _, fb := range cfg.Fallbacks {
		if fb.Host != cfg.Host || fb.Port != cfg.Port {
			return nil, fmt.Errorf("connection string names several servers (%s:%d, %s:%d, …); Mathesar connects to one: keep one host", cfg.Host, cfg.Port, fb.Host, fb.Port)
		}
	}
	mode, err := sslModeOf(cfg)
	if err != nil {
		return nil, err
	}
	return &ConnInfo{
		Host:     cfg.Host,
		Port:     int(cfg.Port),
		User:     cfg.User,
		Password: cfg.Password,
		Database: cfg.Database,
		SSLMode:  mode,
	}, nil
}

// sslModeOf recovers the sslmode from the TLS attempts pgconn built. pgconn exposes no
// parsed sslmode and has no exported DSN parser, and re-parsing the DSN grammar by hand
// would be a second parser to keep in step with libpq's; the TLS attempts are what the
// mode means, so they are read instead.
func sslModeOf(cfg *pgconn.Config) (string, error) {
	if strings.HasPrefix(cfg.Host, "/") {
		return "disable", nil // PostgreSQL never uses TLS on a Unix socket
	}
	unsupported := func(m string) error {
		return fmt.Errorf("sslmode %s is not supported: Mathesar's POSTGRES_SSLMODE takes disable, prefer or require", m)
	}
	plainFallback, tlsFallback := false, false
	for _, fb := range cfg.Fallbacks {
		if fb.TLSConfig == nil {
			plainFallback = true
		} else {
			tlsFallback = true
		}
	}
	switch {
	case cfg.TLSConfig == nil && tlsFallback:
		return "", unsupported("allow")
	case cfg.TLSConfig == nil:
		return "disable", nil
	case plainFallback:
		return "prefer", nil
	case cfg.TLSConfig.InsecureSkipVerify && cfg.TLSConfig.VerifyPeerCertificate == nil:
		return "require", nil
	default:
		return "", unsupported("verify-ca/verify-full (or require with sslrootcert)")
	}
}

// ConnInfoFromEnv reads POSTGRES_* settings through getenv (os.Getenv, or a lookup in a
// config file). ok is false when none of DB, USER and HOST is set; setting only some of them
// is an error, as Mathesar requires them together.
func ConnInfoFromEnv(getenv func(string) string) (ci *ConnInfo, ok bool, err error) {
	db, usr, host := getenv("POSTGRES_DB"), getenv("POSTGRES_USER"), getenv("POSTGRES_HOST")
	if db == "" && usr == "" && host == "" {
		return nil, false, nil
	}
	var missing []string
	for _, kv := range [][2]string{{"POSTGRES_DB", db}, {"POSTGRES_HOST", host}, {"POSTGRES_USER", usr}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return nil, false, fmt.Errorf("%s not set: Mathesar needs POSTGRES_DB, POSTGRES_USER and POSTGRES_HOST together", strings.Join(missing, ", "))
	}
	ci = &ConnInfo{Host: host, Port: DefaultPort, User: usr, Database: db,
		Password: getenv("POSTGRES_PASSWORD"), SSLMode: getenv("POSTGRES_SSLMODE")}
	if p := getenv("POSTGRES_PORT"); p != "" {
		ci.Port, err = strconv.Atoi(p)
		if err != nil || ci.Port <= 0 || ci.Port > 65535 {
			return nil, false, fmt.Errorf("POSTGRES_PORT=%q is not a port number: use 1-65535 (usually 5432)", p)
		}
	}
	switch ci.SSLMode {
	case "", "disable", "prefer", "require":
	default:
		return nil, false, fmt.Errorf("POSTGRES_SSLMODE=%q is not supported: use disable, prefer or require", ci.SSLMode)
	}
	return ci, true, nil
}

// connect opens a pgx connection described by ci, giving up after timeout.
func connect(ctx context.Context, ci *ConnInfo, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(ci.url(true))
	if err != nil {
		return nil, fmt.Errorf("connection settings for %s: %w", ci, err)
	}
	if timeout > 0 {
		cfg.ConnectTimeout = timeout
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// Check connects to ci and runs `select 1`, all within timeout. Its error names the server,
// database and user (never the password) and points at `mathesar doctor`.
func Check(ctx context.Context, ci *ConnInfo, timeout time.Duration) error {
	fail := func(err error) error {
		return fmt.Errorf("cannot reach PostgreSQL at %s (db %s, user %s): %w; run `mathesar doctor`",
			ci.hostPort(), ci.Database, ci.User, err)
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := connect(ctx, ci, timeout)
	if err != nil {
		return fail(err)
	}
	defer closeQuietly(conn)
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return fail(err)
	}
	return nil
}

// closeQuietly closes conn with its own short deadline, so closing never hangs on a server
// that stopped answering and never depends on an already-expired context.
func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
