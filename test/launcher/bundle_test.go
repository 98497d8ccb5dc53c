package launcher_test

import (
	"archive/zip"
	"context"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
)

func TestVersionWithoutPython(t *testing.T) {
	requireSuite(t)
	home := sharedDir(t, self(t))
	l := launcher{as: self(t), env: userEnv(home)}.with("PATH=/nonexistent")
	r := l.mustRun(t, 30*time.Second, "version")
	for _, want := range []string{
		"mathesar 0.1.0+sample (sample app)\n",
		"build " + manifest.BuildID[:12],
		"bundle " + pyzPath,
		"CPython 3.10-3.14, linux/amd64",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, r)
		}
	}
}

// tamperedCopy copies the bundle into dir, flipping one byte in the middle of the data
// of an app/ entry (the app tree is unpacked for every ABI, so the damage is always read).
// It prefers a stored entry, whose byte then changes the file's content itself.
func tamperedCopy(t *testing.T, dir string) (string, string) {
	t.Helper()
	data, err := os.ReadFile(pyzPath)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(pyzPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var victim *zip.File
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "app/") || f.CompressedSize64 == 0 {
			continue
		}
		if victim == nil || (f.Method == zip.Store && victim.Method != zip.Store) {
			victim = f
		}
	}
	if victim == nil {
		t.Fatal("the bundle has no non-empty app/ entry to damage")
	}
	off, err := victim.DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	data[off+int64(victim.CompressedSize64/2)] ^= 0x01
	out := filepath.Join(dir, "tampered.pyz")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	method := "deflated"
	if victim.Method == zip.Store {
		method = "stored"
	}
	return out, victim.Name + " (" + method + ")"
}

func truncatedCopy(t *testing.T, dir string) (string, string) {
	t.Helper()
	data, err := os.ReadFile(pyzPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "truncated.pyz")
	if err := os.WriteFile(out, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return out, "the first half of the bundle"
}

func TestTamperedBundleRefused(t *testing.T) {
	requireSuite(t)
	failBundle := regexp.MustCompile(`(?m)^FAIL\s+bundle\s+\S`)
	for _, tc := range []struct {
		name   string
		damage func(*testing.T, string) (string, string)
	}{
		{"flipped byte", tamperedCopy},
		{"truncated", truncatedCopy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := appUser(t)
			home := sharedDir(t, acct)
			pyz, what := tc.damage(t, home)
			t.Logf("damaged: %s", what)
			cache := filepath.Join(home, "cache", "mathesar")
			l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_PYZ="+pyz, "MATHESAR_CACHE_DIR="+cache)

			r := l.run(t, 60*time.Second, "python", "--", "-c", "print('python ran')")
			t.Logf("%s", r)
			if r.code == 0 || strings.Contains(r.stdout, "python ran") {
				t.Fatalf("a damaged bundle must not run: %s", r)
			}
			if !strings.Contains(r.stderr, "damaged") || !strings.Contains(r.stderr, "reinstall") {
				t.Errorf("stderr does not say the bundle is damaged and to reinstall: %s", r)
			}
			// No tree may be handed out for this build id, nor be left half-written.
			entries, err := os.ReadDir(filepath.Join(cache, manifest.BuildID))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("the cache holds %s for the damaged bundle", filepath.Join(cache, manifest.BuildID, e.Name()))
				}
			}

			d := l.run(t, 60*time.Second, "doctor", "--skip", "database,service,port")
			if d.code != 1 {
				t.Errorf("doctor: want exit 1: %s", d)
			}
			if !failBundle.MatchString(d.stdout) || !strings.Contains(d.stdout, "fix: ") {
				t.Errorf("doctor does not report FAIL bundle with a fix: %s", d)
			}
		})
	}
}

