package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pkghook"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

// packageHookCommand is what the deb and rpm maintainer scripts call.
func (a *app) packageHookCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "package-hook SCRIPT ARGS...",
		Short:              "Run a package maintainer script's steps (called by dpkg and rpm scripts)",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "create-user":
				return createServiceUser()
			case "enable-service":
				if len(args) != 2 {
					return errors.New("enable-service needs the unit name")
				}
				return enableService(args[1])
			case "start-if-ready":
				if len(args) != 2 {
					return errors.New("start-if-ready needs the package format (deb or rpm)")
				}
				return a.startIfReady(pkghook.Format(args[1]))
			case "upgrade-failed":
				if len(args) != 3 {
					return errors.New("upgrade-failed needs the package format (deb or rpm) and the backup label")
				}
				return a.upgradeFailed(pkghook.Format(args[1]), args[2])
			}
			e, err := pkghook.ParseEvent(args[0], args[1:])
			if err != nil {
				return err
			}
			steps := pkghook.Plan(e, pkghook.Detect(a.layout.Executable))
			return pkghook.Run(cmd.Context(), steps, a.stdout)
		},
	}
}

// createServiceUser is the fallback for systems without systemd-sysusers.
func createServiceUser() error {
	if _, err := svcuser.Lookup(ServiceAccount); err == nil {
		return nil
	}
	cmd := exec.Command("useradd", "--system", "--user-group", "--home-dir", "/var/lib/mathesar", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "Mathesar", ServiceAccount)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("create the %s user: %w", ServiceAccount, err)
	}
	return nil
}

// startIfReady (re)starts the service when the instance is set up; otherwise the service
// would only exit with "not set up", so the admin is told what finishes the set-up instead.
func (a *app) startIfReady(f pkghook.Format) error {
	if a.layout.Mode != layout.System {
		return errors.New("start-if-ready is for system installs")
	}
	res, err := a.settings(nil, false)
	if err != nil {
		return err
	}
	_, configured, err := pgsetup.ConnInfoFromEnv(settingGetter(res))
	key, _ := res.Get("SECRET_KEY")
	if err != nil || !configured || key.Value == "" {
		fmt.Fprintln(a.stdout, "mathesar.service is enabled but not started: finish the set-up with `sudo mathesar setup`, which then starts it")
		return nil
	}
	argv := pkghook.StartCommand(f)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	return cmd.Run()
}

// enableService enables a unit on a first install and on upgrades of a unit the admin left
// enabled, as dh_installsystemd's postinst does; otherwise it only records the state.
func enableService(unit string) error {
	action := "update-state"
	if exec.Command("deb-systemd-helper", "--quiet", "was-enabled", unit).Run() == nil {
		action = "enable"
	}
	cmd := exec.Command("deb-systemd-helper", action, unit)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("deb-systemd-helper %s %s: %w", action, unit, err)
	}
	return nil
}
