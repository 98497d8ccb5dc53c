package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgbackup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pkghook"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

// SystemBackupDir holds the dumps of a system install (packaging/tmpfiles.d makes it).
const SystemBackupDir = "/var/backups/mathesar"

type backupOptions struct {
	label   string
	keep    int
	dir     string
	ifSetUp bool
}

func (a *app) backupCommand() *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Dump the internal database into the backup directory (pg_dump, custom format)",
		Long: `Dump Mathesar's internal database with pg_dump --format=custom into
` + SystemBackupDir + ` (system install) or <data directory>/backups (user install), as
<database>-<version>-<UTC time>.dump, and keep the newest --keep dumps of that database.

In a system install it runs as root; pg_dump runs as the mathesar user, which peer
authentication lets in to the database it owns (a remote server's password is passed in
the environment, never on the command line). The package takes a backup this way before
every upgrade migrates the database.

Restore a dump, with Mathesar stopped, as the command printed after the backup says:
pg_restore --clean --if-exists --create drops the database and creates it again from the
dump.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.backup(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.label, "label", Version, "the Mathesar version whose data this is, for the file name (the package passes the version it upgrades from)")
	f.IntVar(&o.keep, "keep", pgbackup.DefaultKeep, "how many dumps of the database to keep; 0 keeps every one")
	f.StringVar(&o.dir, "dir", "", "where to write the dump (default "+SystemBackupDir+", or <data directory>/backups in a user install)")
	f.BoolVar(&o.ifSetUp, "if-set-up", false, "when no database is configured or its server does not answer, say so and exit 0 (for package scripts)")
	return cmd
}

// backupDir is where this install keeps its dumps.
func (a *app) backupDir() string {
	if a.layout.Mode == layout.System {
		return SystemBackupDir
	}
	return filepath.Join(a.layout.DataDir, "backups")
}

func (a *app) backup(ctx context.Context, o backupOptions) error {
	if o.keep < 0 {
		return fmt.Errorf("--keep %d: give a number of dumps, or 0 to keep every one", o.keep)
	}
	if o.dir == "" {
		o.dir = a.backupDir()
	}
	opts := pgbackup.Options{Dir: o.dir, Label: o.label, Keep: o.keep, Group: -1}
	if a.layout.Mode == layout.System {
		if os.Geteuid() != 0 {
			return errors.New("backing up a system install needs root: run `sudo mathesar backup`")
		}
		acct, err := svcuser.Lookup(ServiceAccount)
		if err != nil {
			return fmt.Errorf("the %s system user does not exist (%v): reinstall the package", ServiceAccount, err)
		}
		// The group lets the mathesar user read the dump back with pg_restore.
		opts.RunAs, opts.Group, opts.FileMode, opts.DirMode = acct, acct.GID, 0o640, 0o750
	}
	res, err := a.settings(nil, false)
	if err != nil {
		return err
	}
	skip := func(why string) error {
		fmt.Fprintf(a.stdout, "mathesar: no backup taken: %s\n", why)
		return nil
	}
	ci, ok, err := pgsetup.ConnInfoFromEnv(settingGetter(res))
	switch {
	case err != nil:
		return fmt.Errorf("%w (in %s)", err, a.layout.ConfigFile)
	case !ok && o.ifSetUp:
		return skip("no internal database is configured yet, so there is nothing to back up")
	case !ok:
		return notSetUp(fmt.Errorf("no internal database is configured in %s, so there is nothing to back up: run `%s` first", a.layout.ConfigFile, a.setupHint()))
	}
	if cluster := a.ownCluster(ci); cluster != nil {
		// A user install's private cluster runs only while Mathesar does; start it for the dump.
		if err := cluster.Start(ctx); err != nil {
			if o.ifSetUp {
				return skip(err.Error())
			}
			return fmt.Errorf("start the private PostgreSQL cluster: %w", err)
		}
		defer cluster.Stop(context.WithoutCancel(ctx))
		ci = cluster.ConnInfo()
	} else if err := pgbackup.Probe(ctx, ci, dbTimeout); err != nil {
		if o.ifSetUp {
			return skip(fmt.Sprintf("%v (database %s was not touched)", err, ci.Database))
		}
		return fmt.Errorf("%w: start PostgreSQL (or check POSTGRES_HOST and POSTGRES_PORT in %s) and run the backup again", err, a.layout.ConfigFile)
	}
	opts.Conn = ci
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	r, err := pgbackup.Dump(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "==> Backed up database %s to %s (%s)\n", ci.Database, r.Path, humanSize(r.Size))
	for _, p := range r.Removed {
		fmt.Fprintf(a.stdout, "    removed the older dump %s (keeping %d)\n", p, o.keep)
	}
	fmt.Fprintf(a.stdout, "    To restore it, with Mathesar stopped: %s\n", strings.Join(a.restoreCommand(ci, r.Path), " "))
	return nil
}

// restoreCommand is the command an admin runs to put dump back.
func (a *app) restoreCommand(ci *pgsetup.ConnInfo, dump string) []string {
	osUser := ""
	if a.layout.Mode == layout.System {
		osUser = ServiceAccount
	}
	return pgbackup.RestoreCommand(ci, dump, osUser)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// upgradeFailed prints what to do after a failed upgrade migration: the package hook runs
// it when setup fails in a postinst that upgrades from label.
func (a *app) upgradeFailed(f pkghook.Format, label string) error {
	if f != pkghook.Deb && f != pkghook.Rpm {
		return fmt.Errorf("upgrade-failed: unknown package format %q: want deb or rpm", f)
	}
	ci := &pgsetup.ConnInfo{Host: "/var/run/postgresql", Port: pgsetup.DefaultPort, User: pgsetup.DefaultRole, Database: pgsetup.DefaultDatabase}
	if res, err := a.settings(nil, false); err == nil {
		if c, ok, err := pgsetup.ConnInfoFromEnv(settingGetter(res)); err == nil && ok {
			ci = c
		}
	}
	all, err := pgbackup.List(a.backupDir(), ci.Database)
	if err != nil {
		return err
	}
	u := pkghook.UpgradeFailure{Format: f}
	if label != pkghook.PreviousLabel {
		u.OldVersion = label
	}
	for _, d := range all.WithLabel(label) {
		u.Dumps = append(u.Dumps, d.Path)
	}
	if len(u.Dumps) > 0 {
		u.Restore = a.restoreCommand(ci, u.Dumps[len(u.Dumps)-1])
	}
	fmt.Fprint(a.stdout, u.Message())
	return nil
}
