// Package pkghook holds the logic of the deb and rpm maintainer scripts, which only call
// `mathesar package-hook SCRIPT ARGS...`: it turns the script name and the arguments dpkg
// or rpm passed into the steps to take, and takes them. Keeping it here, in Go, keeps the
// shell thin and the decisions tested.
package pkghook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Format is the package format whose scripts call the hook.
type Format string

const (
	Deb Format = "deb"
	Rpm Format = "rpm"
)

// Event is what the package manager is doing, in both formats' terms.
type Event struct {
	Format  Format
	Script  string // preinst, postinst, prerm, postrm
	Install bool   // a first installation (deb configure without an old version; rpm $1 == 1)
	Upgrade bool   // an upgrade or reinstall
	Remove  bool   // removal of the last version (deb remove/purge; rpm $1 == 0)
	Purge   bool   // deb purge
	// OldVersion is the version being upgraded from: dpkg passes it to postinst configure
	// and preinst upgrade; rpm never says, so it stays empty there.
	OldVersion string
}

// ParseEvent reads the maintainer script's arguments: dpkg passes words (configure OLDVER,
// upgrade NEWVER, remove, purge, ...), rpm the number of versions installed after the step.
func ParseEvent(script string, args []string) (Event, error) {
	switch script {
	case "preinst", "postinst", "prerm", "postrm":
	default:
		return Event{}, fmt.Errorf("unknown maintainer script %q: want preinst, postinst, prerm or postrm", script)
	}
	if len(args) == 0 {
		return Event{}, fmt.Errorf("%s: no arguments; dpkg and rpm always pass at least one", script)
	}
	e := Event{Script: script}
	if n, err := strconv.Atoi(args[0]); err == nil {
		e.Format = Rpm
		switch {
		case n == 0:
			e.Remove = true
		case n == 1 && (script == "preinst" || script == "postinst"):
			e.Install = true
		default:
			e.Upgrade = true
		}
		return e, nil
	}
	e.Format = Deb
	switch args[0] {
	case "configure", "install":
		oldVersion := ""
		if len(args) > 1 {
			oldVersion = args[1]
		}
		e.Install, e.Upgrade, e.OldVersion = oldVersion == "", oldVersion != "", oldVersion
	case "upgrade", "abort-upgrade", "failed-upgrade":
		e.Upgrade = true
		if script == "preinst" && len(args) > 1 {
			e.OldVersion = args[1]
		}
	case "remove", "abort-install", "abort-remove", "deconfigure", "disappear":
		e.Remove = args[0] == "remove"
	case "purge":
		e.Remove, e.Purge = true, true
	default:
		return Event{}, fmt.Errorf("%s: unknown dpkg action %q", script, args[0])
	}
	return e, nil
}

// Step is one command of a plan. A step that may fail without failing the package
// operation says so in Optional. When a step that is not optional fails, Advice is
// printed and IfFailed run (for its output) before the failure ends the script, so the
// admin reads what happened and what to do above dpkg's or rpm's own error.
type Step struct {
	Why      string
	Argv     []string
	Optional bool
	Advice   string
	IfFailed []string
}

// PreviousLabel names the dumps taken before an rpm upgrade, as rpm does not pass the
// version being replaced to its scripts.
const PreviousLabel = "previous"

// BackupLabel is the version a pre-upgrade dump is labelled with.
func (e Event) BackupLabel() string {
	if e.OldVersion != "" {
		return e.OldVersion
	}
	return PreviousLabel
}

// FinishCommand is what completes an upgrade whose postinst failed.
func FinishCommand(f Format) string {
	if f == Deb {
		return "sudo dpkg --configure -a"
	}
	return "sudo mathesar setup"
}

// System describes the machine the hook runs on, so a plan can be made and tested without it.
type System struct {
	SystemdRunning bool // /run/systemd/system exists
	Launcher       string
	HaveSysusers   bool
	HaveTmpfiles   bool
}

// Detect reads the running system.
func Detect(launcher string) System {
	_, err := os.Stat("/run/systemd/system")
	_, errU := exec.LookPath("systemd-sysusers")
	_, errT := exec.LookPath("systemd-tmpfiles")
	return System{SystemdRunning: err == nil, Launcher: launcher, HaveSysusers: errU == nil, HaveTmpfiles: errT == nil}
}

