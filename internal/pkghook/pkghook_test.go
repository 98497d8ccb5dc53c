package pkghook

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseEvent(t *testing.T) {
	cases := []struct {
		script string
		args   []string
		want   Event
	}{
		{"postinst", []string{"configure"}, Event{Format: Deb, Script: "postinst", Install: true}},
		{"postinst", []string{"configure", ""}, Event{Format: Deb, Script: "postinst", Install: true}},
		{"postinst", []string{"configure", "0.1.0-1"}, Event{Format: Deb, Script: "postinst", Upgrade: true, OldVersion: "0.1.0-1"}},
		{"preinst", []string{"upgrade", "1:0.1.0-1"}, Event{Format: Deb, Script: "preinst", Upgrade: true, OldVersion: "1:0.1.0-1"}},
		{"prerm", []string{"remove"}, Event{Format: Deb, Script: "prerm", Remove: true}},
		{"prerm", []string{"upgrade", "0.2.0-1"}, Event{Format: Deb, Script: "prerm", Upgrade: true}},
		{"postrm", []string{"purge"}, Event{Format: Deb, Script: "postrm", Remove: true, Purge: true}},
		{"postinst", []string{"1"}, Event{Format: Rpm, Script: "postinst", Install: true}},
		{"postinst", []string{"2"}, Event{Format: Rpm, Script: "postinst", Upgrade: true}},
		{"prerm", []string{"0"}, Event{Format: Rpm, Script: "prerm", Remove: true}},
		{"prerm", []string{"1"}, Event{Format: Rpm, Script: "prerm", Upgrade: true}},
	}
	for _, c := range cases {
		got, err := ParseEvent(c.script, c.args)
		if err != nil || got != c.want {
			t.Errorf("ParseEvent(%s, %q) = %+v, %v; want %+v", c.script, c.args, got, err, c.want)
		}
	}
	for _, bad := range [][]string{{"postinst"}, {"configure-ish", "x"}, {"postinst", "explode"}} {
		if _, err := ParseEvent(bad[0], bad[1:]); err == nil {
			t.Errorf("ParseEvent(%q) succeeded", bad)
		}
	}
}

// render writes a step as its command line, marked when it is optional, advises or runs
// a command on failure, so a plan's table says all of it.
func render(steps []Step) []string {
	var out []string
	for _, s := range steps {
		line := strings.Join(s.Argv, " ")
		if s.Optional {
			line += " [optional]"
		}
		if s.Advice != "" {
			line += " [advice]"
		}
		if len(s.IfFailed) > 0 {
			line += " [if failed: " + strings.Join(s.IfFailed, " ") + "]"
		}
		out = append(out, line)
	}
	return out
}

func TestPlan(t *testing.T) {
	withSystemd := System{SystemdRunning: true, Launcher: "/usr/bin/mathesar", HaveSysusers: true, HaveTmpfiles: true}
	chroot := System{Launcher: "/usr/bin/mathesar", HaveSysusers: true, HaveTmpfiles: true}
	const (
		sysusers = "systemd-sysusers /usr/lib/sysusers.d/mathesar.conf"
		tmpfiles = "systemd-tmpfiles --create /usr/lib/tmpfiles.d/mathesar.conf"
		setup    = "/usr/bin/mathesar setup --allow-missing-postgres --quiet --no-start"
		unmask   = "deb-systemd-helper unmask mathesar.service"
		enable   = "/usr/bin/mathesar package-hook enable-service mathesar.service"
		reload   = "systemctl --system daemon-reload [optional]"
	)
	cases := []struct {
		name string
		e    Event
		s    System
		want []string
	}{
		{"deb fresh install", Event{Format: Deb, Script: "postinst", Install: true}, withSystemd, []string{
			sysusers, tmpfiles, setup, unmask, enable,
			"/usr/bin/mathesar package-hook start-if-ready deb [optional]",
		}},
		{"deb install in a chroot: no start", Event{Format: Deb, Script: "postinst", Install: true}, chroot, []string{
			sysusers, tmpfiles, setup, unmask, enable,
		}},
		{"deb upgrade: back up, migrate, reload, restart", Event{Format: Deb, Script: "postinst", Upgrade: true, OldVersion: "0.1.0-1"}, withSystemd, []string{
			sysusers, tmpfiles,
			"/usr/bin/mathesar backup --if-set-up --label 0.1.0-1 [advice]",
			setup + " [if failed: /usr/bin/mathesar package-hook upgrade-failed deb 0.1.0-1]",
			unmask, enable, reload,
			"/usr/bin/mathesar package-hook start-if-ready deb [optional]",
		}},
		{"deb upgrade in a chroot", Event{Format: Deb, Script: "postinst", Upgrade: true, OldVersion: "1:0.1.0-1"}, chroot, []string{
			sysusers, tmpfiles,
			"/usr/bin/mathesar backup --if-set-up --label 1:0.1.0-1 [advice]",
			setup + " [if failed: /usr/bin/mathesar package-hook upgrade-failed deb 1:0.1.0-1]",
			unmask, enable,
		}},
		{"rpm install", Event{Format: Rpm, Script: "postinst", Install: true}, withSystemd, []string{
			sysusers, tmpfiles, setup,
			"systemctl preset mathesar.service [optional]",
			"/usr/bin/mathesar package-hook start-if-ready rpm [optional]",
		}},
		{"rpm upgrade: stop, back up as previous, migrate, keep the enablement", Event{Format: Rpm, Script: "postinst", Upgrade: true}, withSystemd, []string{
			sysusers, tmpfiles,
			"systemctl stop mathesar.service [optional]",
			"/usr/bin/mathesar backup --if-set-up --label previous [advice]",
			setup + " [if failed: /usr/bin/mathesar package-hook upgrade-failed rpm previous]",
			reload,
			"/usr/bin/mathesar package-hook start-if-ready rpm [optional]",
		}},
		{"no sysusers: the launcher creates the user", Event{Format: Rpm, Script: "postinst", Install: true}, System{Launcher: "/usr/bin/mathesar"}, []string{
			"/usr/bin/mathesar package-hook create-user",
			setup,
		}},
		{"deb remove", Event{Format: Deb, Script: "prerm", Remove: true}, withSystemd, []string{"deb-systemd-invoke stop mathesar.service [optional]"}},
		{"deb upgrade stops first", Event{Format: Deb, Script: "prerm", Upgrade: true}, withSystemd, []string{"deb-systemd-invoke stop mathesar.service [optional]"}},
		{"rpm erase", Event{Format: Rpm, Script: "prerm", Remove: true}, withSystemd, []string{"systemctl --no-reload disable --now mathesar.service [optional]"}},
		{"rpm upgrade: the old package's preun does nothing", Event{Format: Rpm, Script: "prerm", Upgrade: true}, withSystemd, nil},
		{"remove in a chroot does nothing", Event{Format: Deb, Script: "prerm", Remove: true}, chroot, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := render(Plan(c.e, c.s)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan:\n  got  %q\n  want %q", got, c.want)
			}
		})
	}
}

