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
	// Command, when on PATH, meets the need without the package: Node.js from NodeSource
	// bundles npm and conflicts with Debian's npm package.
	Command string
}

// Required lists what `go tool mage deps` installs.
var Required = []Package{
	{Name: "gcc", Why: "compiles the sample app's C extension"},
	{Name: "libc6-dev", Why: "C headers for the sample app's C extension"},
	{Name: "python3", Why: "runs the bundle in tests"},
	{Name: "python3-dev", Why: "Python headers for the sample app's C extension"},
	{Name: "python3-packaging", Why: "cross-checks tag order and markers against Python's packaging"},
	{Name: "postgresql", Why: "a real PostgreSQL server for the database tests"},
	{Name: "postgresql-client", Why: "psql, used by the sample app"},
	{Name: "systemd", Why: "systemd-analyze, systemd-sysusers and systemd-tmpfiles check the shipped unit, sysusers.d and tmpfiles.d files"},
	{Name: "unzip", Why: "cross-checks the pyz with another zip reader"},
	{Name: "fakeroot", Why: "builds test .debs with a non-root-owned directory (internal/pkgread)"},
	{Name: "rpm", Why: "rpmbuild and rpm build and cross-check test .rpms (internal/pkgread)"},
	{Name: "lintian", Why: "checks the .deb packages against Debian policy"},
	{Name: "rpmlint", Why: "checks the .rpm packages"},
	{Name: "git", Why: "GoReleaser and the release read the commit date and tags"},
	{Name: "createrepo-c", Why: "createrepo_c cross-checks the yum repository's metadata (internal/yumrepo)"},
	{Name: "ruby", Why: "ruby -c and the formula harness check the rendered Homebrew formula (internal/homebrew)"},
	{Name: "debootstrap", Why: "makes the Debian 12 root file system the end-to-end tests boot (internal/nspawn, test/e2e)"},
	{Name: "systemd-container", Why: "systemd-nspawn boots that root to install the packages in a real system (test/e2e)"},
	{Name: "gettext", Why: "msgfmt compiles Mathesar's translation catalogs at build time (internal/msgcompile)"},
	{Name: "nodejs", Why: "runs Mathesar's front-end build (internal/frontend)", Command: "node"},
	{Name: "npm", Why: "npm ci && npm run build of mathesar_ui (internal/frontend)", Command: "npm"},
	{Name: "python3-pip", Why: "pip download fetches the wheels of a real Mathesar build (internal/wheelfetch)"},
	{Name: "python3-yaml", Why: "PyYAML for the site hook's sso.yml tests (internal/sitehook)"},
	{Name: "python3-django", Why: "real Django, repackaged as wheels, for the build-time collectstatic test (internal/pipeline)"},
	{Name: "python3-psycopg2", Why: "the PostgreSQL driver Django loads even for collectstatic, in that test (internal/pipeline)"},
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

// withoutCommands drops the missing packages whose Command is found on PATH.
func withoutCommands(missing []string, pkgs []Package, lookPath func(string) (string, error)) []string {
	command := map[string]string{}
	for _, p := range pkgs {
		command[p.Name] = p.Command
	}
	var out []string
	for _, name := range missing {
		if c := command[name]; c != "" {
			if _, err := lookPath(c); err == nil {
				continue
			}
		}
		out = append(out, name)
	}
	return out
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
	missing = withoutCommands(missing, Required, exec.LookPath)
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
