// Package portcheck tells whether a TCP address is free to listen on and, when it is
// not, which process holds it, so `mathesar run` and `mathesar doctor` can say what to
// stop instead of printing gunicorn's bare "Address already in use".
package portcheck

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
	"syscall"
)

// InUseError reports that addr:port is held by another socket.
type InUseError struct {
	Addr string
	Port int
	// PID and Command name the listening process; PID is 0 when it could not be found
	// (another user's process while not root, or a process in another PID namespace).
	PID     int
	Command string
	// User owns the listening socket when known (from /proc/net/tcp even when the
	// process itself is hidden from us); "" otherwise.
	User string
	// Err is the error from listen (wrapping syscall.EADDRINUSE).
	Err error
}

func (e *InUseError) Error() string {
	addr := e.Addr
	if addr == "" {
		addr = "all addresses"
	}
	if e.PID > 0 {
		cmd := e.Command
		if cmd == "" {
			cmd = "process"
		}
		return fmt.Sprintf("port %d on %s is already in use by %s (pid %d): stop it or choose another port with `mathesar run --port %d` (or set MATHESAR_PORT)",
			e.Port, addr, cmd, e.PID, otherPort(e.Port))
	}
	who := "another process"
	if e.User != "" {
		who = "another process of user " + e.User
	}
	return fmt.Sprintf("port %d on %s is already in use by %s (run `ss -ltnp 'sport = :%d'` as root to see which): stop it or choose another port with `mathesar run --port %d` (or set MATHESAR_PORT)",
		e.Port, addr, who, e.Port, otherPort(e.Port))
}

func (e *InUseError) Unwrap() error { return e.Err }

// otherPort suggests a neighbouring port for the error message.
func otherPort(port int) int {
	if port < 65535 {
		return port + 1
	}
	return port - 1
}

// ErrOwnerUnknown is returned by Owner when no process visible to us holds the port.
var ErrOwnerUnknown = errors.New("no visible process is listening on the port")

// Check tries to listen on addr:port and closes the listener again. It returns nil when
// the address is free and *InUseError when another socket holds it; any other failure
// (address not on this host, privileged port) is returned with advice.
func Check(addr string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of range: choose a port between 1 and 65535 with `mathesar run --port`", port)
	}
	hostport := net.JoinHostPort(addr, strconv.Itoa(port))
	// Open the same kind of socket gunicorn would, so the kernel applies the same
	// conflict rules: AF_INET for an IPv4 address (plain "tcp" would make Go open a
	// dual-stack [::] socket for 0.0.0.0), and for IPv6 AF_INET6 without IPV6_V6ONLY
	// ("tcp6" would set it), so [::] also clashes with IPv4 listeners as gunicorn's does.
	network := "tcp"
	if ip := net.ParseIP(addr); ip != nil && ip.To4() != nil {
		network = "tcp4"
	}
	// Go sets SO_REUSEADDR on listeners, as gunicorn does, so a port that only has
	// TIME_WAIT connections left counts as free for both.
	ln, err := net.Listen(network, hostport)
	if err == nil {
		if err := ln.Close(); err != nil {
			return fmt.Errorf("close test listener on %s: %w", hostport, err)
		}
		return nil
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		e := &InUseError{Addr: addr, Port: port, Err: err}
		if o, oerr := owner(port, net.ParseIP(addr)); oerr == nil {
			e.PID, e.Command = o.pid, o.command
		} else if o.uid >= 0 {
			e.User = userName(o.uid)
		}
		return e
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("listen on %s: %w: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port above 1023 with `mathesar run --port`", hostport, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("listen on %s: %w: %s is not an address of this machine; use 0.0.0.0 (all interfaces) or 127.0.0.1 with `mathesar run --addr`", hostport, err, addr)
	}
	return fmt.Errorf("listen on %s: %w: check the address given with `mathesar run --addr` (or MATHESAR_ADDR)", hostport, err)
}

// Owner finds the process listening on TCP port (any address, IPv4 or IPv6). When
// several processes share the socket (gunicorn's master and its workers) the lowest
// pid, normally the parent, is returned. It returns an error wrapping ErrOwnerUnknown
// when no process we may inspect holds it.
func Owner(port int) (pid int, command string, err error) {
	o, err := owner(port, nil)
	if err != nil {
		return 0, "", err
	}
	return o.pid, o.command, nil
}

// ownerInfo is what the platform-specific lookup found; uid is the socket owner's uid
// or -1, and is known on Linux even when the process is not.
type ownerInfo struct {
	pid     int
	command string
	uid     int
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}

// maxCommand bounds the command shown in messages; Python command lines can be long.
const maxCommand = 200

func shorten(s string) string {
	if len(s) <= maxCommand {
		return s
	}
	return s[:maxCommand] + "…"
}
