// Package pyfind finds the system CPython interpreter the mathesar launcher runs the pyz
// with: the newest plain CPython inside the bundle's supported version range.
package pyfind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Interpreter describes one probed Python executable.
type Interpreter struct {
	Path           string `json:"path"`           // as found (absolute), not symlink-resolved
	Version        [3]int `json:"version"`        // major, minor, micro
	Implementation string `json:"implementation"` // sys.implementation.name: "cpython", "pypy", …
	ABI            string `json:"abi"`            // "cp311" for plain CPython 3.11; "" for other builds
	FreeThreaded   bool   `json:"free_threaded"`
	Debug          bool   `json:"debug"`
	// Executable is the interpreter's own sys.executable when it differs from Path, as
	// for a version manager's shim (pyenv's cost over a second per start).
	Executable string `json:"executable,omitempty"`
}

// Exec is the file to run: the real interpreter behind a shim, or Path.
func (ip *Interpreter) Exec() string {
	if ip.Executable != "" {
		return ip.Executable
	}
	return ip.Path
}

// Options control where Find looks and what it accepts.
type Options struct {
	Min, Max [2]int // inclusive (major, minor) range, e.g. {3,10} and {3,14}
	// Explicit is MATHESAR_PYTHON: when set only this interpreter is considered. A bare
	// name (no slash) is looked up on PATH.
	Explicit string
	PATH     string // search path; os.Getenv("PATH") when empty
	// ExtraDirs are searched after PATH. nil means DefaultExtraDirs; a non-nil empty slice
	// searches PATH only.
	ExtraDirs []string
	CacheFile string // probe cache (JSON); "" disables caching
	GOOS      string // runtime.GOOS when empty
	OSRelease string // os-release file for the install hint; /etc/os-release when empty
}

// probeFunc is Probe, swappable by tests that count how often an interpreter really runs.
var probeFunc = Probe

