package unpackcache

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

// knownFile remembers, per pyz, the manifest facts a warm start needs. Opening a pyz
// decodes and checks its whole manifest (tens of milliseconds for Mathesar's ~15,000
// files), which would dominate every `mathesar` command once the tree is unpacked.
const knownFile = "bundles.json"

// Known is what a warm start needs to know about an already-verified pyz.
type Known struct {
	Size       int64    `json:"size"`
	ModTime    int64    `json:"mtime_ns"`
	Inode      uint64   `json:"inode"`
	BuildID    string   `json:"build_id"`
	MinPython  string   `json:"python_min"`
	MaxPython  string   `json:"python_max"`
	ABIs       []string `json:"abis"`
	Incomplete []string `json:"incomplete,omitempty"`
}

// LookupKnown returns what was remembered about the pyz at path, if the file is still the
// same: same size, modification time and inode. Packages stamp files with their build's
// commit time, so two builds can share an mtime; dpkg and rpm, however, always write a new
// file and rename it, which gives it a new inode.
func (c *Cache) LookupKnown(path string) (Known, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return Known{}, false
	}
	all := c.readKnown()
	k, ok := all[absPath(path)]
	if !ok || k.Size != info.Size() || k.ModTime != info.ModTime().UnixNano() || k.Inode != inode(info) {
		return Known{}, false
	}
	return k, true
}

// Remember records the pyz at path after it was opened and its tree unpacked. Failing to
// write is not an error: the next start only takes the slower path again.
func (c *Cache) Remember(path string, m *bundle.Manifest) {
	info, err := os.Stat(path)
	if err != nil {
		return
	}
	all := c.readKnown()
	all[absPath(path)] = Known{
		Size: info.Size(), ModTime: info.ModTime().UnixNano(), Inode: inode(info), BuildID: m.BuildID,
		MinPython: m.Python.Min, MaxPython: m.Python.Max, ABIs: m.Python.ABIs, Incomplete: m.Incomplete,
	}
	data, err := json.MarshalIndent(all, "", " ")
	if err != nil {
		return
	}
	atomicfile.WriteFile(filepath.Join(c.Root, knownFile), append(data, '\n'), 0o644)
}

// AcquireUnpacked is Acquire for a tree that is already complete: it takes the shared lock
// and returns nil (and no error) when there is no complete tree, so the caller can open the
// pyz and unpack it.
func (c *Cache) AcquireUnpacked(ctx context.Context, buildID, abi string) (*Entry, error) {
	dir := filepath.Join(c.buildDir(buildID), abi)
	if !complete(dir, buildID, abi) {
		return nil, nil
	}
	f, err := c.lockShared(ctx, buildID, abi)
	if err != nil {
		return nil, err
	}
	if !complete(dir, buildID, abi) {
		f.Close()
		return nil, nil
	}
	return &Entry{Dir: dir, lock: f}, nil
}

func (c *Cache) readKnown() map[string]Known {
	all := map[string]Known{}
	data, err := os.ReadFile(filepath.Join(c.Root, knownFile))
	if err == nil {
		// A corrupt file only costs a slow start; it is rewritten below.
		json.Unmarshal(data, &all)
	}
	return all
}

func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
