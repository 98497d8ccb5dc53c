package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/config"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/portcheck"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyfind"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sitehook"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

// checkResult is one line of the doctor's report.
type checkResult struct {
	name   string
	status string // ok, FAIL, warn, skip
	detail string
	fix    string // the one command that fixes a failure
}

// doctorChecks are the checks in report order; --skip takes these names.
var doctorChecks = []string{"python", "bundle", "config", "site", "database", "port", "service", "cache"}

func (a *app) doctorCommand() *cobra.Command {
	var skip []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check Python, the bundle, the config, the database, the port and the service",
		Long: `Check everything Mathesar needs and print, for each failure, the one command that fixes it.
Exits non-zero when any check fails. Checks: ` + strings.Join(doctorChecks, ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, s := range skip {
				if !slices.Contains(doctorChecks, s) {
					return fmt.Errorf("--skip %s: no such check; the checks are %s", s, strings.Join(doctorChecks, ", "))
				}
			}
			results := a.doctor(cmd.Context(), skip)
			failed := 0
			for _, r := range results {
				fmt.Fprintf(a.stdout, "%-5s %-9s %s\n", r.status, r.name, r.detail)
				if r.fix != "" {
					fmt.Fprintf(a.stdout, "      %-9s fix: %s\n", "", r.fix)
				}
				if r.status == "FAIL" {
					failed++
				}
			}
			if failed > 0 {
				fmt.Fprintf(a.stdout, "\n%d of %d checks failed\n", failed, len(results))
				return exitError{code: 1}
			}
			fmt.Fprintf(a.stdout, "\nall checks passed\n")
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "checks to skip (e.g. --skip database,service for an offline check)")
	return cmd
}

func (a *app) doctor(ctx context.Context, skip []string) []checkResult {
	var out []checkResult
	add := func(name string, check func() checkResult) {
		if slices.Contains(skip, name) {
			out = append(out, checkResult{name: name, status: "skip", detail: "skipped (--skip)"})
			return
		}
		r := check()
		r.name = name
		out = append(out, r)
	}
	res, resErr := a.settings(nil, false)
	var b *bundle.Bundle
	// The bundle is opened first because the Python check needs its range, but it is
	// reported second, in the order of doctorChecks.
	bundleResult := func() checkResult {
		var err error
		if b, err = a.openBundle(); err != nil {
			return fail(err.Error(), reinstallHint(a.layout.Mode))
		}
		if err := b.Verify(ctx); err != nil {
			return fail(err.Error(), reinstallHint(a.layout.Mode))
		}
		m := b.Manifest
		detail := fmt.Sprintf("%s %s, build %s, %d files verified (%s)", m.App.Name, m.App.Version, m.BuildID[:12], len(m.Files), b.Path)
		if len(m.Incomplete) > 0 {
			return checkResult{status: "warn", detail: detail + "; built without " + strings.Join(m.Incomplete, ", ")}
		}
		return ok(detail)
	}()
	if b != nil {
		defer b.Close()
	}
	add("python", func() checkResult {
		if b == nil {
			return checkResult{status: "skip", detail: "needs the bundle's Python range"}
		}
		if resErr != nil {
			return fail(resErr.Error(), "")
		}
		py, err := a.findPython(ctx, b.Manifest.Python.Min, b.Manifest.Python.Max, res)
		if err != nil {
			var np *pyfind.NoPythonError
			if errors.As(err, &np) {
				return fail(strings.SplitN(err.Error(), "\n", 2)[0], np.InstallHint)
			}
			return fail(err.Error(), "")
		}
		return ok(fmt.Sprintf("CPython %d.%d.%d at %s (bundle serves %s-%s)", py.Version[0], py.Version[1], py.Version[2], py.Path, b.Manifest.Python.Min, b.Manifest.Python.Max))
	})
	add("bundle", func() checkResult { return bundleResult })
	add("config", func() checkResult { return a.checkConfig(res, resErr) })
	add("site", a.checkSiteFiles)
	add("database", func() checkResult {
		if resErr != nil {
			return fail("cannot read the settings", "")
		}
		ci, configured, err := pgsetup.ConnInfoFromEnv(settingGetter(res))
		switch {
		case err != nil:
			return fail(err.Error(), a.setupHint())
		case !configured && a.layout.Mode == layout.User:
			return ok("no database configured: `mathesar run` starts the private cluster in " + a.layout.PGDataDir())
		case !configured:
			return fail("no internal database is configured in "+a.layout.ConfigFile, "sudo mathesar setup")
		}
		// A user install's private cluster runs only while `mathesar run` does, so a
		// stopped one is healthy; it only has to exist.
		if c := a.ownCluster(ci); c != nil && !c.Running() {
			if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
				return fail("the private PostgreSQL cluster in "+c.DataDir+" does not exist", a.setupHint())
			}
			return ok("the private cluster in " + c.DataDir + " is stopped: `mathesar run` starts it")
		}
		if err := a.checkAsService(ctx, ci); err != nil {
			return fail(err.Error(), databaseFix(ci, a.layout.Mode))
		}
		return ok("reached " + ci.String())
	})
	add("port", func() checkResult {
		if resErr != nil {
			return fail("cannot read the settings", "")
		}
		addr, port, err := listenAddress(res)
		if err != nil {
			return fail(err.Error(), "mathesar config set MATHESAR_PORT 8000")
		}
		err = portcheck.Check(addr, port)
		var inUse *portcheck.InUseError
		switch {
		case err == nil:
			return ok(fmt.Sprintf("%s:%d is free", addr, port))
		case errors.As(err, &inUse) && strings.Contains(inUse.Command, "gunicorn"):
			return ok(fmt.Sprintf("%s:%d is served by Mathesar (pid %d)", addr, port, inUse.PID))
		default:
			return fail(err.Error(), fmt.Sprintf("%smathesar config set MATHESAR_PORT %d", sudoPrefix(a.layout.Mode), port+1))
		}
	})
	add("service", func() checkResult {
		if a.layout.Mode != layout.System {
			return checkResult{status: "skip", detail: "user install: no system service (start it with `mathesar run`)"}
		}
		st, err := svcuser.ServiceState(ctx, "mathesar.service")
		switch {
		case err != nil:
			return fail(err.Error(), "")
		case !st.SystemdRunning:
			return checkResult{status: "skip", detail: "systemd is not running here (container or chroot)"}
		case st.Active != "active":
			return fail(fmt.Sprintf("mathesar.service is %s (%s), enabled: %s", st.Active, st.SubState, st.Enabled), "sudo systemctl enable --now mathesar; journalctl -u mathesar -e")
		}
		return ok(fmt.Sprintf("mathesar.service is active (pid %d), enabled: %s", st.MainPID, st.Enabled))
	})
	add("cache", func() checkResult {
		if resErr != nil {
			return fail("cannot read the settings", "")
		}
		root, err := a.cacheRoot(res)
		if err != nil {
			return fail(err.Error(), "")
		}
		if err := writable(root); err != nil {
			return fail(fmt.Sprintf("cannot write the unpack cache at %s: %v", root, err), fmt.Sprintf("%smkdir -p %s, or set MATHESAR_CACHE_DIR", sudoPrefix(a.layout.Mode), root))
		}
		return ok(root + " is writable")
	})
	return out
}

