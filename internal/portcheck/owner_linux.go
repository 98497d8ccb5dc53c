package portcheck

// Parsing /proc by hand rather than through github.com/prometheus/procfs: the lookup is
// two small text formats and a readlink loop, it must skip processes that vanish or that
// we may not inspect (which procfs reports as errors per process), and it keeps the
// launcher free of a dependency used nowhere else.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// procRoot is where procfs is mounted.
const procRoot = "/proc"

// tcpListenState is TCP_LISTEN as printed in the "st" column of /proc/net/tcp.
const tcpListenState = "0A"

// listenSocket is one LISTEN line of /proc/net/tcp or tcp6.
type listenSocket struct {
	ip    net.IP
	port  int
	uid   int
	inode uint64
}

func owner(port int, want net.IP) (ownerInfo, error) {
	var socks []listenSocket
	for _, name := range []string{"tcp", "tcp6"} {
		s, err := readListening(filepath.Join(procRoot, "net", name))
		if err != nil {
			if os.IsNotExist(err) { // tcp6 is absent when IPv6 is disabled.
				continue
			}
			return ownerInfo{uid: -1}, err
		}
		for _, l := range s {
			if l.port == port {
				socks = append(socks, l)
			}
		}
	}
	if len(socks) == 0 {
		return ownerInfo{uid: -1}, fmt.Errorf("port %d: %w (no listening socket in %s/net/tcp*)", port, ErrOwnerUnknown, procRoot)
	}
	// Sockets whose address can clash with the one asked about come first, so that with
	// 127.0.0.1:8000 and [::1]:8000 held by different programs the relevant one is named.
	sort.SliceStable(socks, func(i, j int) bool {
		return clashes(socks[i].ip, want) && !clashes(socks[j].ip, want)
	})
	inodes := make(map[uint64]int, len(socks)) // inode -> lowest pid holding it
	for _, s := range socks {
		inodes[s.inode] = 0
	}
	if err := findHolders(inodes); err != nil {
		return ownerInfo{uid: socks[0].uid}, err
	}
	for _, s := range socks {
		if pid := inodes[s.inode]; pid > 0 {
			return ownerInfo{pid: pid, command: command(pid), uid: s.uid}, nil
		}
	}
	return ownerInfo{uid: socks[0].uid}, fmt.Errorf("port %d: %w (the socket belongs to uid %d; its process is hidden from this user)", port, ErrOwnerUnknown, socks[0].uid)
}

// clashes reports whether a listener on have may block binding want (nil want: any).
func clashes(have, want net.IP) bool {
	return want == nil || have.Equal(want) || have.IsUnspecified() || want.IsUnspecified()
}

// readListening parses the LISTEN sockets of one /proc/net/tcp{,6} file.
func readListening(path string) ([]listenSocket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []listenSocket
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for line := 2; sc.Scan(); line++ {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			return nil, fmt.Errorf("parse %s line %d: %d fields, want at least 10", path, line, len(fields))
		}
		if fields[3] != tcpListenState {
			continue
		}
		ip, port, err := parseHexAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("parse %s line %d: %w", path, line, err)
		}
		uid, err := strconv.Atoi(fields[7])
		if err != nil {
			return nil, fmt.Errorf("parse %s line %d: uid %q: %w", path, line, fields[7], err)
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s line %d: inode %q: %w", path, line, fields[9], err)
		}
		out = append(out, listenSocket{ip: ip, port: port, uid: uid, inode: inode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// parseHexAddr decodes "0100007F:1F40". The kernel prints the address as 32-bit words
// in host byte order, so each word is converted back through the native byte order.
func parseHexAddr(s string) (net.IP, int, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok || (len(hexIP) != 8 && len(hexIP) != 32) {
		return nil, 0, fmt.Errorf("address %q: want HEXIP:HEXPORT", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("address %q: port: %w", s, err)
	}
	ip := make(net.IP, len(hexIP)/2)
	for i := 0; i < len(hexIP); i += 8 {
		w, err := strconv.ParseUint(hexIP[i:i+8], 16, 32)
		if err != nil {
			return nil, 0, fmt.Errorf("address %q: %w", s, err)
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	return ip, int(port), nil
}

// findHolders fills inodes with the lowest pid having each socket open. Processes we may
// not inspect (other users' while not root) or that exit meanwhile are skipped.
func findHolders(inodes map[uint64]int) error {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return fmt.Errorf("list processes in %s: %w", procRoot, err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	left := len(inodes)
	for _, pid := range pids {
		fdDir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if holder, ok := inodes[inode]; ok && holder == 0 {
				inodes[inode] = pid
				if left--; left == 0 {
					return nil
				}
			}
		}
	}
	return nil
}

// command returns a process's command line, or its name when the command line is empty
// (kernel threads) or unreadable.
func command(pid int) string {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		// Arguments are NUL-separated; programs that retitle themselves (gunicorn's
		// setproctitle) leave one string padded with NULs or spaces.
		var args []string
		for _, a := range strings.Split(string(b), "\x00") {
			if a = strings.TrimSpace(a); a != "" {
				args = append(args, a)
			}
		}
		if len(args) > 0 {
			return shorten(strings.Join(args, " "))
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}
