// Package launcher_test runs the built `mathesar` launcher end to end: it builds the launcher
// and a sample-app bundle once, then runs real commands as real processes (as `nobody` when
// the suite runs as root) against real PostgreSQL servers.
package launcher_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
)

// The suite's shared artifacts, made once by TestMain.
var (
	// skipReason, when set, skips every test: the machine cannot run the suite.
	skipReason string
	prefix     string // <tmp>/prefix: bin/mathesar and lib/mathesar/mathesar.pyz
	launcherExe,
	pyzPath string
	manifest *bundle.Manifest
)

// hostPATH is the PATH every launcher process gets: system directories only, so the
// interpreter found is one every user (nobody, mathesar) may run, not root's pyenv.
const hostPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	skipReason = machineSkipReason()
	if skipReason != "" {
		fmt.Fprintf(os.Stderr, "launcher tests skipped: %s\n", skipReason)
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "mathesar-launcher-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "launcher tests: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	if err := buildArtifacts(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "launcher tests: build the launcher and the sample bundle: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "launcher tests: built %s and %s (build %s) in %.1fs\n",
		launcherExe, pyzPath, manifest.BuildID[:12], time.Since(start).Seconds())
	return m.Run()
}

// machineSkipReason says why this machine cannot run the suite, or "".
func machineSkipReason() string {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fmt.Sprintf("the suite builds a linux/amd64 bundle and runs it; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		return "python3 is not on PATH (needed to compile the sample C extension and to run the app): run `go tool mage deps`"
	}
	if _, _, err := pgsetup.FindServerBinaries(); err != nil {
		return fmt.Sprintf("%v: run `go tool mage deps`", err)
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return "psql is not on PATH (the sample app queries through it): run `go tool mage deps`"
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err != nil {
			return "running as root, the suite runs user installs as `nobody`, which does not exist here"
		}
	}
	return ""
}

// buildArtifacts builds the launcher and the linux/amd64 sample bundle into tmp/prefix, the
// layout of a tarball install, readable by every user.
func buildArtifacts(tmp string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	prefix = filepath.Join(tmp, "prefix")
	launcherExe = filepath.Join(prefix, "bin", "mathesar")
	pyzPath = filepath.Join(prefix, "lib", "mathesar", "mathesar.pyz")
	for _, d := range []string{tmp, prefix, filepath.Dir(launcherExe), filepath.Dir(filepath.Dir(pyzPath)), filepath.Dir(pyzPath)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		// MkdirTemp makes 0700; other users must traverse the whole prefix.
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	build := exec.CommandContext(ctx, goTool(), "build", "-o", launcherExe, "./cmd/mathesar")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/mathesar: %w\n%s", err, out)
	}

	// The bundle is made as `go tool mage zipapp` makes it: translations compiled, static
	// files collected at build time, the site hook in site-packages.
	built, err := pipeline.BuildZipapps(ctx, pipeline.Config{
		Root: filepath.Join(tmp, "sample"), Platforms: []string{"linux/amd64"},
		MinMinor: 10, MaxMinor: 14, Python: "python3", Log: io.Discard,
	})
	if err != nil {
		return fmt.Errorf("build the sample pyz: %w", err)
	}
	if err := os.Rename(built.Outputs[0], pyzPath); err != nil {
		return err
	}
	b, err := bundle.Open(pyzPath)
	if err != nil {
		return err
	}
	defer b.Close()
	manifest = &b.Manifest
	return os.Chmod(pyzPath, 0o644)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the Go module: run the tests from the repository")
	}
	return filepath.Dir(gomod), nil
}

// requireSuite skips t when the machine cannot run the suite.
func requireSuite(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// account is an OS user the launcher runs as.
type account struct {
	name     string
	uid, gid int
	cred     *syscall.Credential // nil: the test's own user, no switch
}

// appUser is who runs user installs: `nobody` when the suite runs as root (a user install
// refuses to run its private PostgreSQL as root), else the test's own user.
func appUser(t *testing.T) account {
	t.Helper()
	if os.Geteuid() != 0 {
		return self(t)
	}
	return lookupAccount(t, "nobody")
}

func self(t *testing.T) account {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return account{name: u.Username, uid: os.Getuid(), gid: os.Getgid()}
}

func lookupAccount(t *testing.T, name string) account {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	a := account{name: name, uid: uid, gid: gid}
	if uid != os.Geteuid() {
		a.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	return a
}

// sharedDir returns a new empty directory owned by acct, whose ancestors up to the system
// temp directory other users may traverse.
func sharedDir(t *testing.T, acct account) string {
	t.Helper()
	d := t.TempDir()
	// t.TempDir's parent is made 0700 by MkdirTemp.
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if acct.uid != os.Geteuid() {
		if err := os.Chown(d, acct.uid, acct.gid); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// userEnv is the environment of a user install whose home is home: XDG paths under it.
func userEnv(home string) []string {
	return []string{
		"PATH=" + hostPATH,
		"HOME=" + home,
		"LANG=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		// Explicit, so a launcher run as root never touches /var/cache/mathesar.
		"MATHESAR_CACHE_DIR=" + filepath.Join(home, "cache", "mathesar"),
	}
}

// launcher runs the built mathesar with a fixed environment, as one user.
type launcher struct {
	as  account
	env []string
}

func (l launcher) with(kv ...string) launcher {
	env := append([]string{}, l.env...)
	for _, s := range kv {
		k, _, _ := strings.Cut(s, "=")
		out := env[:0]
		for _, e := range env {
			if !strings.HasPrefix(e, k+"=") {
				out = append(out, e)
			}
		}
		env = append(out, s)
	}
	return launcher{as: l.as, env: env}
}

func (l launcher) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, launcherExe, args...)
	cmd.Env = l.env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: l.as.cred}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// result is how one finished command went.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("mathesar %s: exit %d after %.1fs\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.elapsed.Seconds(), r.stdout, r.stderr)
}

// run runs the launcher to completion within timeout; a command that hangs fails the test.
func (l launcher) run(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return l.runInput(t, timeout, "", args...)
}

func (l launcher) runInput(t *testing.T, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	r, err := l.runE(timeout, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runE is run for goroutines other than the test's: a hang or a failure to start is an error.
func (l launcher) runE(timeout time.Duration, stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := l.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("mathesar %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, r.stdout, r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("mathesar %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// mustRun runs the launcher and fails the test unless it exits 0.
func (l launcher) mustRun(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	r := l.run(t, timeout, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	return r
}

// syncBuffer collects a running process's output for reading while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a long-running launcher process (`mathesar run`).
type server struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// start starts a long-running command. Cleanup kills it (and its process group) if the test
// has not stopped it.
func (l launcher) start(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := l.command(context.Background(), args...)
	cmd.SysProcAttr.Setpgid = true
	s := &server{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mathesar %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		t.Logf("stopped mathesar %s in cleanup\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), s.stdout, s.stderr)
	})
	return s
}

// stop sends sig to the launcher alone and waits up to timeout for it to exit.
func (s *server) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal the launcher: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("the launcher did not exit within %s of %v\nstdout:\n%s\nstderr:\n%s", timeout, sig, s.stdout, s.stderr)
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		t.Fatalf("wait for the launcher: %v", s.err)
	}
	return 0
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
