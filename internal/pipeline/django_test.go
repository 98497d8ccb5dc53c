package pipeline

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// debianPython is where Debian's python3-* packages install pure Python distributions.
const debianPython = "/usr/lib/python3/dist-packages"

// debianPy is Debian's own interpreter: python3-psycopg2's extension module is built for
// it, so it is the CPython that runs Django from the bundle here.
const debianPy = "/usr/bin/python3"

// debianDist is one of Debian's installed distributions, rewrapped as a wheel.
type debianDist struct {
	name, pkg string
	requires  []string
	extras    []string
	compiled  bool // holds an extension module, so the wheel is tagged for one CPython
}

// debianDists are the distributions of python3-django (and what it depends on) and of
// python3-psycopg2 that TestStaticStageWithRealDjango rewraps as wheels. Requires-Dist
// and Provides-Extra are those of Django 3.2's and asgiref 3.6's own wheels on PyPI:
// Debian drops them from its egg-info, and the zipapp resolver must follow Django's to
// find asgiref, pytz and sqlparse. psycopg2 is needed because Django 3.2 (as 4.2, which
// Mathesar pins) loads the database backend named by ENGINE while it sets up the models,
// even for collectstatic; Mathesar's requirements.txt pins psycopg2-binary for that.
var debianDists = []debianDist{
	{
		name: "Django", pkg: "django",
		requires: []string{
			"asgiref (<4,>=3.3.2)", "pytz", "sqlparse (>=0.2.2)",
			"argon2-cffi (>=19.1.0) ; extra == 'argon2'", "bcrypt ; extra == 'bcrypt'",
		},
		extras: []string{"argon2", "bcrypt"},
	},
	{name: "asgiref", pkg: "asgiref", requires: []string{`typing-extensions ; python_version < "3.8"`, "pytest ; extra == 'tests'"}, extras: []string{"tests"}},
	{name: "sqlparse", pkg: "sqlparse"},
	{name: "pytz", pkg: "pytz"},
	{name: "psycopg2", pkg: "psycopg2", compiled: true},
}

