package samplewheels

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// sampleInstall is the sample app laid out for running: wheels unpacked into site, the app
// extracted into app.
type sampleInstall struct {
	python, site, app string
}

func newSampleInstall(t *testing.T) sampleInstall {
	t.Helper()
	py := testPython(t)
	site := t.TempDir()
	for _, whl := range buildWheelhouse(t, py) {
		unzipWheel(t, whl, site)
	}
	app := t.TempDir()
	if err := ExtractApp(app); err != nil {
		t.Fatal(err)
	}
	return sampleInstall{python: py, site: site, app: app}
}

// freshApp extracts another copy of the app, for tests that change its files.
func (s sampleInstall) freshApp(t *testing.T) sampleInstall {
	t.Helper()
	s.app = t.TempDir()
	if err := ExtractApp(s.app); err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs the interpreter in the app directory with the app and the wheels importable.
func (s sampleInstall) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runPython(t, s.python, s.app, pythonEnv(s.site, s.app, env...), args...)
}

// migrationCount is the number of migration files the app ships.
func migrationCount(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(sampleapp.AppFS(), "mathesar/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in the sample app (%v)", err)
	}
	return len(files)
}

// gunicorn is a running `python -m gunicorn` of the sample wheelhouse.
type gunicorn struct {
	cmd     *exec.Cmd
	url     string
	mu      sync.Mutex
	stderr  strings.Builder
	scanned chan struct{} // closed when stderr reaches EOF
}

func (g *gunicorn) log() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stderr.String()
}

// startGunicorn starts the server on a free loopback port and waits for READY=1 on an
// abstract NOTIFY_SOCKET, as systemd would, and for the "Listening at" line.
func startGunicorn(t *testing.T, s sampleInstall, appSpec string, env []string) *gunicorn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	notifyName := "@samplewheels-test-" + randomHex(t, 8)
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyName, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on NOTIFY_SOCKET %s: %v", notifyName, err)
	}
	defer notify.Close()

	g := &gunicorn{url: fmt.Sprintf("http://127.0.0.1:%d", port), scanned: make(chan struct{})}
	bind := fmt.Sprintf("127.0.0.1:%d", port)
	// Started from another directory: --chdir alone must make config.wsgi importable.
	g.cmd = exec.Command(s.python, "-m", "gunicorn", appSpec, "--bind", bind, "--chdir", s.app)
	g.cmd.Dir = t.TempDir()
	g.cmd.Env = pythonEnv(s.site, "", append(env, "NOTIFY_SOCKET="+notifyName)...)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start gunicorn: %v", err)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			g.cmd.Process.Kill()
			g.cmd.Wait()
		}
	})
	listening := make(chan string, 1)
	go func() {
		defer close(g.scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.stderr.WriteString(line + "\n")
			g.mu.Unlock()
			if _, after, ok := strings.Cut(line, "Listening at: "); ok {
				listening <- after
			}
		}
	}()

	notify.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, 256)
	n, _, err := notify.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("no sd_notify message from gunicorn: %v\nstderr:\n%s", err, g.log())
	}
	if got := string(buf[:n]); got != "READY=1" {
		t.Fatalf("first sd_notify message %q, want READY=1", got)
	}
	select {
	case addr := <-listening:
		if want := g.url + " ("; !strings.HasPrefix(addr, want) {
			t.Errorf("Listening at: %s, want it to start with %s", addr, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("READY=1 came but no 'Listening at:' line:\n%s", g.log())
	}
	return g
}

func (g *gunicorn) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(g.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v\nserver log:\n%s", path, err, g.log())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// stop sends SIGTERM and returns the exit status.
func (g *gunicorn) stop(t *testing.T) int {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		<-g.scanned // Wait must not close the pipe before the scanner has read everything
		done <- g.cmd.Wait()
	}()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gunicorn did not exit within 10 s of SIGTERM:\n%s", g.log())
	}
	return g.cmd.ProcessState.ExitCode()
}

