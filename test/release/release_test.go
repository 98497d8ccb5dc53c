// Package release_test makes a signed snapshot release of the sample app with the real
// pipeline (pyz, GoReleaser, nFPM) and reads every artifact back: the deb with
// blakesmith/ar, the rpm with cavaliergopher/rpm (both through internal/pkgread), the
// tarballs with archive/tar; then it runs lintian and rpmlint on the packages.
package release_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pkgread"
	"github.com/mathesar-foundation/mathesar-packaging/internal/release"
)

var (
	repoRoot  string
	publicKey []byte
	result    *release.Result
	setupErr  error
	version   = "0.1.0+sample-1"
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	os.Exit(runWithRelease(m))
}

// runWithRelease makes one signed release for the whole package: it is the expensive part.
func runWithRelease(m *testing.M) int {
	if _, err := exec.LookPath("git"); err != nil {
		setupErr = fmt.Errorf("git not found: run `go tool mage deps`")
		return m.Run()
	}
	keyDir, err := os.MkdirTemp("", "release-key-")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(keyDir)
	secret, public, err := pgpsign.NewTestKey("Mathesar release test", "release-test@example.org")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	publicKey = public
	keyPath := filepath.Join(keyDir, "signing-key.asc")
	if err := os.WriteFile(keyPath, secret, 0o600); err != nil {
		setupErr = err
		return m.Run()
	}
	var log bytes.Buffer
	cfg := pipeline.Config{Root: repoRoot, Platforms: pipeline.DefaultPlatforms, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &log}
	result, err = release.Run(context.Background(), release.Options{Pipeline: cfg, SigningKey: keyPath, Log: &log})
	if err != nil {
		setupErr = fmt.Errorf("release: %v\n%s", err, log.String())
	}
	return m.Run()
}

