// Package mathesarfixture generates, deterministically and without network, a source tree
// shaped and sized like a real Mathesar checkout (about 1,700 files, 10–20 MB) on top of the
// runnable sample app, so the packaging pipeline is tested against realistic input.
package mathesarfixture

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
)

// DefaultVersion is the version written into mathesar/__init__.py when Options.Version is "".
const DefaultVersion = "0.10.1+fixture"

// seed fixes every random choice, so the same Options always give the same bytes.
const seed = 0x6d617468_65736172 // "mathesar"

// Options tune Generate.
type Options struct {
	// Version is written as mathesar.__version__; "" means DefaultVersion.
	Version string
}

// Stats describe a generated tree.
type Stats struct {
	Files   int   // regular files in the tree
	Bytes   int64 // their total size
	POFiles int   // translations/*/LC_MESSAGES/*.po
	UIFiles int   // files under mathesar_ui/
}

// versionRE is what a PEP 440 version (with a local part) can contain; anything else could
// break out of the Python string literal it is written into.
var versionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+!_-]*$`)

// versionLineRE finds the sample's version assignment in mathesar/__init__.py.
var versionLineRE = regexp.MustCompile(`(?m)^__version__\s*=\s*["'][^"'\n]*["'][ \t]*$`)

// reserved are paths under mathesar/ that the sample app imports or that the front-end build
// writes; a generated file there would shadow or clobber them.
var reserved = []string{
	"mathesar/conf.py", "mathesar/db.py", "mathesar/install.py", "mathesar/migrate.py",
	"mathesar/conf/", "mathesar/db/", "mathesar/install/", "mathesar/migrate/",
	"mathesar/migrations/", "mathesar/static/", "config/settings/local.py",
}

// file is one generated file, by slash-separated path relative to the tree root.
type file struct {
	path string
	data []byte
}

// tree collects generated files before they are written, so duplicates are caught and the
// writes happen in sorted order.
type tree struct {
	files []file
}

func (t *tree) add(p string, data []byte) { t.files = append(t.files, file{p, data}) }
func (t *tree) addString(p, s string)     { t.add(p, []byte(s)) }

// rng returns the random source of one section of the tree. Sections get their own stream so
// a change to one generator does not reshuffle every other part of the tree.
func rng(section string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(section))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Generate writes the fixture tree into dir, which must not exist or be an empty directory.
// The tree is built in a sibling temporary directory and renamed into place, so dir never
// holds a half-generated tree.
func Generate(dir string, o Options) (Stats, error) {
	version := o.Version
	if version == "" {
		version = DefaultVersion
	}
	if !versionRE.MatchString(version) {
		return Stats{}, fmt.Errorf("mathesar fixture version %q is not a plain version string; use digits, letters and . + ! _ - only (e.g. %q)", version, DefaultVersion)
	}
	if err := checkTarget(dir); err != nil {
		return Stats{}, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create parent of fixture tree %s: %w", dir, err)
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return Stats{}, fmt.Errorf("create staging directory for %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(staging)
		}
	}()
	if err := os.Chmod(staging, 0o755); err != nil {
		return Stats{}, fmt.Errorf("chmod %s: %w", staging, err)
	}
	if err := build(staging, version); err != nil {
		return Stats{}, err
	}
	st, err := collectStats(staging)
	if err != nil {
		return Stats{}, err
	}
	// checkTarget made sure dir is absent or empty; an empty directory is replaced.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Stats{}, fmt.Errorf("replace empty directory %s: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return Stats{}, fmt.Errorf("move fixture tree into %s: %w", dir, err)
	}
	ok = true
	return st, nil
}

func checkTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fixture target %s: %w; pass a path that does not exist or an empty directory", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("fixture target %s is not empty (%d entries); pass a new or empty directory", dir, len(entries))
	}
	return nil
}

// build writes the sample app into root, adjusts its version, then adds every generated file.
func build(root, version string) error {
	if err := samplewheels.ExtractApp(root); err != nil {
		return err
	}
	sample, err := listFiles(root)
	if err != nil {
		return err
	}
	if err := setVersion(root, version); err != nil {
		return err
	}

	var t tree
	genMathesarPython(&t)
	genTemplates(&t)
	genDB(&t)
	genConfig(&t)
	genUI(&t)
	genTopLevel(&t, version)
	existingEN, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(enPO)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read sample translations: %w", err)
	}
	appendEN, err := genTranslations(&t, version, existingEN)
	if err != nil {
		return err
	}

	sort.Slice(t.files, func(i, j int) bool { return t.files[i].path < t.files[j].path })
	dirs := map[string]bool{}
	for i, f := range t.files {
		if i > 0 && t.files[i-1].path == f.path {
			return fmt.Errorf("mathesar fixture generator bug: %s generated twice", f.path)
		}
		if _, ok := sample[f.path]; ok {
			return fmt.Errorf("mathesar fixture generator bug: %s would overwrite a sample app file", f.path)
		}
		for _, r := range reserved {
			if f.path == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(f.path, r)) {
				return fmt.Errorf("mathesar fixture generator bug: %s is reserved for the sample app or the front-end build", f.path)
			}
		}
		if d := path.Dir(f.path); !dirs[d] {
			dirs[d] = true
			if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
				return fmt.Errorf("create directory for %s: %w", f.path, err)
			}
		}
	}
	// Plain writes in sorted order suffice: the whole tree is staged and renamed into place
	// at the end, and it is throwaway test input, so per-file fsync would only cost time.
	for _, f := range t.files {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(f.path)), f.data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	if appendEN != "" {
		target := filepath.Join(root, filepath.FromSlash(enPO))
		if err := os.WriteFile(target, append(existingEN, appendEN...), 0o644); err != nil {
			return fmt.Errorf("append to %s: %w", enPO, err)
		}
	}
	return nil
}

// setVersion rewrites the sample's version line, keeping the rest of mathesar/__init__.py.
func setVersion(root, version string) error {
	p := filepath.Join(root, "mathesar", "__init__.py")
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read sample mathesar/__init__.py: %w", err)
	}
	if n := len(versionLineRE.FindAllIndex(data, -1)); n != 1 {
		return fmt.Errorf("sample mathesar/__init__.py has %d __version__ lines, want 1; fix test/fixtures/sampleapp", n)
	}
	line := fmt.Sprintf("__version__ = %q", version)
	out := versionLineRE.ReplaceAllLiteral(data, []byte(line))
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if err := os.WriteFile(p, out, info.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// listFiles returns the slash paths of the regular files under root.
func listFiles(root string) (map[string]struct{}, error) {
	files := map[string]struct{}{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	return files, nil
}

func collectStats(root string) (Stats, error) {
	var st Stats
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		st.Files++
		st.Bytes += info.Size()
		if strings.HasPrefix(rel, "translations/") && path.Ext(rel) == ".po" {
			st.POFiles++
		}
		if strings.HasPrefix(rel, "mathesar_ui/") {
			st.UIFiles++
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("measure fixture tree %s: %w", root, err)
	}
	return st, nil
}