// writable tries to create a file in dir (creating dir if needed), which is the only
// reliable test: permission bits say nothing about read-only mounts or a full disk.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func (a *app) checkConfig(res *config.Resolved, resErr error) checkResult {
	path := a.layout.ConfigFile
	if resErr != nil {
		return fail(resErr.Error(), "sudo mathesar doctor")
	}
	if !res.FileExists {
		return fail(path+" does not exist", a.setupHint())
	}
	if err := config.CheckPermissions(path); err != nil {
		return fail(err.Error(), "chmod 0640 "+path)
	}
	if s, ok := res.Get("SECRET_KEY"); !ok || s.Value == "" {
		return fail("SECRET_KEY is not set in "+path, a.setupHint())
	}
	info, err := os.Stat(path)
	if err != nil {
		return fail(err.Error(), "")
	}
	return ok(fmt.Sprintf("%s (mode %04o) has SECRET_KEY", path, info.Mode().Perm()))
}

// checkSiteFiles looks at the admin's sso.yml, file_storage.yml and local.py beside the
// config file: they often hold secrets, and the service must be able to read them.
func (a *app) checkSiteFiles() checkResult {
	dir := filepath.Dir(a.layout.ConfigFile)
	var present []string
	for _, name := range sitehook.AdminFiles {
		p := filepath.Join(dir, name)
		info, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail(err.Error(), "")
		}
		if err := a.serviceCanRead(info); err != nil {
			return fail(fmt.Sprintf("%s: %v", p, err), fmt.Sprintf("sudo chgrp %s %s && sudo chmod 0640 %s", ServiceAccount, p, p))
		}
		if err := config.CheckPermissions(p); err != nil {
			return checkResult{status: "warn", detail: err.Error()}
		}
		present = append(present, name)
	}
	if len(present) == 0 {
		return ok(fmt.Sprintf("none in %s (optional: %s)", dir, strings.Join(sitehook.AdminFiles, ", ")))
	}
	return ok(fmt.Sprintf("%s in %s", strings.Join(present, ", "), dir))
}

// serviceCanRead tells whether the service account of a system install may read a file;
// a user install runs as its owner.
func (a *app) serviceCanRead(info os.FileInfo) error {
	if a.layout.Mode != layout.System {
		return nil
	}
	acct, err := svcuser.Lookup(ServiceAccount)
	if err != nil {
		return nil // no service account, no service to read it
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	perm := info.Mode().Perm()
	switch {
	case int(st.Uid) == acct.UID && perm&0o400 != 0,
		slices.Contains(acct.Groups, int(st.Gid)) && perm&0o040 != 0,
		perm&0o004 != 0:
		return nil
	}
	return fmt.Errorf("the %s user cannot read it (owner %d:%d, mode %04o), so Mathesar will not start", ServiceAccount, st.Uid, st.Gid, perm)
}

func databaseFix(ci *pgsetup.ConnInfo, m layout.Mode) string {
	if filepath.IsAbs(ci.Host) {
		if m == layout.System {
			return "sudo systemctl start postgresql && sudo mathesar setup"
		}
		return "mathesar setup"
	}
	return fmt.Sprintf("check that %s accepts connections, then `%smathesar setup --connection-string -`", ci.Host, sudoPrefix(m))
}

func reinstallHint(m layout.Mode) string {
	if m == layout.System {
		return "sudo apt install --reinstall mathesar   (or: sudo dnf reinstall mathesar)"
	}
	return "reinstall Mathesar (brew reinstall mathesar, or unpack the tarball again)"
}

func ok(detail string) checkResult { return checkResult{status: "ok", detail: detail} }

func fail(detail, fix string) checkResult {
	return checkResult{status: "FAIL", detail: detail, fix: fix}
}
