package portcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executes itself as a helper process in these modes.
const (
	helperEnv  = "PORTCHECK_TEST_HELPER"
	helperAddr = "PORTCHECK_TEST_ADDR"
	helperPort = "PORTCHECK_TEST_PORT"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "listen":
		// Listen, tell the parent the port, and hold it until stdin closes.
		ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv(helperAddr), "0"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "check":
		port, _ := strconv.Atoi(os.Getenv(helperPort))
		if err := Check(os.Getenv(helperAddr), port); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("free")
		}
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode")
	os.Exit(2)
}

// listen holds a TCP port for the test's duration.
func listen(t *testing.T, network, addr string) int {
	t.Helper()
	ln, err := net.Listen(network, net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func needIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("IPv6 loopback unavailable: %v", err)
	}
	ln.Close()
}

func TestCheckHeldByThisProcess(t *testing.T) {
	exe := filepath.Base(os.Args[0])
	for _, addr := range []string{"127.0.0.1", "0.0.0.0", "::1"} {
		t.Run(addr, func(t *testing.T) {
			if strings.Contains(addr, ":") {
				needIPv6(t)
			}
			port := listen(t, "tcp", addr)
			err := Check(addr, port)
			var inUse *InUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("Check(%s, %d) = %v, want *InUseError", addr, port, err)
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error does not wrap EADDRINUSE: %v", err)
			}
			if inUse.PID != os.Getpid() || !strings.Contains(inUse.Command, exe) {
				t.Errorf("owner = pid %d %q, want pid %d running %s", inUse.PID, inUse.Command, os.Getpid(), exe)
			}
			for _, want := range []string{
				fmt.Sprintf("port %d on %s is already in use by ", port, addr),
				fmt.Sprintf("(pid %d)", os.Getpid()),
				fmt.Sprintf("`mathesar run --port %d`", port+1),
				"MATHESAR_PORT",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestCheckFree(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := Check("127.0.0.1", port); err != nil {
		t.Fatalf("Check of a closed port: %v", err)
	}
	// Check must have released the port again.
	ln, err = net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d still held after Check: %v", port, err)
	}
	ln.Close()
}

func TestCheckOtherErrors(t *testing.T) {
	tests := []struct {
		name, addr string
		port       int
		want       string
	}{
		{"port zero", "127.0.0.1", 0, "out of range"},
		{"port too big", "127.0.0.1", 70000, "out of range"},
		// 192.0.2.0/24 is reserved for documentation and never assigned to a host.
		{"foreign address", "192.0.2.1", 8000, "not an address of this machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.addr, tt.port)
			var inUse *InUseError
			if err == nil || errors.As(err, &inUse) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check(%s, %d) = %v, want a plain error containing %q", tt.addr, tt.port, err, tt.want)
			}
		})
	}
}

// startHelper re-executes the test binary as a listener and returns its pid and port.
func startHelper(t *testing.T, addr string) (int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=listen", helperAddr+"="+addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
		cancel()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read port from helper: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper printed %q: %v", line, err)
	}
	return cmd.Process.Pid, port
}

func TestOwnerOfChildProcess(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			if strings.Contains(addr, ":") {
				needIPv6(t)
			}
			pid, port := startHelper(t, addr)
			gotPID, cmd, err := Owner(port)
			if err != nil {
				t.Fatalf("Owner(%d): %v", port, err)
			}
			if gotPID != pid || !strings.Contains(cmd, filepath.Base(os.Args[0])) {
				t.Errorf("Owner(%d) = %d %q, want helper pid %d running %s", port, gotPID, cmd, pid, os.Args[0])
			}
			var inUse *InUseError
			if err := Check(addr, port); !errors.As(err, &inUse) || inUse.PID != pid {
				t.Errorf("Check(%s, %d) = %v, want in use by pid %d", addr, port, err, pid)
			}
		})
	}
}

func TestOwnerOfFreePort(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if pid, cmd, err := Owner(port); !errors.Is(err, ErrOwnerUnknown) {
		t.Fatalf("Owner of a free port = %d %q %v, want ErrOwnerUnknown", pid, cmd, err)
	}
}