// TestStaticStageWithRealDjango runs the build's static stage against Django itself, not
// the sample app's stand-in: real wheels made from Debian's python3-django, a
// Mathesar-shaped project (testdata/djangoapp) using ManifestStaticFilesStorage, and
// `manage.py collectstatic` run by the pipeline. The pyz must carry the collected and
// hashed files, share identical ones, and serve the hashed names when Django runs from
// the unpacked bundle.
func TestStaticStageWithRealDjango(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Debian's python3-django is a Linux package")
	}
	for _, p := range []string{filepath.Join(debianPython, "django"), filepath.Join(debianPython, "psycopg2"), debianPy} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%v: go tool mage deps installs python3-django and python3-psycopg2", err)
		}
	}
	if _, err := exec.LookPath("msgfmt"); err != nil {
		t.Skip("msgfmt not found: run `go tool mage deps`")
	}
	python := debianPy
	abi := localABI(t, python)
	minor, err := strconv.Atoi(strings.TrimPrefix(abi, "cp3"))
	if err != nil {
		t.Fatalf("%s reports ABI %q", python, abi)
	}
	ctx := context.Background()

	wheels := t.TempDir()
	versions := map[string]string{}
	for _, d := range debianDists {
		versions[d.name] = debianWheel(t, wheels, d, abi)
	}

	src := filepath.Join(t.TempDir(), "mathesar")
	if err := os.CopyFS(src, os.DirFS(filepath.Join("testdata", "djangoapp"))); err != nil {
		t.Fatal(err)
	}
	// The front end as Vite leaves it (mathesar_ui/ absent, so npm is not needed): one
	// hashed-name asset, over the 1 KiB from which identical app files share an entry.
	asset := strings.Repeat("export function render(n){return document.createElement('div').textContent=n}\n", 48)
	writeFile(t, filepath.Join(src, "mathesar", "static", "mathesar", "assets", "index-abc123.js"), asset)
	var reqs strings.Builder
	for _, d := range debianDists {
		fmt.Fprintf(&reqs, "%s==%s\n", d.name, versions[d.name])
	}
	writeFile(t, filepath.Join(src, "requirements.txt"), reqs.String())

	// The range is Debian's CPython alone: its psycopg2 is compiled for that one ABI, and
	// a pyz for more would lack the database driver Django loads for every other one.
	var log bytes.Buffer
	cfg := Config{Root: t.TempDir(), Source: src, Wheelhouse: wheels, Platforms: []string{"linux/" + runtime.GOARCH}, MinMinor: minor, MaxMinor: minor, Python: python, Log: &log}
	built, err := BuildZipapps(ctx, cfg)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	pyz := built.Outputs[0]
	staticLine := stageLine(log.String(), "static")
	if !strings.Contains(staticLine, "collected by manage.py collectstatic") {
		t.Errorf("the static stage logged %q, want files collected by manage.py collectstatic\n%s", staticLine, log.String())
	}

	b, err := bundle.Open(pyz)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	files := map[string]bundle.File{} // by target
	entries := map[string]bool{}
	var collected int
	for _, f := range b.Manifest.Files {
		files[f.Target] = f
		entries[f.Path] = true
		if strings.HasPrefix(f.Target, "app/static/") {
			collected++
		}
	}
	for _, d := range debianDists {
		if !hasDistribution(b.Manifest, d.name, versions[d.name]) {
			t.Errorf("the pyz does not carry %s %s: the resolver did not follow Django's Requires-Dist", d.name, versions[d.name])
		}
	}

	for _, want := range []string{
		"app/static/admin/css/base.css", "app/static/staticfiles.json", "app/static/mathesar/manifest.json",
		"app/static/mathesar/assets/index-abc123.js", "app/translations/en/LC_MESSAGES/django.mo",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("the pyz does not unpack %s", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	staticJSON := readEntry(t, pyz, files["app/static/staticfiles.json"].Path)
	var manifest struct {
		Paths map[string]string `json:"paths"`
	}
	if err := json.Unmarshal(staticJSON, &manifest); err != nil {
		t.Fatalf("app/static/staticfiles.json: %v\n%s", err, staticJSON)
	}
	hashed := func(name string) string {
		t.Helper()
		ext := path.Ext(name)
		re := regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(name, ext)) + `\.[0-9a-f]{12}` + regexp.QuoteMeta(ext) + "$")
		h := manifest.Paths[name]
		if !re.MatchString(h) {
			t.Fatalf("staticfiles.json maps %s to %q, want %s", name, h, re)
		}
		if _, ok := files["app/static/"+h]; !ok {
			t.Fatalf("staticfiles.json names %s, which the pyz does not unpack", h)
		}
		return h
	}

	// What sharing must and must not merge, file by file. Django rewrites the url()s of a
	// CSS file's hashed copy, so base.css differs from it and is stored twice; a JS file's
	// hashed copy is byte for byte the original, and the front end's asset is stored once
	// for its source, its collected copy and its hashed copy.
	shareCases := []struct {
		name    string
		sources []string // other targets holding the same bytes
		shared  bool
	}{
		{"admin/css/base.css", nil, false},
		{"admin/js/core.js", nil, true},
		{"mathesar/assets/index-abc123.js", []string{"app/mathesar/static/mathesar/assets/index-abc123.js"}, true},
	}
	for _, c := range shareCases {
		plain, copyOf := files["app/static/"+c.name], files["app/static/"+hashed(c.name)]
		if got := plain.Path == copyOf.Path; got != c.shared || (plain.SHA256 == copyOf.SHA256) != c.shared {
			t.Errorf("%s (zip %s, sha256 %.12s) and its hashed copy (zip %s, sha256 %.12s): shared %v, want %v",
				c.name, plain.Path, plain.SHA256, copyOf.Path, copyOf.SHA256, got, c.shared)
		}
		for _, s := range c.sources {
			if files[s].Path != plain.Path {
				t.Errorf("%s is stored at %s, its collected copy at %s: want one entry", s, files[s].Path, plain.Path)
			}
		}
	}
	// And across the whole pyz: identical app files of 1 KiB or more that are not Python
	// modules are stored once.
	bySum := map[string]map[string]bool{}
	for _, f := range b.Manifest.Files {
		if strings.HasPrefix(f.Target, "app/") && f.Size >= 1024 && !strings.HasSuffix(f.Target, ".py") {
			if bySum[f.SHA256] == nil {
				bySum[f.SHA256] = map[string]bool{}
			}
			bySum[f.SHA256][f.Path] = true
		}
	}
	for sum, paths := range bySum {
		if len(paths) > 1 {
			t.Errorf("identical app files (sha256 %.12s) are stored %d times: %v", sum, len(paths), sortedKeys(paths))
		}
	}
	info, err := os.Stat(pyz)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d static files collected; %d files in %d zip entries (sharing saved %d); pyz %d bytes; %s",
		collected, len(b.Manifest.Files), len(entries), len(b.Manifest.Files)-len(entries), info.Size(), staticLine)

	// At run time, Django from the unpacked bundle serves the hashed names from the
	// bundle's staticfiles.json and reads the compiled catalog from the relative
	// LOCALE_PATHS, with the same settings-only environment as the build.
	tree := filepath.Join(t.TempDir(), "tree")
	if err := b.Extract(ctx, abi, tree, nil); err != nil {
		t.Fatal(err)
	}
	app, site := filepath.Join(tree, "app"), filepath.Join(tree, "site-packages")
	script := fmt.Sprintf(`import json, sys
sys.path[:0] = [%q, %q]
import django
django.setup()
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils import translation
translation.activate("en")
print(json.dumps({
    "django": django.__file__, "version": django.get_version(), "debug": settings.DEBUG,
    "psycopg2": __import__("psycopg2").__file__,
    "base_css": staticfiles_storage.url("admin/css/base.css"),
    "asset": staticfiles_storage.url("mathesar/assets/index-abc123.js"),
    "welcome": translation.gettext("welcome_message"),
}))
`, app, site)
	run := exec.Command(python, "-I", "-c", script)
	run.Dir = app
	run.Env = append(collectStaticEnv(), "DEBUG=false")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("run Django from the unpacked bundle: %v\n%s", err, out)
	}
	var got struct {
		Django, Psycopg2, Version, Asset, Welcome string
		BaseCSS                                   string `json:"base_css"`
		Debug                                     bool
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the runtime check printed %q: %v", out, err)
	}
	want := struct{ django, version, baseCSS, asset, welcome string }{
		filepath.Join(site, "django", "__init__.py"), versions["Django"],
		"/static/" + hashed("admin/css/base.css"), "/static/" + hashed("mathesar/assets/index-abc123.js"), "Welcome to Mathesar",
	}
	if got.Django != want.django || got.Version != want.version || got.Debug {
		t.Errorf("Django %s from %s (DEBUG %v), want %s from %s with DEBUG off", got.Version, got.Django, got.Debug, want.version, want.django)
	}
	if wantPG := filepath.Join(site, "psycopg2", "__init__.py"); got.Psycopg2 != wantPG {
		t.Errorf("psycopg2 imported from %s, want the bundle's %s", got.Psycopg2, wantPG)
	}
	if got.BaseCSS != want.baseCSS || got.Asset != want.asset {
		t.Errorf("staticfiles_storage.url gave %s and %s, want %s and %s", got.BaseCSS, got.Asset, want.baseCSS, want.asset)
	}
	if got.Welcome != want.welcome {
		t.Errorf("gettext(welcome_message) = %q, want %q from the compiled translations/en catalog", got.Welcome, want.welcome)
	}
}

