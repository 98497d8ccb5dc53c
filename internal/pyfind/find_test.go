package pyfind

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	type rej struct {
		name   string // file name of the rejected candidate
		reason RejectReason
	}
	for _, tc := range []struct {
		name     string
		need     [][2]int // real interpreters the case needs, by (major, minor)
		dirs     func(py map[[2]int]string) []map[string]string
		min, max [2]int
		explicit func(dirs []string, py map[[2]int]string) string
		want     [2]int // chosen major.minor; zero means a NoPythonError is expected
		wantIn   int    // index of the PATH dir the chosen Path must be in
		rejected []rej  // for NoPythonError, in order
	}{{
		// python3.12 and python3.11 are probed before python3, which is the newest.
		name: "newest in range wins, even when found last",
		need: [][2]int{{3, 10}, {3, 11}, {3, 12}, {3, 13}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{
				"python3.10": "->" + py[[2]int{3, 10}], "python3.12": "->" + py[[2]int{3, 12}],
			}, {"python3.11": "->" + py[[2]int{3, 11}], "python3": "->" + py[[2]int{3, 13}]}}
		},
		min: [2]int{3, 10}, max: [2]int{3, 14}, want: [2]int{3, 13}, wantIn: 1,
	}, {
		name: "Max 3.11 picks 3.11 and ignores 3.13",
		need: [][2]int{{3, 11}, {3, 13}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3.11": "->" + py[[2]int{3, 11}], "python3": "->" + py[[2]int{3, 13}]}}
		},
		min: [2]int{3, 10}, max: [2]int{3, 11}, want: [2]int{3, 11},
	}, {
		name: "too old only",
		need: [][2]int{{3, 8}, {3, 9}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3": "->" + py[[2]int{3, 9}]}, {"python3": "->" + py[[2]int{3, 8}]}}
		},
		min: [2]int{3, 10}, max: [2]int{3, 14},
		rejected: []rej{{"python3", TooOld}, {"python3", TooOld}},
	}, {
		name: "broken interpreters are listed and skipped",
		need: [][2]int{{3, 11}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{
				"python3.14": "noexec:#!/bin/sh\n", "python3.13": "#!/bin/sh\nexit 1\n",
				"python3": "->" + py[[2]int{3, 11}],
			}}
		},
		min: [2]int{3, 10}, max: [2]int{3, 14}, want: [2]int{3, 11},
	}, {
		name: "only broken interpreters",
		dirs: func(map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3.14": "noexec:#!/bin/sh\n", "python3.13": "#!/bin/sh\nexit 1\n"}}
		},
		min: [2]int{3, 10}, max: [2]int{3, 14},
		rejected: []rej{{"python3.14", FailedToRun}, {"python3.13", FailedToRun}},
	}, {
		name: "nothing at all",
		dirs: func(map[[2]int]string) []map[string]string { return []map[string]string{{"python2": "#!/bin/sh\n"}} },
		min:  [2]int{3, 10}, max: [2]int{3, 14},
	}, {
		name: "explicit wins over a newer one on PATH",
		need: [][2]int{{3, 11}, {3, 13}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3.13": "->" + py[[2]int{3, 13}]}}
		},
		explicit: func(_ []string, py map[[2]int]string) string { return py[[2]int{3, 11}] },
		min:      [2]int{3, 10}, max: [2]int{3, 14}, want: [2]int{3, 11},
	}, {
		name: "explicit bare name is looked up on PATH",
		need: [][2]int{{3, 12}, {3, 13}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3.13": "->" + py[[2]int{3, 13}]}, {"python3.12": "->" + py[[2]int{3, 12}]}}
		},
		explicit: func([]string, map[[2]int]string) string { return "python3.12" },
		min:      [2]int{3, 10}, max: [2]int{3, 14}, want: [2]int{3, 12}, wantIn: 1,
	}, {
		name: "explicit too old, with a good one on PATH",
		need: [][2]int{{3, 8}, {3, 11}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python3.11": "->" + py[[2]int{3, 11}], "old": "->" + py[[2]int{3, 8}]}}
		},
		explicit: func(dirs []string, _ map[[2]int]string) string { return filepath.Join(dirs[0], "old") },
		min:      [2]int{3, 10}, max: [2]int{3, 14},
		rejected: []rej{{"old", TooOld}},
	}, {
		name: "explicit too new",
		need: [][2]int{{3, 13}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"py": "->" + py[[2]int{3, 13}]}}
		},
		explicit: func(dirs []string, _ map[[2]int]string) string { return filepath.Join(dirs[0], "py") },
		min:      [2]int{3, 10}, max: [2]int{3, 12},
		rejected: []rej{{"py", TooNew}},
	}, {
		name: "explicit Python 2",
		need: [][2]int{{2, 7}},
		dirs: func(py map[[2]int]string) []map[string]string {
			return []map[string]string{{"python2": "->" + py[[2]int{2, 7}]}}
		},
		explicit: func(dirs []string, _ map[[2]int]string) string { return filepath.Join(dirs[0], "python2") },
		min:      [2]int{3, 10}, max: [2]int{3, 14},
		rejected: []rej{{"python2", TooOld}},
	}, {
		name:     "explicit missing",
		dirs:     func(map[[2]int]string) []map[string]string { return []map[string]string{{}} },
		explicit: func(dirs []string, _ map[[2]int]string) string { return filepath.Join(dirs[0], "nope") },
		min:      [2]int{3, 10}, max: [2]int{3, 14},
		rejected: []rej{{"nope", NotFound}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			py := map[[2]int]string{}
			for _, v := range tc.need {
				py[v] = findReal(t, v[0], v[1]).path
			}
			var dirs []string
			for _, d := range tc.dirs(py) {
				dirs = append(dirs, farm(t, d))
			}
			o := opts(pathOf(dirs...))
			o.Min, o.Max = tc.min, tc.max
			if tc.explicit != nil {
				o.Explicit = tc.explicit(dirs, py)
			}
			ip, err := Find(context.Background(), o)
			if tc.want != [2]int{} {
				if err != nil {
					t.Fatalf("Find: %v", err)
				}
				if got := [2]int{ip.Version[0], ip.Version[1]}; got != tc.want || ip.ABI == "" {
					t.Errorf("Find chose %+v, want CPython %v", *ip, tc.want)
				}
				if filepath.IsAbs(o.Explicit) {
					if ip.Path != o.Explicit {
						t.Errorf("Path = %s, want MATHESAR_PYTHON's %s", ip.Path, o.Explicit)
					}
				} else if filepath.Dir(ip.Path) != dirs[tc.wantIn] {
					t.Errorf("Path = %s, want it as found in %s", ip.Path, dirs[tc.wantIn])
				}
				return
			}
			var npe *NoPythonError
			if !errors.As(err, &npe) {
				t.Fatalf("Find = %+v, %v; want a *NoPythonError", ip, err)
			}
			if npe.Min != tc.min || npe.Max != tc.max || npe.Explicit != o.Explicit || npe.InstallHint != "sudo apt install python3" {
				t.Errorf("NoPythonError fields = %+v", npe)
			}
			if len(npe.Rejected) != len(tc.rejected) {
				t.Fatalf("Rejected = %+v, want %d entries", npe.Rejected, len(tc.rejected))
			}
			for i, r := range npe.Rejected {
				if filepath.Base(r.Path) != tc.rejected[i].name || r.Reason != tc.rejected[i].reason {
					t.Errorf("Rejected[%d] = %+v, want %s %s", i, r, tc.rejected[i].name, tc.rejected[i].reason)
				}
				if !strings.Contains(err.Error(), r.String()) {
					t.Errorf("error text lacks %q:\n%s", r, err)
				}
				if r.Reason == TooOld && (r.Version == [3]int{} || r.Implementation != "cpython") {
					t.Errorf("Rejected[%d] lacks the version it was rejected for: %+v", i, r)
				}
			}
		})
	}
}

