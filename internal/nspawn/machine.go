package nspawn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bind is a host path made visible inside the container.
type Bind struct {
	Host, Container string
	ReadOnly        bool
}

func (b Bind) arg() string {
	flag := "--bind="
	if b.ReadOnly {
		flag = "--bind-ro="
	}
	return flag + b.Host + ":" + b.Container
}

// BootOptions say what to boot.
type BootOptions struct {
	Root    string        // a cached root from Rootfs; copied, never changed
	WorkDir string        // where the copy and the log go [os.TempDir()]
	Binds   []Bind        // host paths to show inside
	Timeout time.Duration // how long booting may take [2m]
}

// Machine is a booted container.
type Machine struct {
	Name    string // the container's machine name and host name
	Dir     string // its root directory on the host
	LogPath string // systemd-nspawn's console output

	cmd    *exec.Cmd
	logf   *os.File
	leader int // the host pid of the container's PID 1 (systemd)
	exited chan struct{}
	err    error // how systemd-nspawn exited, once exited is closed
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Boot copies o.Root into a fresh directory and boots it with systemd-nspawn, sharing the
// host's network (the container fetches packages from Debian's mirror), and waits until
// systemd inside reports the system running or degraded.
func Boot(ctx context.Context, o BootOptions) (*Machine, error) {
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		return nil, errors.New("systemd-nspawn not found: install it with `apt-get install systemd-container` (or `go tool mage deps`)")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	work, err := os.MkdirTemp(o.WorkDir, "nspawn-")
	if err != nil {
		return nil, fmt.Errorf("create the container's directory: %w", err)
	}
	m := &Machine{
		Name:    "e2e-" + strings.TrimPrefix(filepath.Base(work), "nspawn-"),
		Dir:     filepath.Join(work, "root"),
		LogPath: filepath.Join(work, "console.log"),
		exited:  make(chan struct{}),
	}
	m.Name = strings.ToLower(m.Name)
	if !nameRE.MatchString(m.Name) {
		m.Name = fmt.Sprintf("e2e-%d", os.Getpid())
	}
	if err := Clone(ctx, o.Root, m.Dir); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	if m.logf, err = os.Create(m.LogPath); err != nil {
		os.RemoveAll(work)
		return nil, fmt.Errorf("create %s: %w", m.LogPath, err)
	}
	// --register=no and --keep-unit: the host need not run systemd-machined (or systemd).
	args := []string{"--quiet", "--register=no", "--keep-unit", "--boot", "--directory=" + m.Dir, "--machine=" + m.Name, "--console=passive"}
	for _, b := range o.Binds {
		args = append(args, b.arg())
	}
	m.cmd = exec.Command("systemd-nspawn", args...)
	m.cmd.Stdin = nil // /dev/null: nspawn must not take over the test's terminal
	m.cmd.Stdout, m.cmd.Stderr = m.logf, m.logf
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		m.logf.Close()
		os.RemoveAll(work)
		return nil, fmt.Errorf("start systemd-nspawn: %w", err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	bootCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := m.waitBooted(bootCtx); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Clone copies a root file system, keeping owners, modes, links and extended attributes.
func Clone(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the root %s to %s: %w: %s", src, dst, err, out)
	}
	// A root cached by an older run may be 0700; / must be searchable by every user.
	return os.Chmod(dst, 0o755)
}

func (m *Machine) waitBooted(ctx context.Context) error {
	var last string
	for {
		select {
		case <-m.exited:
			return fmt.Errorf("systemd-nspawn exited while booting (%v); its console:\n%s", m.err, m.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("the container did not finish booting (last state %q): %w; its console:\n%s", last, ctx.Err(), m.LogTail())
		case <-time.After(300 * time.Millisecond):
		}
		if m.leader == 0 {
			m.leader = findDescendant(m.cmd.Process.Pid, "systemd")
			continue
		}
		// Early in boot the bus is not up yet and this fails; ask again until it answers.
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		r, err := m.Run(runCtx, "systemctl", "is-system-running", "--wait")
		cancel()
		if err != nil {
			return err
		}
		last = strings.TrimSpace(r.Stdout)
		if last == "running" || last == "degraded" {
			return nil
		}
	}
}

// findDescendant returns the pid of the first descendant of pid (breadth first) whose
// command is comm, or 0. systemd-nspawn forks once or twice before systemd runs.
func findDescendant(pid int, comm string) int {
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
			if strings.TrimSpace(string(name)) == comm {
				return c
			}
			queue = append(queue, c)
		}
	}
	return 0
}

func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// Result is what a command run inside printed and how it exited.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Combined is stdout followed by stderr, for messages.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

// Env is the environment commands run with inside: a login-like root environment, not the
// test's own.
var Env = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "LANG=C.UTF-8", "TERM=dumb", "DEBIAN_FRONTEND=noninteractive",
}