// debianWheel writes a wheel of Debian's installed copy of a distribution: every file of
// <dist-packages>/<pkg> but byte code, with the version and Requires-Python of its
// egg-info. It returns the version.
func debianWheel(t *testing.T, dir string, d debianDist, abi string) string {
	t.Helper()
	name, pkg := d.name, d.pkg
	infos, err := filepath.Glob(filepath.Join(debianPython, name+"-*.egg-info", "PKG-INFO"))
	if err != nil || len(infos) != 1 {
		t.Fatalf("want one %s-*.egg-info in %s, found %v (%v): reinstall python3-%s", name, debianPython, infos, err, pkg)
	}
	meta := pkgInfo(t, infos[0])
	spec := wheel.BuildSpec{
		Name: name, Version: meta["Version"], Tags: "py3-none-any", RootIsPurelib: true,
		RequiresDist: d.requires, ProvidesExtra: d.extras, RequiresPython: meta["Requires-Python"],
	}
	if d.compiled {
		arch, err := pytags.ArchName("linux", runtime.GOARCH)
		if err != nil {
			t.Fatal(err)
		}
		// Debian links it against this machine's glibc and libpq5, not the manylinux
		// baseline; the tag only lets the linux target pick it, and only this machine
		// runs the bundle it goes into.
		spec.Tags = fmt.Sprintf("%s-%s-manylinux_2_17_%s", abi, abi, arch)
		spec.RootIsPurelib = false
	}
	root := filepath.Join(debianPython, pkg)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return fs.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, ".pyc") {
			return nil
		}
		// Stat and ReadFile follow Debian's symlinks to shared copies (admin's jQuery
		// points into /usr/share/javascript), as an upstream wheel holds the file itself.
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(debianPython, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		spec.Files = append(spec.Files, wheel.SpecFile{Path: filepath.ToSlash(rel), Data: data, Mode: mode})
		return nil
	})
	if err != nil {
		t.Fatalf("read Debian's %s: %v", name, err)
	}
	if _, err := wheel.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	return spec.Version
}

// pkgInfo reads the header fields of a PKG-INFO file (RFC 822 style, up to the body).
func pkgInfo(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && sc.Text() != "" {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			if _, seen := fields[k]; !seen {
				fields[k] = strings.TrimSpace(v)
			}
		}
	}
	if fields["Version"] == "" {
		t.Fatalf("%s has no Version field", file)
	}
	return fields
}

func hasDistribution(m bundle.Manifest, name, version string) bool {
	for _, d := range m.Distributions {
		if strings.EqualFold(d.Name, name) && d.Version == version {
			return true
		}
	}
	return false
}

// stageLine returns the log line of one stage, or "" when it did not log one.
func stageLine(log, stage string) string {
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "zipapp: stage "+stage+": ") {
			return line
		}
	}
	return ""
}

// readEntry reads one zip entry of a pyz; the manifest names it, archive/zip reads it.
func readEntry(t *testing.T, pyz, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(pyz)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	r, err := zr.Open(name)
	if err != nil {
		t.Fatalf("the pyz has no zip entry %q: %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s from %s: %v", name, pyz, err)
	}
	return data
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