func needRelease(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func dist(name string) string { return filepath.Join(repoRoot, "dist", name) }

func TestDistListing(t *testing.T) {
	needRelease(t)
	var names []string
	for _, a := range result.Artifacts {
		rel, _ := filepath.Rel(filepath.Join(repoRoot, "dist"), a)
		names = append(names, rel)
	}
	want := []string{
		"mathesar-" + version + ".aarch64.rpm", "mathesar-" + version + ".x86_64.rpm",
		"mathesar_" + version + "_amd64.deb", "mathesar_" + version + "_arm64.deb",
		"mathesar_" + version + "_checksums.txt",
		"mathesar_" + version + "_darwin_amd64.tar.gz", "mathesar_" + version + "_darwin_arm64.tar.gz",
		"mathesar_" + version + "_linux_amd64.tar.gz", "mathesar_" + version + "_linux_arm64.tar.gz",
		"zipapp/darwin_amd64/mathesar.pyz", "zipapp/darwin_arm64/mathesar.pyz",
		"zipapp/linux_amd64/mathesar.pyz", "zipapp/linux_arm64/mathesar.pyz",
		"homebrew/Formula/mathesar.rb",
		"apt/dists/stable/InRelease", "apt/dists/stable/Release.gpg", "apt/mathesar-archive-keyring.gpg",
		"apt/dists/stable/main/binary-amd64/Packages.gz", "apt/dists/stable/main/binary-arm64/Packages.gz",
		"apt/pool/main/m/mathesar/mathesar_" + version + "_amd64.deb",
		"yum/repodata/repomd.xml", "yum/repodata/repomd.xml.asc", "yum/RPM-GPG-KEY-mathesar", "yum/mathesar.repo",
		"yum/Packages/mathesar-" + version + ".x86_64.rpm",
	}
	for _, w := range want {
		if !contains(names, w) {
			t.Errorf("dist/ lacks %s; has %v", w, names)
		}
		if strings.Count(w, "/") == 0 && !contains(names, w+".asc") {
			t.Errorf("dist/ lacks the signature %s.asc", w)
		}
	}
	t.Logf("dist/:\n  %s", strings.Join(names, "\n  "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSignaturesVerify(t *testing.T) {
	needRelease(t)
	sigs, _ := filepath.Glob(dist("*.asc"))
	if len(sigs) < 9 {
		t.Fatalf("only %d signatures", len(sigs))
	}
	for _, sig := range sigs {
		data, err := os.Open(strings.TrimSuffix(sig, ".asc"))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := os.Open(sig)
		if _, err := pgpsign.Verify(bytes.NewReader(publicKey), data, s); err != nil {
			t.Errorf("%s: %v", filepath.Base(sig), err)
		}
		data.Close()
		s.Close()
	}
}

func TestChecksums(t *testing.T) {
	needRelease(t)
	f, err := os.Open(dist("mathesar_" + version + "_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad checksum line %q", sc.Text())
		}
		data, err := os.ReadFile(dist(name))
		if err != nil {
			t.Errorf("checksums list %s: %v", name, err)
			continue
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 differs from the checksums file", name)
		}
		n++
	}
	if n < 8 {
		t.Errorf("checksums cover %d files, want the 4 packages and 4 tarballs at least", n)
	}
}

// wantFiles is the layout every package must have (path, mode).
var wantFiles = map[string]fs.FileMode{
	"/usr/bin/mathesar":                                  0o755,
	"/usr/lib/mathesar/mathesar.pyz":                     0o644,
	"/usr/lib/systemd/system/mathesar.service":           0o644,
	"/usr/lib/sysusers.d/mathesar.conf":                  0o644,
	"/usr/lib/tmpfiles.d/mathesar.conf":                  0o644,
	"/etc/mathesar/mathesar.env":                         0o640,
	"/usr/share/bash-completion/completions/mathesar":    0o644,
	"/usr/share/fish/vendor_completions.d/mathesar.fish": 0o644,
	"/usr/share/man/man1/mathesar.1.gz":                  0o644,
}

func TestDebPackages(t *testing.T) {
	needRelease(t)
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			d, err := pkgread.ReadDeb(dist("mathesar_" + version + "_" + arch + ".deb"))
			if err != nil {
				t.Fatal(err)
			}
			fields := map[string]string{"Package": "mathesar", "Version": version, "Architecture": arch, "Depends": "python3 (>= 3.10)", "Recommends": "postgresql (>= 13)", "Section": "web", "Priority": "optional"}
			for k, want := range fields {
				if got := d.Control[k]; got != want {
					t.Errorf("control %s = %q, want %q", k, got, want)
				}
			}
			if !contains(d.Conffiles, "/etc/mathesar/mathesar.env") {
				t.Errorf("conffiles = %v, want /etc/mathesar/mathesar.env", d.Conffiles)
			}
			if len(d.MD5Sums) == 0 {
				t.Error("no md5sums")
			}
			for _, script := range []string{"postinst", "prerm"} {
				f, ok := d.ControlFiles[script]
				if !ok || !strings.Contains(string(f.Data), "mathesar package-hook") {
					t.Errorf("%s does not call `mathesar package-hook`", script)
				}
			}
			if f, ok := d.ControlFiles["postrm"]; !ok || !strings.Contains(string(f.Data), "purge") {
				t.Error("postrm does not handle purge")
			}
			files := map[string]fs.FileMode{}
			for p, m := range wantFiles {
				files[p] = m
			}
			files["/usr/share/doc/mathesar/copyright"] = 0o644
			files["/usr/share/doc/mathesar/changelog.Debian.gz"] = 0o644
			files["/usr/share/zsh/vendor-completions/_mathesar"] = 0o644
			files["/usr/share/lintian/overrides/mathesar"] = 0o644
			for p, mode := range files {
				f, ok := d.File(p)
				if !ok {
					t.Errorf("deb lacks %s", p)
					continue
				}
				if f.Mode.Perm() != mode || f.UID != 0 || f.GID != 0 || (f.User != "root" && f.User != "") {
					t.Errorf("%s: mode %o owner %s (%d:%d), want %o root", p, f.Mode.Perm(), f.User, f.UID, f.GID, mode)
				}
			}
			for _, dir := range []string{"/var/lib/mathesar", "/etc/mathesar"} {
				if f, ok := d.File(dir); !ok || !f.Mode.IsDir() || f.Mode.Perm() != 0o750 {
					t.Errorf("%s: %+v, want a 0750 directory", dir, f)
				}
			}
			bin, _ := d.File("/usr/bin/mathesar")
			checkELF(t, bin.Data, arch)
		})
	}
}

