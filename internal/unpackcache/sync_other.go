//go:build !linux

package unpackcache

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem flushes all filesystems: macOS has no syncfs(2), and sync(2) there also
// schedules every dirty buffer, which is what the rename below needs.
func syncFilesystem(*os.File) error {
	unix.Sync()
	return nil
}
