package unpackcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

// Entry is an unpacked tree held in use: while its shared lock is held, Prune leaves the
// tree alone.
type Entry struct {
	Dir  string
	lock *os.File
}

// Acquire is Ensure plus a shared lock on the tree's lock file, held until Release or,
// after KeepAcrossExec, until the program the launcher execs exits.
func (c *Cache) Acquire(ctx context.Context, b *bundle.Bundle, abi string, opts EnsureOptions) (*Entry, error) {
	for range 5 {
		dir, err := c.Ensure(ctx, b, abi, opts)
		if err != nil {
			return nil, err
		}
		f, err := c.lockShared(ctx, b.Manifest.BuildID, abi)
		if err != nil {
			return nil, err
		}
		if complete(dir, b.Manifest.BuildID, abi) {
			return &Entry{Dir: dir, lock: f}, nil
		}
		f.Close() // Prune removed the tree between Ensure and our lock: unpack again
	}
	return nil, fmt.Errorf("use the unpack cache at %s: the tree keeps being pruned while it is unpacked; stop the process that prunes it", c.Root)
}

// KeepAcrossExec lets the lock survive exec, so that the exec'd program holds the tree
// until it exits. The descriptor is deliberately leaked into that program.
func (e *Entry) KeepAcrossExec() error {
	if _, err := unix.FcntlInt(e.lock.Fd(), unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("keep the lock %s across exec: %w", e.lock.Name(), err)
	}
	return nil
}

// Release drops the shared lock.
func (e *Entry) Release() error {
	if err := e.lock.Close(); err != nil {
		return fmt.Errorf("release %s: %w", e.lock.Name(), err)
	}
	return nil
}

// lockShared takes a shared flock on the entry's lock file. It calls flock(2) itself
// rather than through gofrs/flock because the descriptor must be handed to the exec'd
// program, and gofrs/flock does not expose it.
func (c *Cache) lockShared(ctx context.Context, buildID, abi string) (*os.File, error) {
	path := filepath.Join(c.buildDir(buildID), abi+".lock")
	for attempt := 0; attempt < 10; attempt++ {
		if err := mkdirShared(c.buildDir(buildID)); err != nil {
			return nil, c.writeError(err)
		}
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			continue // Prune removed the build directory in between
		}
		if err != nil {
			return nil, c.writeError(err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
			if !errors.Is(err, unix.EWOULDBLOCK) {
				break
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("wait for the lock %s: %w", path, ctx.Err())
			case <-time.After(lockRetry):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		onDisk, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, onDisk) {
			return f, nil
		}
		f.Close() // the file was pruned after we opened it
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being removed; is a prune running in a loop?", path)
}
