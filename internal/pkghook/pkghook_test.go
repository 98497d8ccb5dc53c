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
		{"postinst", []string{"configure", "0.1.0-1"}, Event{Format: Deb, Script: "postinst", Upgrade: true}},
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

func argvs(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, strings.Join(s.Argv, " "))
	}
	return out
}

func TestPlan(t *testing.T) {
	withSystemd := System{SystemdRunning: true, Launcher: "/usr/bin/mathesar", HaveSysusers: true, HaveTmpfiles: true}
	chroot := System{Launcher: "/usr/bin/mathesar", HaveSysusers: true, HaveTmpfiles: true}
	cases := []struct {
		name string
		e    Event
		s    System
		want []string
	}{
		{"deb fresh install", Event{Format: Deb, Script: "postinst", Install: true}, withSystemd, []string{
			"systemd-sysusers /usr/lib/sysusers.d/mathesar.conf",
			"systemd-tmpfiles --create /usr/lib/tmpfiles.d/mathesar.conf",
			"/usr/bin/mathesar setup --allow-missing-postgres --quiet",
			"deb-systemd-helper unmask mathesar.service",
			"deb-systemd-helper enable mathesar.service",
			"/usr/bin/mathesar package-hook start-if-ready deb",
		}},
		{"deb install in a chroot: no start", Event{Format: Deb, Script: "postinst", Install: true}, chroot, []string{
			"systemd-sysusers /usr/lib/sysusers.d/mathesar.conf",
			"systemd-tmpfiles --create /usr/lib/tmpfiles.d/mathesar.conf",
			"/usr/bin/mathesar setup --allow-missing-postgres --quiet",
			"deb-systemd-helper unmask mathesar.service",
			"deb-systemd-helper enable mathesar.service",
		}},
		{"rpm install", Event{Format: Rpm, Script: "postinst", Install: true}, withSystemd, []string{
			"systemd-sysusers /usr/lib/sysusers.d/mathesar.conf",
			"systemd-tmpfiles --create /usr/lib/tmpfiles.d/mathesar.conf",
			"/usr/bin/mathesar setup --allow-missing-postgres --quiet",
			"systemctl preset mathesar.service",
			"/usr/bin/mathesar package-hook start-if-ready rpm",
		}},
		{"no sysusers: the launcher creates the user", Event{Format: Rpm, Script: "postinst", Install: true}, System{Launcher: "/usr/bin/mathesar"}, []string{
			"/usr/bin/mathesar package-hook create-user",
			"/usr/bin/mathesar setup --allow-missing-postgres --quiet",
		}},
		{"deb remove", Event{Format: Deb, Script: "prerm", Remove: true}, withSystemd, []string{"deb-systemd-invoke stop mathesar.service"}},
		{"deb upgrade stops first", Event{Format: Deb, Script: "prerm", Upgrade: true}, withSystemd, []string{"deb-systemd-invoke stop mathesar.service"}},
		{"rpm erase", Event{Format: Rpm, Script: "prerm", Remove: true}, withSystemd, []string{"systemctl --no-reload disable --now mathesar.service"}},
		{"rpm upgrade keeps it running", Event{Format: Rpm, Script: "prerm", Upgrade: true}, withSystemd, nil},
		{"remove in a chroot does nothing", Event{Format: Deb, Script: "prerm", Remove: true}, chroot, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := argvs(Plan(c.e, c.s)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan:\n  got  %q\n  want %q", got, c.want)
			}
		})
	}
	// Starting the service may fail (a unit that fails to start) without failing the
	// package operation; creating the user may not.
	for _, s := range Plan(Event{Format: Deb, Script: "postinst", Install: true}, withSystemd) {
		starts := strings.Contains(strings.Join(s.Argv, " "), "start-if-ready")
		if s.Optional != starts {
			t.Errorf("%v: optional=%t", s.Argv, s.Optional)
		}
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	steps := []Step{
		{Why: "say hello", Argv: []string{"echo", "hello"}},
		{Why: "try something optional", Argv: []string{"false"}, Optional: true},
		{Why: "fail for real", Argv: []string{"sh", "-c", "exit 3"}},
		{Why: "never reached", Argv: []string{"echo", "unreachable"}},
	}
	err := Run(context.Background(), steps, &out)
	if err == nil || !strings.Contains(err.Error(), "fail for real") || !strings.Contains(err.Error(), "status 3") {
		t.Fatalf("Run = %v", err)
	}
	if !strings.Contains(out.String(), "hello") || !strings.Contains(out.String(), "could not try something optional") || strings.Contains(out.String(), "unreachable") {
		t.Fatalf("output %q", out.String())
	}
}