// Find returns the newest plain CPython whose version is within [o.Min, o.Max]. When none
// is usable it returns a *NoPythonError listing every interpreter it saw and why each
// was rejected.
func Find(ctx context.Context, o Options) (*Interpreter, error) {
	if err := checkRange(o.Min, o.Max); err != nil {
		return nil, err
	}
	if o.PATH == "" {
		o.PATH = os.Getenv("PATH")
	}
	if o.ExtraDirs == nil {
		o.ExtraDirs = DefaultExtraDirs(o.Min, o.Max)
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.OSRelease == "" {
		o.OSRelease = "/etc/os-release"
	}
	c := loadCache(o.CacheFile)
	// The cache only speeds up later launches; failing to save it (read-only home, full
	// disk) must not stop this one.
	defer func() { _ = c.save() }()

	var cands []candidate
	if o.Explicit != "" {
		cand, rej := explicitCandidate(o.Explicit, o.PATH)
		if rej != nil {
			return nil, noPython(o, []Rejected{*rej})
		}
		cands = []candidate{cand}
	} else {
		cands = candidates(o)
	}

	var best *Interpreter
	var rejected []Rejected
	for _, cand := range cands {
		ip, err := c.probe(ctx, cand)
		if err != nil {
			if ctx.Err() != nil {
				// A cancelled launch is not a broken interpreter; say what happened.
				return nil, fmt.Errorf("find python: %w", ctx.Err())
			}
			rejected = append(rejected, Rejected{Path: cand.path, Reason: FailedToRun, Detail: err.Error()})
			continue
		}
		if reason, detail := check(ip, o.Min, o.Max); reason != "" {
			rejected = append(rejected, Rejected{Path: cand.path, Version: ip.Version,
				Implementation: ip.Implementation, Reason: reason, Detail: detail})
			continue
		}
		if best == nil || compareVersion(ip.Version, best.Version) > 0 {
			best = ip
		}
	}
	if best == nil {
		return nil, noPython(o, rejected)
	}
	return best, nil
}

func noPython(o Options, rejected []Rejected) *NoPythonError {
	e := &NoPythonError{
		Min: o.Min, Max: o.Max, Explicit: o.Explicit, Rejected: rejected,
		InstallHint: InstallHint(o.GOOS, o.OSRelease, o.Min, o.Max),
	}
	if o.Explicit == "" {
		e.Names = candidateNames(o.Min, o.Max)
		e.Searched = append([]string{"PATH"}, o.ExtraDirs...)
	}
	return e
}

func checkRange(lo, hi [2]int) error {
	if lo[0] < 3 || lo[0] != hi[0] || lo[1] < 0 || hi[1] < lo[1] {
		return fmt.Errorf("find python: version range %d.%d to %d.%d is not a valid Python 3 range; "+
			"the bundle manifest should give one such as 3.10 to 3.14", lo[0], lo[1], hi[0], hi[1])
	}
	return nil
}

// check says why ip cannot run the bundle, or returns "" when it can.
func check(ip *Interpreter, lo, hi [2]int) (RejectReason, string) {
	mm := [2]int{ip.Version[0], ip.Version[1]}
	switch {
	case ip.Implementation != "cpython":
		// The bundle's compiled wheels (psycopg, pillow, …) are cpXY builds for CPython's
		// C API; other implementations cannot load them.
		return NotCPython, ip.Implementation
	case compare2(mm, lo) < 0:
		return TooOld, ""
	case compare2(mm, hi) > 0:
		return TooNew, ""
	case ip.FreeThreaded:
		// Free-threaded CPython has its own ABI (cp313t); the bundle ships wheels for the
		// default, GIL-enabled ABI only, so its extension modules would not import.
		return FreeThreadedBuild, ""
	case ip.ABI == "":
		// Debug builds are tagged cpXYd; the bundle has no lib/<abi> directory for them.
		return DebugBuild, ""
	}
	return "", ""
}

func compare2(a, b [2]int) int {
	if a[0] != b[0] {
		return a[0] - b[0]
	}
	return a[1] - b[1]
}

func compareVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// candidate is one executable to probe: the path as found and its resolved real path.
type candidate struct {
	path string
	real string
}

// candidateNames lists python3.<Max> down to python3.<Min>, then python3.
func candidateNames(lo, hi [2]int) []string {
	var names []string
	for minor := hi[1]; minor >= lo[1]; minor-- {
		names = append(names, fmt.Sprintf("python%d.%d", hi[0], minor))
	}
	return append(names, fmt.Sprintf("python%d", hi[0]))
}

// DefaultExtraDirs are the directories searched after PATH: the system ones, Homebrew's
// (macOS on Apple silicon and Intel, Linux), and the keg-only python@3.X formulas.
func DefaultExtraDirs(lo, hi [2]int) []string {
	dirs := []string{"/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/home/linuxbrew/.linuxbrew/bin"}
	for _, prefix := range []string{"/opt/homebrew/opt", "/usr/local/opt"} {
		for minor := hi[1]; minor >= lo[1]; minor-- {
			dirs = append(dirs, fmt.Sprintf("%s/python@%d.%d/bin", prefix, hi[0], minor))
		}
	}
	if p := os.Getenv("HOMEBREW_PREFIX"); filepath.IsAbs(p) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	return dirs
}

// candidates lists every existing file named like a wanted interpreter, in search order,
// once per real file so a symlink farm (python3 -> python3.12) is probed once.
func candidates(o Options) []candidate {
	names := candidateNames(o.Min, o.Max)
	var pathDirs []string
	for _, d := range filepath.SplitList(o.PATH) {
		// Relative PATH entries ("", ".") would make the choice depend on the current
		// directory, which Go's os/exec also refuses (exec.ErrDot).
		if filepath.IsAbs(d) {
			pathDirs = append(pathDirs, d)
		}
	}
	seen := map[string]bool{}
	var out []candidate
	add := func(dirs []string) {
		for _, name := range names {
			for _, dir := range dirs {
				p := filepath.Join(dir, name)
				fi, err := os.Stat(p)
				if err != nil || fi.IsDir() {
					continue
				}
				if o.GOOS == "darwin" && p == "/usr/bin/python3" && !xcodeToolsInstalled() {
					// Without the Command Line Tools this is a stub that opens an
					// "install developer tools" dialog instead of running Python.
					continue
				}
				real, err := filepath.EvalSymlinks(p)
				if err != nil || seen[real] {
					continue
				}
				seen[real] = true
				out = append(out, candidate{path: p, real: real})
			}
		}
	}
	add(pathDirs)
	add(o.ExtraDirs)
	return out
}

func xcodeToolsInstalled() bool {
	for _, p := range []string{
		"/Library/Developer/CommandLineTools/usr/bin/python3",
		"/Applications/Xcode.app/Contents/Developer/usr/bin/python3",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// explicitCandidate resolves MATHESAR_PYTHON to an absolute existing file.
func explicitCandidate(explicit, path string) (candidate, *Rejected) {
	p := explicit
	if !strings.ContainsRune(p, filepath.Separator) {
		found := ""
		for _, d := range filepath.SplitList(path) {
			if !filepath.IsAbs(d) {
				continue
			}
			if fi, err := os.Stat(filepath.Join(d, p)); err == nil && !fi.IsDir() {
				found = filepath.Join(d, p)
				break
			}
		}
		if found == "" {
			return candidate{}, &Rejected{Path: explicit, Reason: NotFound, Detail: "not on PATH"}
		}
		p = found
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return candidate{}, &Rejected{Path: explicit, Reason: NotFound, Detail: err.Error()}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		detail := err.Error()
		if errors.Is(err, os.ErrNotExist) {
			detail = "no such file"
		}
		return candidate{}, &Rejected{Path: abs, Reason: NotFound, Detail: detail}
	}
	return candidate{path: abs, real: real}, nil
}
