package zipapp

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// entry is one file to store in the pyz.
type entry struct {
	name string
	mode uint32
	data []byte
}

// plan lays out the pyz: the app under app/, wheel files that every ABI installs
// identically under lib/common/, the rest under lib/<abi>/; then the manifest.
func (o *Options) plan(appFiles []appFile, trees map[string]map[string]installed, resolutions []*resolution, incomplete []string) (*bundle.Manifest, []entry, error) {
	abis := o.Target.ABIs()
	m := &bundle.Manifest{
		Schema:          bundle.SchemaVersion,
		App:             bundle.App{Name: o.AppName, Version: o.Version, Sample: o.Sample},
		SourceDateEpoch: o.SourceDateEpoch,
		Python: bundle.PythonRange{
			Min:  fmt.Sprintf("3.%d", o.Target.MinMinor),
			Max:  fmt.Sprintf("3.%d", o.Target.MaxMinor),
			ABIs: abis,
		},
		Platform:   bundle.Platform{OS: o.Target.Platform.OS, Arch: o.Target.Platform.Arch, Tags: o.Target.Platform.PlatformTags()},
		Files:      []bundle.File{},
		Incomplete: incomplete,
	}
	var entries []entry
	add := func(zipPath, target, abi string, mode uint32, data []byte) {
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, bundle.File{Path: zipPath, Target: target, ABI: abi, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Mode: mode})
		entries = append(entries, entry{name: zipPath, mode: mode, data: data})
	}
	stored := map[[sha256.Size]byte]string{} // contents and mode -> zip path already holding them
	for _, f := range appFiles {
		data, err := os.ReadFile(f.abs)
		if err != nil {
			return nil, nil, fmt.Errorf("read app file %s: %w", f.abs, err)
		}
		if !shareable(f.rel, data) {
			add("app/"+f.rel, "app/"+f.rel, bundle.CommonABI, f.mode, data)
			continue
		}
		key := sha256.Sum256(append(data, byte(f.mode>>6)))
		if zipPath, ok := stored[key]; ok {
			sum := sha256.Sum256(data)
			m.Files = append(m.Files, bundle.File{Path: zipPath, Target: "app/" + f.rel, ABI: bundle.CommonABI, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Mode: f.mode})
			continue
		}
		stored[key] = "app/" + f.rel
		add("app/"+f.rel, "app/"+f.rel, bundle.CommonABI, f.mode, data)
	}
	for _, name := range slices.Sorted(maps.Keys(o.SiteFiles)) {
		p := "site-packages/" + name
		for _, tree := range trees {
			if in, ok := tree[p]; ok {
				return nil, nil, fmt.Errorf("%s installs %s, which the packaging's own file of that name would replace: rename or drop that distribution", in.dist, p)
			}
		}
		add("lib/common/"+p, p, bundle.CommonABI, 0o644, o.SiteFiles[name])
	}
	for _, p := range unionPaths(trees) {
		if f, ok := sharedByAll(trees, abis, p); ok {
			add("lib/common/"+p, p, bundle.CommonABI, uint32(f.Mode.Perm()), f.Data)
			continue
		}
		for _, abi := range abis {
			if in, ok := trees[abi][p]; ok {
				add("lib/"+abi+"/"+p, p, abi, uint32(in.file.Mode.Perm()), in.file.Data)
			}
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	m.Distributions = distributions(resolutions)
	m.BuildID = bundle.ComputeBuildID(m)
	manifestJSON, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, nil, fmt.Errorf("encode manifest: %w", err)
	}
	entries = append(entries,
		entry{name: "__main__.py", mode: 0o644, data: mainPy},
		entry{name: bundle.ManifestName, mode: 0o644, data: append(manifestJSON, '\n')},
	)
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	if err := o.checkLimits(entries); err != nil {
		return nil, nil, err
	}
	return m, entries, nil
}

// minShared is the size from which identical app files share one zip entry. Static files
// are the case that matters: the front end's build output sits both in the app tree and
// among the collected static files, and Django's hashed copies repeat the originals.
const minShared = 1024

// shareable reports whether an app file may be stored once for several paths. Python
// modules never are: `python3 mathesar.pyz` imports from the zip itself, where each
// module must stand at its own path.
func shareable(rel string, data []byte) bool {
	return len(data) >= minShared && !strings.HasSuffix(rel, ".py")
}

func (o *Options) checkLimits(entries []entry) error {
	if len(entries) > o.Limits.MaxEntries {
		return fmt.Errorf("the pyz would hold %d files, over the limit of %d (Python 3.10-3.12 cannot import from ZIP64 archives): drop files from the app tree or requirements", len(entries), o.Limits.MaxEntries)
	}
	for _, e := range entries {
		if int64(len(e.data)) > o.Limits.MaxFileSize {
			return fmt.Errorf("%s is %d bytes, over the %d-byte limit of a pyz entry (Python 3.10-3.12 cannot import from ZIP64 archives): remove it from its wheel or the app tree", e.name, len(e.data), o.Limits.MaxFileSize)
		}
	}
	// The archive's total size is checked after compression, in writeZip.
	return nil
}

