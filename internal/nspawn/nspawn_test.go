package nspawn

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Booting needs root, systemd-nspawn and a mirror; test/e2e does that. These tests cover
// what runs anywhere.

func TestCacheKey(t *testing.T) {
	base := CacheKey(RootfsOptions{})
	if !strings.HasPrefix(base, "bookworm-minbase-") {
		t.Fatalf("default key %q does not name the suite and variant", base)
	}
	tests := []struct {
		name string
		opts RootfsOptions
		same bool
	}{
		{"defaults spelled out", RootfsOptions{Suite: "bookworm", Variant: "minbase", Include: DefaultInclude}, true},
		{"include order does not matter", RootfsOptions{Include: []string{"systemd-sysv", "systemd", "ca-certificates"}}, true},
		{"cache dir does not matter", RootfsOptions{CacheDir: "/elsewhere"}, true},
		{"another suite", RootfsOptions{Suite: "trixie"}, false},
		{"another variant", RootfsOptions{Variant: "buildd"}, false},
		{"another mirror", RootfsOptions{Mirror: "http://mirror.example.org/debian"}, false},
		{"one more package", RootfsOptions{Include: append([]string{"dbus"}, DefaultInclude...)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CacheKey(tt.opts)
			if (got == base) != tt.same {
				t.Errorf("CacheKey = %q, default %q; want same=%t", got, base, tt.same)
			}
		})
	}
}

func TestMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"Rootfs", func() error {
			_, err := Rootfs(context.Background(), RootfsOptions{CacheDir: t.TempDir()})
			return err
		}, "apt-get install debootstrap"},
		{"Boot", func() error {
			_, err := Boot(context.Background(), BootOptions{Root: t.TempDir()})
			return err
		}, "apt-get install systemd-container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestBindArg(t *testing.T) {
	tests := []struct {
		b    Bind
		want string
	}{
		{Bind{Host: "/srv/a", Container: "/srv/b", ReadOnly: true}, "--bind-ro=/srv/a:/srv/b"},
		{Bind{Host: "/var/cache/x", Container: "/var/cache/apt/archives"}, "--bind=/var/cache/x:/var/cache/apt/archives"},
	}
	for _, tt := range tests {
		if got := tt.b.arg(); got != tt.want {
			t.Errorf("arg() = %q, want %q", got, tt.want)
		}
	}
}

func TestHostPathStaysInRoot(t *testing.T) {
	m := &Machine{Dir: "/tmp/nspawn-x/root"}
	tests := map[string]string{
		"/etc/mathesar/mathesar.env": "/tmp/nspawn-x/root/etc/mathesar/mathesar.env",
		"etc/passwd":                 "/tmp/nspawn-x/root/etc/passwd",
		"/../../etc/shadow":          "/tmp/nspawn-x/root/etc/shadow",
		"/":                          "/tmp/nspawn-x/root",
	}
	for in, want := range tests {
		if got := m.HostPath(in); got != want {
			t.Errorf("HostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteFileAndCopy(t *testing.T) {
	m := &Machine{Name: "test", Dir: t.TempDir()}
	if err := m.WriteFile("/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(src, []byte("key"), 0o600)
	if err := m.Copy(src, "/srv/key.asc"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{"usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755},
		{"srv/key.asc", "key", 0o600},
	}
	for _, tt := range tests {
		p := filepath.Join(m.Dir, tt.path)
		data, err := os.ReadFile(p)
		info, _ := os.Stat(p)
		if err != nil || string(data) != tt.data || info.Mode().Perm() != tt.mode {
			t.Errorf("%s: %q %v (err %v), want %q %v", tt.path, data, info.Mode().Perm(), err, tt.data, tt.mode)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".tmp-*"))
		if len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	}
}

func TestRunBeforeBoot(t *testing.T) {
	_, err := (&Machine{}).Run(context.Background(), "true")
	if err == nil || !strings.Contains(err.Error(), "Boot") {
		t.Errorf("err = %v, want one saying to call Boot", err)
	}
}

// TestFindDescendant looks a real process tree up the way Boot finds the container's
// systemd under systemd-nspawn.
func TestFindDescendant(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var pid int
	for deadline := time.Now().Add(5 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid = findDescendant(cmd.Process.Pid, "sleep")
	}
	if pid == 0 {
		t.Fatal("did not find the sleep child of sh")
	}
	defer exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if strings.TrimSpace(string(comm)) != "sleep" {
		t.Errorf("pid %d is %q", pid, comm)
	}
	if got := findDescendant(cmd.Process.Pid, "no-such-command"); got != 0 {
		t.Errorf("found pid %d for a command that does not run", got)
	}
}

func TestTailAndLastLines(t *testing.T) {
	var tl tail
	tl.Write([]byte(strings.Repeat("a", tailSize)))
	tl.Write([]byte("end"))
	if got := tl.String(); len(got) != tailSize || !strings.HasSuffix(got, "end") {
		t.Errorf("tail kept %d bytes ending %q", len(got), got[len(got)-3:])
	}
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := lastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
