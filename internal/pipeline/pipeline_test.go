package pipeline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/adler32"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/mathesarfixture"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
)

func localABI(t *testing.T, python string) string {
	t.Helper()
	out, err := exec.Command(python, "-c", "import sys; print('cp%d%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("ask %s for its version: %v", python, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSamplePyz builds the sample app's pyz the way `go tool mage zipapp` does, then runs it
// on the local CPython: `python3 mathesar.pyz version` straight from the zip, and the C
// extension imported from the tree the launcher would unpack.
func TestSamplePyz(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: run `go tool mage deps`")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: run `go tool mage deps`")
	}
	root := t.TempDir()
	var log bytes.Buffer
	cfg := Config{Root: root, Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &log}
	outputs, err := Zipapps(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	t.Log(log.String())
	pyz := outputs[0]
	if want := filepath.Join(root, "build", "zipapp", "linux_amd64", "mathesar.pyz"); pyz != want {
		t.Fatalf("wrote %s, want %s", pyz, want)
	}

	// The stages' products: compiled catalogs, static files collected at build time and the
	// site hook, each where the runtime looks for it.
	groups, err := Sizes(pyz)
	if err != nil {
		t.Fatal(err)
	}
	targets, storedAt := bundleTargets(t, pyz)
	var grouped int
	for _, g := range groups {
		grouped += g.Files
	}
	entries := map[string]bool{}
	for _, p := range storedAt {
		entries[p] = true
	}
	if want := len(entries) + 2; grouped != want { // + manifest.json and __main__.py
		t.Errorf("size groups count %d zip entries, the pyz has %d", grouped, want)
	}
	for _, want := range []string{
		"app/translations/en/LC_MESSAGES/django.mo", "app/static/sample/sample.css",
		"app/mathesar/static/sample/sample.css", "site-packages/_mathesar_site.py",
	} {
		if !slices.Contains(targets, want) {
			t.Errorf("the pyz does not unpack %s", want)
		}
	}
	for _, stage := range []string{"source", "frontend", "stage", "translations", "wheels", "static", "pyz linux/amd64"} {
		if !strings.Contains(log.String(), "zipapp: stage "+stage+": ") {
			t.Errorf("the log does not report stage %q:\n%s", stage, log.String())
		}
	}

	out, err := exec.Command(python, pyz, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("python3 mathesar.pyz version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "mathesar 0.1.0+sample (sample app)\n") {
		t.Fatalf("python3 mathesar.pyz version printed %q", out)
	}

	b, err := bundle.Open(pyz)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Manifest.App.Sample || b.Manifest.App.Version != "0.1.0+sample" {
		t.Errorf("manifest app = %+v, want the labelled sample", b.Manifest.App)
	}
	abi := localABI(t, python)
	dest := filepath.Join(t.TempDir(), "tree")
	if err := b.Extract(context.Background(), abi, dest, nil); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("import sys; sys.path[:0] = [%q, %q]\nimport samplespeedups\nprint(samplespeedups.checksum(b'abc'), samplespeedups._speedups.__file__)",
		filepath.Join(dest, "app"), filepath.Join(dest, "site-packages"))
	out, err = exec.Command(python, "-I", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("import the C extension: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if want := fmt.Sprint(adler32.Checksum([]byte("abc"))); len(fields) != 2 || fields[0] != want {
		t.Fatalf("checksum(b'abc') printed %q, want %s", out, want)
	}
	if !strings.HasSuffix(fields[1], ".abi3.so") {
		t.Errorf("extension loaded from %s, want the compiled abi3 module", fields[1])
	}
}

// TestSamplePyzReproducible builds twice from scratch and compares the bytes.
func TestSamplePyzReproducible(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: run `go tool mage deps`")
	}
	var sums [2][32]byte
	for i := range sums {
		cfg := Config{Root: t.TempDir(), Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &bytes.Buffer{}}
		outputs, err := Zipapps(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(outputs[0])
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds differ: %x vs %x", sums[0], sums[1])
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("MATHESAR_SRC", "/src")
	t.Setenv("MATHESAR_WHEELHOUSE", "/wheels")
	t.Setenv("MATHESAR_PLATFORMS", "linux/arm64")
	t.Setenv("MATHESAR_PYTHON_RANGE", "3.11-3.13")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	c, err := FromEnv("/repo", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "/src" || c.Wheelhouse != "/wheels" || strings.Join(c.Platforms, ",") != "linux/arm64" || c.MinMinor != 11 || c.MaxMinor != 13 || c.SourceDateEpoch != 1700000000 {
		t.Fatalf("config = %+v", c)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := FromEnv("/repo", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
}

func TestParsePythonRange(t *testing.T) {
	cases := []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"3.10-3.14", 10, 14, true},
		{"3.12", 12, 12, true},
		{"3.14-3.10", 0, 0, false},
		{"2.7-3.10", 0, 0, false},
		{"three", 0, 0, false},
	}
	for _, c := range cases {
		lo, hi, err := ParsePythonRange(c.in)
		if (err == nil) != c.ok || lo != c.lo || hi != c.hi {
			t.Errorf("ParsePythonRange(%q) = %d, %d, %v", c.in, lo, hi, err)
		}
	}
}

func TestSourceNotMathesar(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Source: t.TempDir(), Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Log: &bytes.Buffer{}}
	_, err := Zipapps(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "is not a Mathesar source tree") || !strings.Contains(err.Error(), "manage.py") {
		t.Fatalf("MATHESAR_SRC at an empty directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Root, "build", "zipapp")); err == nil {
		t.Error("a refused source still produced build/zipapp")
	}
}

// bundleTargets lists what a pyz unpacks to, by target path ("app/...", "site-packages/..."),
// with the zip entry holding each (identical files may share one).
func bundleTargets(t *testing.T, pyz string) ([]string, map[string]string) {
	t.Helper()
	b, err := bundle.Open(pyz)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var targets []string
	storedAt := map[string]string{}
	for _, f := range b.Manifest.Files {
		targets = append(targets, f.Target)
		storedAt[f.Target] = f.Path
	}
	return targets, storedAt
}

func TestSizeGroup(t *testing.T) {
	for entry, want := range map[string]string{
		"app/static/mathesar/index.js":                         "app/static (collected static files)",
		"app/mathesar/static/mathesar/index.js":                "app/mathesar/static (front-end build)",
		"app/mathesar/models/base.py":                          "app/mathesar",
		"app/manage.py":                                        "app (top-level files)",
		"lib/common/site-packages/django/__init__.py":          "lib: django",
		"lib/cp312/site-packages/psycopg_binary/_psycopg.so":   "lib: psycopg_binary",
		"lib/common/site-packages/Django-4.2.dist-info/RECORD": "lib: wheel metadata and top-level modules",
		"lib/common/site-packages/six.py":                      "lib: wheel metadata and top-level modules",
		"lib/common/bin/gunicorn":                              "lib: bin (common)",
		"manifest.json":                                        "pyz metadata (manifest.json)",
	} {
		if got := sizeGroup(entry); got != want {
			t.Errorf("sizeGroup(%q) = %q, want %q", entry, got, want)
		}
	}
}

// TestMathesarShapedSource builds from a Mathesar-shaped checkout of realistic size
// (internal/mathesarfixture): the front end is built with npm into the checkout, the
// catalogs are compiled, static files are collected, and the pyz carries each where
// Mathesar looks for it, and none of what it must not carry. A second build skips npm.
func TestMathesarShapedSource(t *testing.T) {
	for _, tool := range []string{"npm", "msgfmt", "gcc", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run `go tool mage deps`", tool)
		}
	}
	src := filepath.Join(t.TempDir(), "mathesar")
	if _, err := mathesarfixture.Generate(src, mathesarfixture.Options{}); err != nil {
		t.Fatal(err)
	}
	wheels := t.TempDir()
	if _, err := samplewheels.BuildWheelhouse(context.Background(), wheels, samplewheels.Options{}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cfg := Config{Root: t.TempDir(), Source: src, Wheelhouse: wheels, Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &log}
	built, err := BuildZipapps(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if built.Sample || built.Version != mathesarfixture.DefaultVersion {
		t.Errorf("built %q (sample %v), want the fixture's version", built.Version, built.Sample)
	}
	var stages []string
	for _, st := range built.Stages {
		stages = append(stages, st.Name)
	}
	if want := "source frontend stage translations wheels static pyz linux/amd64"; strings.Join(stages, " ") != want {
		t.Errorf("stages %q, want %q", stages, want)
	}
	if !strings.Contains(log.String(), "zipapp: stage frontend: built ") || !strings.Contains(log.String(), "frontend: > node build.mjs") {
		t.Errorf("the first build did not run npm:\n%s", log.String())
	}

	entries, storedAt := bundleTargets(t, built.Outputs[0])
	var shared int
	for target, p := range storedAt {
		if strings.HasPrefix(target, "app/static/mathesar/") && strings.HasPrefix(p, "app/mathesar/static/mathesar/") {
			shared++
		}
	}
	if shared < 20 {
		t.Errorf("%d collected static files share the front end's zip entries, want most of the 44", shared)
	}
	has := func(prefix string) int {
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e, prefix) {
				n++
			}
		}
		return n
	}
	for _, lang := range []string{"en", "es", "fr", "ja"} {
		if !slices.Contains(entries, "app/translations/"+lang+"/LC_MESSAGES/django.mo") {
			t.Errorf("no compiled catalog for %s", lang)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(src, "mathesar", "static", "mathesar", "manifest.json"))
	if err != nil {
		t.Fatalf("the front-end build wrote no manifest into the checkout: %v", err)
	}
	for _, prefix := range []string{"app/static/mathesar/assets/index-", "app/mathesar/static/mathesar/assets/index-"} {
		if has(prefix) < 2 {
			t.Errorf("the pyz has no %s* (the built front end)", prefix)
		}
	}
	if !slices.Contains(entries, "app/static/mathesar/manifest.json") || !strings.Contains(string(manifest), "assets/index-") {
		t.Errorf("collected static files lack the Vite manifest")
	}
	for _, absent := range []string{"app/mathesar_ui/", "app/docs/", "app/.github/", "app/node_modules/"} {
		if n := has(absent); n > 0 {
			t.Errorf("the pyz carries %d files under %s", n, absent)
		}
	}
	if n := has("app/db/"); n < 300 {
		t.Errorf("the pyz carries %d files of db/, want the fixture's 350", n)
	}

	log.Reset()
	if _, err := BuildZipapps(context.Background(), cfg); err != nil {
		t.Fatalf("second build: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "zipapp: stage frontend: skipped ") || strings.Contains(log.String(), "node build.mjs") {
		t.Errorf("the second build ran npm again:\n%s", log.String())
	}
}

// TestPinnedSource: MATHESAR_SRC=pinned builds the release packaging/mathesar-source.json
// pins, fetched over HTTP and verified, and refuses a pin without a digest.
func TestPinnedSource(t *testing.T) {
	for _, tool := range []string{"npm", "msgfmt", "gcc", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run `go tool mage deps`", tool)
		}
	}
	tree := filepath.Join(t.TempDir(), "mathesar")
	if _, err := mathesarfixture.Generate(tree, mathesarfixture.Options{}); err != nil {
		t.Fatal(err)
	}
	tarball := tarGz(t, tree, "mathesar-"+mathesarfixture.DefaultVersion)
	sum := sha256.Sum256(tarball)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write(tarball)
	}))
	defer srv.Close()
	wheels := t.TempDir()
	if _, err := samplewheels.BuildWheelhouse(context.Background(), wheels, samplewheels.Options{}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pin := func(digest string) {
		t.Helper()
		data := fmt.Sprintf(`{"version": %q, "url": %q, "sha256": %q}`, mathesarfixture.DefaultVersion, srv.URL+"/mathesar.tar.gz", digest)
		if err := os.MkdirAll(filepath.Join(root, "packaging"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "packaging", "mathesar-source.json"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	cfg := Config{Root: root, Source: PinnedSource, Wheelhouse: wheels, Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &log}

	pin("")
	if _, err := BuildZipapps(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "packaging/mathesar-source.json pins Mathesar "+mathesarfixture.DefaultVersion+" without a sha256") {
		t.Fatalf("a pin without sha256: %v", err)
	}
	if requests.Load() != 0 {
		t.Errorf("a pin without sha256 made %d requests, want none", requests.Load())
	}

	pin(hex.EncodeToString(sum[:]))
	built, err := BuildZipapps(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build the pinned source: %v\n%s", err, log.String())
	}
	if built.Version != mathesarfixture.DefaultVersion || !strings.Contains(log.String(), "(downloaded and verified)") {
		t.Errorf("built %q; log:\n%s", built.Version, log.String())
	}
	if _, err := BuildZipapps(context.Background(), cfg); err != nil || requests.Load() != 1 {
		t.Errorf("second build: %v, %d requests in all, want the cached source and one request", err, requests.Load())
	}
}

// tarGz packs dir as a GitHub source archive does: every path under one top directory.
func tarGz(t *testing.T, dir, top string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = path.Join(top, filepath.ToSlash(rel))
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSourceWithoutFrontEnd: a tree with neither mathesar_ui/ nor a built front end is
// refused, rather than bundled without a UI.
func TestSourceWithoutFrontEnd(t *testing.T) {
	src := filepath.Join(t.TempDir(), "mathesar")
	if _, err := mathesarfixture.Generate(src, mathesarfixture.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(src, "mathesar_ui")); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Root: t.TempDir(), Source: src, Wheelhouse: t.TempDir(), Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Log: &bytes.Buffer{}}
	_, err := BuildZipapps(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "has neither the front end's source (mathesar_ui/) nor its build (mathesar/static/mathesar/manifest.json)") {
		t.Fatalf("a source without a front end: %v", err)
	}
}