const (
	unit     = "mathesar.service"
	sysusers = "/usr/lib/sysusers.d/mathesar.conf"
	tmpfiles = "/usr/lib/tmpfiles.d/mathesar.conf"
)

// Plan lists what a maintainer script does for e on s.
func Plan(e Event, s System) []Step {
	var steps []Step
	add := func(why string, optional bool, argv ...string) {
		steps = append(steps, Step{Why: why, Argv: argv, Optional: optional})
	}
	// An upgrade may bring a changed unit file, which systemd uses only after a reload;
	// restarting without one runs the old definition.
	reload := func() {
		if e.Upgrade {
			add("load the new unit file", true, "systemctl", "--system", "daemon-reload")
		}
	}
	switch {
	case e.Script == "postinst" && (e.Install || e.Upgrade):
		if s.HaveSysusers {
			add("create the mathesar system user", false, "systemd-sysusers", sysusers)
		} else {
			add("create the mathesar system user", false, s.Launcher, "package-hook", "create-user")
		}
		if s.HaveTmpfiles {
			add("create /var/lib/mathesar and /var/cache/mathesar", false, "systemd-tmpfiles", "--create", tmpfiles)
		}
		if e.Upgrade {
			// deb's prerm has stopped the service already; rpm runs the new %post before the
			// old %preun, so the old code would still be serving (and writing) while the
			// database is dumped and migrated.
			if e.Format == Rpm && s.SystemdRunning {
				add("stop the service before migrating", true, "systemctl", "stop", unit)
			}
			// Only a set-up instance with a reachable database is dumped; anything else is
			// skipped with a note, and setup below then migrates nothing either.
			add("back up the database before migrating", false, s.Launcher, "backup", "--if-set-up", "--label", e.BackupLabel())
			steps[len(steps)-1].Advice = "mathesar: the upgrade stopped before migrating, so the database is unchanged. Fix the problem above, then finish the upgrade: " + FinishCommand(e.Format)
		}
		// Setup is idempotent: on a fresh install it creates the config and the owned
		// database, on an upgrade it migrates. Without a running PostgreSQL it says how to
		// finish and succeeds, so the package installs anyway. --no-start: the service is
		// started below, the way each format's policy wants.
		add("set up Mathesar", false, s.Launcher, "setup", "--allow-missing-postgres", "--quiet", "--no-start")
		if e.Upgrade {
			steps[len(steps)-1].IfFailed = []string{s.Launcher, "package-hook", "upgrade-failed", string(e.Format), e.BackupLabel()}
		}
		if e.Format == Deb {
			add("enable the service", false, "deb-systemd-helper", "unmask", unit)
			// As dh_installsystemd does: was-enabled is true on a first install, and on an
			// upgrade it keeps the admin's choice to disable the service.
			add("enable the service unless the admin disabled it", false, s.Launcher, "package-hook", "enable-service", unit)
			if s.SystemdRunning {
				reload()
				add("start the service once it is set up", true, s.Launcher, "package-hook", "start-if-ready", string(Deb))
			}
		} else if s.SystemdRunning {
			if e.Install {
				// An upgrade keeps the admin's choice; only a first install follows the preset.
				add("enable the service as the preset says", true, "systemctl", "preset", unit)
			}
			reload()
			add("start the service once it is set up", true, s.Launcher, "package-hook", "start-if-ready", string(Rpm))
		}
	case e.Script == "prerm" && s.SystemdRunning && (e.Remove || (e.Format == Deb && e.Upgrade)):
		if e.Format == Deb {
			add("stop the service", true, "deb-systemd-invoke", "stop", unit)
		} else {
			add("stop and disable the service", true, "systemctl", "--no-reload", "disable", "--now", unit)
		}
	}
	return steps
}

