package pyfind

import (
	"fmt"
	"os"
	"strings"
)

// InstallHint returns the command that installs a suitable CPython on this machine:
// goos is runtime.GOOS and osRelease the path of an os-release file (read on Linux).
func InstallHint(goos, osRelease string, lo, hi [2]int) string {
	if goos == "darwin" {
		v := clamp([2]int{3, 13}, lo, hi)
		return fmt.Sprintf("brew install python@%d.%d", v[0], v[1])
	}
	ids := osIDs(osRelease)
	switch {
	case ids["debian"] || ids["ubuntu"]:
		return "sudo apt install python3"
	case ids["fedora"] || ids["rhel"] || ids["centos"]:
		v := clamp([2]int{3, 12}, lo, hi)
		return fmt.Sprintf("sudo dnf install python%d.%d", v[0], v[1])
	case ids["suse"] || ids["opensuse"]:
		v := clamp([2]int{3, 12}, lo, hi)
		return fmt.Sprintf("sudo zypper install python%d%d", v[0], v[1])
	}
	return "install CPython " + rangeText(lo, hi) + " with your system's package manager, " +
		"or from https://www.python.org/downloads/"
}

// clamp moves the distribution's preferred version into the bundle's range.
func clamp(v, lo, hi [2]int) [2]int {
	if compare2(v, lo) < 0 {
		return lo
	}
	if compare2(v, hi) > 0 {
		return hi
	}
	return v
}

// osIDs returns the words of ID and ID_LIKE from an os-release file, so "rocky" with
// ID_LIKE="rhel centos fedora" is recognised as an RHEL relative. Hand-parsed: the format
// is KEY=value lines with optional shell quoting, too small to justify a dependency.
// ID values such as "opensuse-leap" also contribute their dash-separated parts.
func osIDs(path string) map[string]bool {
	ids := map[string]bool{}
	b, err := os.ReadFile(path)
	if err != nil {
		return ids
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || (key != "ID" && key != "ID_LIKE") {
			continue
		}
		val = strings.Trim(val, `"'`)
		for _, w := range strings.Fields(strings.ToLower(val)) {
			ids[w] = true
			for _, part := range strings.Split(w, "-") {
				ids[part] = true
			}
		}
	}
	return ids
}
