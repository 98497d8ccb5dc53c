package homebrew

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

var update = flag.Bool("update", false, "rewrite testdata/mathesar.rb.golden from the current template (review the diff)")

const (
	fakeVersion = "0.10.1-1"
	fakeBaseURL = "https://downloads.example.org/mathesar/v{{version}}"
)

// distOptions shape a fake dist.
type distOptions struct {
	pythonMin, pythonMax string
	// pyzPlatform, when set, is the platform written into every bundle instead of the
	// tarball's own.
	pyzPlatform [2]string
	noPyz       bool
}

// fakeDist writes four tarballs laid out like GoReleaser's (mathesar/bin/mathesar,
// mathesar/lib/mathesar/mathesar.pyz with a real manifest, completions, a man page, docs)
// and their checksums file. Every byte is fixed, so the golden formula is stable.
func fakeDist(t *testing.T, o distOptions) string {
	t.Helper()
	if o.pythonMin == "" {
		o.pythonMin, o.pythonMax = "3.10", "3.14"
	}
	dir := t.TempDir()
	var sums []string
	for _, p := range platforms {
		goos, goarch := p[0], p[1]
		pyzPlat := bundle.Platform{OS: goos, Arch: goarch, Tags: []string{"any"}}
		if o.pyzPlatform[0] != "" {
			pyzPlat.OS, pyzPlat.Arch = o.pyzPlatform[0], o.pyzPlatform[1]
		}
		pyzPath := filepath.Join(t.TempDir(), "mathesar.pyz")
		m := bundle.Manifest{
			App:      bundle.App{Name: "mathesar", Version: "0.10.1"},
			Python:   bundle.PythonRange{Min: o.pythonMin, Max: o.pythonMax},
			Platform: pyzPlat,
		}
		if err := bundle.WriteForTest(pyzPath, m, map[string][]byte{
			"app/mathesar/__init__.py":         []byte("__version__ = '0.10.1'\n"),
			"lib/cp313/site-packages/x/ext.py": []byte("x = 1\n"),
		}); err != nil {
			t.Fatal(err)
		}
		pyz, err := os.ReadFile(pyzPath)
		if err != nil {
			t.Fatal(err)
		}
		files := []tarFile{
			{"mathesar/bin/mathesar", 0o755, []byte("#!/bin/sh\necho launcher " + goos + "/" + goarch + "\n")},
			{"mathesar/share/bash-completion/completions/mathesar", 0o644, []byte("# bash\n")},
			{"mathesar/share/doc/mathesar/LICENSE", 0o644, []byte("GPL-3.0-or-later\n")},
			{"mathesar/share/doc/mathesar/README.md", 0o644, []byte("# Mathesar\n")},
			{"mathesar/share/fish/vendor_completions.d/mathesar.fish", 0o644, []byte("# fish\n")},
			{"mathesar/share/man/man1/mathesar.1.gz", 0o644, gz(t, []byte(".TH MATHESAR 1\n"))},
			{"mathesar/share/mathesar/systemd/mathesar.service", 0o644, []byte("[Service]\n")},
			{"mathesar/share/zsh/site-functions/_mathesar", 0o644, []byte("#compdef mathesar\n")},
		}
		if !o.noPyz {
			files = append(files, tarFile{"mathesar/lib/mathesar/mathesar.pyz", 0o644, pyz})
		}
		name := TarballName(fakeVersion, goos, goarch)
		data := tarGz(t, files)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sha256Hex(data)+"  "+name)
	}
	sums = append(sums, sha256Hex([]byte("a deb"))+"  mathesar_"+fakeVersion+"_amd64.deb")
	sort.Strings(sums)
	if err := os.WriteFile(filepath.Join(dir, ChecksumsName(fakeVersion)), []byte(strings.Join(sums, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type tarFile struct {
	name string
	mode int64
	data []byte
}

func tarGz(t *testing.T, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // a zero header: no name, no time
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func need(t *testing.T, tools ...string) string {
	t.Helper()
	var first string
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found: run `go tool mage deps` to install the Debian packages the tests need", tool)
		}
		if first == "" {
			first = p
		}
	}
	return first
}

// rubySyntax runs `ruby -c` on a formula.
func rubySyntax(t *testing.T, formula []byte) {
	t.Helper()
	need(t, "ruby")
	path := filepath.Join(t.TempDir(), "mathesar.rb")
	if err := os.WriteFile(path, formula, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ruby", "-c", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Syntax OK") {
		t.Fatalf("ruby -c %s: %v\n%s", path, err, out)
	}
}

func TestRenderGolden(t *testing.T) {
	dist := fakeDist(t, distOptions{})
	got, err := Render(Options{Version: fakeVersion, BaseURL: fakeBaseURL, Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "mathesar.rb.golden")
	if *update {
		if err := writeAtomic(golden, got); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v; create it with `go test ./internal/homebrew -run TestRenderGolden -update`", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the formula differs from %s; if the change is intended, run with -update and review the diff\n%s", golden, got)
	}
	// The golden file must name every tarball's real digest, not just look right.
	for _, p := range platforms {
		data, err := os.ReadFile(filepath.Join(dist, TarballName(fakeVersion, p[0], p[1])))
		if err != nil {
			t.Fatal(err)
		}
		url := "https://downloads.example.org/mathesar/v0.10.1-1/" + TarballName(fakeVersion, p[0], p[1])
		if !bytes.Contains(got, []byte(`url "`+url+`"`)) || !bytes.Contains(got, []byte(`sha256 "`+sha256Hex(data)+`"`)) {
			t.Errorf("%s/%s: no url %s with sha256 %s", p[0], p[1], url, sha256Hex(data))
		}
	}
	rubySyntax(t, got)
}

func TestRenderDefaults(t *testing.T) {
	dist := fakeDist(t, distOptions{})
	got, err := Render(Options{Dist: dist}) // version from the checksums file, default URL and Python
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`version "0.10.1-1"`,
		`url "https://github.com/mathesar-foundation/mathesar-packaging/releases/download/v0.10.1-1/mathesar_0.10.1-1_darwin_arm64.tar.gz"`,
		`depends_on "python@3.13"`,
		`depends_on "postgresql@17"`,
		"CPython 3.10 to 3.14",
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("formula lacks %s", want)
		}
	}
	if got := BaseURLFromEnv(func(string) string { return "" }); got != DefaultBaseURL {
		t.Errorf("BaseURLFromEnv without %s = %s", EnvBaseURL, got)
	}
	if got := BaseURLFromEnv(func(k string) string { return map[string]string{EnvBaseURL: "file:///srv/r"}[k] }); got != "file:///srv/r" {
		t.Errorf("BaseURLFromEnv ignores %s: %s", EnvBaseURL, got)
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name   string
		dist   distOptions
		opts   Options
		break_ func(t *testing.T, dist string)
		want   []string // substrings of the error
	}{
		{name: "missing tarball", break_: func(t *testing.T, dist string) {
			os.Remove(filepath.Join(dist, TarballName(fakeVersion, "linux", "arm64")))
		}, want: []string{"mathesar_0.10.1-1_linux_arm64.tar.gz", "linux/arm64", "mage release"}},
		{name: "tarball changed after the checksums", break_: func(t *testing.T, dist string) {
			appendTo(t, filepath.Join(dist, TarballName(fakeVersion, "darwin", "amd64")), "x")
		}, want: []string{"checksum mismatch", "mathesar_0.10.1-1_darwin_amd64.tar.gz", "_checksums.txt"}},
		{name: "tarball not in the checksums file", break_: func(t *testing.T, dist string) {
			rewrite(t, filepath.Join(dist, ChecksumsName(fakeVersion)), func(s string) string {
				var keep []string
				for _, l := range strings.Split(s, "\n") {
					if !strings.Contains(l, "darwin_arm64") {
						keep = append(keep, l)
					}
				}
				return strings.Join(keep, "\n")
			})
		}, want: []string{"does not list mathesar_0.10.1-1_darwin_arm64.tar.gz"}},
		{name: "malformed checksums line", break_: func(t *testing.T, dist string) {
			appendTo(t, filepath.Join(dist, ChecksumsName(fakeVersion)), "not a checksum\n")
		}, want: []string{"_checksums.txt:", "not `<sha256>  <file name>`"}},
		{name: "no checksums file", break_: func(t *testing.T, dist string) {
			os.Remove(filepath.Join(dist, ChecksumsName(fakeVersion)))
		}, want: []string{"mathesar_0.10.1-1_checksums.txt", "mage release"}},
		{name: "python newer than the bundle", dist: distOptions{pythonMin: "3.10", pythonMax: "3.12"},
			want: []string{"python@3.13 is outside the bundle's CPython range 3.10-3.12", "darwin_arm64.tar.gz"}},
		{name: "python older than the bundle", opts: Options{Python: "3.9"},
			want: []string{"python@3.9 is outside the bundle's CPython range 3.10-3.14"}},
		{name: "python not X.Y", opts: Options{Python: "python@3.13"}, want: []string{`python "python@3.13"`}},
		{name: "bundle for another platform", dist: distOptions{pyzPlatform: [2]string{"linux", "amd64"}},
			want: []string{"mathesar_0.10.1-1_darwin_arm64.tar.gz holds a bundle built for linux/amd64"}},
		{name: "tarball without the bundle", dist: distOptions{noPyz: true},
			want: []string{"darwin_arm64.tar.gz lacks", "mathesar/lib/mathesar/mathesar.pyz"}},
		{name: "version with a quote", opts: Options{Version: `1"; system "x`}, want: []string{"characters a formula cannot hold"}},
		{name: "base URL with interpolation", opts: Options{BaseURL: "https://x/#{ENV}"}, want: []string{"download URL", EnvBaseURL}},
		{name: "base URL not http", opts: Options{BaseURL: "ftp://x/v{{version}}"}, want: []string{"https://"}},
		{name: "two releases in dist", break_: func(t *testing.T, dist string) {
			os.WriteFile(filepath.Join(dist, ChecksumsName("0.9.0-1")), nil, 0o644)
		}, opts: Options{Version: "-"}, want: []string{"found 2 checksums files"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dist := fakeDist(t, tc.dist)
			if tc.break_ != nil {
				tc.break_(t, dist)
			}
			o := tc.opts
			o.Dist = dist
			if o.Version == "-" {
				o.Version = ""
			} else if o.Version == "" {
				o.Version = fakeVersion
			}
			out, err := Render(o)
			if err == nil {
				t.Fatalf("rendered a formula from bad input:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, werr := Write(dist, o); werr == nil {
				t.Error("Write succeeded where Render failed")
			}
			if _, serr := os.Stat(filepath.Join(dist, FormulaPath)); serr == nil {
				t.Error("a failed Write left a formula behind")
			}
		})
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func rewrite(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWrite(t *testing.T) {
	dist := fakeDist(t, distOptions{})
	o := Options{Version: fakeVersion, BaseURL: fakeBaseURL}
	path, err := Write(dist, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dist, "homebrew", "Formula", "mathesar.rb"); path != want {
		t.Errorf("Write wrote %s, want %s", path, want)
	}
	o.Dist = dist
	want, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the written formula differs from Render's")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// harnessPlatforms is the table the Ruby harness checks: the formula's os/arch names, the
// URL and sha256 each platform must get, and the tarball to install.
func harnessPlatforms(t *testing.T, dist, version, base string) []map[string]string {
	t.Helper()
	names := map[string]string{"darwin": "macos", "linux": "linux", "arm64": "arm", "amd64": "intel"}
	var out []map[string]string
	for _, p := range platforms {
		tarball := filepath.Join(dist, TarballName(version, p[0], p[1]))
		data, err := os.ReadFile(tarball)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, map[string]string{
			"os": names[p[0]], "arch": names[p[1]],
			"url":    strings.ReplaceAll(base, "{{version}}", version) + "/" + filepath.Base(tarball),
			"sha256": sha256Hex(data), "tarball": tarball,
		})
	}
	return out
}

// runHarness renders the formula for dist and runs packaging/homebrew/test/formula_harness.rb
// on it. It returns the kegs the harness installed, by "<os>-<arch>".
func runHarness(t *testing.T, dist, version string, runTest map[string]string) map[string]string {
	t.Helper()
	need(t, "ruby", "tar")
	formula, err := Render(Options{Version: version, BaseURL: fakeBaseURL, Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	formulaPath := filepath.Join(work, "mathesar.rb")
	if err := os.WriteFile(formulaPath, formula, 0o644); err != nil {
		t.Fatal(err)
	}
	expected := map[string]any{
		"version": version, "python": DefaultPython, "postgresql": PostgreSQL,
		"platforms": harnessPlatforms(t, dist, version, fakeBaseURL),
	}
	if runTest != nil {
		expected["run_test"] = runTest
	}
	js, _ := json.Marshal(expected)
	expectedPath := filepath.Join(work, "expected.json")
	if err := os.WriteFile(expectedPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	kegs := filepath.Join(work, "kegs")
	cmd := exec.Command("ruby", filepath.Join("..", "..", "packaging", "homebrew", "test", "formula_harness.rb"), formulaPath, expectedPath, kegs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("formula harness: %v\n%s%s", err, stderr.String(), stdout.String())
	}
	out := map[string]string{}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("harness output %q: %v", stdout.String(), err)
	}
	if len(out) != len(platforms) {
		t.Fatalf("harness installed %d kegs, want %d: %v", len(out), len(platforms), out)
	}
	return out
}

func TestFormulaHarness(t *testing.T) {
	dist := fakeDist(t, distOptions{})
	kegs := runHarness(t, dist, fakeVersion, nil)
	for plat, keg := range kegs {
		// Each keg got its own platform's tarball: the fake launcher says which.
		data, err := os.ReadFile(filepath.Join(keg, "libexec", "bin", "mathesar"))
		if err != nil {
			t.Fatal(err)
		}
		goos := map[string]string{"macos": "darwin", "linux": "linux"}[strings.Split(plat, "-")[0]]
		goarch := map[string]string{"arm": "arm64", "intel": "amd64"}[strings.Split(plat, "-")[1]]
		if !strings.Contains(string(data), goos+"/"+goarch) {
			t.Errorf("%s keg holds the launcher %q", plat, data)
		}
	}
}

// TestFormulaHarnessCatchesBadFormulas makes sure the harness fails on formulas that
// break what it checks.
func TestFormulaHarnessCatchesBadFormulas(t *testing.T) {
	need(t, "ruby", "tar")
	dist := fakeDist(t, distOptions{})
	good, err := Render(Options{Version: fakeVersion, BaseURL: fakeBaseURL, Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new, want string }{
		{"swapped arm and intel", "on_arm do", "on_intel_x do", "url"},
		{"setup that overwrites", `"setup", "--quiet"`, `"setup", "--connection-string", "postgres://x/y"`, "could overwrite"},
		{"setup only on the first run", `system bin/"mathesar", "setup", "--quiet"`, `system bin/"mathesar", "setup", "--quiet" unless (var/"mathesar-done").exist?; (var/"mathesar-done").mkpath`, "post_install ran system 1 times"},
		{"no service", "  service do\n", "  def self.unused = nil\n  unused do\n", "no service block"},
		{"no keep_alive", "keep_alive true", "keep_alive false", "keep_alive"},
		{"pyz in the wrong place", `libexec.install "bin", "lib"`, `libexec.install "bin"; prefix.install "lib"`, "libexec/lib/mathesar/mathesar.pyz"},
		{"no caveats URL", "http://localhost:8000/", "http://localhost:9000/", "localhost:8000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("the formula no longer contains %q; update this case", tc.old)
			}
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			if tc.name == "swapped arm and intel" {
				bad = strings.ReplaceAll(bad, "on_intel do", "on_arm do")
				bad = strings.ReplaceAll(bad, "on_intel_x do", "on_intel do")
			}
			work := t.TempDir()
			formulaPath := filepath.Join(work, "mathesar.rb")
			os.WriteFile(formulaPath, []byte(bad), 0o644)
			js, _ := json.Marshal(map[string]any{"version": fakeVersion, "python": DefaultPython, "postgresql": PostgreSQL,
				"platforms": harnessPlatforms(t, dist, fakeVersion, fakeBaseURL)})
			expectedPath := filepath.Join(work, "expected.json")
			os.WriteFile(expectedPath, js, 0o644)
			out, err := exec.Command("ruby", filepath.Join("..", "..", "packaging", "homebrew", "test", "formula_harness.rb"), formulaPath, expectedPath, filepath.Join(work, "kegs")).CombinedOutput()
			if err == nil {
				t.Fatalf("the harness accepted a broken formula:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("harness output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// realDist returns the repository's dist/ and its version when `go tool mage release` has
// made one.
func realDist(t *testing.T) (string, string) {
	t.Helper()
	dist, err := filepath.Abs(filepath.Join("..", "..", "dist"))
	if err != nil {
		t.Fatal(err)
	}
	version, err := versionFromChecksums(dist)
	if err != nil {
		t.Skipf("no release in %s (%v): run `go tool mage release` first", dist, err)
	}
	return dist, version
}

func TestRenderRealDist(t *testing.T) {
	dist, version := realDist(t)
	got, err := Render(Options{Dist: dist})
	if err != nil {
		t.Fatal(err)
	}
	sums, err := readChecksums(filepath.Join(dist, ChecksumsName(version)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms {
		name := TarballName(version, p[0], p[1])
		if !bytes.Contains(got, []byte(`sha256 "`+sums[name]+`"`)) || !bytes.Contains(got, []byte("/"+name+`"`)) {
			t.Errorf("formula lacks %s with sha256 %s", name, sums[name])
		}
	}
	rubySyntax(t, got)
}

// TestRealDistInstall installs the real tarballs with the formula through the harness, runs
// the formula's own test block with this machine's launcher, and checks that the installed
// launcher finds its config and data in the fake prefix's etc and var with no variable set.
func TestRealDistInstall(t *testing.T) {
	dist, version := realDist(t)
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("the release has no launcher for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	// The interpreter itself, not a pyenv shim, which picks a Python by the name it is run as.
	out, err := exec.Command(need(t, "python3"), "-c", "import os, sys; print(os.path.realpath(sys.executable))").Output()
	if err != nil {
		t.Fatalf("find python3's executable: %v", err)
	}
	python := strings.TrimSpace(string(out))
	arch := map[string]string{"amd64": "intel", "arm64": "arm"}[runtime.GOARCH]
	kegs := runHarness(t, dist, version, map[string]string{"os": "linux", "arch": arch, "python": python})
	keg := kegs["linux-"+arch]
	prefix := filepath.Dir(filepath.Dir(filepath.Dir(keg))) // <prefix>/Cellar/mathesar/<version>
	cmd := exec.Command(filepath.Join(keg, "bin", "mathesar"), "config", "show")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mathesar config show: %v\n%s", err, out)
	}
	for _, want := range []string{
		"config file: " + filepath.Join(prefix, "etc", "mathesar", "mathesar.env"),
		filepath.Join(prefix, "var", "mathesar", "media"),
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config show from the keg lacks %q:\n%s", want, out)
		}
	}
}
