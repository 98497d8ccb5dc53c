// Package unpackcache keeps the unpacked trees of pyz files on disk, one directory per
// (build id, ABI), so that a pyz is unpacked once and every later start is a stat. It
// follows pex's "atomic directory" pattern: unpack into a private temporary directory
// under an exclusive lock, then rename it into place, so that no process ever sees a
// partial tree.
package unpackcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

// EnvCacheDir names the variable that overrides every other choice of cache root.
const EnvCacheDir = "MATHESAR_CACHE_DIR"

// markerName is written last into a tree, before it is renamed into place. A tree
// without it was never handed out and is not trusted.
const markerName = ".mathesar-unpacked"

// tmpPrefix starts the names of directories that are being filled or emptied; a name
// with it is never handed out, so any such directory found under the lock is garbage.
const tmpPrefix = ".tmp-"

// lockRetry is how often a waiting process polls a held lock. Unpacking takes seconds,
// so 25 ms of extra latency does not matter, and polling keeps waits cancellable.
const lockRetry = 25 * time.Millisecond

// Cache is a directory of unpacked trees: <Root>/<build id>/<abi>/.
type Cache struct{ Root string }

// EnsureOptions tunes Ensure.
type EnsureOptions struct {
	// Progress, when it is a terminal, gets a progress line if unpacking takes more
	// than a second. Nil or a non-terminal writer shows nothing.
	Progress io.Writer
}

type marker struct {
	BuildID string `json:"build_id"`
	ABI     string `json:"abi"`
	App     string `json:"app"`
	Version string `json:"version"`
}

// testHookFileDone, when set by a test, runs after each unpacked file, so that tests can
// slow an unpack down enough to interrupt it.
var testHookFileDone func()

// checkRoot refuses a relative root, which would scatter trees under the working
// directory.
func (c *Cache) checkRoot() error {
	if !filepath.IsAbs(c.Root) {
		return fmt.Errorf("unpack cache root %q is not an absolute path; set %s to one", c.Root, EnvCacheDir)
	}
	return nil
}

func (c *Cache) buildDir(buildID string) string { return filepath.Join(c.Root, buildID) }

// Ensure returns the directory holding the unpacked tree of b for abi, unpacking it
// first if no other process has. Any number of processes may call it at once for the
// same entry: one unpacks, the others wait and then use its tree. Prune may remove the
// tree later; a process that runs code from it should use Acquire instead.
func (c *Cache) Ensure(ctx context.Context, b *bundle.Bundle, abi string, opts EnsureOptions) (string, error) {
	if err := c.checkRoot(); err != nil {
		return "", err
	}
	if err := b.CheckABI(abi); err != nil {
		return "", err
	}
	buildID := b.Manifest.BuildID
	final := filepath.Join(c.buildDir(buildID), abi)
	if complete(final, buildID, abi) {
		return final, nil
	}
	lock, err := c.lockExclusive(ctx, buildID, abi)
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	if complete(final, buildID, abi) { // another process unpacked it while we waited
		return final, nil
	}
	if err := c.removeLeftovers(buildID, abi); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(c.buildDir(buildID), tmpPrefix+abi+"-*")
	if err != nil {
		return "", c.writeError(err)
	}
	if err := c.fill(ctx, b, abi, tmp, opts); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", c.writeError(err)
	}
	if err := syncDir(c.buildDir(buildID)); err != nil {
		return "", c.writeError(err)
	}
	return final, nil
}

