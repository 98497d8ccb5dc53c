package pyfind

import (
	"errors"
	"strings"
	"testing"
)

func TestInstallHint(t *testing.T) {
	lo, hi := [2]int{3, 10}, [2]int{3, 14}
	for _, tc := range []struct {
		goos, osRelease string
		lo, hi          [2]int
		want            string
	}{
		{"linux", "testdata/os-release/debian", lo, hi, "sudo apt install python3"},
		{"linux", "testdata/os-release/ubuntu", lo, hi, "sudo apt install python3"},
		{"linux", "testdata/os-release/fedora", lo, hi, "sudo dnf install python3.12"},
		{"linux", "testdata/os-release/rocky", lo, hi, "sudo dnf install python3.12"},
		{"linux", "testdata/os-release/opensuse", lo, hi, "sudo zypper install python312"},
		{"linux", "testdata/os-release/arch", lo, hi, "install CPython 3.10 to 3.14 with your system's package manager, or from https://www.python.org/downloads/"},
		{"linux", "testdata/os-release/missing", lo, hi, "install CPython 3.10 to 3.14 with your system's package manager, or from https://www.python.org/downloads/"},
		{"darwin", "testdata/os-release/debian", lo, hi, "brew install python@3.13"},
		{"darwin", "", [2]int{3, 10}, [2]int{3, 11}, "brew install python@3.11"},
		{"linux", "testdata/os-release/rocky", [2]int{3, 13}, [2]int{3, 14}, "sudo dnf install python3.13"},
		{"freebsd", "testdata/os-release/debian", lo, hi, "sudo apt install python3"},
		{"linux", "testdata/os-release/arch", [2]int{3, 12}, [2]int{3, 12}, "install CPython 3.12 with your system's package manager, or from https://www.python.org/downloads/"},
	} {
		if got := InstallHint(tc.goos, tc.osRelease, tc.lo, tc.hi); got != tc.want {
			t.Errorf("InstallHint(%s, %s, %v, %v) = %q, want %q", tc.goos, tc.osRelease, tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestNoPythonErrorText(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *NoPythonError
		want []string
	}{{
		name: "search found unusable ones",
		err: &NoPythonError{Min: [2]int{3, 10}, Max: [2]int{3, 14}, InstallHint: "sudo dnf install python3.12",
			Rejected: []Rejected{
				{Path: "/usr/bin/python3", Version: [3]int{3, 9, 18}, Implementation: "cpython", Reason: TooOld},
				{Path: "/opt/pypy/bin/python3", Version: [3]int{3, 11, 13}, Implementation: "pypy", Reason: NotCPython, Detail: "pypy"},
				{Path: "/usr/local/bin/python3.13", Version: [3]int{3, 13, 1}, Implementation: "cpython", Reason: FreeThreadedBuild},
				{Path: "/x/python3.12", Reason: FailedToRun, Detail: "run /x/python3.12: exit status 1"},
			}},
		want: []string{
			"no compatible Python found: Mathesar needs CPython 3.10 to 3.14",
			"Found:\n  /usr/bin/python3 (CPython 3.9.18): too old\n",
			"  /opt/pypy/bin/python3 (PyPy 3.11.13): not CPython\n",
			"  /usr/local/bin/python3.13 (CPython 3.13.1): free-threaded build\n",
			"  /x/python3.12: failed to run: run /x/python3.12: exit status 1\n",
			"Install one: sudo dnf install python3.12\n",
			"Or set MATHESAR_PYTHON to the path of a CPython 3.10 to 3.14 interpreter.",
		},
	}, {
		name: "search found nothing",
		err: &NoPythonError{Min: [2]int{3, 12}, Max: [2]int{3, 13}, InstallHint: "brew install python@3.13",
			Names: []string{"python3.13", "python3.12", "python3"}, Searched: []string{"PATH", "/usr/bin"}},
		want: []string{"Found none: looked for python3.13, python3.12, python3 on PATH, /usr/bin.\n", "brew install python@3.13"},
	}, {
		name: "explicit",
		err: &NoPythonError{Min: [2]int{3, 10}, Max: [2]int{3, 14}, Explicit: "/opt/py38/bin/python", InstallHint: "sudo apt install python3",
			Rejected: []Rejected{{Path: "/opt/py38/bin/python", Version: [3]int{3, 8, 18}, Implementation: "cpython", Reason: TooOld}}},
		want: []string{
			"MATHESAR_PYTHON=/opt/py38/bin/python cannot run Mathesar, which needs CPython 3.10 to 3.14",
			"  /opt/py38/bin/python (CPython 3.8.18): too old\n",
			"unset MATHESAR_PYTHON",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var err error = tc.err
			var npe *NoPythonError
			if !errors.As(err, &npe) {
				t.Fatal("not a *NoPythonError")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}