// Run runs argv inside the container as root. A non-zero exit is not an error (it is in
// Result.ExitCode); an error means the command could not be run at all.
func (m *Machine) Run(ctx context.Context, argv ...string) (Result, error) {
	return m.RunInput(ctx, nil, argv...)
}

// RunInput is Run with stdin.
func (m *Machine) RunInput(ctx context.Context, stdin io.Reader, argv ...string) (Result, error) {
	if m.leader == 0 {
		return Result{}, errors.New("the container has not booted: call Boot first")
	}
	args := append([]string{"-t", strconv.Itoa(m.leader), "-a", "env", "-i"}, Env...)
	cmd := exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	// nsenter forks to enter the PID namespace; on cancel, kill its whole process group, or
	// the orphaned child keeps the output pipes open and Wait never returns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		r.ExitCode = exitErr.ExitCode()
		if ctx.Err() != nil {
			return r, fmt.Errorf("%s inside %s: %w", strings.Join(argv, " "), m.Name, ctx.Err())
		}
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("nsenter into %s (pid %d) for %s: %w; is the container still up? its console:\n%s", m.Name, m.leader, strings.Join(argv, " "), err, m.LogTail())
	}
	return r, nil
}

// HostPath is where a path inside the container is on the host. Paths on file systems the
// container mounts itself (/tmp, /run) are not there.
func (m *Machine) HostPath(containerPath string) string {
	return filepath.Join(m.Dir, filepath.Clean("/"+containerPath))
}

// WriteFile writes a file inside the container, through a temporary file and a rename so
// no process inside sees half of it.
func (m *Machine) WriteFile(containerPath string, data []byte, perm os.FileMode) error {
	target := m.HostPath(containerPath)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("create %s in %s: %w", filepath.Dir(containerPath), m.Name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".tmp-"+filepath.Base(target)+"-*")
	if err != nil {
		return fmt.Errorf("write %s in %s: %w", containerPath, m.Name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s in %s: %w", containerPath, m.Name, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// Copy copies a host file into the container.
func (m *Machine) Copy(hostPath, containerPath string) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", hostPath, err)
	}
	info, err := os.Stat(hostPath)
	if err != nil {
		return err
	}
	return m.WriteFile(containerPath, data, info.Mode().Perm())
}

// LogTail returns the last lines of the container's console.
func (m *Machine) LogTail() string {
	data, _ := os.ReadFile(m.LogPath)
	return lastLines(string(data), 30)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop shuts the container down (SIGTERM makes systemd-nspawn ask systemd inside for an
// orderly poweroff), kills it if that takes more than 30 seconds, and removes its directory.
func (m *Machine) Stop() error {
	var errs []error
	select {
	case <-m.exited:
	default:
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(30 * time.Second):
			errs = append(errs, fmt.Errorf("%s did not power off within 30s; killed it; its console:\n%s", m.Name, m.LogTail()))
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.exited
		}
	}
	m.logf.Close()
	// Only now: the container's mounts lived in its own namespace and are gone with it.
	if err := os.RemoveAll(filepath.Dir(m.Dir)); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", filepath.Dir(m.Dir), err))
	}
	return errors.Join(errs...)
}