// fill unpacks b into the empty directory tmp and marks it complete.
func (c *Cache) fill(ctx context.Context, b *bundle.Bundle, abi, tmp string, opts EnsureOptions) error {
	// A tree is shared by every user of the cache; a restrictive umask must not hide it.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return c.writeError(err)
	}
	pr := newProgressLine(opts.Progress, fmt.Sprintf("Unpacking %s %s for %s", b.Manifest.App.Name, b.Manifest.App.Version, abi), time.Now())
	err := b.Extract(ctx, abi, tmp, func(p bundle.Progress) {
		pr.update(p, time.Now())
		if testHookFileDone != nil {
			testHookFileDone()
		}
	})
	pr.finish()
	if err != nil {
		if errors.Is(err, bundle.ErrDamaged) || ctx.Err() != nil {
			return err
		}
		return c.writeError(err)
	}
	data, err := json.Marshal(marker{BuildID: b.Manifest.BuildID, ABI: abi, App: b.Manifest.App.Name, Version: b.Manifest.App.Version})
	if err != nil {
		return fmt.Errorf("encode %s: %w", markerName, err)
	}
	mark := filepath.Join(tmp, markerName)
	if err := os.WriteFile(mark, append(data, '\n'), 0o644); err != nil {
		return c.writeError(err)
	}
	if err := os.Chmod(mark, 0o644); err != nil { // undo the umask, as for the tree
		return c.writeError(err)
	}
	// Extract does not fsync each file (thousands of fsyncs cost seconds); one syncfs
	// before the rename makes sure a crash cannot leave a marked tree with empty files.
	d, err := os.Open(tmp)
	if err != nil {
		return c.writeError(err)
	}
	defer d.Close()
	if err := syncFilesystem(d); err != nil {
		return c.writeError(fmt.Errorf("syncfs %s: %w", tmp, err))
	}
	return nil
}

// complete reports whether dir is a finished tree for (buildID, abi).
func complete(dir, buildID, abi string) bool {
	data, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return false
	}
	var m marker
	return json.Unmarshal(data, &m) == nil && m.BuildID == buildID && m.ABI == abi
}

// removeLeftovers deletes what a killed process left for (buildID, abi). It runs under
// the entry's exclusive lock, so nobody is filling these directories, and none of them
// was ever handed out: temporary ones by their name, an unmarked final one because
// Ensure returns only marked trees.
func (c *Cache) removeLeftovers(buildID, abi string) error {
	dir := c.buildDir(buildID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c.writeError(err)
	}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), tmpPrefix+abi+"-"):
		case e.Name() == abi:
			// Delete a final tree only when its marker is surely absent: a marker we merely
			// failed to read may belong to a tree in use.
			_, err := os.Lstat(filepath.Join(name, markerName))
			switch {
			case err == nil:
				return fmt.Errorf("unpack cache entry %s is marked as another build's; remove the directory (rm -r %s) and run again", name, name)
			case !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("unpack cache entry %s: cannot check its marker (%w); fix the permissions or remove the directory (rm -r %s)", name, err, name)
			}
		default:
			continue
		}
		if err := os.RemoveAll(name); err != nil {
			return c.writeError(err)
		}
	}
	return nil
}

// lockExclusive takes the entry's lock file, creating the build directory as needed.
func (c *Cache) lockExclusive(ctx context.Context, buildID, abi string) (*flock.Flock, error) {
	path := filepath.Join(c.buildDir(buildID), abi+".lock")
	for attempt := 0; ; attempt++ {
		if err := mkdirShared(c.buildDir(buildID)); err != nil {
			return nil, c.writeError(err)
		}
		fl := flock.New(path, flock.SetPermissions(0o644))
		_, err := fl.TryLockContext(ctx, lockRetry)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("wait for the lock %s: %w", path, ctx.Err())
		case errors.Is(err, fs.ErrNotExist) && attempt < 10:
			continue // Prune removed the build directory in between; make it again
		case err != nil:
			return nil, c.writeError(err)
		}
		// Prune deletes lock files together with their build. A lock on a deleted file
		// protects nothing, so make sure ours is the one at the path.
		held, err1 := fl.Stat()
		onDisk, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, onDisk) {
			// Other users take shared locks on it (Acquire), so it must be readable
			// whatever the umask was. EPERM: another user made it; then it is theirs to fix.
			if held.Mode().Perm() != 0o644 {
				if err := os.Chmod(path, 0o644); err != nil && !errors.Is(err, fs.ErrPermission) {
					fl.Unlock()
					return nil, c.writeError(err)
				}
			}
			return fl, nil
		}
		fl.Unlock()
		if attempt >= 10 {
			return nil, fmt.Errorf("lock %s: the lock file keeps being removed; is a prune running in a loop?", path)
		}
	}
}

// mkdirShared is os.MkdirAll with mode 0755 whatever the umask, for the directories it
// creates, so that a cache filled by root can be read by the service user.
func mkdirShared(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirShared(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by a concurrent process
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
