package samplewheels

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgtest"
	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// pg is the PostgreSQL server of the package's tests, started by the first test that needs
// it. Roles log in by password, as the sample app does against a remote server, so a wrong
// password is refused as it would be there.
var pg = &pgtest.Shared{Options: pgtest.Options{PasswordAuth: true}}

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// testDB is a database of one test's own on the shared server, owned by a role of the same
// name with a random password (the documented Mathesar set-up: role with CREATEDB,
// database owned by it).
type testDB struct {
	srv  *pgtest.Server
	conn *pgsetup.ConnInfo
}

func newTestDB(t *testing.T, name string) testDB {
	t.Helper()
	srv := pg.Server(t)
	conn, err := srv.CreateRoleAndDB(name, randomHex(t, 12), name)
	if err != nil {
		t.Fatal(err)
	}
	return testDB{srv: srv, conn: conn}
}

// env is the POSTGRES_* variables the sample app reads to reach the database.
func (d testDB) env() []string { return d.conn.Env() }

func (d testDB) password() string { return d.conn.Password }

// query runs sql as the superuser in the database and scans its one row into dest.
func (d testDB) query(t *testing.T, sql string, dest ...any) {
	t.Helper()
	if err := d.srv.QueryRow(d.conn.Database, sql, dest...); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

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
	for name, f := range zipEntries(t, whl) {
		top, _, _ := strings.Cut(name, "/")
		if strings.HasSuffix(top, ".data") || strings.HasSuffix(name, "/") {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, f.data, f.mode.Perm()|0o600); err != nil {
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
			t.Fatalf("%s: open %s: %v", path, f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: read %s: %v", path, f.Name, err)
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
