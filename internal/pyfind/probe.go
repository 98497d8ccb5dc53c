package pyfind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// probeTimeout bounds one interpreter run; a healthy CPython answers in tens of
// milliseconds even on a cold disk, so anything slower is treated as broken.
var probeTimeout = 5 * time.Second

// probeScript must run on every Python a user may point MATHESAR_PYTHON at, Python 2
// included, so that an old one is reported as "too old" rather than "failed to run".
// The first line drops the current directory from sys.path for the -E -s -S fallback,
// where -I (which already excludes it) is not available.
const probeScript = `import sys
sys.path[:] = [p for p in sys.path if p]
import json, sysconfig
impl = getattr(sys, "implementation", None)
if impl is not None:
    name = impl.name
else:
    import platform
    name = platform.python_implementation().lower()
v = sys.version_info
print(json.dumps({
    "implementation": name,
    "version": [v[0], v[1], v[2]],
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "debug": bool(sysconfig.get_config_var("Py_DEBUG")) or hasattr(sys, "gettotalrefcount"),
    "abiflags": getattr(sys, "abiflags", ""),
    "executable": sys.executable,
}))
`

type probeOutput struct {
	Implementation string `json:"implementation"`
	Version        []int  `json:"version"`
	GILDisabled    bool   `json:"gil_disabled"`
	Debug          bool   `json:"debug"`
	ABIFlags       string `json:"abiflags"`
	Executable     string `json:"executable"`
}

// Probe runs the interpreter at path once (`path -I -S -c <script>`, isolated from the
// user's environment, site-packages and current directory) and reports what it is.
func Probe(ctx context.Context, path string) (*Interpreter, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	out, err := runProbe(ctx, abs, "-I", "-S")
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 && strings.Contains(err.Error(), "Unknown option: -I") {
		// Python before 3.4 has no -I; -E -s -S plus the script's sys.path fix is the
		// same isolation.
		out, err = runProbe(ctx, abs, "-E", "-s", "-S")
	}
	if err != nil {
		return nil, err
	}
	var po probeOutput
	if err := json.Unmarshal(bytes.TrimSpace(out), &po); err != nil || len(po.Version) != 3 || po.Implementation == "" {
		return nil, fmt.Errorf("probe %s: unexpected output %q; is it a Python interpreter?", abs, excerpt(out))
	}
	ip := &Interpreter{
		Path:           abs,
		Version:        [3]int{po.Version[0], po.Version[1], po.Version[2]},
		Implementation: po.Implementation,
		FreeThreaded:   po.GILDisabled,
		Debug:          po.Debug,
	}
	// Only an absolute sys.executable that still names a file is worth running directly.
	if filepath.IsAbs(po.Executable) && po.Executable != abs {
		if _, err := os.Stat(po.Executable); err == nil {
			ip.Executable = po.Executable
		}
	}
	ip.ABI = abiTag(ip, po.ABIFlags)
	return ip, nil
}

// abiTag is the wheel ABI tag of a plain CPython build, or "" for builds the bundle
// does not ship wheels for (other implementations, free-threaded "t" and debug "d").
func abiTag(ip *Interpreter, abiflags string) string {
	if ip.Implementation != "cpython" || ip.FreeThreaded || ip.Debug {
		return ""
	}
	// abiflags is "" from 3.8 on and "m" before, matching the wheel tags (cp37m).
	return fmt.Sprintf("cp%d%d%s", ip.Version[0], ip.Version[1], abiflags)
}

// runProbe returns stdout, or an error carrying the exit status and stderr's first line.
// An *exec.ExitError stays reachable with errors.As.
func runProbe(ctx context.Context, abs string, flags ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, abs, append(flags, "-c", probeScript)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A wrapper script's children may keep the pipes open after it is killed.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("run %s: no answer within %s: %w", abs, probeTimeout, errProbeTimeout)
	}
	if msg := excerpt(stderr.Bytes()); msg != "" {
		return nil, fmt.Errorf("run %s: %w: %s", abs, err, msg)
	}
	return nil, fmt.Errorf("run %s: %w", abs, err)
}

// errProbeTimeout marks a probe that did not answer in time; unlike other failures it is
// not remembered, because a loaded machine must not turn a good interpreter bad for good.
var errProbeTimeout = errors.New("probe timed out")

// excerpt is the first line of b, shortened for an error message.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
