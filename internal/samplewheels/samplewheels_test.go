package samplewheels

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// goPlatform is the wheel platform tag of the machine running the tests, from Go's view,
// so the expectation does not come from the code under test.
func goPlatform(t *testing.T) string {
	plats := map[string]string{"linux/amd64": "linux_x86_64", "linux/arm64": "linux_aarch64"}
	p, ok := plats[runtime.GOOS+"/"+runtime.GOARCH]
	if !ok {
		t.Skipf("no expected wheel platform tag known for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	return p
}

func TestBuildWheelhouse(t *testing.T) {
	py := testPython(t)
	paths := buildWheelhouse(t, py)
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	want := []string{
		"gunicorn-23.0.0+sample-py3-none-any.whl",
		"samplepure-1.2.0-py3-none-any.whl",
		"samplehelper-1.0.1-py3-none-any.whl",
		"samplefancy-0.3-py3-none-any.whl",
		"samplespeedups-1.0.0-cp310-abi3-" + goPlatform(t) + ".whl",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("wheel names:\n got %q\nwant %q", names, want)
	}

	opened := map[string]*wheel.Wheel{}
	for _, p := range paths {
		w, err := wheel.Open(p)
		if err != nil {
			t.Fatalf("the wheel reader rejects %s: %v", filepath.Base(p), err)
		}
		opened[w.Name] = w
	}
	tests := []struct {
		dist         string
		purelib      bool
		requires     []string
		extras       []string
		file         string
		fileMode     fs.FileMode
		fileStartsAs string
	}{
		{dist: "gunicorn", purelib: true, file: "gunicorn-23.0.0+sample.dist-info/entry_points.txt", fileMode: 0o644, fileStartsAs: "[console_scripts]"},
		{dist: "samplepure", purelib: true, requires: []string{"samplehelper>=1.0", `samplefancy==0.3 ; extra == "fancy"`}, extras: []string{"fancy"},
			file: "samplepure-1.2.0.data/data/share/samplepure/NOTICE.txt", fileMode: 0o644, fileStartsAs: "samplepure installs"},
		{dist: "samplehelper", purelib: true, file: "samplehelper-1.0.1.data/scripts/samplehelper-hello", fileMode: 0o755, fileStartsAs: "#!python\n"},
		{dist: "samplefancy", purelib: true, file: "samplefancy/__init__.py", fileMode: 0o644, fileStartsAs: `"""Tiny`},
		{dist: "samplespeedups", purelib: false, file: "samplespeedups/_speedups.abi3.so", fileMode: 0o755, fileStartsAs: "\x7fELF"},
	}
	for _, tt := range tests {
		t.Run(tt.dist, func(t *testing.T) {
			w := opened[tt.dist]
			if w == nil {
				t.Fatalf("no wheel for %s", tt.dist)
			}
			if w.RootIsPurelib != tt.purelib {
				t.Errorf("Root-Is-Purelib = %v, want %v", w.RootIsPurelib, tt.purelib)
			}
			if !slices.Equal(w.RequiresDist, tt.requires) {
				t.Errorf("Requires-Dist = %q, want %q", w.RequiresDist, tt.requires)
			}
			if !slices.Equal(w.ProvidesExtra, tt.extras) {
				t.Errorf("Provides-Extra = %q, want %q", w.ProvidesExtra, tt.extras)
			}
			if w.RequiresPython != ">=3.10" {
				t.Errorf("Requires-Python = %q, want >=3.10", w.RequiresPython)
			}
			f, ok := zipEntries(t, w.Path)[tt.file]
			if !ok {
				t.Fatalf("no %s in %s", tt.file, filepath.Base(w.Path))
			}
			if f.mode.Perm() != tt.fileMode {
				t.Errorf("%s mode %v, want %v", tt.file, f.mode.Perm(), tt.fileMode)
			}
			if !bytes.HasPrefix(f.data, []byte(tt.fileStartsAs)) {
				t.Errorf("%s starts %q, want %q", tt.file, f.data[:min(len(f.data), 20)], tt.fileStartsAs)
			}
		})
	}

	t.Run("requirements.txt pins the built wheels", func(t *testing.T) {
		req, err := fs.ReadFile(sampleapp.AppFS(), "requirements.txt")
		if err != nil {
			t.Fatal(err)
		}
		pin := regexp.MustCompile(`^([A-Za-z0-9._-]+)(\[[a-z,]+\])?==([^ ;]+)\s*(;.*)?$`)
		pinned := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(req))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			m := pin.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("requirements.txt line %q is not an exact pin", line)
				continue
			}
			w := opened[m[1]]
			if w == nil || w.Version != m[3] {
				t.Errorf("requirements.txt pins %s==%s but the wheelhouse has %v", m[1], m[3], w)
			}
			pinned[m[1]] = true
		}
		for _, top := range []string{"gunicorn", "samplepure", "samplespeedups"} {
			if !pinned[top] {
				t.Errorf("requirements.txt does not pin %s", top)
			}
		}
	})
}

