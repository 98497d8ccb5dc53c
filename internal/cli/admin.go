package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/mathesar-foundation/mathesar-packaging/internal/appenv"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
	"github.com/mathesar-foundation/mathesar-packaging/internal/unpackcache"
)

// dbTimeout bounds a database check, so a command never hangs on an unreachable server.
const dbTimeout = 5 * time.Second

// appCommand runs a Python module of the app in the bundle, as the service user when root.
func (a *app) appCommand(ctx context.Context, module string, args []string) error {
	if err := a.dropPrivileges(); err != nil {
		return err
	}
	res, err := a.settings(nil, false)
	if err != nil {
		return err
	}
	if err := a.requireSecretKey(res); err != nil {
		return err
	}
	p, err := a.prepare(ctx, res)
	if err != nil {
		return err
	}
	cluster, err := a.databaseForRun(ctx, res, a.layout.Mode == layout.User)
	if err != nil {
		p.release()
		return err
	}
	cmd := appenv.Module(p.python.Exec(), p.tree, module, args, p.env)
	if cluster == nil {
		return execPython(p, cmd)
	}
	// The private cluster must be stopped afterwards, so Python runs as a child here.
	cmd.Env = withConnInfo(cmd.Env, cluster.ConnInfo())
	err = a.runChild(ctx, cmd)
	p.release()
	cluster.Stop(context.WithoutCancel(ctx))
	return err
}

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (static files come collected in the bundle)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.appCommand(cmd.Context(), "mathesar.install", nil)
		},
	}
}

func (a *app) manageCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "manage [django-admin arguments]",
		Short:              "Run a Django management command (e.g. manage createsuperuser)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.appCommand(cmd.Context(), "manage", args)
		},
	}
}

func (a *app) pythonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "python [-- python arguments]",
		Short: "Run Python inside the bundled environment",
		Long: `Run the interpreter Mathesar uses, with the bundle's packages importable and Mathesar's
settings in the environment, e.g. ` + "`mathesar python -- -c 'import django; print(django.VERSION)'`.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			if err := a.dropPrivileges(); err != nil {
				return err
			}
			res, err := a.settings(nil, false)
			if err != nil {
				return err
			}
			p, err := a.prepare(cmd.Context(), res)
			if err != nil {
				return err
			}
			return execPython(p, appenv.Python(p.python.Exec(), p.tree, args, p.env))
		},
	}
}

func (a *app) cacheCommand() *cobra.Command {
	cache := &cobra.Command{Use: "cache", Short: "Manage the unpacked bundle cache"}
	cache.AddCommand(&cobra.Command{
		Use:   "prune",
		Short: "Remove every unpacked build but the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.settings(nil, false)
			if err != nil {
				return err
			}
			b, err := a.openBundle()
			if err != nil {
				return err
			}
			defer b.Close()
			root, err := a.cacheRoot(res)
			if err != nil {
				return err
			}
			removed, freed, err := (&unpackcache.Cache{Root: root}).Prune(b.Manifest.BuildID)
			for _, r := range removed {
				fmt.Fprintf(a.stdout, "removed %s\n", r)
			}
			fmt.Fprintf(a.stdout, "freed %.1f MB in %s; kept build %s\n", float64(freed)/1e6, root, b.Manifest.BuildID[:12])
			return err
		},
	})
	return cache
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of Mathesar, the bundle and the launcher (without starting Python)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			launcher := Version
			if Commit != "" {
				launcher += " (" + Commit + ")"
			}
			b, err := a.openBundle()
			if err != nil {
				fmt.Fprintf(a.stdout, "launcher %s\n", launcher)
				return err
			}
			defer b.Close()
			m := b.Manifest
			label := ""
			if m.App.Sample {
				label = " (sample app)"
			}
			fmt.Fprintf(a.stdout, "%s %s%s\n", m.App.Name, m.App.Version, label)
			fmt.Fprintf(a.stdout, "bundle %s, build %s, CPython %s-%s, %s/%s\n", b.Path, m.BuildID[:12], m.Python.Min, m.Python.Max, m.Platform.OS, m.Platform.Arch)
			fmt.Fprintf(a.stdout, "launcher %s\n", launcher)
			return nil
		},
	}
}

func (a *app) manCommand(root *cobra.Command) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man",
		Short: "Write the man pages (mathesar.1 and one per command) into a directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			// A fixed date keeps the pages reproducible.
			epoch := time.Unix(0, 0).UTC()
			if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
				var n int64
				if _, err := fmt.Sscan(v, &n); err == nil {
					epoch = time.Unix(n, 0).UTC()
				}
			}
			header := &doc.GenManHeader{Title: "MATHESAR", Section: "1", Source: "Mathesar " + Version, Manual: "Mathesar Manual", Date: &epoch}
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, header, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write the pages into")
	return cmd
}

// checkAsService checks the database the way the service reaches it. Peer authentication
// admits an OS user only as the role of the same name, so a root process checks a
// password-less socket connection from a child running as the service account.
func (a *app) checkAsService(ctx context.Context, ci *pgsetup.ConnInfo) error {
	acct, drop, err := svcuser.ShouldDrop(ServiceAccount)
	if err != nil || !drop || ci.Password != "" || len(ci.Host) == 0 || ci.Host[0] != '/' {
		return pgsetup.Check(ctx, ci, dbTimeout)
	}
	cmd := exec.CommandContext(ctx, a.layout.Executable, "check-database")
	cmd.Env = a.environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(acct.UID), Gid: uint32(acct.GID)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s (checked as the %s user)", trimOutput(out, err), ServiceAccount)
	}
	return nil
}

func trimOutput(out []byte, err error) string {
	s := string(out)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return err.Error()
	}
	const prefix = "mathesar: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		s = s[len(prefix):]
	}
	return s
}

// checkDatabaseCommand is the child side of checkAsService.
func (a *app) checkDatabaseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "check-database",
		Short:  "Connect to the configured internal database and report the result",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.settings(nil, false)
			if err != nil {
				return err
			}
			ci, ok, err := pgsetup.ConnInfoFromEnv(settingGetter(res))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no internal database is configured in %s", a.layout.ConfigFile)
			}
			return pgsetup.Check(cmd.Context(), ci, dbTimeout)
		},
	}
}
