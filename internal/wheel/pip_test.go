package wheel

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// pipParse is the Python side of TestParseFilenameMatchesPip.
const pipParse = `
import json, sys
from pip._vendor.packaging.utils import parse_wheel_filename
out = []
for n in json.load(sys.stdin):
    try:
        name, ver, build, tags = parse_wheel_filename(n)
        out.append({"ok": True, "name": name, "version": str(ver), "build": list(build),
                    "tags": sorted(str(t) for t in tags)})
    except Exception as e:
        out.append({"ok": False, "err": str(e)})
json.dump(out, sys.stdout)
`

type pipResult struct {
	OK      bool   `json:"ok"`
	Err     string `json:"err"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Build   []any  `json:"build"`
	Tags    []string
}

// TestParseFilenameMatchesPip checks ParseFilename against pip's own parser: whatever
// pip refuses we refuse, whatever pip accepts we read the same way, except the names
// marked stricter, which we refuse on purpose (see ParseFilename).
func TestParseFilenameMatchesPip(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command(py, "-c", "import pip._vendor.packaging.utils").Run(); err != nil {
		t.Skip("python3 has no pip._vendor.packaging")
	}
	tests := []struct {
		name     string
		stricter bool
	}{
		{name: "django_storages-1.14.4-py3-none-any.whl"},
		{name: "Django-5.1.3-py3-none-any.whl"},
		{name: "zope.interface-7.1.1-cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_17_x86_64.manylinux2014_x86_64.whl"},
		{name: "psycopg_binary-3.2.3-cp313-cp313-macosx_14_0_arm64.whl"},
		{name: "six-1.16.0-py2.py3-none-any.whl"},
		{name: "cffi-1.17.1-cp37.cp38-abi3.none-win_amd64.whl"},
		{name: "pkg-1.0-PY3-NONE-ANY.whl"},
		{name: "pkg-1.0.post1-py3-none-any.whl"},
		{name: "pkg-1.0_post1-py3-none-any.whl"},
		{name: "pkg-v1.0-py3-none-any.whl"},
		{name: "pkg-1!2.0a1.dev3+ubuntu.1-py3-none-any.whl"},
		{name: "pkg-1.0RC1-py3-none-any.whl"},
		{name: "pkg-1.0-1-py3-none-any.whl"},
		{name: "pkg-1.0-007abc-py3-none-any.whl"},
		{name: "pkg-1.0-py3-none.whl"},
		{name: "pkg-1.0-abc-py3-none-any.whl"},
		{name: "pkg-1.0--py3-none-any.whl"},
		{name: "pk__g-1.0-py3-none-any.whl"},
		{name: "pkg-1.0.whl"},
		{name: "pkg-one-py3-none-any.whl"},
		{name: "pkg-1.0-py3-none-any.tar.gz"},
		{name: "pkg-1.0-1-2-py3-none-any.whl"},
		{name: "pk-g-1.0-py3-none-any.whl"},
		{name: "pkg-1.0-py3-none-any.WHL"},
		{name: "_pkg-1.0-py3-none-any.whl", stricter: true},
		{name: "pkg_-1.0-py3-none-any.whl", stricter: true},
		{name: "-1.0-py3-none-any.whl", stricter: true},
		{name: "péché-1.0-py3-none-any.whl", stricter: true},
		{name: "pkg-1.0-py3-none-.whl", stricter: true},
		{name: "pkg-1.0-py3-none-any!.whl", stricter: true},
		{name: "pkg- 1.0-py3-none-any.whl", stricter: true},
	}
	names := make([]string, len(tests))
	for i, tc := range tests {
		names[i] = tc.name
	}
	in, _ := json.Marshal(names)
	cmd := exec.Command(py, "-c", pipParse)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	var pip []pipResult
	if err := json.Unmarshal(out, &pip); err != nil || len(pip) != len(tests) {
		t.Fatalf("pip output %s: %v", out, err)
	}
	for i, tc := range tests {
		want := pip[i]
		got, err := ParseFilename(tc.name)
		switch {
		case !want.OK && err == nil:
			t.Errorf("%q: pip refuses it (%s) but ParseFilename accepts it: %+v", tc.name, want.Err, got)
		case !want.OK:
			if tc.stricter {
				t.Errorf("%q: marked stricter than pip, but pip refuses it too (%s); drop the mark", tc.name, want.Err)
			}
		case tc.stricter && err == nil:
			t.Errorf("%q: marked stricter than pip but accepted: %+v", tc.name, got)
		case tc.stricter:
			continue
		case err != nil:
			t.Errorf("%q: pip accepts it but ParseFilename says %v", tc.name, err)
		default:
			if got.Project() != want.Name {
				t.Errorf("%q: project %q, pip %q", tc.name, got.Project(), want.Name)
			}
			v, err := pep440.Parse(got.Version)
			if err != nil || v.String() != want.Version {
				t.Errorf("%q: version %q (%v), pip %q", tc.name, got.Version, err, want.Version)
			}
			build := ""
			if len(want.Build) == 2 {
				build = strconv.Itoa(int(want.Build[0].(float64))) + want.Build[1].(string)
			}
			if b := strings.TrimLeft(got.Build, "0"); b != strings.TrimLeft(build, "0") {
				t.Errorf("%q: build %q, pip %q", tc.name, got.Build, build)
			}
			var tags []string
			for _, tg := range got.Tags {
				tags = append(tags, tg.String())
			}
			sort.Strings(tags)
			if strings.Join(tags, " ") != strings.Join(want.Tags, " ") {
				t.Errorf("%q: tags %v, pip %v", tc.name, tags, want.Tags)
			}
		}
	}
}
