package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/adler32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

func localABI(t *testing.T, python string) string {
	t.Helper()
	out, err := exec.Command(python, "-c", "import sys; print('cp%d%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("ask %s for its version: %v", python, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSamplePyz builds the sample app's pyz the way `go tool mage zipapp` does, then runs it
// on the local CPython: `python3 mathesar.pyz version` straight from the zip, and the C
// extension imported from the tree the launcher would unpack.
func TestSamplePyz(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: run `go tool mage deps`")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: run `go tool mage deps`")
	}
	root := t.TempDir()
	var log bytes.Buffer
	cfg := Config{Root: root, Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Log: &log}
	outputs, err := Zipapps(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	t.Log(log.String())
	pyz := outputs[0]
	if want := filepath.Join(root, "build", "zipapp", "linux_amd64", "mathesar.pyz"); pyz != want {
		t.Fatalf("wrote %s, want %s", pyz, want)
	}

	out, err := exec.Command(python, pyz, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("python3 mathesar.pyz version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "mathesar 0.1.0+sample (sample app)\n") {
		t.Fatalf("python3 mathesar.pyz version printed %q", out)
	}

	b, err := bundle.Open(pyz)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Manifest.App.Sample || b.Manifest.App.Version != "0.1.0+sample" {
		t.Errorf("manifest app = %+v, want the labelled sample", b.Manifest.App)
	}
	abi := localABI(t, python)
	dest := filepath.Join(t.TempDir(), "tree")
	if err := b.Extract(context.Background(), abi, dest, nil); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("import sys; sys.path[:0] = [%q, %q]\nimport samplespeedups\nprint(samplespeedups.checksum(b'abc'), samplespeedups._speedups.__file__)",
		filepath.Join(dest, "app"), filepath.Join(dest, "site-packages"))
	out, err = exec.Command(python, "-I", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("import the C extension: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if want := fmt.Sprint(adler32.Checksum([]byte("abc"))); len(fields) != 2 || fields[0] != want {
		t.Fatalf("checksum(b'abc') printed %q, want %s", out, want)
	}
	if !strings.HasSuffix(fields[1], ".abi3.so") {
		t.Errorf("extension loaded from %s, want the compiled abi3 module", fields[1])
	}
}

// TestSamplePyzReproducible builds twice from scratch and compares the bytes.
func TestSamplePyzReproducible(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: run `go tool mage deps`")
	}
	var sums [2][32]byte
	for i := range sums {
		cfg := Config{Root: t.TempDir(), Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Log: &bytes.Buffer{}}
		outputs, err := Zipapps(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(outputs[0])
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ: %x vs %x", sums[0], sums[1])
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("MATHESAR_SRC", "/src")
	t.Setenv("MATHESAR_WHEELHOUSE", "/wheels")
	t.Setenv("MATHESAR_PLATFORMS", "linux/arm64")
	t.Setenv("MATHESAR_PYTHON_RANGE", "3.11-3.13")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	c, err := FromEnv("/repo", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "/src" || c.Wheelhouse != "/wheels" || strings.Join(c.Platforms, ",") != "linux/arm64" || c.MinMinor != 11 || c.MaxMinor != 13 || c.SourceDateEpoch != 1700000000 {
		t.Fatalf("config = %+v", c)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := FromEnv("/repo", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
}

func TestParsePythonRange(t *testing.T) {
	cases := []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"3.10-3.14", 10, 14, true},
		{"3.12", 12, 12, true},
		{"3.14-3.10", 0, 0, false},
		{"2.7-3.10", 0, 0, false},
		{"three", 0, 0, false},
	}
	for _, c := range cases {
		lo, hi, err := ParsePythonRange(c.in)
		if (err == nil) != c.ok || lo != c.lo || hi != c.hi {
			t.Errorf("ParsePythonRange(%q) = %d, %d, %v", c.in, lo, hi, err)
		}
	}
}

func TestReadVersion(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadVersion(dir); err == nil || !strings.Contains(err.Error(), "Mathesar source tree") {
		t.Errorf("no mathesar/__init__.py: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "mathesar"), 0o755)
	os.WriteFile(filepath.Join(dir, "mathesar", "__init__.py"), []byte("# no version here\n"), 0o644)
	if _, err := ReadVersion(dir); err == nil || !strings.Contains(err.Error(), "__version__") {
		t.Errorf("no __version__: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "mathesar", "__init__.py"), []byte("\"\"\"Mathesar.\"\"\"\n__version__ = '0.10.1'\n"), 0o644)
	if v, err := ReadVersion(dir); err != nil || v != "0.10.1" {
		t.Errorf("ReadVersion = %q, %v", v, err)
	}
}

func TestSourceWithoutWheelhouse(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Source: t.TempDir(), Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Log: &bytes.Buffer{}}
	if _, err := Zipapps(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "MATHESAR_WHEELHOUSE") {
		t.Fatalf("MATHESAR_SRC without a wheelhouse: %v", err)
	}
}
