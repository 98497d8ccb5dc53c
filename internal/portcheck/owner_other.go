//go:build !linux && !darwin

package portcheck

import (
	"fmt"
	"net"
)

// owner has no way to map sockets to processes on this system.
func owner(port int, _ net.IP) (ownerInfo, error) {
	return ownerInfo{uid: -1}, fmt.Errorf("port %d: %w (not supported on this system)", port, ErrOwnerUnknown)
}