func TestFindDedupesSymlinks(t *testing.T) {
	rp := findReal(t, 3, 11)
	n := countProbes(t)
	a := farm(t, map[string]string{"python3.11": "->" + rp.path, "python3": "->python3.11"})
	b := farm(t, map[string]string{"python3.11": "->" + filepath.Join(a, "python3.11"), "python3": "->" + rp.path})
	o := opts(pathOf(a, b))
	o.ExtraDirs = []string{filepath.Dir(rp.path)}
	ip, err := Find(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("probed %d times, want once for one real file behind five names", got)
	}
	if ip.Path != filepath.Join(a, "python3.11") || ip.Version != rp.version {
		t.Errorf("Find = %+v, want %s as first found", *ip, filepath.Join(a, "python3.11"))
	}
}

func TestFindIgnoresRelativePATHEntries(t *testing.T) {
	rp := findReal(t, 3, 11)
	dir := farm(t, map[string]string{"python3.11": "->" + rp.path})
	t.Chdir(dir)
	_, err := Find(context.Background(), opts(pathOf(".", "", "relative/dir")))
	var npe *NoPythonError
	if !errors.As(err, &npe) || len(npe.Rejected) != 0 {
		t.Fatalf("Find with only relative PATH entries = %v, want a NoPythonError that found nothing", err)
	}
	if !strings.Contains(err.Error(), "Found none: looked for python3.14, python3.13, python3.12, python3.11, python3.10, python3 on PATH") {
		t.Errorf("error does not say what was searched:\n%s", err)
	}
}

