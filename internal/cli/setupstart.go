package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
	"github.com/mathesar-foundation/mathesar-packaging/internal/svcuser"
)

const serviceUnit = "mathesar.service"

// startAfterSetup (re)starts mathesar.service at the end of a system setup run by root,
// when systemd runs and the unit is enabled, so an admin finishing a set-up the package
// could not complete (PostgreSQL was missing) ends with Mathesar running. A disabled unit
// is the admin's choice and stays stopped. It returns the summary's line about starting.
func (a *app) startAfterSetup(ctx context.Context, noStart bool) (string, error) {
	const (
		startIt = "Start it:          "
		manual  = startIt + "sudo systemctl enable --now mathesar"
	)
	switch {
	case a.layout.Mode != layout.System:
		return startIt + "mathesar run", nil
	case noStart:
		return manual + "   (package installs start it for you)", nil
	case os.Geteuid() != 0:
		return manual, nil
	}
	st, err := svcuser.ServiceState(ctx, serviceUnit)
	if err != nil || !st.SystemdRunning {
		return manual, nil
	}
	if st.Enabled != "enabled" {
		return fmt.Sprintf("%s   (the service is %s, so setup did not start it)", manual, st.Enabled), nil
	}
	cmd := exec.CommandContext(ctx, "systemctl", "restart", serviceUnit)
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	if err := cmd.Run(); err != nil {
		return startIt + "sudo systemctl restart mathesar   (setup tried and failed, see below)",
			fmt.Errorf("Mathesar is set up, but `systemctl restart %s` failed (%v): see `journalctl -u mathesar -e` and `sudo mathesar doctor`", serviceUnit, err)
	}
	return "Service:           restarted by setup (sudo systemctl status mathesar)", nil
}
