package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// Progress is how far an Extract has got.
type Progress struct {
	FilesDone, FilesTotal int
	BytesDone, BytesTotal int64
}

// copyBufSize is each worker's copy buffer: large enough to stream big shared libraries
// in few syscalls, small enough that GOMAXPROCS of them stay cheap.
const copyBufSize = 256 << 10

// Verify hashes every file of the pyz, for every ABI, against the manifest. Of the
// mismatches found before it stops, it reports the first in manifest order.
func (b *Bundle) Verify(ctx context.Context) error {
	idx := make([]int, len(b.Manifest.Files))
	for i := range idx {
		idx[i] = i
	}
	return b.run(ctx, idx, func(i int, buf []byte, h hash.Hash) error {
		return b.copyVerified(i, io.Discard, buf, h)
	}, nil)
}

// Extract writes the tree for abi (app/, lib/common/ and lib/<abi>/ at their targets)
// into dest, which must not exist or be empty. Each file is checked against its sha256
// as it streams and gets its mode from the manifest. Files are written by GOMAXPROCS
// workers. progress, when not nil, is called after each file, never concurrently, and
// should return quickly. On error dest holds a partial tree that the caller must remove,
// but never a file whose digest did not match.
func (b *Bundle) Extract(ctx context.Context, abi, dest string, progress func(Progress)) error {
	if err := b.CheckABI(abi); err != nil {
		return err
	}
	if err := prepareDest(dest); err != nil {
		return err
	}
	idx := b.selected(abi)
	// Directories are made up front, in one goroutine, so that workers never race to
	// create the same parent.
	dirs := map[string]bool{}
	for _, i := range idx {
		for d := path.Dir(b.Manifest.Files[i].Target); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	slices.Sort(sorted) // parents sort before their children
	for _, d := range sorted {
		name := filepath.Join(dest, filepath.FromSlash(d))
		if err := os.Mkdir(name, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", name, err)
		}
		// As for files: a restrictive umask must not hide the tree from other users.
		if err := os.Chmod(name, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", name, err)
		}
	}
	return b.run(ctx, idx, func(i int, buf []byte, h hash.Hash) error {
		return b.extractFile(i, dest, buf, h)
	}, progress)
}

func prepareDest(dest string) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dest, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", dest, err)
	case len(entries) > 0:
		return fmt.Errorf("unpack into %s: the directory is not empty; use a new or empty directory", dest)
	}
	return nil
}

func (b *Bundle) extractFile(i int, dest string, buf []byte, h hash.Hash) error {
	f := b.Manifest.Files[i]
	name := filepath.Join(dest, filepath.FromSlash(f.Target))
	// O_EXCL: never write through a file or symlink that is already there.
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(f.Mode))
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	err = b.copyVerified(i, out, buf, h)
	if err == nil {
		// The umask may have narrowed the mode; the manifest's mode is what Python and
		// other users of a shared cache need.
		err = out.Chmod(os.FileMode(f.Mode))
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", name, cerr)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// copyVerified streams file i of the manifest into w and fails if its size or sha256
// differs from the manifest. The zip reader's own CRC check runs too.
func (b *Bundle) copyVerified(i int, w io.Writer, buf []byte, h hash.Hash) error {
	f := b.Manifest.Files[i]
	rc, err := b.entries[i].Open()
	if err != nil {
		return b.damaged("cannot open %s (%v)", f.Path, err)
	}
	defer rc.Close()
	h.Reset()
	// One byte more than expected, to notice an entry longer than its header says.
	tw := &trackedWriter{w: w}
	n, err := io.CopyBuffer(io.MultiWriter(tw, h), &readOnly{io.LimitReader(rc, f.Size+1)}, buf)
	if tw.err != nil {
		return fmt.Errorf("write %s: %w", f.Target, tw.err)
	}
	if err != nil {
		return b.damaged("cannot read %s (%v)", f.Path, err)
	}
	if n != f.Size {
		return b.damaged("%s has %d bytes but the manifest says %d", f.Path, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return b.damaged("%s has sha256 %s but the manifest says %s", f.Path, got, f.SHA256)
	}
	return nil
}

// trackedWriter remembers a write error, so that a full disk is not reported as a
// damaged pyz.
type trackedWriter struct {
	w   io.Writer
	err error
}

func (t *trackedWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// readOnly hides the WriterTo of the source so that io.CopyBuffer uses the worker's
// buffer instead of allocating one per file.
type readOnly struct{ io.Reader }

// run calls do for each index on GOMAXPROCS workers, each with its own buffer and hash.
// It stops handing out work after the first failure and returns the failure of the
// lowest index, so that the error does not depend on scheduling.
func (b *Bundle) run(ctx context.Context, idx []int, do func(i int, buf []byte, h hash.Hash) error, progress func(Progress)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("unpack %s: %w", b.Path, err)
	}
	total := Progress{FilesTotal: len(idx)}
	for _, i := range idx {
		total.BytesTotal += b.Manifest.Files[i].Size
	}
	workers := min(runtime.GOMAXPROCS(0), max(len(idx), 1))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan int)
	var (
		mu     sync.Mutex
		done   = total
		errs   = map[int]error{}
		wg     sync.WaitGroup
		failed bool
	)
	done.FilesDone, done.BytesDone = 0, 0
	for range workers {
		wg.Go(func() {
			buf := make([]byte, copyBufSize)
			h := sha256.New()
			for i := range jobs {
				err := do(i, buf, h)
				mu.Lock()
				if err != nil {
					errs[i] = err
					failed = true
					cancel()
				} else {
					done.FilesDone++
					done.BytesDone += b.Manifest.Files[i].Size
					if progress != nil {
						progress(done)
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, i := range idx {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	if failed {
		first := -1
		for i := range errs {
			if first < 0 || i < first {
				first = i
			}
		}
		return errs[first]
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("unpack %s: %w", b.Path, err)
	}
	return nil
}
