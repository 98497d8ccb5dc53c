package zipapp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// skippedDirs never belong in a bundle: version-control data, byte-code caches (the bundle
// holds no .pyc; Python writes its own into the unpacked tree) and front-end build inputs.
var skippedDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, "__pycache__": true, "node_modules": true}

func skippedFile(name string) bool {
	return strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo")
}

// appFile is one regular file of the app tree.
type appFile struct {
	rel  string // slash path relative to the app root
	abs  string // where to read it
	mode uint32 // normalised
	size int64
}

// walkApp lists the regular files of an app tree, sorted. Symbolic links are followed when
// they stay inside the tree, so that a checkout that links a shared file in still packs;
// one that leaves the tree is refused, because the bundle would then carry a file from the
// build machine that the source does not hold.
func walkApp(root string, limits Limits) ([]appFile, error) {
	info, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("app directory %s does not exist: point MATHESAR_SRC at a Mathesar checkout, or unset it to build the sample app", root)
		}
		return nil, fmt.Errorf("app directory %s: %w", root, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("app directory %s is not a directory: point MATHESAR_SRC at the top of a Mathesar checkout", root)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("app directory %s: %w", root, err)
	}
	realRoot, err = filepath.Abs(realRoot)
	if err != nil {
		return nil, fmt.Errorf("app directory %s: %w", root, err)
	}
	w := &appWalker{root: root, realRoot: realRoot, limits: limits}
	if err := w.walk(realRoot, "", map[string]bool{realRoot: true}); err != nil {
		return nil, err
	}
	return w.files, nil
}

type appWalker struct {
	root, realRoot string
	limits         Limits
	files          []appFile
}

// walk lists dir (a real path) as rel. active holds the real directories on the current
// path, so a link back to an ancestor is reported instead of recursing forever.
func (w *appWalker) walk(dir, rel string, active map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read app directory %s: %w", filepath.Join(w.root, filepath.FromSlash(rel)), err)
	}
	for _, e := range entries {
		name := e.Name()
		childRel := path.Join(rel, name)
		shown := filepath.Join(w.root, filepath.FromSlash(childRel))
		if !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00") {
			return fmt.Errorf("app file %q: the name is not valid UTF-8 or holds a backslash; rename it", shown)
		}
		abs := filepath.Join(dir, name)
		info, err := os.Lstat(abs)
		if err != nil {
			return fmt.Errorf("app file %s: %w", shown, err)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(abs)
			if err != nil {
				return fmt.Errorf("app file %s is a broken symbolic link: fix or remove it", shown)
			}
			if !within(w.realRoot, target) {
				return fmt.Errorf("app file %s is a symbolic link to %s, outside the app tree: copy the file into the tree or remove the link", shown, target)
			}
			abs = target
			if info, err = os.Stat(target); err != nil {
				return fmt.Errorf("app file %s: %w", shown, err)
			}
		}
		switch {
		case info.IsDir():
			if skippedDirs[name] {
				continue
			}
			if active[abs] {
				return fmt.Errorf("app directory %s links back to %s, which contains it: remove the link", shown, abs)
			}
			active[abs] = true
			err := w.walk(abs, childRel, active)
			delete(active, abs)
			if err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if skippedFile(name) {
				continue
			}
			if info.Size() > w.limits.MaxFileSize {
				return fmt.Errorf("app file %s is %d bytes, over the %d-byte limit of a pyz entry (Python 3.10-3.12 cannot import from ZIP64 archives): remove it from the tree", shown, info.Size(), w.limits.MaxFileSize)
			}
			w.files = append(w.files, appFile{rel: childRel, abs: abs, mode: normaliseMode(info.Mode()), size: info.Size()})
		default:
			return fmt.Errorf("app file %s is a %s, not a regular file: remove it from the tree", shown, describeMode(info.Mode()))
		}
	}
	return nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// normaliseMode keeps only whether a file is executable, so the bundle does not depend on
// the build machine's umask.
func normaliseMode(m fs.FileMode) uint32 {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
