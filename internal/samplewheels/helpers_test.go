package samplewheels

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// testPython is the real executable behind python3 on PATH: asking it for sys.executable
// once avoids paying for a version-manager shim (pyenv) on every run.
func testPython(t *testing.T) string {
	t.Helper()
	pythonOnce.Do(func() {
		exe, err := exec.LookPath("python3")
		if err != nil {
			pythonErr = err
			return
		}
		out, err := exec.Command(exe, "-I", "-c", "import sys; print(sys.executable)").Output()
		if err != nil {
			pythonErr = err
			return
		}
		pythonPath = strings.TrimSpace(string(out))
	})
	if pythonErr != nil || pythonPath == "" {
		t.Skipf("no working python3 on PATH (%v); install python3 to run this test", pythonErr)
	}
	return pythonPath
}

// buildWheelhouse builds the wheelhouse into a temporary directory, skipping the test when
// this machine cannot compile the extension.
func buildWheelhouse(t *testing.T, python string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	paths, err := BuildWheelhouse(ctx, t.TempDir(), Options{Python: python})
	if errors.Is(err, ErrToolchain) {
		t.Skipf("cannot compile the sample extension here: %v", err)
	}
	if err != nil {
		t.Fatalf("BuildWheelhouse: %v", err)
	}
	return paths
}

// unzipWheel extracts the wheel's root entries (what an install puts in site-packages)
// into dir; .data/ entries go elsewhere in a real install and are left out.
func unzipWheel(t *testing.T, whl, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(whl)
	if err != nil {
		t.Fatalf("open %s: %v", whl, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		top, _, _ := strings.Cut(f.Name, "/")
		if strings.HasSuffix(top, ".data") || strings.HasSuffix(f.Name, "/") {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: open %s: %v", whl, f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: read %s: %v", whl, f.Name, err)
		}
		if err := os.WriteFile(target, data, f.Mode().Perm()|0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// zipEntries maps each entry of a zip to its content and mode.
func zipEntries(t *testing.T, path string) map[string]zipFile {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	out := map[string]zipFile{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = zipFile{data: data, mode: f.Mode()}
	}
	return out
}

type zipFile struct {
	data []byte
	mode fs.FileMode
}

// appVersion reads __version__ from the embedded mathesar/__init__.py, the one place the
// sample app's version is written.
func appVersion(t *testing.T) string {
	t.Helper()
	src, err := fs.ReadFile(sampleapp.AppFS(), "mathesar/__init__.py")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^__version__ = "([^"]+)"$`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("no __version__ line in mathesar/__init__.py:\n%s", src)
	}
	return string(m[1])
}

// pythonEnv is the environment for running the sample app: this process's environment
// without Python, libpq and POSTGRES_* variables that would leak into the test, plus extra;
// app "" leaves the app off PYTHONPATH (gunicorn finds it through --chdir).
func pythonEnv(site, app string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PYTHON") || strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "POSTGRES_") ||
			k == "NOTIFY_SOCKET" || k == "WEB_CONCURRENCY" || k == "SKIP_STATIC_COLLECTION" || k == "STATIC_ROOT" ||
			k == "DJANGO_SETTINGS_MODULE" {
			continue
		}
		env = append(env, kv)
	}
	path := site
	if app != "" {
		path = app + string(os.PathListSeparator) + site
	}
	env = append(env, "PYTHONPATH="+path, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) output() string { return r.stdout + r.stderr }

// runPython runs python with args in dir and returns its output and exit status.
func runPython(t *testing.T, python, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %s %v: %v", python, args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