func TestUpgradeFailureMessage(t *testing.T) {
	restore := []string{"sudo", "-u", "mathesar", "pg_restore", "--dbname", "postgres", "--clean", "--if-exists", "--create", "/b/new.dump"}
	cases := []struct {
		name      string
		u         UpgradeFailure
		want, not []string
	}{
		{"deb with a dump", UpgradeFailure{Format: Deb, OldVersion: "0.1.0-1", Dumps: []string{"/b/new.dump"}, Restore: restore},
			[]string{"from 0.1.0-1 failed", "migration did not complete", "/b/new.dump", strings.Join(restore, " "), "sudo apt install mathesar=0.1.0-1", "sudo dpkg --configure -a"},
			[]string{"Earlier dumps", "No backup", "previous"}},
		{"deb retried: earlier dumps are listed", UpgradeFailure{Format: Deb, OldVersion: "0.1.0-1", Dumps: []string{"/b/old.dump", "/b/new.dump"}, Restore: restore},
			[]string{"Earlier dumps", "      /b/old.dump\n", "is in\n      /b/new.dump\n"},
			nil},
		{"rpm says the label", UpgradeFailure{Format: Rpm, Dumps: []string{"/b/new.dump"}, Restore: restore},
			[]string{"from the previous version", `labelled "previous"`, "sudo dnf downgrade mathesar", "finish the upgrade: sudo mathesar setup"},
			[]string{"apt", "dpkg"}},
		{"nothing to restore", UpgradeFailure{Format: Deb, OldVersion: "0.1.0-1"},
			[]string{"No backup was taken", "sudo dpkg --configure -a"},
			[]string{"pg_restore", "apt install"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := c.u.Message()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, n := range c.not {
				if strings.Contains(msg, n) {
					t.Errorf("message has %q:\n%s", n, msg)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	steps := []Step{
		{Why: "say hello", Argv: []string{"echo", "hello"}},
		{Why: "try something optional", Argv: []string{"false"}, Optional: true},
		{Why: "fail for real", Argv: []string{"sh", "-c", "echo failing; exit 3"}, Advice: "advice here", IfFailed: []string{"echo", "explained"}},
		{Why: "never reached", Argv: []string{"echo", "unreachable"}},
	}
	err := Run(context.Background(), steps, &out)
	if err == nil || !strings.Contains(err.Error(), "fail for real") || !strings.Contains(err.Error(), "status 3") {
		t.Fatalf("Run = %v", err)
	}
	// The failing command's own output comes first, then the advice, then the explanation.
	want := "hello\nmathesar: could not try something optional (exit status 1); continuing\nfailing\nadvice here\nexplained\n"
	if out.String() != want {
		t.Fatalf("output %q; want %q", out.String(), want)
	}
}
