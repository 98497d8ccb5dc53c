//go:build !linux

package srcfetch

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem flushes all filesystems: macOS has no syncfs(2).
func syncFilesystem(*os.File) error {
	unix.Sync()
	return nil
}
