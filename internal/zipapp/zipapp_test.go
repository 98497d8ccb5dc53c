package zipapp

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// testApp writes a minimal Mathesar-shaped tree with the given requirements.
func testApp(t *testing.T, requirements string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mathesar", "__init__.py"), "__version__ = \"9.9.9\"\n", 0o644)
	write(t, filepath.Join(dir, "manage.py"), "#!/usr/bin/env python3\nprint('manage')\n", 0o775)
	write(t, filepath.Join(dir, "requirements.txt"), requirements, 0o644)
	return dir
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// pureWheel writes a py3-none-any wheel holding one module.
func pureWheel(t *testing.T, dir, name, version string, requires ...string) string {
	t.Helper()
	mod := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	p, err := wheel.Write(dir, wheel.BuildSpec{
		Name: name, Version: version, Tags: "py3-none-any", RootIsPurelib: true,
		RequiresDist: requires,
		Files:        []wheel.SpecFile{{Path: mod + "/__init__.py", Data: []byte("VERSION = '" + version + "'\n"), Mode: 0o644}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nativeWheel writes a wheel for one tag set whose extension module is placeholder bytes
// that differ per tag, as real compiled modules do.
func nativeWheel(t *testing.T, dir, name, version, tags string) string {
	t.Helper()
	p, err := wheel.Write(dir, wheel.BuildSpec{
		Name: name, Version: version, Tags: tags, RootIsPurelib: false,
		Files: []wheel.SpecFile{
			{Path: name + "/__init__.py", Data: []byte("from ._native import *\n"), Mode: 0o644},
			{Path: name + "/_native.so", Data: []byte("placeholder for " + tags), Mode: 0o755},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func linuxTarget(t *testing.T, lo, hi int) Target {
	t.Helper()
	p, err := pytags.DefaultPlatform("linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return Target{Platform: p, MinMinor: lo, MaxMinor: hi}
}

func build(t *testing.T, app, wheels string, target Target) (*Result, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dist", "mathesar.pyz")
	res, err := Build(context.Background(), Options{AppDir: app, Version: "9.9.9", Wheelhouse: wheels, Target: target, Output: out})
	return res, out, err
}

func zipNames(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestPerABILayout(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "purelib", "1.0")
	for _, abi := range []string{"cp310", "cp311", "cp312"} {
		nativeWheel(t, wheels, "native", "2.0", abi+"-"+abi+"-manylinux_2_17_x86_64.manylinux2014_x86_64")
	}
	app := testApp(t, "purelib==1.0\nnative==2.0\n")
	res, out, err := build(t, app, wheels, linuxTarget(t, 10, 12))
	if err != nil {
		t.Fatal(err)
	}
	names := zipNames(t, out)
	want := []string{
		"__main__.py",
		"app/manage.py",
		"app/mathesar/__init__.py",
		"app/requirements.txt",
		"lib/common/site-packages/native/__init__.py",
		"lib/common/site-packages/purelib-1.0.dist-info/INSTALLER",
		"lib/common/site-packages/purelib/__init__.py",
	}
	for _, w := range want {
		if !hasName(names, w) {
			t.Errorf("pyz lacks %s; has %v", w, names)
		}
	}
	for _, abi := range []string{"cp310", "cp311", "cp312"} {
		p := "lib/" + abi + "/site-packages/native/_native.so"
		if !hasName(names, p) {
			t.Errorf("pyz lacks %s", p)
		}
		if !hasName(names, "lib/"+abi+"/site-packages/native-2.0.dist-info/WHEEL") {
			t.Errorf("pyz lacks the %s dist-info of native", abi)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("entries are not sorted: %v", names)
	}
	m := res.Manifest
	if m.BuildID != bundle.ComputeBuildID(m) {
		t.Errorf("build id %s does not match the contents", m.BuildID)
	}
	if strings.Join(m.Python.ABIs, ",") != "cp310,cp311,cp312" {
		t.Errorf("ABIs = %v", m.Python.ABIs)
	}
	for _, f := range m.Files {
		if f.Path == "app/manage.py" && f.Mode != 0o755 {
			t.Errorf("manage.py mode %o, want 755", f.Mode)
		}
		if f.Path == "app/requirements.txt" && f.Mode != 0o644 {
			t.Errorf("requirements.txt mode %o, want 644", f.Mode)
		}
	}
	var native *bundle.Distribution
	for i := range m.Distributions {
		if m.Distributions[i].Name == "native" {
			native = &m.Distributions[i]
		}
	}
	if native == nil || len(native.Wheels) != 3 || strings.Join(native.ABIs, ",") != "cp310,cp311,cp312" {
		t.Fatalf("manifest distribution for native = %+v", native)
	}
}

func TestManifestInsideMatchesResult(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "purelib", "1.0")
	res, out, err := build(t, testApp(t, "purelib==1.0\n"), wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(bundle.ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	var m bundle.Manifest
	if err := json.NewDecoder(f).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.BuildID != res.Manifest.BuildID || len(m.Files) != len(res.Manifest.Files) {
		t.Fatalf("manifest in the pyz differs from the build result")
	}
	byPath := map[string]*zip.File{}
	for _, zf := range zr.File {
		byPath[zf.Name] = zf
		if !zf.Modified.Equal(zf.Modified.UTC()) || zf.Modified.Year() != 1980 {
			t.Errorf("%s stamped %v, want the 1980 default epoch", zf.Name, zf.Modified)
		}
	}
	for _, mf := range m.Files {
		zf := byPath[mf.Path]
		if zf == nil {
			t.Fatalf("manifest lists %s, which the pyz lacks", mf.Path)
		}
		rc, _ := zf.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != mf.SHA256 || int64(len(data)) != mf.Size {
			t.Errorf("%s: digest or size differs from the manifest", mf.Path)
		}
		if uint32(zf.Mode().Perm()) != mf.Mode {
			t.Errorf("%s: zip mode %o, manifest %o", mf.Path, zf.Mode().Perm(), mf.Mode)
		}
	}
}

func TestDeterministic(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "purelib", "1.0")
	nativeWheel(t, wheels, "native", "2.0", "cp310-abi3-manylinux_2_17_x86_64")
	app := testApp(t, "purelib==1.0\nnative==2.0\n")
	_, a, err := build(t, app, wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	// The same inputs under a different umask and mtime must give the same bytes.
	os.Chtimes(filepath.Join(app, "manage.py"), time.Now(), time.Now())
	_, b, err := build(t, app, wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, a) != fileSHA(t, b) {
		t.Fatalf("two builds of the same inputs differ")
	}
	// A different SOURCE_DATE_EPOCH changes the stamps and so the bytes.
	out := filepath.Join(t.TempDir(), "x.pyz")
	if _, err := Build(context.Background(), Options{AppDir: app, Version: "9.9.9", Wheelhouse: wheels, Target: linuxTarget(t, 10, 14), Output: out, SourceDateEpoch: 1700000000}); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, out) == fileSHA(t, a) {
		t.Fatalf("SOURCE_DATE_EPOCH had no effect")
	}
	for _, n := range zipNames(t, a) {
		if strings.HasSuffix(n, ".pyc") || strings.Contains(n, "__pycache__") {
			t.Errorf("pyz holds byte code %s", n)
		}
	}
}

func TestTagChoice(t *testing.T) {
	wheels := t.TempDir()
	// Listed from worst to best for CPython 3.11 on manylinux glibc 2.28.
	for _, tags := range []string{
		"py3-none-any",
		"cp311-none-linux_x86_64",
		"cp310-abi3-manylinux_2_17_x86_64",
		"cp311-cp311-manylinux_2_17_x86_64",
		"cp311-cp311-manylinux_2_28_x86_64",
		"cp311-cp311-manylinux_2_34_x86_64", // too new for glibc 2.28
		"cp311-cp311-macosx_11_0_arm64",     // wrong platform
	} {
		nativeWheel(t, wheels, "native", "1.0", tags)
	}
	res, _, err := build(t, testApp(t, "native==1.0\n"), wheels, linuxTarget(t, 11, 11))
	if err != nil {
		t.Fatal(err)
	}
	got := res.Manifest.Distributions[0].Wheels[0].File
	if want := "native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"; got != want {
		t.Fatalf("chose %s, want %s", got, want)
	}
}

func TestMarkersPerABI(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "backport", "1.0")
	pureWheel(t, wheels, "linuxonly", "1.0")
	pureWheel(t, wheels, "maconly", "1.0")
	app := testApp(t, strings.Join([]string{
		`backport==1.0 ; python_version < "3.12"`,
		`linuxonly==1.0 ; sys_platform == "linux"`,
		`maconly==1.0 ; sys_platform == "darwin"`,
	}, "\n")+"\n")
	_, out, err := build(t, app, wheels, linuxTarget(t, 10, 13))
	if err != nil {
		t.Fatal(err)
	}
	names := zipNames(t, out)
	for _, want := range []string{
		"lib/cp310/site-packages/backport/__init__.py",
		"lib/cp311/site-packages/backport/__init__.py",
		"lib/common/site-packages/linuxonly/__init__.py",
	} {
		if !hasName(names, want) {
			t.Errorf("pyz lacks %s", want)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "maconly") || strings.HasPrefix(n, "lib/cp312/site-packages/backport") || strings.HasPrefix(n, "lib/common/site-packages/backport") {
			t.Errorf("pyz holds %s, which its marker excludes", n)
		}
	}
}

func TestTransitiveAndExtras(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "top", "1.0", "helper>=1.0", `fancy==0.3 ; extra == "fancy"`, `never==1.0 ; extra == "other"`)
	pureWheel(t, wheels, "helper", "0.9")
	pureWheel(t, wheels, "helper", "1.1")
	pureWheel(t, wheels, "helper", "1.2")
	pureWheel(t, wheels, "fancy", "0.3")
	res, _, err := build(t, testApp(t, "top[fancy]==1.0\nhelper==1.1\n"), wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range res.Manifest.Distributions {
		got[d.Name] = d.Version
	}
	want := map[string]string{"top": "1.0", "helper": "1.1", "fancy": "0.3"}
	if len(got) != len(want) {
		t.Fatalf("distributions = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	// Without the pin, the newest helper that satisfies >=1.0 wins.
	res, _, err = build(t, testApp(t, "top==1.0\n"), wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Manifest.Distributions {
		if d.Name == "helper" && d.Version != "1.2" {
			t.Errorf("unpinned helper = %s, want 1.2", d.Version)
		}
		if d.Name == "fancy" {
			t.Errorf("fancy installed without its extra")
		}
	}
}

func TestRunsUnderLocalPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: run `go tool mage deps`")
	}
	wheels := t.TempDir()
	pureWheel(t, wheels, "purelib", "1.0")
	_, out, err := build(t, testApp(t, "purelib==1.0\n"), wheels, linuxTarget(t, 10, 14))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, out, "version")
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 pyz version: %v\n%s", err, got)
	}
	if !strings.HasPrefix(string(got), "mathesar 9.9.9\n") {
		t.Fatalf("python3 pyz version printed %q", got)
	}
	got, err = exec.Command(python, out, "no-such-command").CombinedOutput()
	if err == nil || !strings.Contains(string(got), "unknown command") {
		t.Fatalf("unknown command: err=%v output=%q", err, got)
	}
}

func hasName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestAllowMissing: a snapshot may leave out what the wheelhouse lacks, but the manifest
// says so, naming each missing (distribution, ABI, platform); without the option the same
// inputs fail, naming them all.
func TestAllowMissing(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "present", "1.0")
	pureWheel(t, wheels, "needy", "1.0", "helperdep>=2")
	nativeWheel(t, wheels, "native", "2.0", "cp310-cp310-manylinux_2_17_x86_64")
	app := testApp(t, "present==1.0\nnative==2.0\nabsent==3.0\nneedy==1.0\n")
	target := linuxTarget(t, 10, 11)
	if _, _, err := build(t, app, wheels, target); err == nil || !strings.Contains(err.Error(), "absent==3.0") || !strings.Contains(err.Error(), "(cp311, manylinux_2_28_x86_64)") || !strings.Contains(err.Error(), "MATHESAR_ALLOW_MISSING_DEPS=1") {
		t.Fatalf("build without AllowMissing: err = %v, want every missing wheel named and the option mentioned", err)
	}
	out := filepath.Join(t.TempDir(), "mathesar.pyz")
	res, err := Build(context.Background(), Options{AppDir: app, Version: "9.9.9", Wheelhouse: wheels, Target: target, Output: out, AllowMissing: true})
	if err != nil {
		t.Fatalf("build with AllowMissing: %v", err)
	}
	want := []string{
		"absent==3.0 (cp310, manylinux_2_28_x86_64) (cp311, manylinux_2_28_x86_64)",
		"helperdep>=2 (cp310, manylinux_2_28_x86_64) (cp311, manylinux_2_28_x86_64)",
		"native==2.0 (cp311, manylinux_2_28_x86_64)",
	}
	if strings.Join(res.Manifest.Incomplete, "\n") != strings.Join(want, "\n") {
		t.Errorf("Incomplete = %q, want %q", res.Manifest.Incomplete, want)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1], "incomplete") {
		t.Errorf("warnings %q do not say the bundle is incomplete", res.Warnings)
	}
	names := strings.Join(zipNames(t, out), "\n")
	for _, want := range []string{"lib/common/site-packages/present/__init__.py", "lib/common/site-packages/needy/__init__.py", "lib/cp310/site-packages/native/_native.so"} {
		if !strings.Contains(names, want) {
			t.Errorf("the incomplete pyz lacks %s:\n%s", want, names)
		}
	}
	if strings.Contains(names, "lib/cp311/site-packages/native") {
		t.Errorf("the pyz holds native for cp311, which has no wheel:\n%s", names)
	}
}

// TestIdenticalAppFilesShareAnEntry: the front end's build output and its collected copy
// are stored once, yet both paths unpack; Python modules and small files keep their own.
func TestIdenticalAppFilesShareAnEntry(t *testing.T) {
	wheels := t.TempDir()
	pureWheel(t, wheels, "purelib", "1.0")
	app := testApp(t, "purelib==1.0\n")
	asset := strings.Repeat("console.log('built');\n", 100)
	module := strings.Repeat("# same module\n", 100)
	write(t, filepath.Join(app, "mathesar", "static", "mathesar", "index.js"), asset, 0o644)
	write(t, filepath.Join(app, "static", "mathesar", "index.js"), asset, 0o644)
	write(t, filepath.Join(app, "static", "mathesar", "run.sh"), asset, 0o755) // another mode: its own entry
	write(t, filepath.Join(app, "a", "same.py"), module, 0o644)
	write(t, filepath.Join(app, "b", "same.py"), module, 0o644)
	write(t, filepath.Join(app, "a", "tiny.txt"), "x", 0o644)
	write(t, filepath.Join(app, "b", "tiny.txt"), "x", 0o644)
	res, out, err := build(t, app, wheels, linuxTarget(t, 10, 10))
	if err != nil {
		t.Fatal(err)
	}
	names := zipNames(t, out)
	for _, want := range []string{"app/mathesar/static/mathesar/index.js", "app/static/mathesar/run.sh", "app/a/same.py", "app/b/same.py", "app/a/tiny.txt", "app/b/tiny.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("the pyz lacks its own entry %s", want)
		}
	}
	if slices.Contains(names, "app/static/mathesar/index.js") {
		t.Error("the collected copy of index.js has an entry of its own, want it to share the first")
	}
	var shared bundle.File
	for _, f := range res.Manifest.Files {
		if f.Target == "app/static/mathesar/index.js" {
			shared = f
		}
	}
	if shared.Path != "app/mathesar/static/mathesar/index.js" {
		t.Fatalf("app/static/mathesar/index.js is stored at %q, want the shared entry", shared.Path)
	}
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dest := filepath.Join(t.TempDir(), "tree")
	if err := b.Extract(context.Background(), "cp310", dest, nil); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"app/mathesar/static/mathesar/index.js", "app/static/mathesar/index.js"} {
		if got, err := os.ReadFile(filepath.Join(dest, rel)); err != nil || string(got) != asset {
			t.Errorf("unpacked %s: %v (%d bytes), want the asset", rel, err, len(got))
		}
	}
}
