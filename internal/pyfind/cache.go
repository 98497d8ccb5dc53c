package pyfind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// cacheVersion changes whenever the stored fields change meaning; other versions are
// ignored and overwritten.
const cacheVersion = 2

// cacheData is the CacheFile's JSON: probe results by resolved executable path, valid
// while the executable's mtime and size are unchanged (an upgrade replaces the file).
type cacheData struct {
	Version int                   `json:"version"`
	Entries map[string]cacheEntry `json:"entries"`
}

type cacheEntry struct {
	ModTimeNS   int64       `json:"mtime_ns"`
	Size        int64       `json:"size"`
	Interpreter Interpreter `json:"interpreter"`
	// Failed is why the executable did not answer the probe (not a Python, a pyenv shim
	// of a version that is not installed, …); remembered so that every launch does not
	// run it again.
	Failed string `json:"failed,omitempty"`
}

type probeCache struct {
	file  string
	data  cacheData
	dirty bool
}

// loadCache reads file; a missing, unreadable or corrupt cache starts empty and is
// rewritten, since it only ever saves work.
func loadCache(file string) *probeCache {
	c := &probeCache{file: file, data: cacheData{Version: cacheVersion, Entries: map[string]cacheEntry{}}}
	if file == "" {
		return c
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return c
	}
	var d cacheData
	if json.Unmarshal(b, &d) != nil || d.Version != cacheVersion || d.Entries == nil {
		c.dirty = true
		return c
	}
	c.data = d
	return c
}

// probe returns the cached result for cand when its executable is unchanged, and
// otherwise runs it. Failures are cached too, except a timeout, which under load must not
// stick.
func (c *probeCache) probe(ctx context.Context, cand candidate) (*Interpreter, error) {
	fi, err := os.Stat(cand.real)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", cand.real, err)
	}
	mtime, size := fi.ModTime().UnixNano(), fi.Size()
	if e, ok := c.data.Entries[cand.real]; ok && c.file != "" && e.ModTimeNS == mtime && e.Size == size {
		if e.Failed != "" {
			return nil, errors.New(e.Failed)
		}
		ip := e.Interpreter
		ip.Path = cand.path
		return &ip, nil
	}
	ip, err := probeFunc(ctx, cand.path)
	if err != nil {
		if c.file != "" && ctx.Err() == nil && !errors.Is(err, errProbeTimeout) {
			c.data.Entries[cand.real] = cacheEntry{ModTimeNS: mtime, Size: size, Failed: err.Error()}
			c.dirty = true
		}
		return nil, err
	}
	if c.file != "" {
		c.data.Entries[cand.real] = cacheEntry{ModTimeNS: mtime, Size: size, Interpreter: *ip}
		c.dirty = true
	}
	return ip, nil
}

// save writes the cache atomically (temp file in the same directory, then rename), so
// concurrent launchers never see a partial file; the last writer wins.
func (c *probeCache) save() error {
	if c.file == "" || !c.dirty {
		return nil
	}
	b, err := json.MarshalIndent(c.data, "", "  ")
	if err != nil {
		return fmt.Errorf("encode python probe cache: %w", err)
	}
	dir := filepath.Dir(c.file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create python probe cache directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(c.file)+".tmp*")
	if err != nil {
		return fmt.Errorf("create python probe cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(bytes.TrimSpace(b), '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.file); err != nil {
		return fmt.Errorf("replace %s: %w", c.file, err)
	}
	c.dirty = false
	return nil
}
