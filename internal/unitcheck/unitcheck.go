// Package unitcheck checks the systemd files the deb and rpm ship (the service unit and the
// sysusers.d and tmpfiles.d entries) with systemd's own tools, so a misspelt directive or a
// weakened sandbox fails the build rather than an admin's boot.
package unitcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Paths of the shipped files, relative to the repository root.
const (
	UnitFile     = "systemd/mathesar.service"
	SysusersFile = "packaging/sysusers.d/mathesar.conf"
	TmpfilesFile = "packaging/tmpfiles.d/mathesar.conf"
)

// MaxExposure is the highest `systemd-analyze security` exposure the unit may have; up to
// 2.0 systemd rates a service "OK".
const MaxExposure = 2.0

// ErrNoTool means a systemd tool is not installed.
var ErrNoTool = errors.New("systemd tool not found: install Debian's systemd package (`go tool mage deps` does)")

// Finding is one row of `systemd-analyze security` that still adds to the exposure.
type Finding struct {
	Directive   string // e.g. "PrivateNetwork="
	Description string
	Exposure    float64
}

// SecurityReport is what `systemd-analyze security --offline=true` says about one unit.
type SecurityReport struct {
	Unit     string  // the unit name systemd reports
	Exposure float64 // overall exposure, 0.0 (locked down) to 10.0
	Rating   string  // OK, MEDIUM, EXPOSED or UNSAFE
	Findings []Finding
	Output   string // the whole table, for logs
}

// tool finds one of systemd's programs.
func tool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, ErrNoTool)
	}
	return p, nil
}

// command runs a systemd tool with plain, uncoloured, unpaged output.
func command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	p, err := tool(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "SYSTEMD_LOG_COLOR=0")
	return cmd, nil
}

