package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/config"
	"github.com/mathesar-foundation/mathesar-packaging/internal/envfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

type setupOptions struct {
	connectionString string
	local            pgsetup.SystemOptions
	skipMigrations   bool
	allowNoPostgres  bool
	quiet            bool
	noStart          bool
}

func (a *app) setupCommand() *cobra.Command {
	var o setupOptions
	var noPrompt bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Create the configuration and the internal database, then migrate (safe to run again)",
		Long: `Make this instance ready to run, idempotently:

  1. check the internal database: the one in --connection-string (validated by connecting
     before anything is written), the one already configured, or else the owned one: in a
     system install role "mathesar" and database "mathesar_django" in the local PostgreSQL,
     reached over its Unix socket by peer authentication (no password stored); in a user
     install a private cluster under the data directory;
  2. write the config file, generating SECRET_KEY if there is none (an existing key is
     never replaced);
  3. run the migrations (static files come collected in the bundle);
  4. in a system install, when root runs it, systemd is running and mathesar.service is
     enabled: restart the service, so it runs with what setup just did (--no-start leaves
     it alone; the package scripts use that and start the service themselves);
  5. print the URL to open.

Setup never prompts. Use --connection-string - to read the string from standard input,
so the password stays out of the process list.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fromStdin := o.connectionString == "-"
			if fromStdin {
				s, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read the connection string from standard input: %w", err)
				}
				o.connectionString = strings.TrimSpace(s)
			}
			_ = noPrompt
			if cmd.Flags().Changed("connection-string") && o.connectionString != "" && !fromStdin {
				if ci, err := pgsetup.ParseConnectionString(o.connectionString); err == nil && ci.Password != "" {
					fmt.Fprintln(a.stderr, "warning: the password in --connection-string is visible to other users in the process list while setup runs; next time pass it on standard input: --connection-string -")
				}
			}
			return a.setup(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.connectionString, "connection-string", "", "use an existing database: postgres://USER:PASSWORD@HOST:PORT/DB (or - to read it from standard input)")
	f.StringVar(&o.local.SocketDir, "postgres-socket-dir", "/var/run/postgresql", "system install: Unix socket directory of the local PostgreSQL")
	f.IntVar(&o.local.Port, "postgres-port", 5432, "system install: port of the local PostgreSQL (names its socket)")
	f.BoolVar(&o.skipMigrations, "skip-migrations", false, "write the configuration and database only")
	f.BoolVar(&o.allowNoPostgres, "allow-missing-postgres", false, "when the local PostgreSQL is absent or stopped, say how to finish and exit 0 (for package scripts)")
	f.BoolVarP(&noPrompt, "no-prompt", "n", false, "accepted for compatibility; setup never prompts")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the final summary")
	f.BoolVar(&o.noStart, "no-start", false, "do not (re)start mathesar.service at the end")
	return cmd
}

func (a *app) setup(ctx context.Context, o setupOptions) error {
	system := a.layout.Mode == layout.System
	var acct *svcuser.Account
	if system {
		if os.Geteuid() != 0 {
			return errors.New("setting up a system install needs root: run `sudo mathesar setup`")
		}
		var err error
		if acct, err = svcuser.Lookup(ServiceAccount); err != nil {
			return fmt.Errorf("the %s system user does not exist (%v): reinstall the package, or create it with `sudo useradd --system --home-dir /var/lib/mathesar --shell /usr/sbin/nologin mathesar`", ServiceAccount, err)
		}
	}
	res, err := a.settings(nil, false)
	if err != nil {
		return err
	}

	// 1. The database, checked before anything is written.
	ci, cluster, err := a.setupDatabase(ctx, o, settingGetter(res), system)
	if err != nil {
		var nr *pgsetup.NotRunningError
		if o.allowNoPostgres && errors.As(err, &nr) {
			if werr := a.writeBaseConfig(acct); werr != nil {
				return werr
			}
			fmt.Fprintf(a.stdout, "==> Mathesar is installed but not set up yet: %v\n", err)
			return nil
		}
		return err
	}
	if cluster != nil {
		defer cluster.Stop(context.WithoutCancel(ctx))
	}

	// 2. The config file.
	if err := a.writeBaseConfig(acct); err != nil {
		return err
	}
	if err := a.writeDatabaseConfig(ci, cluster != nil); err != nil {
		return err
	}
	if err := a.ensureDirs(acct, res); err != nil {
		return err
	}

	// 3. Migrations, as the service user, in a child so this root process stays root.
	if !o.skipMigrations {
		if !o.quiet {
			fmt.Fprintln(a.stdout, "running the migrations...")
		}
		if err := a.runSelf(ctx, "migrate"); err != nil {
			return fmt.Errorf("migrations failed: %w; fix the error above and run `%s` again", err, a.setupHint())
		}
	}
	started, err := a.startAfterSetup(ctx, o.noStart)
	a.printReady(ci, res, started)
	return err
}

// setupDatabase decides which database Mathesar uses and proves it can be reached.
func (a *app) setupDatabase(ctx context.Context, o setupOptions, getenv func(string) string, system bool) (*pgsetup.ConnInfo, *pgsetup.Cluster, error) {
	if o.connectionString != "" {
		ci, err := pgsetup.ParseConnectionString(o.connectionString)
		if err != nil {
			return nil, nil, err
		}
		if err := pgsetup.Check(ctx, ci, dbTimeout); err != nil {
			return nil, nil, fmt.Errorf("%w\nnothing was written; fix the connection string and run setup again", err)
		}
		return ci, nil, nil
	}
	if ci, ok, err := pgsetup.ConnInfoFromEnv(getenv); err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, a.layout.ConfigFile)
	} else if ok && !a.isOwnedDatabase(ci, o.local) {
		return ci, nil, a.checkAsService(ctx, ci)
	}
	if system {
		ci, err := pgsetup.EnsureSystemDatabase(ctx, o.local)
		return ci, nil, err
	}
	cluster, err := pgsetup.NewCluster(a.layout.PGDataDir())
	if err != nil {
		return nil, nil, err
	}
	if err := cluster.Init(ctx); err != nil {
		return nil, nil, fmt.Errorf("create the private PostgreSQL cluster in %s: %w", cluster.DataDir, err)
	}
	if err := cluster.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("start the private PostgreSQL cluster in %s: %w", cluster.DataDir, err)
	}
	return cluster.ConnInfo(), cluster, nil
}

// isOwnedDatabase tells whether configured settings point at the database setup itself
// creates, which setup then re-creates idempotently instead of only checking it.
func (a *app) isOwnedDatabase(ci *pgsetup.ConnInfo, local pgsetup.SystemOptions) bool {
	if a.layout.Mode == layout.System {
		return ci.Host == local.SocketDir && ci.Port == local.Port && ci.Password == "" && ci.User == pgsetup.DefaultRole && ci.Database == pgsetup.DefaultDatabase
	}
	return strings.HasPrefix(ci.Host, "/") && ci.Password == "" && ci.Database == pgsetup.DefaultDatabase
}

// writeBaseConfig creates the config file if needed and gives it a SECRET_KEY, never
// replacing one that is there.
func (a *app) writeBaseConfig(acct *svcuser.Account) error {
	path := a.layout.ConfigFile
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	entries, _, err := envfile.ParseFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	created := errors.Is(err, os.ErrNotExist)
	if created {
		if err := writeNewConfig(path); err != nil {
			return err
		}
	}
	if !hasValue(entries, "SECRET_KEY") {
		key, err := secretKey()
		if err != nil {
			return err
		}
		if err := envfile.Set(path, "SECRET_KEY", key); err != nil {
			return fmt.Errorf("write SECRET_KEY to %s: %w", path, err)
		}
	}
	return protectConfig(path, acct)
}

const configHeader = `# Mathesar settings, read by the mathesar command and by mathesar.service
# (EnvironmentFile=). One KEY=value per line; see ` + "`mathesar config show`" + `.
# Keep this file private: it holds SECRET_KEY and database credentials.
`

func writeNewConfig(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(configHeader); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link, not rename: a file created meanwhile by someone else is never replaced.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// protectConfig gives the file its owner and mode: root:mathesar 0640 for a system
// install, so the service can read it and nobody else can; 0600 for a user.
func protectConfig(path string, acct *svcuser.Account) error {
	if acct == nil {
		return os.Chmod(path, 0o600)
	}
	if err := os.Chown(path, 0, acct.GID); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return os.Chmod(path, 0o640)
}

func hasValue(entries []envfile.Entry, key string) bool {
	for _, e := range entries {
		if e.Key == key && e.Value != "" {
			return true
		}
	}
	return false
}

// secretKey returns 64 random characters from [A-Za-z0-9] (about 380 bits); no character
// needs quoting in an env file.
func secretKey() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	return randomString(alphabet, 64), nil
}

func randomString(alphabet string, n int) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) < 256-256%len(alphabet) {
			out[i] = alphabet[int(buf[0])%len(alphabet)]
			i++
		}
	}
	return string(out)
}

// writeDatabaseConfig records how Mathesar reaches its database. A password goes only into
// the config file; an owned database stores none.
func (a *app) writeDatabaseConfig(ci *pgsetup.ConnInfo, private bool) error {
	path := a.layout.ConfigFile
	values := map[string]string{
		"POSTGRES_DB":   ci.Database,
		"POSTGRES_USER": ci.User,
		"POSTGRES_HOST": ci.Host,
		"POSTGRES_PORT": strconv.Itoa(ci.Port),
	}
	if ci.SSLMode != "" {
		values["POSTGRES_SSLMODE"] = ci.SSLMode
	}
	for _, k := range []string{"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_SSLMODE"} {
		v, ok := values[k]
		if !ok {
			continue
		}
		if err := envfile.Set(path, k, v); err != nil {
			return fmt.Errorf("write %s to %s: %w", k, path, err)
		}
	}
	if ci.Password != "" {
		return envfile.Set(path, "POSTGRES_PASSWORD", ci.Password)
	}
	return envfile.Unset(path, "POSTGRES_PASSWORD")
}

// ensureDirs creates the data, media and cache directories, owned by the service
// account in a system install.
func (a *app) ensureDirs(acct *svcuser.Account, res *config.Resolved) error {
	dirs := []string{a.layout.DataDir, a.layout.MediaDir()}
	if acct != nil {
		root, err := a.cacheRoot(res)
		if err != nil {
			return err
		}
		dirs = append(dirs, root)
		for _, d := range dirs {
			if err := svcuser.EnsureDir(d, 0o750, acct); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

// runSelf runs this launcher again with args, passing the environment on.
func (a *app) runSelf(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, a.layout.Executable, args...)
	cmd.Env = a.environ
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	return cmd.Run()
}

func (a *app) printReady(ci *pgsetup.ConnInfo, res *config.Resolved, start string) {
	url := "http://localhost:8000/"
	if addr, port, err := listenAddress(res); err == nil {
		url = browseURL(addr, port)
	}
	fmt.Fprintf(a.stdout, `
==> Mathesar is set up.
    Internal database: %s
    Config file:       %s
    %s
    Then open %s in your browser. The first visit asks you to create
    the admin user. To reach Mathesar by another name, add it to ALLOWED_HOSTS:
    %smathesar config set ALLOWED_HOSTS mathesar.example.org
`, ci, a.layout.ConfigFile, start, url, sudoPrefix(a.layout.Mode))
}

func sudoPrefix(m layout.Mode) string {
	if m == layout.System {
		return "sudo "
	}
	return ""
}
