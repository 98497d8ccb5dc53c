package bundle

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// testMain is the __main__.py WriteForTest stores when files has none.
const testMain = "import sys\nsys.exit('run this pyz with the mathesar launcher')\n"

// WriteForTest writes a valid pyz at path for tests of this and other packages. files
// maps zip paths (app/..., lib/<abi>/...) to contents, plus optionally __main__.py. m
// supplies the app, Python range and platform; an entry of m.Files with the same path
// supplies a file's target, ABI or mode, which are otherwise derived from the layout
// (lib/<abi>/p unpacks to p, app/p to app/p, mode 0644). WriteForTest fills the schema
// (when 0), Python.ABIs (when empty: the ABIs of lib/<abi>/), sizes, digests and the
// build id, and writes entries in sorted order like the real builder.
func WriteForTest(path string, m Manifest, files map[string][]byte) error {
	given := map[string]File{}
	for _, f := range m.Files {
		if _, ok := files[f.Path]; !ok {
			return fmt.Errorf("write test pyz %s: m.Files lists %s, which files lacks", path, f.Path)
		}
		given[f.Path] = f
	}
	if m.Schema == 0 {
		m.Schema = SchemaVersion
	}
	if m.SourceDateEpoch == 0 {
		m.SourceDateEpoch = 315532800 // 1980-01-01, the earliest time a zip can hold
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if name != MainName {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	m.Files = m.Files[:0:0]
	abis := map[string]bool{}
	for _, name := range names {
		f := given[name]
		f.Path = name
		if rest, ok := strings.CutPrefix(name, "lib/"); ok {
			abi, target, _ := strings.Cut(rest, "/")
			if f.ABI == "" {
				f.ABI = abi
			}
			if f.Target == "" {
				f.Target = target
			}
		} else {
			if f.ABI == "" {
				f.ABI = CommonABI
			}
			if f.Target == "" {
				f.Target = name
			}
		}
		if f.ABI != CommonABI {
			abis[f.ABI] = true
		}
		if f.Mode == 0 {
			f.Mode = 0o644
		}
		sum := sha256.Sum256(files[name])
		f.Size, f.SHA256 = int64(len(files[name])), hex.EncodeToString(sum[:])
		m.Files = append(m.Files, f)
	}
	if len(m.Python.ABIs) == 0 {
		for abi := range abis {
			m.Python.ABIs = append(m.Python.ABIs, abi)
		}
		slices.Sort(m.Python.ABIs)
	}
	m.BuildID = ComputeBuildID(&m)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write test pyz %s: %w", path, err)
	}
	main, ok := files[MainName]
	if !ok {
		main = []byte(testMain)
	}
	entries := []ZipEntry{{Name: MainName, Data: main, Mode: 0o644}, {Name: ManifestName, Data: manifest, Mode: 0o644}}
	for _, f := range m.Files {
		entries = append(entries, ZipEntry{Name: f.Path, Data: files[f.Path], Mode: f.Mode})
	}
	return WriteZipForTest(path, time.Unix(m.SourceDateEpoch, 0), entries)
}

// ZipEntry is one entry for WriteZipForTest.
type ZipEntry struct {
	Name string
	Data []byte
	Mode uint32
}

// WriteZipForTest writes entries, in the given order and unchecked, as a zip at path, so
// that tests can build pyz files that break the rules on purpose.
func WriteZipForTest(path string, mtime time.Time, entries []ZipEntry) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.pyz")
	if err != nil {
		return fmt.Errorf("write test pyz %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mtime.UTC()}
		hdr.SetMode(os.FileMode(e.Mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return fmt.Errorf("write test pyz %s: %s: %w", path, e.Name, err)
		}
		if _, err := w.Write(e.Data); err != nil {
			return fmt.Errorf("write test pyz %s: %s: %w", path, e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write test pyz %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write test pyz %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write test pyz %s: %w", path, err)
	}
	return nil
}
