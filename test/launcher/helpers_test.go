package launcher_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/envfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

// seedRow is the row the sample app's first migration inserts; GET / lists it.
const seedRow = "seed item from 0001_initial"

// freePort returns a TCP port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitForPage polls url until it answers 200 with a body holding every want, the server
// exits, or timeout passes; it returns the body.
func waitForPage(t *testing.T, s *server, url string, timeout time.Duration, want ...string) string {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(timeout)
	start := time.Now()
	var last string
	for time.Now().Before(deadline) {
		if s.exited() {
			t.Fatalf("the launcher exited before serving %s: %v\nstdout:\n%s\nstderr:\n%s", url, s.err, s.stdout, s.stderr)
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = resp.Status + "\n" + string(body)
			if resp.StatusCode == http.StatusOK && containsAll(string(body), want...) {
				t.Logf("GET %s answered after %.1fs", url, time.Since(start).Seconds())
				return string(body)
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s did not answer 200 with %q within %s; last answer: %s\nstdout:\n%s\nstderr:\n%s", url, want, timeout, last, s.stdout, s.stderr)
	return ""
}

func containsAll(s string, want ...string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// configValue reads key from an env file with the launcher's own parser.
func configValue(t *testing.T, path, key string) (string, bool) {
	t.Helper()
	entries, _, err := envfile.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	val, ok := "", false
	for _, e := range entries {
		if e.Key == key {
			val, ok = e.Value, true
		}
	}
	return val, ok
}

// proc is one process from /proc.
type proc struct {
	pid, ppid int
	cmdline   string // arguments joined by spaces
}

// processes lists every process whose /proc entry could be read.
func processes(t *testing.T) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name in parentheses may hold spaces; the fields after it do not.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, proc{pid: pid, ppid: ppid, cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))})
	}
	return out
}

// descendants returns the processes below pid (pid itself included).
func descendants(all []proc, pid int) []proc {
	children := map[int][]proc{}
	var self []proc
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p)
		if p.pid == pid {
			self = append(self, p)
		}
	}
	out := self
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].pid]...)
	}
	return out
}

// processUIDs returns the real, effective, saved and filesystem uids of pid.
func processUIDs(t *testing.T, pid int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("/proc/%d/status has no Uid line", pid)
	return nil
}

// alive reports whether pid runs; a zombie, dead but not yet reaped, does not count.
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// exitsWithin waits up to timeout for pid to stop running: pg_ctl stop returns when the
// server has removed postmaster.pid, a moment before its process ends.
func exitsWithin(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return !alive(pid)
}

// postmasterPID reads the server pid from a data directory's postmaster.pid.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("the private cluster is not running: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid in %s: %v", dataDir, err)
	}
	return pid
}

// stopLeftoverCluster stops a private cluster a failed test left running, as its owner.
func stopLeftoverCluster(t *testing.T, l launcher, dataDir string) {
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// As the cluster's owner: pg_ctl refuses to run as root.
	cmd := exec.CommandContext(ctx, filepath.Join(pgBinDir(t), "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", dataDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: l.as.cred}
	out, err := cmd.CombinedOutput()
	t.Logf("stopped the private cluster left running in %s: %v %s", dataDir, err, out)
}

// pgBinDir is the directory of the PostgreSQL server binaries the launcher uses.
func pgBinDir(t *testing.T) string {
	t.Helper()
	dir, _, err := pgsetup.FindServerBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