func TestSampleAppEndToEnd(t *testing.T) {
	t.Parallel()
	s := newSampleInstall(t)
	db := newTestDB(t, "mathesar_e2e")
	// STATIC_ROOT is BASE_DIR/static, as in Mathesar: a STATIC_ROOT variable moves nothing.
	staticRoot := filepath.Join(s.app, "static")
	env := append(db.env(), "STATIC_ROOT="+filepath.Join(t.TempDir(), "ignored"))

	first := s.run(t, env, "-m", "mathesar.install")
	if first.code != 0 || !strings.Contains(first.stdout, "Applying 0001_initial... OK") {
		t.Fatalf("first install (exit %d):\n%s", first.code, first.output())
	}
	css, err := fs.ReadFile(sampleapp.AppFS(), "mathesar/static/sample/sample.css")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(staticRoot, "sample", "sample.css")); err != nil || string(got) != string(css) {
		t.Errorf("static collection did not copy sample.css into STATIC_ROOT (%v):\n%s", err, first.output())
	}
	second := s.run(t, env, "-m", "mathesar.install")
	if second.code != 0 || !strings.Contains(second.stdout, "No migrations to apply.") || strings.Contains(second.stdout, "Applying") {
		t.Fatalf("second install should apply nothing (exit %d):\n%s", second.code, second.output())
	}
	var migrations, items int
	var seed string
	db.query(t, "SELECT (SELECT count(*) FROM sample_migrations), (SELECT count(*) FROM sample_items), (SELECT name FROM sample_items ORDER BY id LIMIT 1)",
		&migrations, &items, &seed)
	if migrations != migrationCount(t) {
		t.Errorf("sample_migrations holds %d rows, want one per migration file (%d)", migrations, migrationCount(t))
	}
	if items != 1 {
		t.Errorf("sample_items holds %d rows after two installs, want the one seed row", items)
	}

	g := startGunicorn(t, s, "config.wsgi", append(env, "WEB_CONCURRENCY=2"))
	code, body := g.get(t, "/")
	if code != 200 || !strings.Contains(body, "Mathesar sample "+appVersion(t)+"\n") || !strings.Contains(body, seed) {
		t.Errorf("GET / = %d:\n%s\nwant 200 with version %s and row %q", code, body, appVersion(t), seed)
	}
	if code, body := g.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\\n\"", code, body)
	}
	if code, _ := g.get(t, "/nowhere"); code != 404 {
		t.Errorf("GET /nowhere = %d, want 404", code)
	}
	if code, body := g.get(t, "/static/sample/sample.css"); code != 200 || body != string(css) {
		t.Errorf("GET /static/sample/sample.css = %d %q, want 200 with the collected file", code, body)
	}
	for _, escape := range []string{"/static/../config/wsgi.py", "/static/sample/missing.css"} {
		if code, _ := g.get(t, escape); code != 404 {
			t.Errorf("GET %s = %d, want 404", escape, code)
		}
	}
	if code := g.stop(t); code != 0 {
		t.Errorf("gunicorn exited %d after SIGTERM, want 0:\n%s", code, g.log())
	}
	log := g.log()
	for _, want := range []string{`"GET / HTTP/1.1" 200`, `"GET /healthz HTTP/1.1" 200`, "2 worker(s) requested", "Handling signal: term"} {
		if !strings.Contains(log, want) {
			t.Errorf("gunicorn log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, db.password()) {
		t.Errorf("gunicorn log shows the database password:\n%s", log)
	}
}

func TestSampleAppDatabaseDown(t *testing.T) {
	t.Parallel()
	s := newSampleInstall(t)
	db := newTestDB(t, "mathesar_down")
	if r := s.run(t, db.env(), "manage.py", "migrate"); r.code != 0 {
		t.Fatalf("migrate (exit %d):\n%s", r.code, r.output())
	}
	password := db.password()
	wrong := "not-" + password
	env := append(db.env(), "POSTGRES_PASSWORD="+wrong) // later entries win in exec's Env
	g := startGunicorn(t, s, "config.wsgi:application", env)
	code, body := g.get(t, "/")
	if code != 503 || !strings.Contains(body, "password authentication failed") {
		t.Errorf("GET / with a wrong password = %d:\n%s\nwant 503 naming the authentication failure", code, body)
	}
	if strings.Contains(body, wrong) || strings.Contains(body, password) {
		t.Errorf("503 body shows a password:\n%s", body)
	}
	if code, body := g.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz without a database = %d %q, want 200 ok", code, body)
	}
	if code := g.stop(t); code != 0 {
		t.Errorf("gunicorn exited %d after SIGTERM, want 0:\n%s", code, g.log())
	}
}

