// Package cli is the `mathesar` command: it runs Mathesar from the bundle and is the admin's
// tool for setting it up, configuring and checking it. Each command is thin; the work lives
// in the packages it calls.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/appenv"
	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/config"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyfind"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
	"github.com/mathesar-foundation/mathesar-packaging/internal/unpackcache"
)

// Version and Commit are set at link time (-ldflags "-X ...cli.Version=...").
var (
	Version = "dev"
	Commit  = ""
)

// ServiceAccount is the system user the service runs as.
const ServiceAccount = "mathesar"

// exitError carries a process exit status through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitNotSetUp (EX_CONFIG from sysexits.h) is the status of `run` on an instance that is not
// set up; mathesar.service lists it in RestartPreventExitStatus=, so an unconfigured install
// does not restart in a loop.
const ExitNotSetUp = 78

// notSetUpError marks an error that setup fixes.
type notSetUpError struct{ err error }

func (e notSetUpError) Error() string { return e.err.Error() }
func (e notSetUpError) Unwrap() error { return e.err }

func notSetUp(err error) error { return notSetUpError{err} }

// Main runs the command line and returns the process exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ()}
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee exitError
	var ns notSetUpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ns):
		fmt.Fprintf(a.stderr, "mathesar: %v\n", err)
		return ExitNotSetUp
	default:
		fmt.Fprintf(a.stderr, "mathesar: %v\n", err)
		return 1
	}
}

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        []string
	layout         layout.Layout
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "mathesar",
		Short: "Run and administer Mathesar",
		Long: `mathesar runs Mathesar, a spreadsheet-like web interface to PostgreSQL, from its bundle
(mathesar.pyz) with the system's Python, and is the one tool to set it up and look after it.

First time: sudo mathesar setup   (package installs run it for you)
Then:       mathesar doctor        (checks everything and says how to fix what is wrong)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			l, err := layout.For(executable(), a.getenv)
			if err != nil {
				return err
			}
			a.layout = l
			bundle.ReinstallHint = l.ReinstallHint()
			return nil
		},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.AddCommand(
		a.runCommand(),
		a.setupCommand(),
		a.backupCommand(),
		a.migrateCommand(),
		a.manageCommand(),
		a.pythonCommand(),
		a.configCommand(),
		a.doctorCommand(),
		a.cacheCommand(),
		a.versionCommand(),
		a.manCommand(root),
		a.checkDatabaseCommand(),
		a.packageHookCommand(),
	)
	return root
}

func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		return real
	}
	return exe
}

// settings resolves the configuration, printing warnings about the file.
func (a *app) settings(flags map[string]string, preferEnv bool) (*config.Resolved, error) {
	r := config.Resolver{File: a.layout.ConfigFile, Environ: a.environ, Flags: flags, PreferEnv: preferEnv, Defaults: a.defaults()}
	res, warnings, err := r.Resolve()
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%w; run the command with sudo, or as the %s user", err, ServiceAccount)
		}
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w.Message)
	}
	return res, nil
}

// defaults are the launcher's defaults for settings; they keep Mathesar's writable state
// out of the read-only code tree.
func (a *app) defaults() map[string]string {
	return map[string]string{
		"MATHESAR_PORT":          "8000",
		"MATHESAR_ADDR":          "0.0.0.0",
		"MEDIA_ROOT":             a.layout.MediaDir(),
		"DJANGO_SETTINGS_MODULE": "config.settings.production",
	}
}

// pythonEnviron is the environment Python runs with: the resolved settings over the
// process environment, plus what the packaging itself decides.
//   - SKIP_STATIC_COLLECTION: the bundle carries static files collected at build time
//     under the read-only code tree (BASE_DIR/static, where Mathesar serves them from), so
//     `mathesar.install` must not collect them again there.
//   - MATHESAR_CONFIG_DIR: where the bundle's site hook finds the admin's sso.yml,
//     file_storage.yml and local.py (beside the config file).
func (a *app) pythonEnviron(res *config.Resolved) []string {
	env := res.Environ()
	env = appenv.Set(env, "SKIP_STATIC_COLLECTION", "true")
	return appenv.Set(env, "MATHESAR_CONFIG_DIR", filepath.Dir(a.layout.ConfigFile))
}

// release lets go of the bundle and the tree's lock, for commands that do not exec.
func (p *prepared) release() {
	p.entry.Release()
}

// openBundle finds and opens the bundle.
func (a *app) openBundle() (*bundle.Bundle, error) {
	p, err := a.layout.RequirePyz()
	if err != nil {
		return nil, err
	}
	return bundle.Open(p)
}

// findPython looks for a CPython in the bundle's range.
func (a *app) findPython(ctx context.Context, minVersion, maxVersion string, res *config.Resolved) (*pyfind.Interpreter, error) {
	lo, err := parseMinor(minVersion)
	if err != nil {
		return nil, err
	}
	hi, err := parseMinor(maxVersion)
	if err != nil {
		return nil, err
	}
	o := pyfind.Options{Min: [2]int{3, lo}, Max: [2]int{3, hi}, PATH: a.getenv("PATH")}
	if s, ok := res.Get("MATHESAR_PYTHON"); ok {
		o.Explicit = s.Value
	}
	if root, err := a.cacheRoot(res); err == nil {
		o.CacheFile = filepath.Join(root, "python-probes.json")
	}
	return pyfind.Find(ctx, o)
}

func parseMinor(v string) (int, error) {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil || major != 3 {
		return 0, fmt.Errorf("the bundle's manifest names Python %q, which is not 3.X: reinstall Mathesar", v)
	}
	return minor, nil
}

func (a *app) cacheRoot(res *config.Resolved) (string, error) {
	if s, ok := res.Get("MATHESAR_CACHE_DIR"); ok && s.Value != "" {
		return s.Value, nil
	}
	return unpackcache.DefaultRoot()
}

// prepared is everything needed to start Python on the bundle.
type prepared struct {
	python *pyfind.Interpreter
	// entry holds a shared lock on the unpacked tree so `mathesar cache prune` never
	// deletes it while this process, or the Python it execs, uses it.
	entry *unpackcache.Entry
	tree  appenv.Tree
	env   []string
}

// requireSecretKey refuses to start Mathesar (run, migrate, manage; `python` is a plain
// interpreter) without SECRET_KEY: Mathesar would otherwise
// generate one into .secrets/ under the read-only code tree, and a key that changes with
// each build would make the saved database passwords it encrypts unreadable.
func (a *app) requireSecretKey(res *config.Resolved) error {
	if s, ok := res.Get("SECRET_KEY"); !ok || s.Value == "" {
		return notSetUp(fmt.Errorf("SECRET_KEY is not set in %s: run `%s` to create the configuration", a.layout.ConfigFile, a.setupHint()))
	}
	return nil
}

// prepare finds Python, unpacks the bundle for its ABI (once) and composes the environment.
func (a *app) prepare(ctx context.Context, res *config.Resolved) (*prepared, error) {
	pyz, err := a.layout.RequirePyz()
	if err != nil {
		return nil, err
	}
	root, err := a.cacheRoot(res)
	if err != nil {
		return nil, err
	}
	c := &unpackcache.Cache{Root: root}
	if p, err := a.prepareWarm(ctx, c, pyz, res); p != nil || err != nil {
		return p, err
	}
	b, err := bundle.Open(pyz)
	if err != nil {
		return nil, err
	}
	py, err := a.findPython(ctx, b.Manifest.Python.Min, b.Manifest.Python.Max, res)
	if err != nil {
		b.Close()
		return nil, err
	}
	entry, err := c.Acquire(ctx, b, py.ABI, unpackcache.EnsureOptions{Progress: a.stderr})
	if err != nil {
		b.Close()
		return nil, err
	}
	c.Remember(pyz, &b.Manifest)
	a.warnIncomplete(b.Manifest.Incomplete)
	b.Close()
	return &prepared{python: py, entry: entry, tree: appenv.Tree{Root: entry.Dir}, env: a.pythonEnviron(res)}, nil
}

// prepareWarm is the start of a pyz already verified and unpacked: it needs neither to open
// the pyz nor to decode its manifest. It returns nil (and no error) when that is not the
// case, and the caller takes the full path.
func (a *app) prepareWarm(ctx context.Context, c *unpackcache.Cache, pyz string, res *config.Resolved) (*prepared, error) {
	known, ok := c.LookupKnown(pyz)
	if !ok {
		return nil, nil
	}
	py, err := a.findPython(ctx, known.MinPython, known.MaxPython, res)
	if err != nil {
		return nil, err
	}
	entry, err := c.AcquireUnpacked(ctx, known.BuildID, py.ABI)
	if err != nil || entry == nil {
		return nil, err
	}
	a.warnIncomplete(known.Incomplete)
	return &prepared{python: py, entry: entry, tree: appenv.Tree{Root: entry.Dir}, env: a.pythonEnviron(res)}, nil
}

func (a *app) warnIncomplete(missing []string) {
	if len(missing) > 0 {
		fmt.Fprintf(a.stderr, "warning: this bundle is incomplete, built without %s; features that need them will fail (install a complete release)\n", strings.Join(missing, "; "))
	}
}

// dropPrivileges switches a root process of a system install to the service account when
// it exists, so files that app commands write under the data directory belong to the
// service. A user install keeps the invoking user: its config file (mode 0600), data and
// cache are that user's, which the service account could not read.
func (a *app) dropPrivileges() error {
	if a.layout.Mode != layout.System {
		return nil
	}
	acct, drop, err := svcuser.ShouldDrop(ServiceAccount)
	if err != nil || !drop {
		return err
	}
	if err := svcuser.DropTo(acct); err != nil {
		return fmt.Errorf("switch to the %s user: %w", ServiceAccount, err)
	}
	a.environ = appenv.Set(a.environ, "HOME", acct.Home)
	return nil
}

// execPython replaces this process with Python, so signals, the exit status and systemd's
// main-PID and notify tracking reach Python directly.
func execPython(p *prepared, c appenv.Command) error {
	if err := p.entry.KeepAcrossExec(); err != nil {
		return err
	}
	if err := os.Chdir(c.Dir); err != nil {
		return fmt.Errorf("enter the app directory %s: %w", c.Dir, err)
	}
	if err := syscall.Exec(c.Path, c.Args, c.Env); err != nil {
		return fmt.Errorf("start %s: %w", c.Path, err)
	}
	return nil
}
