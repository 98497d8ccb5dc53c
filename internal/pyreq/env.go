package pyreq

import (
	"fmt"
	"maps"
)

// Env maps marker variable names (python_version, sys_platform, extra, ...) to values.
type Env map[string]string

// WithExtra returns a copy of e with the extra variable set, for evaluating a dependency's
// markers when extra name was requested ("" when none was).
func (e Env) WithExtra(name string) Env {
	out := maps.Clone(e)
	if out == nil {
		out = Env{}
	}
	out["extra"] = name
	return out
}

// TargetEnv returns the marker environment a CPython 3.<minor>.<patch> reports on
// goos/goarch (goos linux or darwin, goarch amd64 or arm64). platform_release and
// platform_version describe the target's kernel, which a build cannot know, so they are
// left out and markers reading them fail to evaluate instead of guessing. extra is left
// out too: set it with WithExtra.
func TargetEnv(minor, patch int, goos, goarch string) (Env, error) {
	if minor < 0 || patch < 0 {
		return nil, fmt.Errorf("CPython 3.%d.%d: minor and patch must not be negative", minor, patch)
	}
	var system, sysPlatform string
	switch goos {
	case "linux":
		system, sysPlatform = "Linux", "linux"
	case "darwin":
		system, sysPlatform = "Darwin", "darwin"
	default:
		return nil, fmt.Errorf("target OS %q is not supported: use linux or darwin", goos)
	}
	var machine string
	switch goarch {
	case "amd64":
		machine = "x86_64"
	case "arm64":
		// platform.machine() is uname -m: the Linux kernel says aarch64, macOS says arm64.
		machine = map[string]string{"linux": "aarch64", "darwin": "arm64"}[goos]
	default:
		return nil, fmt.Errorf("target architecture %q is not supported: use amd64 or arm64", goarch)
	}
	full := fmt.Sprintf("3.%d.%d", minor, patch)
	return Env{
		"implementation_name":            "cpython",
		"implementation_version":         full,
		"os_name":                        "posix",
		"platform_machine":               machine,
		"platform_python_implementation": "CPython",
		"platform_system":                system,
		"python_full_version":            full,
		"python_version":                 fmt.Sprintf("3.%d", minor),
		"sys_platform":                   sysPlatform,
	}, nil
}
