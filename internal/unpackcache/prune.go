package unpackcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gofrs/flock"
)

// buildIDName matches the build directories Prune may delete, so that a cache root set
// by mistake to a directory with other contents loses nothing else.
var buildIDName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// prunePrefix names build directories renamed out of the way before deletion.
const prunePrefix = tmpPrefix + "prune-"

// Prune removes every build directory except keepBuildID's, skipping builds with an entry
// locked by a running process (one that holds an Entry, or is unpacking). It returns the
// removed directories, sorted, and the bytes their files took.
func (c *Cache) Prune(keepBuildID string) ([]string, int64, error) {
	if err := c.checkRoot(); err != nil {
		return nil, 0, err
	}
	entries, err := os.ReadDir(c.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read the unpack cache %s: %w", c.Root, err)
	}
	var (
		removed []string
		freed   int64
		errs    []error
	)
	for _, e := range entries {
		name := filepath.Join(c.Root, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), prunePrefix):
			// Left by a prune that was killed; nothing uses it any more.
			n, err := removeCounting(name)
			freed += n
			if err != nil {
				errs = append(errs, err)
			}
		case e.IsDir() && buildIDName.MatchString(e.Name()) && e.Name() != keepBuildID:
			n, ok, err := c.pruneBuild(e.Name())
			if ok {
				removed = append(removed, name)
			}
			freed += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return removed, freed, errors.Join(errs...)
}

// pruneBuild takes the locks of every entry of a build, without waiting, and removes the
// build if it got them all. ok is false when the build is in use.
func (c *Cache) pruneBuild(buildID string) (freed int64, ok bool, err error) {
	dir := c.buildDir(buildID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", dir, err)
	}
	var abis []string
	for _, e := range entries {
		abi := e.Name()
		if rest, ok := strings.CutPrefix(abi, tmpPrefix); ok {
			abi, _, _ = strings.Cut(rest, "-")
		}
		abi = strings.TrimSuffix(abi, ".lock")
		if abi != "" && !slices.Contains(abis, abi) {
			abis = append(abis, abi)
		}
	}
	slices.Sort(abis)
	for _, abi := range abis {
		fl := flock.New(filepath.Join(dir, abi+".lock"), flock.SetPermissions(0o644))
		locked, err := fl.TryLock()
		if err != nil {
			return 0, false, fmt.Errorf("lock %s: %w", fl.Path(), err)
		}
		if !locked {
			return 0, false, nil
		}
		// Released after the build is gone: a process that was waiting then finds its
		// lock file deleted and starts over.
		defer fl.Unlock()
	}
	// Renaming first makes the whole build vanish at once: a concurrent Ensure either
	// sees a complete tree or none, never one whose files are being deleted.
	trash, err := os.MkdirTemp(c.Root, prunePrefix+"*")
	if err != nil {
		return 0, false, fmt.Errorf("prune %s: %w", dir, err)
	}
	if err := os.Rename(dir, filepath.Join(trash, buildID)); err != nil {
		os.Remove(trash)
		return 0, false, fmt.Errorf("prune %s: %w", dir, err)
	}
	freed, err = removeCounting(trash)
	return freed, true, err
}

// removeCounting deletes a tree and returns the size of the regular files it held.
func removeCounting(dir string) (int64, error) {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return 0, fmt.Errorf("remove %s: %w", dir, err)
	}
	return n, nil
}
