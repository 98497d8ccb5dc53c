package portcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// owner asks lsof, which macOS ships, since it has no /proc. Processes of other users
// are only visible to root, as on Linux.
func owner(port int, _ net.IP) (ownerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// +c 0: full command names; -F pcu: machine-readable pid, command and uid lines.
	out, err := exec.CommandContext(ctx, "lsof", "+c", "0", "-nP", "-iTCP:"+strconv.Itoa(port), "-sTCP:LISTEN", "-Fpcu").Output()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) { // lsof exits 1 when nothing matches.
		return ownerInfo{uid: -1}, fmt.Errorf("port %d: %w (lsof: %v)", port, ErrOwnerUnknown, err)
	}
	best := ownerInfo{uid: -1}
	var cur ownerInfo
	flush := func() {
		if cur.pid > 0 && (best.pid == 0 || cur.pid < best.pid) {
			best = cur
		}
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		switch line[0] {
		case 'p':
			flush()
			cur = ownerInfo{uid: -1}
			cur.pid, _ = strconv.Atoi(line[1:])
		case 'c':
			cur.command = line[1:]
		case 'u':
			if uid, err := strconv.Atoi(line[1:]); err == nil {
				cur.uid = uid
			}
		}
	}
	flush()
	if best.pid == 0 {
		return ownerInfo{uid: -1}, fmt.Errorf("port %d: %w", port, ErrOwnerUnknown)
	}
	if full, err := exec.CommandContext(ctx, "ps", "-o", "command=", "-p", strconv.Itoa(best.pid)).Output(); err == nil {
		if s := strings.TrimSpace(string(full)); s != "" {
			best.command = shorten(s)
		}
	}
	return best, nil
}
