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
		e.Install, e.Upgrade = oldVersion == "", oldVersion != ""
	case "upgrade", "abort-upgrade", "failed-upgrade":
		e.Upgrade = true
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
// operation says so in Optional.
type Step struct {
	Why      string
	Argv     []string
	Optional bool
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
		// Setup is idempotent: on a fresh install it creates the config and the owned
		// database, on an upgrade it migrates. Without a running PostgreSQL it says how to
		// finish and succeeds, so the package installs anyway.
		add("set up Mathesar", false, s.Launcher, "setup", "--allow-missing-postgres", "--quiet")
		if e.Format == Deb {
			add("enable the service", false, "deb-systemd-helper", "unmask", unit)
			add("enable the service", false, "deb-systemd-helper", "enable", unit)
			if s.SystemdRunning {
				add("start the service once it is set up", true, s.Launcher, "package-hook", "start-if-ready", string(Deb))
			}
		} else if s.SystemdRunning {
			add("enable the service as the preset says", true, "systemctl", "preset", unit)
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