func unionPaths(trees map[string]map[string]installed) []string {
	set := map[string]bool{}
	for _, t := range trees {
		for p := range t {
			set[p] = true
		}
	}
	return sortedKeys(set)
}

// sharedByAll reports whether every ABI installs path with the same bytes and mode.
func sharedByAll(trees map[string]map[string]installed, abis []string, path string) (wheel.InstalledFile, bool) {
	var first *installed
	for _, abi := range abis {
		in, ok := trees[abi][path]
		if !ok {
			return wheel.InstalledFile{}, false
		}
		if first == nil {
			first = &in
			continue
		}
		if in.file.SHA256 != first.file.SHA256 || in.file.Mode != first.file.Mode {
			return wheel.InstalledFile{}, false
		}
	}
	if first == nil {
		return wheel.InstalledFile{}, false
	}
	return first.file, true
}

func distributions(resolutions []*resolution) []bundle.Distribution {
	type key struct{ name, version string }
	abisOf := map[key][]string{}
	wheelABIs := map[key]map[string][]string{} // dist -> wheel file -> ABIs it served
	wheelSum := map[string]string{}
	for _, res := range resolutions {
		for _, w := range res.wheels {
			k := key{w.Name, w.Version}
			abisOf[k] = append(abisOf[k], res.abi)
			if wheelABIs[k] == nil {
				wheelABIs[k] = map[string][]string{}
			}
			file := filepath.Base(w.Path)
			wheelABIs[k][file] = append(wheelABIs[k][file], res.abi)
			wheelSum[file] = w.SHA256
		}
	}
	out := make([]bundle.Distribution, 0, len(abisOf))
	for k, abis := range abisOf {
		sort.Strings(abis)
		d := bundle.Distribution{Name: k.name, Version: k.version, ABIs: abis}
		for file, served := range wheelABIs[k] {
			sort.Strings(served)
			d.Wheels = append(d.Wheels, bundle.Wheel{File: file, SHA256: wheelSum[file], ABIs: served})
		}
		sort.Slice(d.Wheels, func(i, j int) bool { return d.Wheels[i].File < d.Wheels[j].File })
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// compressed is an entry ready to be written raw.
type compressed struct {
	header *zip.FileHeader
	body   []byte
}

// writeZip compresses entries in parallel, then writes them in order to a temporary file
// beside the output and renames it into place, so a reader never sees half a pyz.
func writeZip(ctx context.Context, o Options, m *bundle.Manifest, entries []entry) (err error) {
	level := o.CompressionLevel
	if level == 0 {
		level = flate.DefaultCompression
	}
	mtime := time.Unix(o.SourceDateEpoch, 0).UTC()
	out := make([]compressed, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range entries {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			c, err := compress(entries[i], level, mtime)
			if err != nil {
				return fmt.Errorf("compress %s: %w", entries[i].name, err)
			}
			out[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	dir := filepath.Dir(o.Output)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.Output)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary pyz in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	for _, c := range out {
		w, err := zw.CreateRaw(c.header)
		if err != nil {
			return fmt.Errorf("write %s: %w", c.header.Name, err)
		}
		if _, err := w.Write(c.body); err != nil {
			return fmt.Errorf("write %s: %w", c.header.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", tmp.Name(), err)
	}
	info, err := tmp.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", tmp.Name(), err)
	}
	if info.Size() > o.Limits.MaxTotalSize {
		return fmt.Errorf("the pyz for %s/%s would be %d bytes, over the %d-byte limit (Python 3.10-3.12 cannot import from ZIP64 archives): drop large files from the app tree or requirements", m.Platform.OS, m.Platform.Arch, info.Size(), o.Limits.MaxTotalSize)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), o.Output); err != nil {
		return fmt.Errorf("move the pyz into place at %s: %w", o.Output, err)
	}
	return nil
}

// compress deflates one entry and fills a header by hand: CreateRaw, unlike CreateHeader,
// leaves the timestamp, versions and UTF-8 flag to the caller, and we want no extra fields
// so nothing but the inputs decides the bytes.
func compress(e entry, level int, mtime time.Time) (compressed, error) {
	h := &zip.FileHeader{
		Name:               e.name,
		Method:             zip.Deflate,
		CRC32:              crc32.ChecksumIEEE(e.data),
		UncompressedSize64: uint64(len(e.data)),
	}
	h.ModifiedDate, h.ModifiedTime = msDosTime(mtime)
	h.SetMode(os.FileMode(e.mode))
	h.ReaderVersion = 20
	if !isASCII(e.name) {
		h.Flags |= 0x800
	}
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		return compressed{}, err
	}
	if _, err := fw.Write(e.data); err != nil {
		return compressed{}, err
	}
	if err := fw.Close(); err != nil {
		return compressed{}, err
	}
	body := buf.Bytes()
	if len(body) >= len(e.data) {
		h.Method = zip.Store
		body = e.data
	}
	h.CompressedSize64 = uint64(len(body))
	return compressed{header: h, body: body}, nil
}

func msDosTime(t time.Time) (date, clock uint16) {
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	clock = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, clock
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
