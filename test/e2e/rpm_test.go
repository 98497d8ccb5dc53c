//go:build e2e

package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/nspawn"
)

// TestRpmScriptlets installs and erases the x86_64 rpm with Debian's rpm into a chroot made
// from the cached Debian root. What differs from `dnf install` on Fedora: no dnf (so no
// dependency resolution: --nodeps), a Debian userland (systemd-sysusers and
// systemd-tmpfiles are Debian's 252), no systemd running (as in a dnf --installroot or an
// image build), and no python3 in the root, which the not-set-up path must not need.
// rpm does not mount /proc and /dev in the root; dnf's callers (mock, image builders) do,
// so this test does too, in a private mount namespace that ends with the command.
func TestRpmScriptlets(t *testing.T) {
	need(t)
	timed(t)
	if arch := rpmArch(); arch != "x86_64" {
		t.Skipf("the chroot runs the x86_64 launcher; this machine is %s", arch)
	}
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "root")
	if err := nspawn.Clone(ctx, rootfs, root); err != nil {
		t.Fatal(err)
	}
	rpmFile := filepath.Join(distDir("v1"), "mathesar-"+v1Version+".x86_64.rpm")
	mustRun(t, "rpm", "--root", root, "--initdb")
	mustRun(t, "rpm", "--root", root, "--import", filepath.Join(work, "key.asc"))
	if out := mustRun(t, "rpm", "--root", root, "-K", rpmFile); !strings.Contains(out, "signatures OK") {
		t.Errorf("rpm -K in the root: %s", out)
	}

	out := inRoot(t, root, 0, "rpm", "--root", root, "-i", "--nodeps", rpmFile)
	t.Logf("rpm -i (scriptlets' output):\n%s", out)
	if !strings.Contains(out, "sudo mathesar setup") {
		t.Errorf("%%post did not tell the admin to run `sudo mathesar setup`:\n%s", out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	var uid string
	for _, line := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(line, ":"); len(f) > 2 && f[0] == "mathesar" {
			uid = f[2]
		}
	}
	if uid == "" {
		t.Fatal("the post-install scriptlet did not create the user mathesar (systemd-sysusers)")
	}
	for _, dir := range []string{"var/lib/mathesar", "etc/mathesar"} {
		info, err := os.Stat(filepath.Join(root, dir))
		if err != nil || !info.IsDir() {
			t.Errorf("/%s is missing after the install: %v", dir, err)
		}
	}
	if out := mustRun(t, "rpm", "--root", root, "-q", "mathesar"); !strings.HasPrefix(out, "mathesar-"+v1Version) {
		t.Errorf("rpm -q mathesar: %s", out)
	}

	// State the service would have written; rpm removes the package's directories only
	// when they are empty, so this must survive the erase.
	state := filepath.Join(root, "var/lib/mathesar/media-marker")
	if err := os.WriteFile(state, []byte("state"), 0o640); err != nil {
		t.Fatal(err)
	}
	out = inRoot(t, root, 0, "rpm", "--root", root, "-e", "mathesar")
	t.Logf("rpm -e (scriptlets' output):\n%s", out)
	for _, gone := range []string{"usr/bin/mathesar", "usr/lib/systemd/system/mathesar.service"} {
		if _, err := os.Stat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s is still there after rpm -e", gone)
		}
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("rpm -e removed the state in /var/lib/mathesar: %v", err)
	}
	// %config(noreplace): a file changed since the install is kept as .rpmsave.
	if saved, err := os.ReadFile(filepath.Join(root, "etc/mathesar/mathesar.env.rpmsave")); err == nil {
		shipped, _ := os.ReadFile(filepath.Join(repoRoot, "packaging", "mathesar.env"))
		t.Logf("rpm -e kept /etc/mathesar/mathesar.env.rpmsave (same as shipped: %t):\n%s", string(saved) == string(shipped), saved)
	}
}

func rpmArch() string {
	out, _ := exec.Command("uname", "-m").Output()
	return strings.TrimSpace(string(out))
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inRoot runs argv with /proc and /dev of the host mounted in root, in a mount namespace of
// its own, and fails unless it exits with want.
func inRoot(t *testing.T, root string, want int, argv ...string) string {
	t.Helper()
	script := `set -e; mount --bind /proc "$1/proc"; mount --rbind /dev "$1/dev"; shift; exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", root}, argv...)...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("%s exited %d, want %d:\n%s", strings.Join(argv, " "), code, want, out)
	}
	return string(out)
}