// On macOS /usr/bin/python3 is a stub that asks to install the developer tools; it is
// skipped unless they are present. This machine's /usr/bin/python3 stands in for it.
func TestFindDarwinSkipsCommandLineToolsStub(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3 on this machine")
	}
	if xcodeToolsInstalled() {
		t.Skip("Apple developer tools are installed; the stub is a real Python here")
	}
	for _, tc := range []struct {
		goos     string
		wantSeen bool
	}{{"linux", true}, {"darwin", false}} {
		t.Run(tc.goos, func(t *testing.T) {
			o := opts("/usr/bin")
			o.GOOS = tc.goos
			// python3.0 is never installed, so /usr/bin/python3 is the only candidate.
			o.Min, o.Max = [2]int{3, 0}, [2]int{3, 0}
			_, err := Find(context.Background(), o)
			var npe *NoPythonError
			if !errors.As(err, &npe) {
				t.Fatalf("Find = %v, want NoPythonError", err)
			}
			seen := len(npe.Rejected) == 1 && npe.Rejected[0].Path == "/usr/bin/python3"
			if seen != tc.wantSeen {
				t.Errorf("GOOS %s: Rejected = %+v, want /usr/bin/python3 seen=%v", tc.goos, npe.Rejected, tc.wantSeen)
			}
		})
	}
}

func TestFindCancelled(t *testing.T) {
	rp := findReal(t, 3, 11)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Find(ctx, opts(farm(t, map[string]string{"python3": "->" + rp.path})))
	var npe *NoPythonError
	if !errors.Is(err, context.Canceled) || errors.As(err, &npe) {
		t.Errorf("Find with a cancelled context = %v, want context.Canceled, not NoPythonError", err)
	}
}

func TestFindInvalidRange(t *testing.T) {
	for _, r := range [][2][2]int{{{3, 14}, {3, 10}}, {{2, 7}, {3, 10}}, {{0, 0}, {0, 0}}} {
		o := opts("/nonexistent")
		o.Min, o.Max = r[0], r[1]
		if _, err := Find(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not a valid Python 3 range") {
			t.Errorf("range %v: err = %v, want an invalid-range error", r, err)
		}
	}
}

func TestCheck(t *testing.T) {
	lo, hi := [2]int{3, 10}, [2]int{3, 14}
	for _, tc := range []struct {
		name string
		ip   Interpreter
		want RejectReason
	}{
		{"plain 3.12", Interpreter{Version: [3]int{3, 12, 4}, Implementation: "cpython", ABI: "cp312"}, ""},
		{"lower bound", Interpreter{Version: [3]int{3, 10, 0}, Implementation: "cpython", ABI: "cp310"}, ""},
		{"upper bound", Interpreter{Version: [3]int{3, 14, 9}, Implementation: "cpython", ABI: "cp314"}, ""},
		{"3.9", Interpreter{Version: [3]int{3, 9, 18}, Implementation: "cpython", ABI: "cp39"}, TooOld},
		{"3.15", Interpreter{Version: [3]int{3, 15, 0}, Implementation: "cpython", ABI: "cp315"}, TooNew},
		{"pypy", Interpreter{Version: [3]int{3, 11, 13}, Implementation: "pypy"}, NotCPython},
		{"free-threaded", Interpreter{Version: [3]int{3, 13, 1}, Implementation: "cpython", FreeThreaded: true}, FreeThreadedBuild},
		{"debug", Interpreter{Version: [3]int{3, 12, 1}, Implementation: "cpython", Debug: true}, DebugBuild},
		{"old pypy is not-CPython first", Interpreter{Version: [3]int{3, 9, 0}, Implementation: "pypy"}, NotCPython},
	} {
		if got, _ := check(&tc.ip, lo, hi); got != tc.want {
			t.Errorf("%s: check = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCandidateOrder(t *testing.T) {
	a := farm(t, map[string]string{"python3": "#!/bin/sh\n", "python3.10": "#!/bin/sh\n", "python3.12": "#!/bin/sh\n", "python3.9": "#!/bin/sh\n"})
	b := farm(t, map[string]string{"python3.12": "#!/bin/sh\n", "python3": "->" + filepath.Join(a, "python3")})
	extra := farm(t, map[string]string{"python3.14": "#!/bin/sh\n"})
	o := opts(pathOf(a, b))
	o.ExtraDirs = []string{extra}
	var got []string
	for _, c := range candidates(o) {
		got = append(got, c.path)
	}
	want := []string{
		filepath.Join(a, "python3.12"), filepath.Join(b, "python3.12"), filepath.Join(a, "python3.10"),
		filepath.Join(a, "python3"), filepath.Join(extra, "python3.14"),
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("candidates =\n %v\nwant\n %v", got, want)
	}
}

func TestDefaultExtraDirs(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", nil},
		{"/home/me/brew", []string{"/home/me/brew/bin"}},
		{"relative/brew", nil},
	} {
		t.Setenv("HOMEBREW_PREFIX", tc.prefix)
		got := DefaultExtraDirs([2]int{3, 12}, [2]int{3, 13})
		want := append([]string{"/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/home/linuxbrew/.linuxbrew/bin",
			"/opt/homebrew/opt/python@3.13/bin", "/opt/homebrew/opt/python@3.12/bin",
			"/usr/local/opt/python@3.13/bin", "/usr/local/opt/python@3.12/bin"}, tc.want...)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("HOMEBREW_PREFIX=%q: DefaultExtraDirs =\n %v\nwant\n %v", tc.prefix, got, want)
		}
	}
}
