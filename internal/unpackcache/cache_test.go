//go:build linux

package unpackcache

import (
	"archive/zip"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

func TestEnsureUnpacksOnceThenCaches(t *testing.T) {
	_, b := writePyz(t, "1.0")
	c := &Cache{Root: filepath.Join(t.TempDir(), "cache")}
	for _, abi := range []string{"cp311", "cp312"} {
		dir, err := c.Ensure(context.Background(), b, abi, EnsureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(c.Root, b.Manifest.BuildID, abi); dir != want {
			t.Fatalf("dir %s, want %s", dir, want)
		}
		checkTree(t, dir, abi)
		info, err := os.Stat(filepath.Join(dir, "bin/gunicorn"))
		if err != nil || info.Mode().Perm() != 0o755 {
			t.Fatalf("bin/gunicorn: %v %v", info, err)
		}
		// A second call must use the tree as it is: a file planted in it survives.
		planted := filepath.Join(dir, "planted")
		if err := os.WriteFile(planted, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if again, err := c.Ensure(context.Background(), b, abi, EnsureOptions{}); err != nil || again != dir {
			t.Fatalf("second Ensure: %s, %v", again, err)
		}
		if _, err := os.Stat(planted); err != nil {
			t.Fatalf("the cached tree was rebuilt: %v", err)
		}
	}
	for _, root := range []string{"", "cache"} {
		rel := &Cache{Root: root}
		if _, err := rel.Ensure(context.Background(), b, "cp311", EnsureOptions{}); err == nil || !strings.Contains(err.Error(), "is not an absolute path") {
			t.Fatalf("Ensure with root %q: %v", root, err)
		}
		if _, _, err := rel.Prune("x"); err == nil || !strings.Contains(err.Error(), "is not an absolute path") {
			t.Fatalf("Prune with root %q: %v", root, err)
		}
	}
	if _, err := c.Ensure(context.Background(), b, "cp39", EnsureOptions{}); err == nil || !strings.Contains(err.Error(), "it serves cp311, cp312") {
		t.Fatalf("unknown ABI: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Root, b.Manifest.BuildID, "cp39.lock")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an unknown ABI left a lock file: %v", err)
	}
}

func TestEnsureReplacesUnmarkedTree(t *testing.T) {
	_, b := writePyz(t, "1.0")
	c := &Cache{Root: t.TempDir()}
	final := filepath.Join(c.Root, b.Manifest.BuildID, "cp311")
	leftover := filepath.Join(c.Root, b.Manifest.BuildID, tmpPrefix+"cp311-123")
	for _, d := range []string{final, leftover} {
		if err := os.MkdirAll(filepath.Join(d, "site-packages"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "site-packages/stale.py"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := c.Ensure(context.Background(), b, "cp311", EnsureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, dir, "cp311")
	if left := tmpDirs(t, filepath.Dir(dir)); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}

func TestEnsureDamagedBundle(t *testing.T) {
	good, b0 := writePyz(t, "1.0")
	// Keep the manifest but change one stored file: the zip is valid, only the digest
	// check can notice.
	zr, err := zip.OpenReader(good)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var manifest []byte
	for _, f := range zr.File {
		if f.Name == bundle.ManifestName {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			manifest, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	const victim = "lib/common/site-packages/pkg1/mod6.py"
	files := testFiles()
	entries := []bundle.ZipEntry{{Name: bundle.MainName, Data: []byte("#\n"), Mode: 0o644}, {Name: bundle.ManifestName, Data: manifest, Mode: 0o644}}
	for _, f := range b0.Manifest.Files {
		data := files[f.Path]
		if f.Path == victim {
			data = []byte(strings.Replace(string(data), "x", "y", 1))
		}
		entries = append(entries, bundle.ZipEntry{Name: f.Path, Data: data, Mode: f.Mode})
	}
	bad := filepath.Join(t.TempDir(), "mathesar.pyz")
	if err := bundle.WriteZipForTest(bad, time.Unix(315532800, 0), entries); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := &Cache{Root: t.TempDir()}
	_, err = c.Ensure(context.Background(), b, "cp311", EnsureOptions{})
	if !errors.Is(err, bundle.ErrDamaged) || !strings.Contains(err.Error(), victim+" has sha256") {
		t.Fatalf("Ensure of a tampered pyz: %v", err)
	}
	buildDir := filepath.Join(c.Root, b.Manifest.BuildID)
	if _, err := os.Stat(filepath.Join(buildDir, "cp311")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a tree was installed from a tampered pyz: %v", err)
	}
	if left := tmpDirs(t, buildDir); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}

func TestConcurrentFirstRuns(t *testing.T) {
	pyz, b := writePyz(t, "1.0")
	root := filepath.Join(t.TempDir(), "cache")
	barrier := filepath.Join(t.TempDir(), "go")
	const n = 8
	type result struct {
		out, stderr string
		err         error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd, stderr := helperCmd(t, helperOpts{pyz: pyz, root: root, abi: "cp311", barrier: barrier, slow: 2 * time.Millisecond})
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			err := cmd.Wait()
			results[i] = result{stdout.String(), stderr.String(), err}
		})
	}
	// All eight are started and polling; release them together.
	if err := os.WriteFile(barrier, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var dirs []string
	counts := map[string]int{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("process %d: %v\n%s%s", i, r.err, r.out, r.stderr)
		}
		dir, res := parseHelper(t, r.out)
		dirs = append(dirs, dir)
		counts[res]++
	}
	want := filepath.Join(root, b.Manifest.BuildID, "cp311")
	for i, d := range dirs {
		if d != want {
			t.Errorf("process %d got %q, want %q", i, d, want)
		}
	}
	if counts["unpacked"] != 1 || counts["cached"] != n-1 {
		t.Fatalf("results %v, want exactly one unpack", counts)
	}
	checkTree(t, want, "cp311")
	if left := tmpDirs(t, filepath.Dir(want)); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}

func TestInterruptedUnpack(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			pyz, b := writePyz(t, "1.0")
			root := filepath.Join(t.TempDir(), "cache")
			buildDir := filepath.Join(root, b.Manifest.BuildID)

			cmd, stderr := helperCmd(t, helperOpts{pyz: pyz, root: root, abi: "cp312", slow: 100 * time.Millisecond})
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || line != "extracting\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper said %q, %v; stderr: %s", line, err, stderr)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != sig {
				t.Fatalf("helper ended with %v, want death by %v", err, sig)
			}
			if left := tmpDirs(t, buildDir); len(left) != 1 || !strings.HasPrefix(left[0], tmpPrefix+"cp312-") {
				t.Fatalf("after the kill the build holds temporary dirs %v, want one", left)
			}
			if _, err := os.Stat(filepath.Join(buildDir, "cp312")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a half-unpacked tree is in place: %v", err)
			}

			cmd, stderr = helperCmd(t, helperOpts{pyz: pyz, root: root, abi: "cp312"})
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("next run: %v\n%s%s", err, out, stderr)
			}
			dir, res := parseHelper(t, string(out))
			if res != "unpacked" || dir != filepath.Join(buildDir, "cp312") {
				t.Fatalf("next run: %q", out)
			}
			checkTree(t, dir, "cp312")
			if left := tmpDirs(t, buildDir); len(left) != 0 {
				t.Fatalf("the next run left %v", left)
			}
		})
	}
}

func TestUnwritableRoot(t *testing.T) {
	_, b := writePyz(t, "1.0")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, root string
		errno      syscall.Errno
		rootOnly   bool   // needs mount(2)
		mount      string // tmpfs options
		skipRoot   bool   // root ignores permission bits
	}{
		{name: "root under a regular file", root: filepath.Join(file, "cache"), errno: syscall.ENOTDIR},
		{name: "directory without write permission", root: filepath.Join(readOnly, "cache"), errno: syscall.EACCES, skipRoot: true},
		{name: "read-only file system", errno: syscall.EROFS, rootOnly: true, mount: "ro"},
		{name: "full file system", errno: syscall.ENOSPC, rootOnly: true, mount: "size=16k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("root ignores permission bits")
			}
			root := tt.root
			if tt.mount != "" {
				root = mountTmpfs(t, tt.mount)
			}
			c := &Cache{Root: root}
			_, err := c.Ensure(context.Background(), b, "cp311", EnsureOptions{})
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(err, tt.errno) {
				t.Fatalf("Ensure: %v, want a WriteError for %v", err, tt.errno)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "cannot write the unpack cache at "+root+": ") || !strings.Contains(msg, EnvCacheDir) {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

// mountTmpfs mounts a tmpfs for the test, or skips when mounting is not allowed.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestWriteErrorHints(t *testing.T) {
	tests := []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.ENOSPC, "the disk or quota is full"},
		{syscall.EDQUOT, "the disk or quota is full"},
		{syscall.EROFS, "mounted read-only"},
		{syscall.EACCES, fmt.Sprintf("user id %d may not write there", os.Geteuid())},
		{syscall.ENOTDIR, "free space or set " + EnvCacheDir},
	}
	for _, tt := range tests {
		err := &WriteError{Root: "/var/cache/mathesar", Err: &fs.PathError{Op: "mkdir", Path: "/var/cache/mathesar/x", Err: tt.errno}}
		msg := err.Error()
		if !strings.HasPrefix(msg, "cannot write the unpack cache at /var/cache/mathesar: mkdir /var/cache/mathesar/x: ") ||
			!strings.Contains(msg, tt.want) || !strings.Contains(msg, EnvCacheDir) {
			t.Errorf("%v: %q", tt.errno, msg)
		}
	}
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPrune(t *testing.T) {
	_, current := writePyz(t, "2.0")
	_, old := writePyz(t, "1.0")
	_, held := writePyz(t, "1.5")
	c := &Cache{Root: t.TempDir()}
	ctx := context.Background()
	for _, b := range []*bundle.Bundle{current, old, held} {
		for _, abi := range []string{"cp311", "cp312"} {
			if _, err := c.Ensure(ctx, b, abi, EnsureOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Things Prune must not touch: they are not builds.
	notBuild := filepath.Join(c.Root, "notes")
	if err := os.MkdirAll(notBuild, 0o755); err != nil {
		t.Fatal(err)
	}
	entry, err := c.Acquire(ctx, held, "cp312", EnsureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The lock must outlive this process's descriptor in a program it starts, as it
	// does across the launcher's exec of Python.
	if err := entry.KeepAcrossExec(); err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	if err := entry.Release(); err != nil {
		t.Fatal(err)
	}

	oldDir := filepath.Join(c.Root, old.Manifest.BuildID)
	wantFreed := dirSize(t, oldDir)
	removed, freed, err := c.Prune(current.Manifest.BuildID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{oldDir}) || freed != wantFreed {
		t.Fatalf("Prune removed %v (%d bytes), want [%s] (%d bytes)", removed, freed, oldDir, wantFreed)
	}
	for _, keep := range []string{filepath.Join(c.Root, current.Manifest.BuildID, "cp311"), filepath.Join(c.Root, held.Manifest.BuildID, "cp312"), notBuild} {
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("Prune removed %s: %v", keep, err)
		}
	}
	checkTree(t, filepath.Join(c.Root, current.Manifest.BuildID, "cp312"), "cp312")

	// Once the program holding the tree exits, the build goes too.
	child.Process.Kill()
	child.Wait()
	heldDir := filepath.Join(c.Root, held.Manifest.BuildID)
	wantFreed = dirSize(t, heldDir)
	removed, freed, err = c.Prune(current.Manifest.BuildID)
	if err != nil || !slices.Equal(removed, []string{heldDir}) || freed != wantFreed {
		t.Fatalf("second Prune: %v (%d bytes), %v; want [%s] (%d bytes)", removed, freed, err, heldDir, wantFreed)
	}
	entries, err := os.ReadDir(c.Root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{current.Manifest.BuildID, "notes"}; !slices.Equal(names, want) {
		t.Fatalf("cache root holds %v, want %v", names, want)
	}
	// A pruned build unpacks again on demand.
	dir, err := c.Ensure(ctx, old, "cp311", EnsureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, dir, "cp311")
}

// A root-filled cache must stay readable by the service user whatever root's umask.
func TestEnsureIgnoresUmask(t *testing.T) {
	_, b := writePyz(t, "1.0")
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	c := &Cache{Root: filepath.Join(t.TempDir(), "new", "cache")}
	dir, err := c.Ensure(context.Background(), b, "cp311", EnsureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(c.Root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() || strings.HasSuffix(p, "bin/gunicorn") {
			want = 0o755
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, dir, "cp311")
}
