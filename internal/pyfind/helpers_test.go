package pyfind

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// realPython is a CPython installed on this machine and its version as `-V` reports it.
type realPython struct {
	path    string
	version [3]int
}

// findReal returns a real CPython major.minor from /usr/bin or a pyenv tree, or skips the
// test: pyenv is a convenience of the development machine, never a requirement.
func findReal(t *testing.T, major, minor int) realPython {
	t.Helper()
	realMu.Lock()
	defer realMu.Unlock()
	key := [2]int{major, minor}
	if rp, ok := realFound[key]; ok {
		if rp.path == "" {
			t.Skipf("no working CPython %d.%d in /usr/bin or a pyenv tree; skipping this case", major, minor)
		}
		return rp
	}
	rp := lookupReal(major, minor)
	realFound[key] = rp
	if rp.path == "" {
		t.Skipf("no working CPython %d.%d in /usr/bin or a pyenv tree; skipping this case", major, minor)
	}
	return rp
}

// realFound memoises lookupReal: running `-V` is slow on a loaded machine.
var (
	realMu    sync.Mutex
	realFound = map[[2]int]realPython{}
)

func lookupReal(major, minor int) realPython {
	name := fmt.Sprintf("python%d.%d", major, minor)
	paths := []string{filepath.Join("/usr/bin", name)}
	roots := []string{"/root/.pyenv", os.Getenv("PYENV_ROOT")}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".pyenv"))
	}
	for _, r := range roots {
		if r == "" {
			continue
		}
		m, _ := filepath.Glob(filepath.Join(r, "versions", fmt.Sprintf("%d.%d.*", major, minor), "bin", name))
		sort.Strings(m)
		paths = append(paths, m...)
	}
	for _, p := range paths {
		out, err := exec.Command(p, "-V").CombinedOutput()
		if err != nil {
			continue
		}
		m := regexp.MustCompile(`^Python (\d+)\.(\d+)\.(\d+)`).FindSubmatch(out)
		if m == nil {
			continue
		}
		var v [3]int
		for i := range v {
			v[i], _ = strconv.Atoi(string(m[i+1]))
		}
		if v[0] == major && v[1] == minor {
			return realPython{path: p, version: v}
		}
	}
	return realPython{}
}

// farm makes a directory holding the given entries: a value starting with "->" is a
// symlink target, anything else is written as an executable file's content; a value
// starting with "noexec:" is written without execute permission.
func farm(t *testing.T, entries map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, p := entries[n], filepath.Join(dir, n)
		var err error
		switch {
		case len(v) > 2 && v[:2] == "->":
			err = os.Symlink(v[2:], p)
		case len(v) > 7 && v[:7] == "noexec:":
			err = os.WriteFile(p, []byte(v[7:]), 0o644)
		default:
			err = os.WriteFile(p, []byte(v), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// countProbes wraps the real Probe with a counter for the duration of the test.
func countProbes(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	orig := probeFunc
	probeFunc = func(ctx context.Context, path string) (*Interpreter, error) {
		n.Add(1)
		return orig(ctx, path)
	}
	t.Cleanup(func() { probeFunc = orig })
	return &n
}

// opts searches only the given PATH directories, without cache or default directories.
func opts(path string) Options {
	return Options{Min: [2]int{3, 10}, Max: [2]int{3, 14}, PATH: path, ExtraDirs: []string{},
		GOOS: "linux", OSRelease: "testdata/os-release/debian"}
}

// pathOf builds a PATH value.
func pathOf(dirs ...string) string { return strings.Join(dirs, string(os.PathListSeparator)) }