func checkELF(t *testing.T, data []byte, arch string) {
	t.Helper()
	if len(data) < 20 || string(data[1:4]) != "ELF" {
		t.Fatalf("/usr/bin/mathesar is not an ELF binary")
	}
	machine := int(data[18]) | int(data[19])<<8
	want := map[string]int{"amd64": 62, "arm64": 183}[arch]
	if machine != want {
		t.Errorf("/usr/bin/mathesar is for ELF machine %d, want %d (%s)", machine, want, arch)
	}
}

func TestRpmPackages(t *testing.T) {
	needRelease(t)
	for goarch, arch := range map[string]string{"amd64": "x86_64", "arm64": "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			r, err := pkgread.ReadRpm(dist("mathesar-" + version + "." + arch + ".rpm"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != "mathesar" || r.Version != "0.1.0+sample" || r.Release != "1" || r.Arch != arch {
				t.Errorf("rpm is %s-%s-%s.%s", r.Name, r.Version, r.Release, r.Arch)
			}
			if !contains(r.Requires, "python3 >= 3.10") {
				t.Errorf("Requires = %v, want python3 >= 3.10", r.Requires)
			}
			if !contains(r.Recommends, "postgresql-server >= 13") {
				t.Errorf("Recommends = %v, want postgresql-server >= 13", r.Recommends)
			}
			for _, s := range []string{"postin", "preun"} {
				if !strings.Contains(r.Scripts[s], "mathesar package-hook") {
					t.Errorf("%%%s does not call `mathesar package-hook`: %q", s, r.Scripts[s])
				}
			}
			files := map[string]fs.FileMode{}
			for p, m := range wantFiles {
				files[p] = m
			}
			files["/usr/share/zsh/site-functions/_mathesar"] = 0o644
			files["/usr/share/licenses/mathesar/LICENSE"] = 0o644
			for p, mode := range files {
				f, ok := r.File(p)
				if !ok {
					t.Errorf("rpm lacks %s", p)
					continue
				}
				if f.Mode.Perm() != mode || f.Owner != "root" {
					t.Errorf("%s: mode %o owner %s, want %o root", p, f.Mode.Perm(), f.Owner, mode)
				}
			}
			env, _ := r.File("/etc/mathesar/mathesar.env")
			if !env.Config || !env.NoReplace {
				t.Errorf("/etc/mathesar/mathesar.env: config=%t noreplace=%t, want both", env.Config, env.NoReplace)
			}
			bin, _ := r.File("/usr/bin/mathesar")
			checkELF(t, bin.Data, goarch)
		})
	}
}

func TestTarballs(t *testing.T) {
	needRelease(t)
	for _, p := range pipeline.DefaultPlatforms {
		osArch := strings.ReplaceAll(p, "/", "_")
		t.Run(osArch, func(t *testing.T) {
			path := dist("mathesar_" + version + "_" + osArch + ".tar.gz")
			entries := readTarball(t, path)
			for _, want := range []string{
				"mathesar/bin/mathesar", "mathesar/lib/mathesar/mathesar.pyz", "mathesar/share/doc/mathesar/LICENSE",
				"mathesar/share/doc/mathesar/README.md", "mathesar/share/mathesar/systemd/mathesar.service",
				"mathesar/share/bash-completion/completions/mathesar", "mathesar/share/zsh/site-functions/_mathesar",
				"mathesar/share/fish/vendor_completions.d/mathesar.fish", "mathesar/share/man/man1/mathesar.1.gz",
			} {
				h, ok := entries[want]
				if !ok {
					t.Errorf("%s lacks %s", filepath.Base(path), want)
					continue
				}
				if h.Uname != "root" && h.Uid != 0 {
					t.Errorf("%s is owned by %s/%d", want, h.Uname, h.Uid)
				}
			}
			if runtime.GOOS+"_"+runtime.GOARCH == osArch {
				unpackAndRun(t, path)
			}
		})
	}
}

