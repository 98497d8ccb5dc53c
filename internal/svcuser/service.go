package svcuser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// systemdRunDir exists only when systemd is PID 1 (what sd_booted(3) checks). A variable
// so tests can point it elsewhere.
var systemdRunDir = "/run/systemd/system"

// State is what systemd reports about one unit.
type State struct {
	// SystemdRunning is false when systemd is not the init system (containers, macOS);
	// every other field is then empty.
	SystemdRunning bool
	LoadState      string // "loaded", "not-found", "masked", ...
	Active         string // ActiveState: "active", "inactive", "failed", "activating", ...
	SubState       string // "running", "dead", "auto-restart", ...
	Enabled        string // `systemctl is-enabled`: "enabled", "disabled", "static", "not-found", ...
	Result         string // why it last stopped: "success", "exit-code", "signal", ...
	MainPID        int    // 0 when not running
	Restarts       int    // NRestarts: automatic restarts since the unit was last started by hand
}

// ServiceState asks systemd about unit (such as "mathesar.service"). Without systemd as
// PID 1 or without systemctl it returns SystemdRunning=false and no error, so `doctor`
// can say "not managed by systemd" instead of failing.
func ServiceState(ctx context.Context, unit string) (State, error) {
	if unit == "" || strings.HasPrefix(unit, "-") {
		return State{}, fmt.Errorf("service state: invalid unit name %q", unit)
	}
	if _, err := os.Stat(systemdRunDir); err != nil {
		return State{}, nil
	}
	systemctl, err := exec.LookPath("systemctl")
	if err != nil {
		return State{}, nil
	}
	// ActiveState from `show` is what `systemctl is-active` prints, so one call covers both.
	out, err := run(ctx, systemctl, "show", "--no-pager", "-p", "LoadState,ActiveState,SubState,MainPID,NRestarts,Result", "--", unit)
	if err != nil {
		return State{}, fmt.Errorf("ask systemd about %s: %w (is systemd running? check `systemctl status %s`)", unit, err, unit)
	}
	st, err := parseShow(out)
	if err != nil {
		return State{}, fmt.Errorf("ask systemd about %s: %w", unit, err)
	}
	st.SystemdRunning = true
	// is-enabled exits non-zero for disabled, masked and missing units; its output is
	// the answer, the exit status only matters when it printed nothing.
	enabled, err := run(ctx, systemctl, "is-enabled", "--no-pager", "--", unit)
	st.Enabled = firstLine(enabled)
	switch {
	case st.Enabled != "":
	case st.LoadState == "not-found":
		st.Enabled = "not-found"
	case err != nil:
		return State{}, fmt.Errorf("ask systemd whether %s is enabled: %w", unit, err)
	}
	return st, nil
}

// run returns a command's stdout; on failure the error carries its stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// parseShow reads the KEY=VALUE lines of `systemctl show -p ...`.
func parseShow(out []byte) (State, error) {
	var st State
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "LoadState":
			st.LoadState = v
		case "ActiveState":
			st.Active = v
		case "SubState":
			st.SubState = v
		case "Result":
			st.Result = v
		case "MainPID":
			st.MainPID, err = strconv.Atoi(v)
		case "NRestarts":
			st.Restarts, err = strconv.Atoi(v)
		}
		if err != nil {
			return State{}, fmt.Errorf("systemctl show: %s=%q: %w", k, v, err)
		}
	}
	if err := sc.Err(); err != nil {
		return State{}, fmt.Errorf("read systemctl show output: %w", err)
	}
	if st.LoadState == "" || st.Active == "" {
		return State{}, errors.New("systemctl show printed no LoadState or ActiveState")
	}
	return st, nil
}
