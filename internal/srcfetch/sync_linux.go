package srcfetch

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem flushes the filesystem holding d with one syncfs(2), which costs far less
// than an fsync per unpacked file.
func syncFilesystem(d *os.File) error {
	return unix.Syncfs(int(d.Fd()))
}
