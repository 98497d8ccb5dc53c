package samplewheels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// ErrToolchain marks errors caused by a missing compiler or missing Python headers on this
// machine (as opposed to a broken fixture), so callers such as tests can tell them apart.
var ErrToolchain = errors.New("C toolchain or Python development headers missing")

// limitedAPI is the oldest CPython whose stable ABI the abi3 build targets: 3.10, the
// bottom of the supported range, so one file loads in 3.10 through 3.14.
const (
	limitedAPIHex = "0x030A0000"
	limitedAPITag = "cp310"
)

// interpreter is what BuildSpeedups needs to know about a CPython.
type interpreter struct {
	Impl        string   `json:"impl"`
	Version     [2]int   `json:"version"`
	Includes    []string `json:"includes"`
	ExtSuffix   string   `json:"ext_suffix"`
	Platform    string   `json:"platform"`
	GILDisabled bool     `json:"gil_disabled"`
}

// probeScript prints the interpreter facts as JSON; -I keeps user site and PYTHON* variables out.
const probeScript = `import json, sys, sysconfig
inc = [sysconfig.get_path("include"), sysconfig.get_path("platinclude")]
print(json.dumps({
    "impl": sys.implementation.name,
    "version": list(sys.version_info[:2]),
    "includes": sorted(set(p for p in inc if p)),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "platform": sysconfig.get_platform(),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
}))
`

func probe(ctx context.Context, python string) (interpreter, error) {
	var in interpreter
	cmd := exec.CommandContext(ctx, python, "-I", "-c", probeScript)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return in, fmt.Errorf("ask %s for its version and header directory: %w: %s; check that it is a working CPython", python, err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(out, &in); err != nil {
		return in, fmt.Errorf("read the answer of %s: %w", python, err)
	}
	return in, nil
}

// BuildSpeedups compiles samplespeedups' C extension with gcc for one interpreter (python;
// "" means python3 on PATH) and writes its wheel into dir. With abi3 the module uses the
// 3.10 limited API and the wheel is cp310-abi3-<platform> with _speedups.abi3.so; without,
// it is cp3XY-cp3XY-<platform> with the interpreter's own extension suffix.
func BuildSpeedups(ctx context.Context, dir, python string, abi3 bool) (string, error) {
	if python == "" {
		python = "python3"
	}
	exe, err := exec.LookPath(python)
	if err != nil {
		return "", fmt.Errorf("find Python interpreter %s: %w (%w); install python3 or pass the interpreter's path", python, err, ErrToolchain)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("find gcc: %w (%w); install it (apt-get install gcc)", err, ErrToolchain)
	}
	in, err := probe(ctx, exe)
	if err != nil {
		return "", err
	}
	if in.Impl != "cpython" || in.Version[0] != 3 || in.Version[1] < 10 {
		return "", fmt.Errorf("%s is %s %d.%d; the sample extension needs CPython 3.10 or later", exe, in.Impl, in.Version[0], in.Version[1])
	}
	if !hasHeader(in.Includes) {
		return "", fmt.Errorf("header Python.h not found in %s for %s (%w); install the interpreter's development headers (for Debian's python3: apt-get install python3-dev)",
			strings.Join(in.Includes, ", "), exe, ErrToolchain)
	}
	if abi3 && in.GILDisabled {
		return "", fmt.Errorf("%s is a free-threaded build, which has no stable ABI (abi3); build a version-specific wheel instead", exe)
	}
	platform := strings.NewReplacer("-", "_", ".", "_").Replace(in.Platform)
	soName := "_speedups" + in.ExtSuffix
	tags := fmt.Sprintf("cp3%d-cp3%d", in.Version[1], in.Version[1])
	if in.GILDisabled {
		tags += "t"
	}
	if abi3 {
		soName = "_speedups.abi3.so"
		tags = limitedAPITag + "-abi3"
	}
	tags += "-" + platform

	spec, err := loadDist(sampleapp.WheelSourcesFS(), speedupsDist)
	if err != nil {
		return "", err
	}
	csrc, err := fs.ReadFile(sampleapp.WheelSourcesFS(), speedupsDist+"/csrc/_speedups.c")
	if err != nil {
		return "", fmt.Errorf("read the sample extension's C source: %w", err)
	}
	so, err := compile(ctx, gcc, exe, in, csrc, abi3)
	if err != nil {
		return "", err
	}
	spec.Tags = tags
	spec.RootIsPurelib = false
	spec.Files = append(spec.Files, wheel.SpecFile{Path: "samplespeedups/" + soName, Data: so, Mode: 0o755})
	sortFiles(spec.Files)
	p, err := wheel.Write(dir, spec)
	if err != nil {
		return "", fmt.Errorf("write sample wheel %s: %w", speedupsDist, err)
	}
	return p, nil
}

func hasHeader(dirs []string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "Python.h")); err == nil {
			return true
		}
	}
	return false
}

// compile builds the shared object in a scratch directory and returns its bytes. The source
// is passed by a relative name and without -g so that no scratch path ends up in the
// object, keeping the output the same from run to run.
func compile(ctx context.Context, gcc, python string, in interpreter, csrc []byte, abi3 bool) ([]byte, error) {
	work, err := os.MkdirTemp("", "samplespeedups-")
	if err != nil {
		return nil, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "_speedups.c"), csrc, 0o644); err != nil {
		return nil, fmt.Errorf("write C source: %w", err)
	}
	args := []string{"-shared", "-fPIC", "-O2", "-Wall"}
	if abi3 {
		args = append(args, "-DPy_LIMITED_API="+limitedAPIHex)
	}
	for _, inc := range in.Includes {
		args = append(args, "-I"+inc)
	}
	args = append(args, "-o", "_speedups.so", "_speedups.c")
	cmd := exec.CommandContext(ctx, gcc, args...)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("compile samplespeedups for %s with %s %s: %w\n%s", python, gcc, strings.Join(args, " "), err, out)
	}
	so, err := os.ReadFile(filepath.Join(work, "_speedups.so"))
	if err != nil {
		return nil, fmt.Errorf("read compiled module: %w", err)
	}
	return so, nil
}