func TestSampleAppCommands(t *testing.T) {
	t.Parallel()
	base := newSampleInstall(t)
	tests := []struct {
		name     string
		files    map[string]string // written into the app copy before running
		env      []string          // added after the database variables
		args     []string
		wantCode int
		wantOut  []string
		check    func(t *testing.T, db testDB, s sampleInstall, env []string)
	}{
		{name: "version", args: []string{"manage.py", "version"}, wantOut: []string{appVersion(t) + "\n"}},
		{
			name: "collectstatic needs no database", env: []string{"POSTGRES_HOST=/nonexistent"},
			args: []string{"manage.py", "collectstatic", "--noinput", "--clear"}, wantOut: []string{"1 static file copied to"},
			check: func(t *testing.T, db testDB, s sampleInstall, env []string) {
				if _, err := os.Stat(filepath.Join(s.app, "static", "sample", "sample.css")); err != nil {
					t.Errorf("collectstatic left no sample.css under BASE_DIR/static: %v", err)
				}
			},
		},
		{name: "check", args: []string{"manage.py", "check"}, wantOut: []string{"no issues"}},
		{name: "unknown command", args: []string{"manage.py", "frobnicate"}, wantCode: 2, wantOut: []string{"unknown command 'frobnicate'", "showmigrations"}},
		{name: "showmigrations before migrate", args: []string{"manage.py", "showmigrations"}, wantOut: []string{" [ ] 0001_initial"}},
		{
			name: "migrate skips static", args: []string{"manage.py", "migrate"}, wantOut: []string{"Applying 0001_initial... OK"},
			check: func(t *testing.T, db testDB, s sampleInstall, env []string) {
				if _, err := os.Stat(filepath.Join(s.app, "static")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("manage.py migrate collected static files (stat: %v)", err)
				}
				r := s.run(t, env, "manage.py", "showmigrations")
				if !strings.Contains(r.stdout, " [X] 0001_initial") {
					t.Errorf("showmigrations after migrate:\n%s", r.output())
				}
			},
		},
		{
			name: "install skips static when asked", env: []string{"SKIP_STATIC_COLLECTION=true"},
			args: []string{"-m", "mathesar.install"}, wantOut: []string{"Applying 0001_initial", "Skipping static collection"},
			check: func(t *testing.T, db testDB, s sampleInstall, env []string) {
				if _, err := os.Stat(filepath.Join(s.app, "static")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("static files collected despite SKIP_STATIC_COLLECTION (stat: %v)", err)
				}
			},
		},
		{
			name: "install collects into BASE_DIR/static by default", args: []string{"-m", "mathesar.install"},
			wantOut: []string{"1 static file copied to"},
			check: func(t *testing.T, db testDB, s sampleInstall, env []string) {
				if _, err := os.Stat(filepath.Join(s.app, "static", "sample", "sample.css")); err != nil {
					t.Errorf("no sample.css under BASE_DIR/static: %v", err)
				}
			},
		},
		{
			name:  "failed migration is named and rolled back",
			files: map[string]string{"mathesar/migrations/0002_broken.sql": "CREATE TABLE half_done (id int);\nSELECT 1/0;\n"},
			args:  []string{"-m", "mathesar.install"}, wantCode: 1,
			wantOut: []string{"Applying 0001_initial... OK", "migration 0002_broken", "division by zero"},
			check: func(t *testing.T, db testDB, s sampleInstall, env []string) {
				var applied string
				var halfDoneAbsent bool
				db.query(t, "SELECT (SELECT string_agg(name, ',' ORDER BY name) FROM sample_migrations), to_regclass('half_done') IS NULL", &applied, &halfDoneAbsent)
				if applied != "0001_initial" || !halfDoneAbsent {
					t.Errorf("after the failed migration: applied %q, half_done absent %v; want \"0001_initial\" and true", applied, halfDoneAbsent)
				}
			},
		},
		{
			name:  "settings refuse a non-PostgreSQL database",
			files: map[string]string{"config/settings/local.py": "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n"},
			args:  []string{"manage.py", "check"}, wantCode: 1, wantOut: []string{"supports only PostgreSQL"},
		},
		{
			name: "settings want the connection variables together", env: []string{"POSTGRES_HOST="},
			args: []string{"-m", "mathesar.install"}, wantCode: 1, wantOut: []string{"must be set together; missing: POSTGRES_HOST"},
		},
		{
			name: "settings reject an unknown sslmode", env: []string{"POSTGRES_SSLMODE=sometimes"},
			args: []string{"manage.py", "check"}, wantCode: 1, wantOut: []string{"POSTGRES_SSLMODE='sometimes' is not valid"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base.freshApp(t)
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(s.app, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			db := newTestDB(t, fmt.Sprintf("mathesar_cmd%d", i))
			env := append(db.env(), tt.env...)
			r := s.run(t, env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d:\n%s", r.code, tt.wantCode, r.output())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(r.output(), want) {
					t.Errorf("output lacks %q:\n%s", want, r.output())
				}
			}
			if strings.Contains(r.output(), db.password()) {
				t.Errorf("output shows the database password:\n%s", r.output())
			}
			if tt.check != nil {
				tt.check(t, db, s, env)
			}
		})
	}
}

func TestGunicornStandInRefuses(t *testing.T) {
	t.Parallel()
	s := newSampleInstall(t)
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		wantLog  string
	}{
		{name: "unix socket bind", args: []string{"config.wsgi", "-b", "unix:/run/x.sock"}, wantCode: 1, wantLog: "serves TCP only"},
		{name: "missing chdir", args: []string{"config.wsgi", "--chdir", filepath.Join(s.app, "missing")}, wantCode: 1, wantLog: "--chdir"},
		{name: "app that does not import", args: []string{"no_such_module", "--chdir", s.app}, wantCode: 4, wantLog: "App failed to load"},
		{name: "callable that does not exist", args: []string{"config.wsgi:nothing", "--chdir", s.app}, wantCode: 4, wantLog: "Failed to find attribute 'nothing'"},
		{name: "bad WEB_CONCURRENCY", args: []string{"config.wsgi"}, env: []string{"WEB_CONCURRENCY=many"}, wantCode: 1, wantLog: "WEB_CONCURRENCY='many'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Settings need the POSTGRES_* variables to import; no server is contacted.
			env := append([]string{"POSTGRES_DB=d", "POSTGRES_USER=u", "POSTGRES_HOST=/nonexistent"}, tt.env...)
			r := runPython(t, s.python, t.TempDir(), pythonEnv(s.site, "", env...), append([]string{"-m", "gunicorn"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantLog) {
				t.Errorf("exit %d, want %d with %q in the log:\n%s", r.code, tt.wantCode, tt.wantLog, r.output())
			}
		})
	}
}
