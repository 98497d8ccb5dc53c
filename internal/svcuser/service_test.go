package svcuser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func booted() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestServiceStateWithoutSystemd(t *testing.T) {
	if booted() {
		t.Skip("systemd is PID 1 here; TestServiceStateRealUnit covers it")
	}
	st, err := ServiceState(ctx(t), "mathesar.service")
	if err != nil || st != (State{}) {
		t.Fatalf("ServiceState without systemd = %+v, %v; want zero State, no error", st, err)
	}
}

// TestServiceStateNoSystemctl pretends systemd is booted but hides systemctl, as on a
// system whose init is systemd-less or a macOS machine.
func TestServiceStateNoSystemctl(t *testing.T) {
	old := systemdRunDir
	systemdRunDir = t.TempDir()
	t.Cleanup(func() { systemdRunDir = old })
	t.Setenv("PATH", t.TempDir())
	st, err := ServiceState(ctx(t), "mathesar.service")
	if err != nil || st.SystemdRunning {
		t.Fatalf("ServiceState without systemctl = %+v, %v; want SystemdRunning=false, no error", st, err)
	}
}

// TestServiceStateSystemctlFails makes the real systemctl talk to a systemd that is not
// there: the error must say what was asked and what systemctl answered.
func TestServiceStateSystemctlFails(t *testing.T) {
	if booted() {
		t.Skip("systemd is PID 1 here")
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Skip("no systemctl")
	}
	old := systemdRunDir
	systemdRunDir = t.TempDir()
	t.Cleanup(func() { systemdRunDir = old })
	_, err := ServiceState(ctx(t), "mathesar.service")
	if err == nil {
		t.Fatal("ServiceState succeeded without a running systemd")
	}
	for _, want := range []string{"ask systemd about mathesar.service", "systemctl show", "systemctl status mathesar.service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestServiceStateRealUnit(t *testing.T) {
	if !booted() {
		t.Skip("systemd is not PID 1 here")
	}
	st, err := ServiceState(ctx(t), "systemd-journald.service")
	if err != nil {
		t.Fatal(err)
	}
	if !st.SystemdRunning || st.LoadState != "loaded" || st.Active != "active" || st.SubState != "running" || st.MainPID <= 0 || st.Enabled == "" {
		t.Errorf("journald state = %+v, want a loaded, running unit with a pid", st)
	}
	st, err = ServiceState(ctx(t), "mathesar-no-such-unit.service")
	if err != nil || st.LoadState != "not-found" || st.Enabled != "not-found" {
		t.Errorf("missing unit = %+v, %v; want not-found", st, err)
	}
}

func TestServiceStateInvalidUnit(t *testing.T) {
	for _, unit := range []string{"", "--all"} {
		if _, err := ServiceState(ctx(t), unit); err == nil || !strings.Contains(err.Error(), "invalid unit name") {
			t.Errorf("ServiceState(%q) = %v, want invalid unit name", unit, err)
		}
	}
}

func TestParseShow(t *testing.T) {
	tests := []struct {
		file    string
		want    State
		wantErr string
	}{
		{"show_running.txt", State{LoadState: "loaded", Active: "active", SubState: "running", Result: "success", MainPID: 4242, Restarts: 3}, ""},
		{"show_failed.txt", State{LoadState: "loaded", Active: "failed", SubState: "failed", Result: "exit-code", Restarts: 5}, ""},
		{"show_not_found.txt", State{LoadState: "not-found", Active: "inactive", SubState: "dead", Result: "success"}, ""},
		{"show_bad_pid.txt", State{}, `MainPID="abc"`},
		{"show_empty.txt", State{}, "no LoadState or ActiveState"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseShow(b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseShow = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseShow = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