func readTarball(t *testing.T, path string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(h.Name, "./")] = h
	}
}

// unpackAndRun unpacks the tarball with tar(1) and asks the launcher inside for its version,
// which it answers from the bundle beside it.
func unpackAndRun(t *testing.T, path string) {
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "mathesar", "bin", "mathesar"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("mathesar version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "mathesar 0.1.0+sample (sample app)") || !strings.Contains(string(out), "launcher "+version) {
		t.Errorf("mathesar version printed %q", out)
	}
}

var lintianTag = regexp.MustCompile(`(?m)^([EWIXP]): (\S+)(?: \S+)?: (\S+)(.*)$`)

func TestLintian(t *testing.T) {
	needRelease(t)
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatal("lintian not found: run `go tool mage deps`")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		deb := dist("mathesar_" + version + "_" + arch + ".deb")
		out, _ := exec.Command("lintian", "--no-tag-display-limit", deb).CombinedOutput()
		counts := map[string]int{}
		for _, m := range lintianTag.FindAllStringSubmatch(string(out), -1) {
			counts[m[1]]++
		}
		t.Logf("lintian %s: %d errors, %d warnings\n%s", filepath.Base(deb), counts["E"], counts["W"], out)
		if counts["E"] > 0 || counts["W"] > 0 {
			t.Errorf("lintian %s: %d errors, %d warnings", filepath.Base(deb), counts["E"], counts["W"])
		}
	}
}

var rpmlintSummary = regexp.MustCompile(`(\d+) packages and \d+ specfiles checked; (\d+) errors, (\d+) warnings`)

func TestRpmlint(t *testing.T) {
	needRelease(t)
	if _, err := exec.LookPath("rpmlint"); err != nil {
		t.Fatal("rpmlint not found: run `go tool mage deps`")
	}
	// The rpms are signed with the test's throwaway key; import it as an admin would
	// (`rpm --import`), into a private rpm database, so rpmlint can check the signature.
	dbDir := t.TempDir()
	pub := filepath.Join(dbDir, "key.asc")
	os.WriteFile(pub, publicKey, 0o644)
	if out, err := exec.Command("rpm", "--define", "_dbpath "+filepath.Join(dbDir, "db"), "--import", pub).CombinedOutput(); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	for _, arch := range []string{"x86_64", "aarch64"} {
		rpm := dist("mathesar-" + version + "." + arch + ".rpm")
		out, err := exec.Command("rpm", "--define", "_dbpath "+filepath.Join(dbDir, "db"), "-K", rpm).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "signatures OK") {
			t.Errorf("rpm -K %s: %v\n%s", filepath.Base(rpm), err, out)
		}
		lint := exec.Command("rpmlint", "-r", filepath.Join(repoRoot, "packaging", "rpm", "rpmlintrc"), rpm)
		lint.Env = append(os.Environ(), "HOME="+dbDir)
		os.WriteFile(filepath.Join(dbDir, ".rpmmacros"), []byte("%_dbpath "+filepath.Join(dbDir, "db")+"\n"), 0o644)
		out, _ = lint.CombinedOutput()
		m := rpmlintSummary.FindStringSubmatch(string(out))
		t.Logf("rpmlint %s:\n%s", filepath.Base(rpm), out)
		if m == nil {
			t.Fatalf("rpmlint printed no summary")
		}
		if m[2] != "0" {
			t.Errorf("rpmlint %s: %s errors", filepath.Base(rpm), m[2])
		}
	}
}

func TestGoReleaserCheck(t *testing.T) {
	cmd := exec.Command("go", "tool", "-modfile=tools/go.mod", "goreleaser", "check")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "MATHESAR_VERSION=0.0.0", "MATHESAR_PKG_RELEASE=1", "MATHESAR_MTIME=2026-01-01T00:00:00Z", "SOURCE_DATE_EPOCH=1767225600", "MATHESAR_COMMIT=0000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
}