func TestNoCompatiblePython(t *testing.T) {
	requireSuite(t)
	old, _ := filepath.Glob("/root/.pyenv/versions/3.8*/bin/python3.8")
	for _, tc := range []struct {
		name, python string
		reason       string // what the error says about this interpreter
	}{
		// The interpreter must really have been probed: its version shows it.
		{name: "too old", python: first(old), reason: "(CPython 3.8."},
		{name: "missing", python: "/nonexistent/python3", reason: "/nonexistent/python3: not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.python == "" {
				t.Skip("no CPython 3.8 under /root/.pyenv/versions")
			}
			// The test's own user: root's pyenv interpreter is not readable by others.
			acct := self(t)
			if _, err := os.Stat(tc.python); err != nil && !os.IsNotExist(err) {
				t.Skipf("%s: %v", tc.python, err)
			}
			home := sharedDir(t, acct)
			l := launcher{as: acct, env: userEnv(home)}.with("PATH=/nonexistent", "MATHESAR_PYTHON="+tc.python)
			r := l.run(t, 60*time.Second, "python", "--", "-c", "print('python ran')")
			t.Logf("%s", r)
			if r.code == 0 || strings.Contains(r.stdout, "python ran") {
				t.Fatalf("want a refusal: %s", r)
			}
			for _, want := range []string{"MATHESAR_PYTHON=" + tc.python, "3.10 to 3.14", tc.reason, "Install one: "} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, r)
				}
			}
			// The install hint is a command for this OS, not only a sentence.
			hint := regexp.MustCompile(`Install one: (.*(apt|dnf|zypper|brew) install \S+|install CPython .*)`)
			if !hint.MatchString(r.stderr) {
				t.Errorf("no install command in: %s", r)
			}
		})
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func TestConcurrentFirstRuns(t *testing.T) {
	requireSuite(t)
	const n = 8
	acct := appUser(t)
	home := sharedDir(t, acct)
	cache := filepath.Join(home, "cache", "mathesar")
	l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_CACHE_DIR=" + cache)
	script := "import samplespeedups, sys; print(samplespeedups.checksum(b'abc')); print(samplespeedups._speedups.__file__)"
	want := strconv.FormatUint(uint64(adler32.Checksum([]byte("abc"))), 10)

	// All start together so they race for the empty cache.
	results := make([]result, n)
	errs := make([]error, n)
	var ready, wg sync.WaitGroup
	ready.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Wait()
			// runE, not run: only the test goroutine may stop the test.
			results[i], errs[i] = l.runE(90*time.Second, "", "python", "--", "-c", script)
		}()
	}
	start := time.Now()
	ready.Done()
	wg.Wait()
	t.Logf("%d first runs took %.1fs together", n, time.Since(start).Seconds())

	buildDir := filepath.Join(cache, manifest.BuildID)
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("launcher %d: %v", i, errs[i])
			continue
		}
		if r.code != 0 {
			t.Errorf("launcher %d: %s", i, r)
			continue
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || lines[0] != want || !strings.HasPrefix(lines[1], buildDir+"/") {
			t.Errorf("launcher %d printed %q; want %s and the extension's path under %s", i, r.stdout, want, buildDir)
		}
	}
	entries, err := os.ReadDir(buildDir)
	if err != nil {
		t.Fatal(err)
	}
	var trees []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", filepath.Join(buildDir, e.Name()))
		}
		if e.IsDir() {
			trees = append(trees, e.Name())
		}
	}
	if len(trees) != 1 || !regexp.MustCompile(`^cp3\d+$`).MatchString(trees[0]) {
		t.Fatalf("want exactly one unpacked tree <cache>/<build id>/<abi>, found %q in %s", trees, buildDir)
	}
	top, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		if strings.HasPrefix(e.Name(), ".tmp-") || (e.IsDir() && e.Name() != manifest.BuildID) {
			t.Errorf("unexpected %s in the cache", filepath.Join(cache, e.Name()))
		}
	}
}

// TestIncompleteBundle: a snapshot built with MATHESAR_ALLOW_MISSING_DEPS=1 runs, but the
// launcher says at every start which dependencies are missing, and doctor warns.
func TestIncompleteBundle(t *testing.T) {
	requireSuite(t)
	acct := appUser(t)
	home := sharedDir(t, acct)
	wheels := filepath.Join(home, "wheels")
	paths, err := samplewheels.BuildWheelhouse(context.Background(), wheels, samplewheels.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if strings.Contains(filepath.Base(p), "samplespeedups") {
			os.Remove(p)
		}
	}
	built, err := pipeline.BuildZipapps(context.Background(), pipeline.Config{
		Root: filepath.Join(home, "build"), Wheelhouse: wheels, AllowMissing: true,
		Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	pyz := built.Outputs[0]
	if err := os.Chmod(pyz, 0o644); err != nil {
		t.Fatal(err)
	}
	l := launcher{as: acct, env: userEnv(home)}.with("MATHESAR_PYZ="+pyz, "MATHESAR_CACHE_DIR="+filepath.Join(home, "cache"))
	const missing = "samplespeedups==1.0.0 (cp310, manylinux_2_28_x86_64)"
	r := l.run(t, 60*time.Second, "python", "--", "-c", "print('python ran')")
	if r.code != 0 || !strings.Contains(r.stdout, "python ran") || !strings.Contains(r.stderr, "this bundle is incomplete, built without "+missing) {
		t.Fatalf("python on an incomplete bundle: want it to run and warn about %s: %s", missing, r)
	}
	d := l.run(t, 60*time.Second, "doctor", "--skip", "database,service,port,config")
	if !regexp.MustCompile(`(?m)^warn\s+bundle\s.*built without samplespeedups==1\.0\.0`).MatchString(d.stdout) {
		t.Errorf("doctor does not warn about the missing dependency: %s", d)
	}
}
