package pytags

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// wheelGroups are candidate wheels of one project; for every target the wheel our Ranking
// picks must be the one packaging's tag order picks (-1 when none fits).
var wheelGroups = [][]string{
	{ // psycopg-binary style: one wheel per CPython and platform
		"cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",
		"cp311-cp311-manylinux_2_28_aarch64",
		"cp314-cp314-manylinux_2_28_x86_64",
		"cp314-cp314-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp312-cp312-macosx_11_0_arm64",
		"cp312-cp312-macosx_10_9_universal2",
		"cp313-cp313-macosx_10_13_x86_64",
		"cp313-cp313-macosx_14_0_x86_64",
		"cp310-cp310-macosx_10_9_x86_64",
		"cp37-cp37m-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp310-cp310-musllinux_1_1_x86_64",
	},
	{ // cryptography style: abi3 wheels
		"cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
		"cp38-abi3-manylinux_2_28_aarch64",
		"cp38-abi3-macosx_10_12_x86_64",
		"cp38-abi3-macosx_10_12_universal2",
		"cp311-abi3-manylinux_2_28_x86_64",
		"cp311-abi3-macosx_11_0_arm64",
	},
	{"py3-none-any", "py310-none-any", "py30-none-any"},
	{"py2.py3-none-any", "py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64", "py3-none-macosx_11_0_arm64", "cp310.cp311.cp312-none-any"},
	{
		"cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64",
		"cp311-cp311-manylinux_2_12_x86_64.manylinux2010_x86_64",
		"cp311-cp311-manylinux_2_34_x86_64",
		"cp311-cp311-linux_x86_64",
		"cp311-cp311-linux_aarch64",
		"cp311-cp311-manylinux_2_16_aarch64",
	},
	{"cp39-cp39-win_amd64", "cp27-cp27mu-manylinux1_x86_64", "cp313-cp313t-manylinux_2_28_x86_64"},
}

type pyCase struct {
	Name  string `json:"name"`
	Minor int    `json:"minor"`
	ABI   string `json:"abi"`
	OS    string `json:"os"`
	Arch  string `json:"arch"`
	Glibc [2]int `json:"glibc"`
	MacOS [2]int `json:"macos"`
}

type pyResult struct {
	Packaging string `json:"packaging"`
	Cases     map[string]struct {
		Tags []string `json:"tags"`
		Best []int    `json:"best"`
	} `json:"cases"`
}

// crossCheckPythons lists interpreters to ask: those named in PYTAGS_PYTHON (a path
// list, to compare with other pip versions) and python3 on PATH.
func crossCheckPythons() []string {
	var names []string
	if env := os.Getenv("PYTAGS_PYTHON"); env != "" {
		names = append(names, filepath.SplitList(env)...)
	}
	names = append(names, "python3")
	var found []string
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil && !slices.Contains(found, p) {
			found = append(found, p)
		}
	}
	return found
}

func TestCrossCheckPackaging(t *testing.T) {
	var pyCases []pyCase
	for _, tc := range cases {
		arch, err := ArchName(tc.p.OS, tc.p.Arch)
		if err != nil {
			t.Fatal(err)
		}
		pyCases = append(pyCases, pyCase{Name: tc.name, Minor: tc.minor, ABI: ABI(tc.minor),
			OS: tc.p.OS, Arch: arch, Glibc: tc.p.Glibc, MacOS: tc.p.MacOS})
	}
	req, err := json.Marshal(map[string]any{"cases": pyCases, "wheels": wheelGroups})
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "crosscheck.py"))
	if err != nil {
		t.Fatal(err)
	}

	checked := map[string]bool{} // packaging versions already compared
	for _, py := range crossCheckPythons() {
		// An interpreter without pip cannot answer; one with pip that fails is a bug here.
		probe := exec.Command(py, "-I", "-c", "from pip._vendor.packaging import tags, _manylinux")
		if out, err := probe.CombinedOutput(); err != nil {
			t.Logf("skipping %s: no pip._vendor.packaging: %v: %s", py, err, lastLine(string(out)))
			continue
		}
		res, err := runCrossCheck(py, script, req)
		if err != nil {
			t.Errorf("%s %s: %v", py, script, err)
			continue
		}
		if checked[res.Packaging] {
			continue
		}
		checked[res.Packaging] = true
		t.Run("packaging-"+res.Packaging, func(t *testing.T) {
			t.Logf("comparing with pip's vendored packaging %s from %s", res.Packaging, py)
			for _, tc := range cases {
				want, ok := res.Cases[tc.name]
				if !ok {
					t.Errorf("%s: python returned no result", tc.name)
					continue
				}
				tags := CPythonTags(tc.minor, tc.p)
				got := tagStrings(tags)
				if !slices.Equal(got, want.Tags) {
					i := 0
					for i < len(got) && i < len(want.Tags) && got[i] == want.Tags[i] {
						i++
					}
					t.Errorf("%s: tag lists differ first at position %d (got %d tags, packaging %d): got %q, packaging %q",
						tc.name, i, len(got), len(want.Tags), at(got, i), at(want.Tags, i))
				}
				r := NewRanking(tags)
				for g, group := range wheelGroups {
					if choice := choose(t, r, group); choice != want.Best[g] {
						t.Errorf("%s: group %d: we pick %s, packaging picks %s", tc.name, g, at(group, choice), at(group, want.Best[g]))
					}
				}
			}
		})
	}
	if len(checked) == 0 {
		t.Skip("no python3 with pip (and so pip._vendor.packaging) found on PATH or in PYTAGS_PYTHON; install python3-pip to run this cross-check")
	}
}

func runCrossCheck(py, script string, req []byte) (pyResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-I", script)
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return pyResult{}, &pyError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	var res pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		return pyResult{}, err
	}
	return res, nil
}

type pyError struct {
	err    error
	stderr string
}

func (e *pyError) Error() string {
	return e.err.Error() + ": " + lastLine(e.stderr)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// choose returns the index of the wheel with the best rank, the first on ties, or -1.
func choose(t *testing.T, r Ranking, group []string) int {
	t.Helper()
	choice, best := -1, 0
	for i, set := range group {
		tags, err := ParseTagSet(set)
		if err != nil {
			t.Fatal(err)
		}
		if rank, ok := r.Best(tags); ok && (choice < 0 || rank < best) {
			choice, best = i, rank
		}
	}
	return choice
}

func at(list []string, i int) string {
	if i < 0 || i >= len(list) {
		return "<none>"
	}
	return list[i]
}
