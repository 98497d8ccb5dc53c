// Package mathesarsrc knows what a Mathesar source tree must hold and what of it a bundle
// carries: it checks that a tree is Mathesar-shaped, refuses one holding an admin's site
// files, and stages the runtime part of it into a build directory, where the later stages
// add the compiled translations and the collected static files without touching the
// checkout.
package mathesarsrc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Required are the paths of a Mathesar checkout the packaging relies on, with why.
var Required = []struct{ Path, Why string }{
	{"mathesar/__init__.py", "holds __version__"},
	{"mathesar/install.py", "`python -m mathesar.install` migrates"},
	{"manage.py", "`mathesar manage` and collectstatic run it"},
	{"config/settings/production.py", "the settings the launcher selects"},
	{"config/wsgi.py", "gunicorn serves config.wsgi"},
	{"requirements.txt", "pins every dependency"},
	{"translations", "the catalogs compiled at build time"},
}

// UIDir is the front end's source, and UIBuildDir where its build writes (Mathesar's
// MATHESAR_UI_BUILD_LOCATION), both relative to the tree.
const (
	UIDir      = "mathesar_ui"
	UIBuildDir = "mathesar/static/mathesar"
)

// siteFiles are an admin's files that Mathesar reads from its code tree. A release built
// from a checkout that has them would ship one site's settings, and often its secrets, to
// everyone; admins of a packaged install keep them in the configuration directory.
var siteFiles = []string{"sso.yml", "file_storage.yml", "config/settings/local.py", ".env", ".secrets"}

// excluded are parts of a checkout a bundle does not carry, each with why.
var excluded = map[string]string{
	UIDir:          "front-end source; its build output under " + UIBuildDir + " is carried",
	"static":       "collectstatic output of the checkout; the build collects afresh",
	".media":       "uploads of a development instance",
	"docs":         "documentation site source",
	".github":      "CI configuration",
	".git":         "version control",
	".venv":        "a development virtualenv",
	"node_modules": "front-end dependencies",
}

// versionRE matches `__version__ = "0.10.1"`; Mathesar keeps mathesar/__init__.py free
// of imports so the version can be read this way without Django.
var versionRE = regexp.MustCompile(`(?m)^__version__\s*=\s*["']([^"']+)["']`)

// Version reads __version__ from <tree>/mathesar/__init__.py without running Python.
func Version(tree string) (string, error) {
	p := filepath.Join(tree, "mathesar", "__init__.py")
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read the app version: %w; is %s a Mathesar source tree?", err, tree)
	}
	m := versionRE.FindSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("%s has no __version__ = \"...\" line: is %s a Mathesar source tree?", p, tree)
	}
	return string(m[1]), nil
}

// Check reports, all at once, what makes tree unusable as a Mathesar source: required
// paths that are missing, and site files that must not be bundled.
func Check(tree string) error {
	info, err := os.Stat(tree)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("MATHESAR_SRC=%s is not a directory: point it at a Mathesar checkout (git clone https://github.com/mathesar-foundation/mathesar)", tree)
	}
	var missing []string
	for _, r := range Required {
		if _, err := os.Stat(filepath.Join(tree, filepath.FromSlash(r.Path))); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", r.Path, r.Why))
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s is not a Mathesar source tree; it lacks %s: point MATHESAR_SRC at the top of a Mathesar checkout", tree, strings.Join(missing, ", ")))
	}
	var found []string
	for _, name := range siteFiles {
		if _, err := os.Lstat(filepath.Join(tree, filepath.FromSlash(name))); err == nil {
			found = append(found, name)
		}
	}
	if len(found) > 0 {
		problems = append(problems, fmt.Sprintf("%s holds site-specific files that would ship in every package, secrets included: %s; move them out of the checkout (a packaged install reads them from /etc/mathesar)", tree, strings.Join(found, ", ")))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	if _, err := Version(tree); err != nil {
		return err
	}
	return nil
}

// Staged is what Stage copied.
type Staged struct {
	Files    int
	Bytes    int64
	Excluded []string // top-level parts left out, with why, sorted
}

// Stage copies the runtime part of tree into dst (which must not exist): everything but
// the excluded parts, compiled catalogs (*.mo, rebuilt from the .po files) and Python
// byte code. Files are hard-linked where the file system allows, because nothing later
// writes to a staged file in place: new files replace them by rename.
func Stage(tree, dst string) (Staged, error) {
	var st Staged
	if err := os.Mkdir(dst, 0o755); err != nil {
		return st, fmt.Errorf("stage the source: %w", err)
	}
	for name, why := range excluded {
		if _, err := os.Lstat(filepath.Join(tree, name)); err == nil {
			st.Excluded = append(st.Excluded, name+"/ ("+why+")")
		}
	}
	sort.Strings(st.Excluded)
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		if err != nil || rel == "." {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if _, skip := excluded[name]; skip && (!strings.Contains(rel, string(filepath.Separator)) || name == "node_modules" || name == ".git") {
				return filepath.SkipDir
			}
			if name == "__pycache__" {
				return filepath.SkipDir
			}
			return os.Mkdir(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(name, ".mo") || strings.HasSuffix(name, ".pyc") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := linkOrCopy(p, filepath.Join(dst, rel), info); err != nil {
			return fmt.Errorf("stage %s: %w", rel, err)
		}
		if info.Mode().IsRegular() {
			st.Files++
			st.Bytes += info.Size()
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("stage %s into %s: %w", tree, dst, err)
	}
	return st, nil
}

// linkOrCopy stages one file. Symbolic links are copied as links, so the bundle builder
// applies its own rule to them (followed inside the tree, refused outside).
func linkOrCopy(src, dst string, info fs.FileInfo) error {
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			// Relative links resolve against the checkout, as they would have there.
			target = filepath.Join(filepath.Dir(src), target)
		}
		return os.Symlink(target, dst)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: remove it from the checkout", src)
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
