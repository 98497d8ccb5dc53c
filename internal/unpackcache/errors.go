package unpackcache

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// WriteError reports a cache root that cannot take an unpacked tree.
type WriteError struct {
	Root string
	Err  error
}

func (e *WriteError) Error() string {
	var hint string
	switch {
	case errors.Is(e.Err, syscall.ENOSPC), errors.Is(e.Err, syscall.EDQUOT):
		hint = "the disk or quota is full; free space there or set " + EnvCacheDir + " to a writable directory on a disk with room"
	case errors.Is(e.Err, syscall.EROFS):
		hint = "that file system is mounted read-only; set " + EnvCacheDir + " to a writable directory"
	case errors.Is(e.Err, syscall.EACCES), errors.Is(e.Err, syscall.EPERM):
		hint = fmt.Sprintf("user id %d may not write there; run as the user that owns it, fix its ownership, or set %s to a writable directory", os.Geteuid(), EnvCacheDir)
	default:
		hint = "free space or set " + EnvCacheDir + " to a writable directory"
	}
	return fmt.Sprintf("cannot write the unpack cache at %s: %v; %s", e.Root, e.Err, hint)
}

func (e *WriteError) Unwrap() error { return e.Err }

func (c *Cache) writeError(err error) error { return &WriteError{Root: c.Root, Err: err} }