func TestBuildWheelhouseIsDeterministic(t *testing.T) {
	py := testPython(t)
	first := buildWheelhouse(t, py)
	second := buildWheelhouse(t, py)
	for i := range first {
		a, err := os.ReadFile(first[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(second[i])
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(first[i]) != filepath.Base(second[i]) || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds (%d vs %d bytes)", filepath.Base(first[i]), len(a), len(b))
		}
	}
}

// checksumScript compares samplespeedups.checksum with zlib.adler32 on inputs that cross
// the 5552-byte block of the Adler-32 reduction and hit the modulus with 0xff bytes.
const checksumScript = `import sys, zlib, samplespeedups
assert samplespeedups.__file__.startswith(sys.argv[1]), samplespeedups.__file__
for data in (b"", b"abc", bytes(range(256)) * 100, b"\xff" * 100000):
    got, want = samplespeedups.checksum(data), zlib.adler32(data)
    assert got == want, (len(data), got, want)
try:
    samplespeedups.checksum("text")
except TypeError:
    pass
else:
    raise AssertionError("checksum accepted str")
print(samplespeedups._speedups.__file__)
`

// otherPythons lists the CPython 3.10-3.14 interpreters on PATH (python3.1X) and, on a
// machine with pyenv, those pyenv has installed: the abi3 build must load in all of them.
// pyenv shims are left out (slow, and they fail for versions pyenv has not selected); so
// are candidates that do not run.
func otherPythons(t *testing.T) []string {
	var candidates []string
	for minor := 10; minor <= 14; minor++ {
		if exe, err := exec.LookPath(fmt.Sprintf("python3.%d", minor)); err == nil && filepath.Base(filepath.Dir(exe)) != "shims" {
			candidates = append(candidates, exe)
		}
	}
	pyenvRoot := os.Getenv("PYENV_ROOT")
	if home, err := os.UserHomeDir(); pyenvRoot == "" && err == nil {
		pyenvRoot = filepath.Join(home, ".pyenv")
	}
	for minor := 10; minor <= 14; minor++ {
		found, _ := filepath.Glob(filepath.Join(pyenvRoot, "versions", fmt.Sprintf("3.%d.*", minor), "bin", "python3"))
		candidates = append(candidates, found...)
	}
	var found []string
	for _, exe := range candidates {
		out, err := exec.Command(exe, "-I", "-c", "import sys; print(sys.executable)").Output()
		if err != nil {
			t.Logf("%s does not run; not testing it", exe)
			continue
		}
		found = append(found, strings.TrimSpace(string(out)))
	}
	return found
}

func TestBuildSpeedupsImports(t *testing.T) {
	t.Parallel()
	py := testPython(t)
	out, err := exec.Command(py, "-I", "-c", "import sys; print('cp3%d' % sys.version_info[1])").Output()
	if err != nil {
		t.Fatal(err)
	}
	cp := strings.TrimSpace(string(out))
	tests := []struct {
		name       string
		abi3       bool
		tagInfix   string
		soPattern  string
		alsoOthers bool // the abi3 build must load in every CPython of the range
	}{
		{name: "abi3", abi3: true, tagInfix: "-cp310-abi3-", soPattern: `_speedups\.abi3\.so$`, alsoOthers: true},
		{name: "version-specific", abi3: false, tagInfix: "-" + cp + "-" + cp + "-", soPattern: `_speedups\.cpython-3\d+t?-[a-z0-9_]+-linux-gnu\.so$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			whl, err := BuildSpeedups(ctx, t.TempDir(), py, tt.abi3)
			if errors.Is(err, ErrToolchain) {
				t.Skipf("cannot compile here: %v", err)
			}
			if err != nil {
				t.Fatalf("BuildSpeedups: %v", err)
			}
			if !strings.Contains(filepath.Base(whl), tt.tagInfix) {
				t.Errorf("wheel %s lacks tags %q", filepath.Base(whl), tt.tagInfix)
			}
			site := t.TempDir()
			unzipWheel(t, whl, site)
			interpreters := []string{py}
			if tt.alsoOthers {
				interpreters = append(interpreters, otherPythons(t)...)
			}
			for _, exe := range slices.Compact(slices.Sorted(slices.Values(interpreters))) {
				r := runPython(t, exe, site, []string{"PYTHONPATH=" + site, "PYTHONDONTWRITEBYTECODE=1"}, "-c", checksumScript, site)
				if r.code != 0 {
					t.Fatalf("%s cannot use the built module:\n%s", exe, r.output())
				}
				if !regexp.MustCompile(tt.soPattern).MatchString(strings.TrimSpace(r.stdout)) {
					t.Errorf("%s loaded %q, want a file matching %s", exe, strings.TrimSpace(r.stdout), tt.soPattern)
				}
				t.Logf("%s: ok (%s)", exe, filepath.Base(strings.TrimSpace(r.stdout)))
			}
		})
	}
}

func TestBuildSpeedupsErrors(t *testing.T) {
	tests := []struct {
		name      string
		python    string
		toolchain bool // errors.Is(err, ErrToolchain)
		mention   string
	}{
		{name: "missing interpreter", python: filepath.Join(t.TempDir(), "python3"), toolchain: true, mention: "install python3"},
		{name: "not a python", python: "false", toolchain: false, mention: "check that it is a working CPython"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildSpeedups(context.Background(), t.TempDir(), tt.python, true)
			if err == nil {
				t.Fatal("BuildSpeedups succeeded")
			}
			if errors.Is(err, ErrToolchain) != tt.toolchain || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q: want ErrToolchain=%v and a mention of %q", err, tt.toolchain, tt.mention)
			}
		})
	}
}

func TestSynthetic(t *testing.T) {
	files := map[string]string{
		"native/__init__.py":                           "from native._core import *\n",
		"native/_core.cpython-311-x86_64-linux-gnu.so": "placeholder, never imported",
	}
	tests := []struct {
		name      string
		tagSets   []string
		wantNames []string
		wantPure  []bool
		wantErr   string
	}{
		{
			name:    "foreign tags",
			tagSets: []string{"cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64", "cp312-abi3-macosx_11_0_arm64", "py3-none-any"},
			wantNames: []string{
				"native-2.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
				"native-2.0-cp312-abi3-macosx_11_0_arm64.whl",
				"native-2.0-py3-none-any.whl",
			},
			wantPure: []bool{false, false, true},
		},
		{name: "duplicate tag set", tagSets: []string{"py3-none-any", "py3-none-any"}, wantErr: "given twice"},
		{name: "malformed tag set", tagSets: []string{"cp311-linux_x86_64"}, wantErr: "cp311-linux_x86_64"},
		{name: "no tag sets", tagSets: nil, wantErr: "no tag sets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, err := Synthetic(t.TempDir(), "native", "2.0", tt.tagSets, files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range paths {
				if filepath.Base(p) != tt.wantNames[i] {
					t.Errorf("wheel %d: %s, want %s", i, filepath.Base(p), tt.wantNames[i])
				}
				w, err := wheel.Open(p)
				if err != nil {
					t.Fatalf("the wheel reader rejects %s: %v", filepath.Base(p), err)
				}
				if w.RootIsPurelib != tt.wantPure[i] {
					t.Errorf("%s: Root-Is-Purelib %v, want %v", filepath.Base(p), w.RootIsPurelib, tt.wantPure[i])
				}
				entries := zipEntries(t, p)
				for name, content := range files {
					if got := string(entries[name].data); got != content {
						t.Errorf("%s: %s = %q, want %q", filepath.Base(p), name, got, content)
					}
				}
			}
		})
	}
}

func TestExtractApp(t *testing.T) {
	dir := t.TempDir()
	if err := ExtractApp(dir); err != nil {
		t.Fatal(err)
	}
	count := 0
	err := fs.WalkDir(sampleapp.AppFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		count++
		want, err := fs.ReadFile(sampleapp.AppFS(), p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the embedded file", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "manage.py"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("manage.py mode %v, want 0755 (it starts with #!)", info.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	if count < 10 || len(leftovers) > 0 {
		t.Errorf("extracted %d files, temp leftovers %q", count, leftovers)
	}
}

// TestFixturesHoldNoBuildDebris guards the embedded trees: running Python against the
// fixture directory by hand leaves __pycache__ behind, which would then be embedded and
// shipped in every sample bundle.
func TestFixturesHoldNoBuildDebris(t *testing.T) {
	for name, fsys := range map[string]fs.FS{"app": sampleapp.AppFS(), "wheels": sampleapp.WheelSourcesFS()} {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			base := d.Name()
			// static/ at the top is collectstatic's output; mathesar/static/ is source.
			if base == "__pycache__" || strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".so") || p == "static" {
				t.Errorf("%s/%s is build output; delete it from test/fixtures/sampleapp", name, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