// pythonBind binds and listens the way gunicorn does (SO_REUSEADDR, AF_INET6 for IPv6
// addresses with the system's default dual-stack setting) and says what the kernel said.
const pythonBind = `
import errno, socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((addr, port)); s.listen(1); print("free")
except OSError as e:
    print("inuse" if e.errno == errno.EADDRINUSE else "error %s" % e)
`

// TestCheckAgreesWithGunicornStyleBind compares Check with a real bind made the way
// gunicorn makes it, for listeners on overlapping addresses.
func TestCheckAgreesWithGunicornStyleBind(t *testing.T) {
	// Resolve the real interpreter once: version-manager shims (pyenv) cost ~0.4s a run.
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("python3 unusable: %v", err)
	}
	python := strings.TrimSpace(string(out))
	tests := []struct {
		holdNet, holdAddr, check string
		v6                       bool
	}{
		{"tcp4", "0.0.0.0", "127.0.0.1", false},
		{"tcp4", "127.0.0.1", "0.0.0.0", false},
		{"tcp4", "127.0.0.1", "127.0.0.1", false},
		{"tcp", "::", "0.0.0.0", true},  // dual-stack [::]
		{"tcp6", "::", "0.0.0.0", true}, // IPV6_V6ONLY [::]
		{"tcp4", "0.0.0.0", "::", true},
		{"tcp4", "127.0.0.1", "::", true},
		{"tcp6", "::1", "127.0.0.1", true},
		{"tcp4", "127.0.0.1", "::1", true},
		{"tcp6", "::1", "::", true},
	}
	for _, tt := range tests {
		t.Run(tt.holdNet+"_"+tt.holdAddr+"_vs_"+tt.check, func(t *testing.T) {
			if tt.v6 {
				needIPv6(t)
			}
			port := listen(t, tt.holdNet, tt.holdAddr)
			out, err := exec.Command(python, "-I", "-S", "-c", pythonBind, tt.check, strconv.Itoa(port)).Output()
			if err != nil {
				t.Fatalf("python bind: %v", err)
			}
			kernel := strings.TrimSpace(string(out))
			checkErr := Check(tt.check, port)
			var inUse *InUseError
			got := "free"
			if errors.As(checkErr, &inUse) {
				got = "inuse"
			} else if checkErr != nil {
				got = "error " + checkErr.Error()
			}
			if got != kernel {
				t.Errorf("Check(%s) with %s %s held = %q, gunicorn-style bind says %q", tt.check, tt.holdNet, tt.holdAddr, got, kernel)
			}
		})
	}
}

// TestCheckHiddenOwner runs Check as nobody against a port root holds: the process is
// invisible, the message must say so and point to ss.
func TestCheckHiddenOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a helper as another user")
	}
	// The go test binary sits in a 0700 directory; give nobody a copy it can run.
	dir, err := os.MkdirTemp("", "portcheck")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "portcheck.test")
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	port := listen(t, "tcp4", "127.0.0.1")
	cmd := exec.Command(exe)
	cmd.Dir = dir
	cmd.Env = []string{helperEnv + "=check", helperAddr + "=127.0.0.1", helperPort + "=" + strconv.Itoa(port)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	msg := strings.TrimSpace(string(out))
	for _, want := range []string{
		fmt.Sprintf("port %d on 127.0.0.1 is already in use by another process of user root", port),
		fmt.Sprintf("run `ss -ltnp 'sport = :%d'` as root", port),
		fmt.Sprintf("`mathesar run --port %d`", port+1),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestInUseErrorMessage(t *testing.T) {
	tests := []struct {
		e    InUseError
		want string
	}{
		{InUseError{Addr: "0.0.0.0", Port: 8000, PID: 1234, Command: "nginx"},
			"port 8000 on 0.0.0.0 is already in use by nginx (pid 1234): stop it or choose another port with `mathesar run --port 8001` (or set MATHESAR_PORT)"},
		{InUseError{Addr: "127.0.0.1", Port: 8000},
			"port 8000 on 127.0.0.1 is already in use by another process (run `ss -ltnp 'sport = :8000'` as root to see which): stop it or choose another port with `mathesar run --port 8001` (or set MATHESAR_PORT)"},
		{InUseError{Addr: "::", Port: 65535, User: "postgres"},
			"port 65535 on :: is already in use by another process of user postgres (run `ss -ltnp 'sport = :65535'` as root to see which): stop it or choose another port with `mathesar run --port 65534` (or set MATHESAR_PORT)"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}
