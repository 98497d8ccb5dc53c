package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/appenv"
	"github.com/mathesar-foundation/mathesar-packaging/internal/config"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/portcheck"
)

func (a *app) runCommand() *cobra.Command {
	var (
		port                                          int
		addr                                          string
		preferEnv, setupDjango, fallbackDB, noVirtEnv bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start Mathesar's web server",
		Long: `Start Mathesar's web server (gunicorn) with the bundle and the configured database.

Settings come from the config file, the environment and these flags; see
` + "`mathesar config show`" + `. With no database configured in a user install, or with
--fallback-to-inbuilt-db, run starts a private PostgreSQL cluster under the data directory
(Unix socket only, no TCP port) and stops it on exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := map[string]string{}
			if cmd.Flags().Changed("port") {
				flags["MATHESAR_PORT"] = strconv.Itoa(port)
			}
			if cmd.Flags().Changed("addr") {
				flags["MATHESAR_ADDR"] = addr
			}
			if noVirtEnv {
				fmt.Fprintln(a.stderr, "note: --no-venv has no effect: the bundle needs no virtualenv")
			}
			return a.run(cmd.Context(), flags, preferEnv, setupDjango, fallbackDB)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&port, "port", "p", 8000, "TCP port to listen on (MATHESAR_PORT)")
	f.StringVarP(&addr, "addr", "a", "0.0.0.0", "address to listen on (MATHESAR_ADDR)")
	f.BoolVarP(&preferEnv, "prefer-exported-env", "e", false, "let exported environment variables win over the config file")
	f.BoolVarP(&setupDjango, "setup-django", "s", false, "run the migrations before starting")
	f.BoolVarP(&fallbackDB, "fallback-to-inbuilt-db", "f", false, "start a private PostgreSQL cluster when no database is configured")
	f.BoolVarP(&noVirtEnv, "no-venv", "n", false, "accepted for compatibility; the bundle needs no virtualenv")
	f.Lookup("no-venv").Hidden = true
	return cmd
}

func (a *app) run(ctx context.Context, flags map[string]string, preferEnv, setupDjango, fallbackDB bool) error {
	if err := a.dropPrivileges(); err != nil {
		return err
	}
	res, err := a.settings(flags, preferEnv)
	if err != nil {
		return err
	}
	if err := a.requireSecretKey(res); err != nil {
		return err
	}
	addr, port, err := listenAddress(res)
	if err != nil {
		return err
	}
	// The port is checked first, so a clash does not start and stop the private cluster.
	if err := portcheck.Check(addr, port); err != nil {
		return err
	}
	cluster, err := a.databaseForRun(ctx, res, fallbackDB)
	if err != nil {
		return notSetUp(err)
	}
	stopCluster := func() {
		if cluster != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				fmt.Fprintf(a.stderr, "warning: stop the private PostgreSQL cluster: %v\n", err)
			}
		}
	}
	p, err := a.prepare(ctx, res)
	env := []string(nil)
	if err == nil {
		env = p.env
		if cluster != nil {
			env = withConnInfo(env, cluster.ConnInfo())
		}
		if setupDjango {
			err = a.runChild(ctx, appenv.Module(p.python.Exec(), p.tree, "mathesar.install", nil, env))
		}
	}
	if err != nil {
		if p != nil {
			p.release()
		}
		stopCluster()
		return err
	}
	fmt.Fprintf(a.stdout, "==> Mathesar is starting: open %s in your browser\n", browseURL(addr, port))
	gunicorn := appenv.Module(p.python.Exec(), p.tree, "gunicorn",
		[]string{"config.wsgi", "--bind", net.JoinHostPort(addr, strconv.Itoa(port)), "--chdir", p.tree.AppDir()}, env)
	if cluster == nil {
		return execPython(p, gunicorn)
	}
	// The private cluster must be stopped after the server exits, so here the launcher stays
	// as the parent instead of exec'ing.
	err = a.runChild(ctx, gunicorn)
	p.release()
	stopCluster()
	return err
}

func listenAddress(res *config.Resolved) (string, int, error) {
	addr, _ := res.Get("MATHESAR_ADDR")
	portSetting, _ := res.Get("MATHESAR_PORT")
	port, err := strconv.Atoi(portSetting.Value)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q (from %s) is not a port number: use 1-65535", portSetting.Value, portSetting.Origin)
	}
	return addr.Value, port, nil
}

// browseURL is the address a person opens: a wildcard listen address is reached as localhost.
func browseURL(addr string, port int) string {
	host := addr
	if ip := net.ParseIP(addr); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}

// databaseForRun checks that a database is configured. The private cluster of a user
// install (configured by setup, or used because nothing is configured in a user install or
// with -f) is started here and returned, so the caller can stop it when done.
func (a *app) databaseForRun(ctx context.Context, res *config.Resolved, fallback bool) (*pgsetup.Cluster, error) {
	ci, ok, err := pgsetup.ConnInfoFromEnv(settingGetter(res))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, a.layout.ConfigFile)
	}
	if ok && a.ownCluster(ci) == nil {
		return nil, nil
	}
	if !ok && !fallback && a.layout.Mode == layout.System {
		return nil, fmt.Errorf("no internal database is configured in %s: run `sudo mathesar setup`, or `sudo mathesar setup --connection-string postgres://…` for an existing server", a.layout.ConfigFile)
	}
	cluster, err := pgsetup.NewCluster(a.layout.PGDataDir())
	if err != nil {
		return nil, err
	}
	if err := cluster.Init(ctx); err != nil {
		return nil, fmt.Errorf("create the private PostgreSQL cluster: %w", err)
	}
	if err := cluster.Start(ctx); err != nil {
		return nil, fmt.Errorf("start the private PostgreSQL cluster: %w", err)
	}
	fmt.Fprintf(a.stderr, "using the private PostgreSQL cluster in %s\n", cluster.DataDir)
	return cluster, nil
}

// ownCluster returns the user install's private cluster when ci points at its socket.
func (a *app) ownCluster(ci *pgsetup.ConnInfo) *pgsetup.Cluster {
	if a.layout.Mode != layout.User {
		return nil
	}
	c, err := pgsetup.NewCluster(a.layout.PGDataDir())
	if err != nil || ci.Host != c.SocketDir {
		return nil
	}
	return c
}

func settingGetter(res *config.Resolved) func(string) string {
	return func(k string) string {
		s, _ := res.Get(k)
		return s.Value
	}
}

func withConnInfo(env []string, ci *pgsetup.ConnInfo) []string {
	for _, kv := range ci.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env = appenv.Set(env, k, v)
	}
	return env
}

// runChild runs Python as a child, passing SIGINT and SIGTERM on, and returns its status.
func (a *app) runChild(ctx context.Context, c appenv.Command) error {
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, a.stdout, a.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.Path, err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return exitError{code: ee.ExitCode()}
			}
			return err
		}
	}
}

func (a *app) setupHint() string {
	if a.layout.Mode == layout.System {
		return "sudo mathesar setup"
	}
	return "mathesar setup"
}
