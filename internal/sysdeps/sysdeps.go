// Package sysdeps installs the Debian packages that builds and tests need, so a fresh
// Debian machine with Go gets everything from the project's own files.
package sysdeps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Package is one Debian package and why the project needs it.
type Package struct {
	Name string
	Why  string
}

// Required lists what `go tool mage deps` installs.
var Required = []Package{
	{"gcc", "compiles the sample app's C extension"},
	{"libc6-dev", "C headers for the sample app's C extension"},
	{"python3", "runs the bundle in tests"},
	{"python3-dev", "Python headers for the sample app's C extension"},
	{"python3-packaging", "cross-checks tag order and markers against Python's packaging"},
	{"postgresql", "a real PostgreSQL server for the database tests"},
	{"postgresql-client", "psql, used by the sample app"},
	{"systemd", "systemd-analyze, systemd-sysusers and systemd-tmpfiles check the shipped unit, sysusers.d and tmpfiles.d files"},
	{"unzip", "cross-checks the pyz with another zip reader"},
	{"fakeroot", "builds test .debs with a non-root-owned directory (internal/pkgread)"},
	{"rpm", "rpmbuild and rpm build and cross-check test .rpms (internal/pkgread)"},
	{"lintian", "checks the .deb packages against Debian policy"},
	{"rpmlint", "checks the .rpm packages"},
	{"git", "GoReleaser and the release read the commit date and tags"},
	{"createrepo-c", "createrepo_c cross-checks the yum repository's metadata (internal/yumrepo)"},
	{"ruby", "ruby -c and the formula harness check the rendered Homebrew formula (internal/homebrew)"},
	{"debootstrap", "makes the Debian 12 root file system the end-to-end tests boot (internal/nspawn, test/e2e)"},
	{"systemd-container", "systemd-nspawn boots that root to install the packages in a real system (test/e2e)"},
}

// Names returns the package names of pkgs, sorted.
func Names(pkgs []Package) []string {
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

// Missing asks dpkg which of names are not installed.
func Missing(ctx context.Context, names []string) ([]string, error) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return nil, errors.New("dpkg-query not found: this machine is not Debian-based; install the equivalents of these packages by hand: " + strings.Join(names, " "))
	}
	args := append([]string{"-W", "-f=${Package}\t${db:Status-Abbrev}\n"}, names...)
	// dpkg-query exits 1 when a name is unknown to it; its output still lists the rest.
	out, err := exec.CommandContext(ctx, "dpkg-query", args...).Output()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return nil, fmt.Errorf("run dpkg-query: %w", err)
	}
	return missingFrom(out, names), nil
}

// missingFrom reads dpkg-query's "name<TAB>status" lines; "ii" means installed.
func missingFrom(out []byte, names []string) []string {
	installed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, status, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		// Multi-arch packages are listed as name:arch.
		name, _, _ = strings.Cut(name, ":")
		if strings.HasPrefix(status, "ii") {
			installed[name] = true
		}
	}
	var missing []string
	for _, n := range names {
		if !installed[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return missing
}

// InstallCommand is the exact line that installs pkgs.
func InstallCommand(pkgs []string, root bool) string {
	prefix := ""
	if !root {
		prefix = "sudo "
	}
	return prefix + "apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
}

// Ensure installs whatever of Required is missing when running as root; otherwise it
// prints the apt-get line to run and fails.
func Ensure(ctx context.Context, out io.Writer) error {
	missing, err := Missing(ctx, Names(Required))
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages: %s; install them with:\n  sudo apt-get update && %s", strings.Join(missing, " "), InstallCommand(missing, false))
	}
	fmt.Fprintf(out, "deps: installing %s\n", strings.Join(missing, " "))
	for _, args := range [][]string{{"update"}, append([]string{"install", "-y", "--no-install-recommends"}, missing...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w; run `%s` by hand to see why", args[0], err, InstallCommand(missing, true))
		}
	}
	still, err := Missing(ctx, missing)
	if err != nil {
		return err
	}
	if len(still) > 0 {
		return fmt.Errorf("apt-get did not install %s: check the apt sources", strings.Join(still, " "))
	}
	return nil
}