// Run takes the steps in order; a failing step that is not optional stops the run.
func Run(ctx context.Context, steps []Step, out io.Writer) error {
	for _, st := range steps {
		cmd := exec.CommandContext(ctx, st.Argv[0], st.Argv[1:]...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			if st.Optional {
				fmt.Fprintf(out, "mathesar: could not %s (%v); continuing\n", st.Why, err)
				continue
			}
			if st.Advice != "" {
				fmt.Fprintln(out, st.Advice)
			}
			if len(st.IfFailed) > 0 {
				explain := exec.CommandContext(ctx, st.IfFailed[0], st.IfFailed[1:]...)
				explain.Stdout, explain.Stderr = out, out
				if xerr := explain.Run(); xerr != nil {
					fmt.Fprintf(out, "mathesar: could not explain the failure (%v)\n", xerr)
				}
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("%s: `%v` exited with status %d", st.Why, st.Argv, ee.ExitCode())
			}
			return fmt.Errorf("%s: %w", st.Why, err)
		}
	}
	return nil
}

// StartCommand is how a maintainer script (re)starts the service: Debian's policy wants
// deb-systemd-invoke, which honours policy-rc.d, rather than a bare systemctl.
func StartCommand(f Format) []string {
	if f == Deb {
		return []string{"deb-systemd-invoke", "restart", unit}
	}
	return []string{"systemctl", "restart", unit}
}

// UpgradeFailure is what the admin needs to know when an upgrade's migration failed.
type UpgradeFailure struct {
	Format     Format
	OldVersion string   // the version upgraded from; empty when rpm did not say
	Dumps      []string // dumps taken before upgrades from OldVersion, oldest first
	Restore    []string // the command that puts the newest dump back
}

// Message is one block saying what failed, where the data from before the upgrade is,
// how to put it back and return to the old version, or how to finish instead.
func (u UpgradeFailure) Message() string {
	var b strings.Builder
	from := "the previous version"
	if u.OldVersion != "" {
		from = u.OldVersion
	}
	fmt.Fprintf(&b, "\n==> The upgrade of Mathesar from %s failed: the database migration did not complete\n", from)
	b.WriteString("    (its error is above). Mathesar is not running.\n")
	if len(u.Dumps) == 0 {
		b.WriteString("    No backup was taken before the upgrade: the instance was not set up, or its\n" +
			"    database was not reachable, so there is nothing to restore.\n")
	} else {
		newest := u.Dumps[len(u.Dumps)-1]
		fmt.Fprintf(&b, "    The database as it was before the upgrade is in\n      %s\n", newest)
		if len(u.Dumps) > 1 {
			b.WriteString("    Earlier dumps with the same label (if an earlier attempt at this upgrade also\n" +
				"    failed, the oldest holds the data from before the first attempt):\n")
			for _, d := range u.Dumps[:len(u.Dumps)-1] {
				fmt.Fprintf(&b, "      %s\n", d)
			}
		}
		if u.Format == Rpm && u.OldVersion == "" {
			fmt.Fprintf(&b, "    (rpm does not tell package scripts the version it replaces, so the dump is labelled %q.)\n", PreviousLabel)
		}
		fmt.Fprintf(&b, "    To go back to %s, with Mathesar stopped:\n", from)
		fmt.Fprintf(&b, "      1. put the database back (it is dropped and re-created from the dump):\n         %s\n", strings.Join(u.Restore, " "))
		fmt.Fprintf(&b, "      2. install the old package: %s\n", downgradeCommand(u.Format, u.OldVersion))
	}
	or := "Or f"
	if len(u.Dumps) == 0 {
		or = "F"
	}
	fmt.Fprintf(&b, "    %six the cause (`sudo mathesar doctor` helps) and finish the upgrade: %s\n", or, FinishCommand(u.Format))
	return b.String()
}

func downgradeCommand(f Format, old string) string {
	switch {
	case f == Deb && old != "":
		return "sudo apt install mathesar=" + old
	case f == Deb:
		return "sudo apt install mathesar=OLD-VERSION   (apt list -a mathesar lists them)"
	case old != "":
		return "sudo dnf downgrade mathesar-" + old
	default:
		return "sudo dnf downgrade mathesar   (or: sudo dnf install mathesar-OLD-VERSION; dnf list --showduplicates mathesar)"
	}
}