// Security rates the unit file at unitPath with `systemd-analyze security --offline=true`,
// which reads the file alone: no running systemd is needed.
func Security(ctx context.Context, unitPath string) (SecurityReport, error) {
	abs, err := filepath.Abs(unitPath)
	if err != nil {
		return SecurityReport{}, fmt.Errorf("resolve %s: %w", unitPath, err)
	}
	cmd, err := command(ctx, "systemd-analyze", "security", "--offline=true", "--no-pager", abs)
	if err != nil {
		return SecurityReport{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return SecurityReport{}, fmt.Errorf("systemd-analyze security %s: %w: %s", abs, err, strings.TrimSpace(stderr.String()))
	}
	rep, err := ParseSecurity(stdout.String())
	if err != nil {
		return rep, fmt.Errorf("systemd-analyze security %s: %w (stderr: %s)", abs, err, strings.TrimSpace(stderr.String()))
	}
	return rep, nil
}

var overallRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9]+(?:\.[0-9]+)?) ([A-Z]+)`)

// ParseSecurity reads the table `systemd-analyze security` prints for one unit. Rows
// marked ✗ become Findings, highest exposure first.
func ParseSecurity(out string) (SecurityReport, error) {
	rep := SecurityReport{Output: out}
	sc := bufio.NewScanner(strings.NewReader(out))
	found := false
	for sc.Scan() {
		line := sc.Text()
		if m := overallRE.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				return rep, fmt.Errorf("read exposure %q: %w", m[2], err)
			}
			rep.Unit, rep.Exposure, rep.Rating, found = m[1], v, m[3], true
			continue
		}
		rest, ok := strings.CutPrefix(line, "✗ ")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		f := Finding{Directive: fields[0], Description: strings.Join(fields[1:], " ")}
		// A row's exposure is its last column; rows that only inform have none.
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			f.Exposure = v
			f.Description = strings.Join(fields[1:len(fields)-1], " ")
		}
		rep.Findings = append(rep.Findings, f)
	}
	if !found {
		return rep, errors.New(`no "Overall exposure level" line in the output: has systemd-analyze changed its format?`)
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Exposure != b.Exposure {
			return a.Exposure > b.Exposure
		}
		return a.Directive < b.Directive
	})
	return rep, nil
}

// Verify runs `systemd-analyze verify` on the unit at unitPath inside a scratch root that
// holds the unit, this machine's own systemd units (so targets such as sysinit.target
// resolve) and an executable placeholder at each path in executables (verify checks that
// ExecStart's program exists, and the real launcher is built elsewhere). Each line systemd
// prints is returned: a clean unit prints none. Man pages are not checked, because the
// package's mathesar(1) is not installed on the build machine.
func Verify(ctx context.Context, unitPath string, executables []string) ([]string, error) {
	root, err := os.MkdirTemp("", "unitcheck-root-")
	if err != nil {
		return nil, fmt.Errorf("make a scratch root: %w", err)
	}
	defer os.RemoveAll(root)

	name := filepath.Base(unitPath)
	unitDir := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", unitDir, err)
	}
	if err := copyFile(unitPath, filepath.Join(unitDir, name), 0o644); err != nil {
		return nil, err
	}
	sysUnits, err := systemUnitDir()
	if err != nil {
		return nil, err
	}
	if err := copyTree(sysUnits, filepath.Join(root, "usr", "lib", "systemd", "system")); err != nil {
		return nil, err
	}
	for _, exe := range executables {
		p := filepath.Join(root, exe)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("make %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			return nil, fmt.Errorf("write placeholder %s: %w", p, err)
		}
	}
	// --recursive-errors=no: only this unit's own problems count, not those of whatever
	// units this machine happens to ship.
	cmd, err := command(ctx, "systemd-analyze", "verify", "--man=no", "--recursive-errors=no", "--root="+root, name)
	if err != nil {
		return nil, err
	}
	out, runErr := cmd.CombinedOutput()
	// The scratch root's path changes every run; the line number and message matter.
	lines := nonEmptyLines(strings.ReplaceAll(string(out), root, ""))
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return lines, fmt.Errorf("run systemd-analyze verify: %w", runErr)
	}
	if runErr != nil && len(lines) == 0 {
		return []string{"systemd-analyze verify: " + runErr.Error()}, nil
	}
	return lines, nil
}

// Sysusers applies a sysusers.d file to the tree at root with `systemd-sysusers --root`,
// as the package's install scripts do on a real system: root/etc/passwd and
// root/etc/group get the accounts.
func Sysusers(ctx context.Context, root, file string) error {
	return applyTo(ctx, "systemd-sysusers", root, file)
}

// Tmpfiles creates what a tmpfiles.d file lists in the tree at root with
// `systemd-tmpfiles --create --root`. Owners are looked up in root's own /etc/passwd, so
// run Sysusers first; setting them needs root.
func Tmpfiles(ctx context.Context, root, file string) error {
	return applyTo(ctx, "systemd-tmpfiles", root, file, "--create")
}

func applyTo(ctx context.Context, name, root, file string, extra ...string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", file, err)
	}
	// Both tools lock and read root/etc; without it they fail with a bare ENOENT.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		return fmt.Errorf("make %s/etc: %w", root, err)
	}
	// A path outside root is read as given, not inside root.
	args := append([]string{"--root=" + root}, extra...)
	cmd, err := command(ctx, name, append(args, abs)...)
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return &ToolError{Cmd: strings.Join(cmd.Args, " "), Err: err, Lines: nonEmptyLines(string(out))}
	}
	return nil
}

// ToolError is a systemd tool that failed, with every line it printed.
type ToolError struct {
	Cmd   string
	Err   error
	Lines []string
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, strings.Join(e.Lines, "; "))
}

func (e *ToolError) Unwrap() error { return e.Err }

func nonEmptyLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// systemUnitDir is where this machine's systemd keeps its own units.
func systemUnitDir() (string, error) {
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d, nil
		}
	}
	return "", fmt.Errorf("no /usr/lib/systemd/system on this machine: %w", ErrNoTool)
}

func copyFile(src, dst string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// copyTree copies regular files and symlinks (as links, unchanged), which is all a unit
// directory holds.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("read link %s: %w", p, err)
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target, 0o644)
		}
		return nil
	})
}
