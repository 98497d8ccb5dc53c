// Package samplewheels builds the wheelhouse of the sample application (the offline stand-in
// for Mathesar and its dependencies) from the sources embedded in test/fixtures/sampleapp.
package samplewheels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// Options tune BuildWheelhouse.
type Options struct {
	// Python is the interpreter whose headers the C extension is compiled against;
	// "" means python3 on PATH.
	Python string
}

// pureDists are the pure-Python distributions of the wheelhouse, in the order
// BuildWheelhouse returns them (samplespeedups comes last).
var pureDists = []string{"gunicorn", "samplepure", "samplehelper", "samplefancy"}

// speedupsDist is the distribution with the C extension.
const speedupsDist = "samplespeedups"

// BuildWheelhouse writes the sample app's wheelhouse into dir (created if needed) and returns
// the wheel paths: gunicorn, samplepure, samplehelper, samplefancy (pure) and samplespeedups
// (abi3, compiled with gcc for opts.Python). The same inputs give the same bytes.
func BuildWheelhouse(ctx context.Context, dir string, opts Options) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wheelhouse %s: %w", dir, err)
	}
	var paths []string
	for _, name := range pureDists {
		spec, err := loadDist(sampleapp.WheelSourcesFS(), name)
		if err != nil {
			return nil, err
		}
		spec.RootIsPurelib = true
		p, err := wheel.Write(dir, spec)
		if err != nil {
			return nil, fmt.Errorf("write sample wheel %s: %w", name, err)
		}
		paths = append(paths, p)
	}
	p, err := BuildSpeedups(ctx, dir, opts.Python, true)
	if err != nil {
		return nil, err
	}
	return append(paths, p), nil
}

// distSource is a wheel source's dist.json: the core metadata BuildSpec needs.
type distSource struct {
	Name           string   `json:"name"`
	Version        string   `json:"version"`
	Tags           string   `json:"tags"`
	RequiresPython string   `json:"requires_python"`
	RequiresDist   []string `json:"requires_dist"`
	ProvidesExtra  []string `json:"provides_extra"`
}

// loadDist reads wheels/<name>: dist.json for the metadata, src/ for files at the wheel
// root, data/<scheme>/ for the .data directory and dist-info/ for extra .dist-info files
// (csrc/ is compiled separately). The files come back sorted by path.
func loadDist(fsys fs.FS, name string) (wheel.BuildSpec, error) {
	raw, err := fs.ReadFile(fsys, path.Join(name, "dist.json"))
	if err != nil {
		return wheel.BuildSpec{}, fmt.Errorf("read sample wheel source %s/dist.json: %w", name, err)
	}
	var src distSource
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&src); err != nil {
		return wheel.BuildSpec{}, fmt.Errorf("parse sample wheel source %s/dist.json: %w; fix the fixture", name, err)
	}
	if src.Name != name {
		return wheel.BuildSpec{}, fmt.Errorf("sample wheel source %s/dist.json names %q; the directory and the name must match", name, src.Name)
	}
	spec := wheel.BuildSpec{
		Name:           src.Name,
		Version:        src.Version,
		Tags:           src.Tags,
		RequiresPython: src.RequiresPython,
		RequiresDist:   src.RequiresDist,
		ProvidesExtra:  src.ProvidesExtra,
	}
	err = fs.WalkDir(fsys, name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, name+"/")
		if p == name || rel == "dist.json" {
			return nil
		}
		top, rest, _ := strings.Cut(rel, "/")
		if d.IsDir() {
			switch top {
			case "src", "data", "dist-info":
				return nil
			case "csrc":
				return fs.SkipDir
			}
			return fmt.Errorf("unexpected directory %s (want src/, data/<scheme>/, dist-info/ or csrc/)", p)
		}
		if rest == "" {
			return fmt.Errorf("unexpected file %s (want dist.json or files under src/, data/, dist-info/)", p)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		// Embedded files carry no modes, so modes follow from where a file goes: scripts
		// are executable, everything else is 0644.
		f := wheel.SpecFile{Data: data, Mode: 0o644}
		switch top {
		case "src":
			f.Path = rest
		case "data":
			f.Path = spec.DataDir() + "/" + rest
			if strings.HasPrefix(rest, "scripts/") {
				f.Mode = 0o755
			}
		case "dist-info":
			f.Path = spec.DistInfo() + "/" + rest
		}
		spec.Files = append(spec.Files, f)
		return nil
	})
	if err != nil {
		return wheel.BuildSpec{}, fmt.Errorf("read sample wheel source %s: %w", name, err)
	}
	sortFiles(spec.Files)
	return spec, nil
}

func sortFiles(files []wheel.SpecFile) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// Synthetic writes one wheel per tag set (such as "cp311-cp311-manylinux_2_17_x86_64") with
// the given files (wheel-root path -> content), for selection tests: compiled files are
// placeholder bytes and are never imported. A tag set whose ABIs are all "none" gets
// Root-Is-Purelib: true. Paths come back in the order of tagSets.
func Synthetic(dir string, name, version string, tagSets []string, files map[string]string) ([]string, error) {
	if len(tagSets) == 0 {
		return nil, fmt.Errorf("synthetic wheel %s %s: no tag sets given; pass at least one, such as py3-none-any", name, version)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wheel directory %s: %w", dir, err)
	}
	var specFiles []wheel.SpecFile
	for p, content := range files {
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(p, ".so") || strings.HasSuffix(p, ".pyd") {
			mode = 0o755
		}
		specFiles = append(specFiles, wheel.SpecFile{Path: p, Data: []byte(content), Mode: mode})
	}
	sortFiles(specFiles)
	seen := map[string]bool{}
	var paths []string
	for _, tags := range tagSets {
		parsed, err := wheel.ParseTagSet(tags)
		if err != nil {
			return nil, fmt.Errorf("synthetic wheel %s %s: %w", name, version, err)
		}
		pure := true
		for _, t := range parsed {
			pure = pure && t.ABI == "none"
		}
		spec := wheel.BuildSpec{Name: name, Version: version, Tags: tags, RootIsPurelib: pure, Files: specFiles}
		if seen[spec.Filename()] {
			return nil, fmt.Errorf("synthetic wheel %s %s: tag set %q given twice; each tag set makes one file", name, version, tags)
		}
		seen[spec.Filename()] = true
		p, err := wheel.Write(dir, spec)
		if err != nil {
			return nil, fmt.Errorf("write synthetic wheel: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ExtractApp copies the embedded sample application into dir (created if needed), for builds
// that need it as a directory. Files starting with "#!" are made executable, others 0644.
func ExtractApp(dir string) error {
	appFS := sampleapp.AppFS()
	err := fs.WalkDir(appFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(appFS, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		return atomicfile.WriteFile(target, data, mode)
	})
	if err != nil {
		return fmt.Errorf("extract sample app into %s: %w", dir, err)
	}
	return nil
}
