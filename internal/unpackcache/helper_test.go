package unpackcache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

// The tests re-run the test binary as separate processes, because locks, renames and
// kills between processes are what this package is for. In a helper process TestMain
// runs one Ensure and prints what happened instead of running the tests.
const (
	envHelper  = "UNPACKCACHE_TEST_HELPER" // set to "ensure"
	envPyz     = "UNPACKCACHE_TEST_PYZ"
	envRoot    = "UNPACKCACHE_TEST_ROOT"
	envABI     = "UNPACKCACHE_TEST_ABI"
	envBarrier = "UNPACKCACHE_TEST_BARRIER" // wait for this file to exist before Ensure
	envSlow    = "UNPACKCACHE_TEST_SLOW"    // sleep this long after each unpacked file
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "ensure" {
		os.Exit(helperEnsure())
	}
	os.Exit(m.Run())
}

// helperEnsure prints "extracting" after the first unpacked file, then "dir <path>" and
// "result unpacked" or "result cached", or "error <message>".
func helperEnsure() int {
	if barrier := os.Getenv(envBarrier); barrier != "" {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(barrier); err == nil {
				break
			}
			if time.Now().After(deadline) {
				fmt.Println("error barrier never opened")
				return 1
			}
		}
	}
	slow, _ := time.ParseDuration(os.Getenv(envSlow))
	files := 0
	testHookFileDone = func() {
		files++
		if files == 1 {
			fmt.Println("extracting")
		}
		time.Sleep(slow)
	}
	b, err := bundle.Open(os.Getenv(envPyz))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer b.Close()
	c := &Cache{Root: os.Getenv(envRoot)}
	dir, err := c.Ensure(context.Background(), b, os.Getenv(envABI), EnsureOptions{Progress: os.Stderr})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("dir", dir)
	if files > 0 {
		fmt.Println("result unpacked")
	} else {
		fmt.Println("result cached")
	}
	return 0
}

type helperOpts struct {
	pyz, root, abi, barrier string
	slow                    time.Duration
}

func helperCmd(t *testing.T, o helperOpts) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"=ensure", envPyz+"="+o.pyz, envRoot+"="+o.root,
		envABI+"="+o.abi, envBarrier+"="+o.barrier, envSlow+"="+o.slow.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// parseHelper returns the dir and result lines of a helper's output.
func parseHelper(t *testing.T, out string) (dir, result string) {
	t.Helper()
	for line := range strings.Lines(out) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "dir":
			dir = v
		case "result":
			result = v
		}
	}
	return dir, result
}

// testFiles is a bundle big enough that a slowed unpack can be caught in the middle.
func testFiles() map[string][]byte {
	files := map[string][]byte{
		"app/manage.py":                         []byte("print('manage')\n"),
		"lib/cp311/site-packages/yaml/_yaml.so": bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 4096),
		"lib/cp312/site-packages/yaml/_yaml.so": bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 2}, 4096),
		"lib/common/bin/gunicorn":               []byte("#!/usr/bin/env python3\n"),
	}
	for i := range 40 {
		files[fmt.Sprintf("lib/common/site-packages/pkg%d/mod%d.py", i%5, i)] = []byte(strings.Repeat(fmt.Sprintf("x = %d\n", i), i+1))
	}
	return files
}

func writePyz(t *testing.T, version string) (string, *bundle.Bundle) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mathesar.pyz")
	m := bundle.Manifest{
		App:    bundle.App{Name: "mathesar", Version: version, Sample: true},
		Python: bundle.PythonRange{Min: "3.11", Max: "3.12"},
		Files:  []bundle.File{{Path: "lib/common/bin/gunicorn", Mode: 0o755}},
	}
	if err := bundle.WriteForTest(p, m, testFiles()); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return p, b
}

// checkTree fails unless dir holds exactly the tree of abi, with the marker.
func checkTree(t *testing.T, dir, abi string) {
	t.Helper()
	want := map[string][]byte{}
	for zp, data := range testFiles() {
		switch {
		case strings.HasPrefix(zp, "app/"):
			want[zp] = data
		case strings.HasPrefix(zp, "lib/common/"), strings.HasPrefix(zp, "lib/"+abi+"/"):
			want[strings.SplitN(zp, "/", 3)[2]] = data
		}
	}
	got := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == markerName {
			return nil
		}
		got++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if w, ok := want[filepath.ToSlash(rel)]; !ok || !bytes.Equal(w, data) {
			t.Errorf("%s: unexpected file or contents", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("%s holds %d files, want %d", dir, got, len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, markerName)); err != nil {
		t.Errorf("no marker: %v", err)
	}
}

// tmpDirs lists the temporary directories in a build directory.
func tmpDirs(t *testing.T, buildDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(buildDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
