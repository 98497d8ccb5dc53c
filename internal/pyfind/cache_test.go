package pyfind

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// wrapperFarm makes PATH dir holding python3.11, a real executable script that runs the
// real CPython 3.11, so the test controls the mtime and size the cache is keyed on.
func wrapperFarm(t *testing.T) (dir string, rp realPython) {
	rp = findReal(t, 3, 11)
	dir = farm(t, map[string]string{"python3.11": fmt.Sprintf("#!/bin/sh\nexec %s \"$@\"\n", rp.path)})
	return dir, rp
}

func readCache(t *testing.T, file string) cacheData {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d cacheData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("cache file is not valid JSON: %v\n%s", err, b)
	}
	return d
}

func TestCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		// between runs the first Find and the second, against the wrapper and cache file
		change     func(t *testing.T, wrapper, cache string)
		wantProbes int64
		// fake, when set, is written into the cache entry and must come back unprobed
		fake bool
	}{
		{name: "hit does not run the interpreter", change: func(*testing.T, string, string) {}, wantProbes: 0, fake: true},
		{name: "mtime change reprobes", wantProbes: 1, fake: true, change: func(t *testing.T, w, _ string) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(w, later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "size change reprobes", wantProbes: 1, fake: true, change: func(t *testing.T, w, _ string) {
			fi, _ := os.Stat(w)
			b, _ := os.ReadFile(w)
			// Same mtime, one more byte: only the size can tell.
			if err := os.WriteFile(w, append(b, '\n'), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(w, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "corrupt cache is ignored and rewritten", wantProbes: 1, change: func(t *testing.T, _, c string) {
			if err := os.WriteFile(c, []byte(`{"version":1,"entries":{"/x":`), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other cache version is ignored", wantProbes: 1, change: func(t *testing.T, _, c string) {
			if err := os.WriteFile(c, []byte(`{"version":99,"entries":{}}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "deleted cache", wantProbes: 1, change: func(t *testing.T, _, c string) {
			if err := os.Remove(c); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, rp := wrapperFarm(t)
			wrapper := filepath.Join(dir, "python3.11")
			n := countProbes(t)
			o := opts(dir)
			o.CacheFile = filepath.Join(t.TempDir(), "sub", "python-probes.json")

			ip, err := Find(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if n.Load() != 1 || ip.Version != rp.version {
				t.Fatalf("first Find: %d probes, %+v; want 1 probe of %v", n.Load(), *ip, rp.version)
			}
			d := readCache(t, o.CacheFile)
			e, ok := d.Entries[wrapper]
			if !ok || e.Interpreter.Version != rp.version {
				t.Fatalf("cache has no entry for %s: %+v", wrapper, d)
			}
			fakeV := [3]int{3, 11, 999}
			if tc.fake {
				e.Interpreter.Version = fakeV
				d.Entries[wrapper] = e
				b, _ := json.Marshal(d)
				if err := os.WriteFile(o.CacheFile, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			tc.change(t, wrapper, o.CacheFile)

			n.Store(0)
			ip, err = Find(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Load(); got != tc.wantProbes {
				t.Errorf("second Find probed %d times, want %d", got, tc.wantProbes)
			}
			want := rp.version
			if tc.wantProbes == 0 {
				want = fakeV // only a cache hit can know this version
			}
			if ip.Version != want || ip.Path != wrapper {
				t.Errorf("second Find = %+v, want version %v at %s", *ip, want, wrapper)
			}
			if d := readCache(t, o.CacheFile); d.Entries[wrapper].Interpreter.Version != want {
				t.Errorf("cache after second Find holds %v, want %v", d.Entries[wrapper].Interpreter.Version, want)
			}
		})
	}
}

// A failed probe is remembered (a pyenv shim of an uninstalled version fails the same way
// on every launch, and costs seconds each time) until the executable changes; a timeout is
// not, because a loaded machine must not turn a good interpreter bad for good.
func TestCacheStoresFailuresButNotTimeouts(t *testing.T) {
	dir := farm(t, map[string]string{"python3.12": "#!/bin/sh\nexit 1\n"})
	n := countProbes(t)
	o := opts(dir)
	o.CacheFile = filepath.Join(t.TempDir(), "c.json")
	for i := 0; i < 2; i++ {
		if _, err := Find(context.Background(), o); err == nil || !strings.Contains(err.Error(), "exit status 1") {
			t.Fatalf("Find = %v, want the broken interpreter's failure", err)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("probed %d times in two Finds, want 1: the failure should be remembered", got)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "python3.12"), later, later); err != nil {
		t.Fatal(err)
	}
	Find(context.Background(), o)
	if got := n.Load(); got != 2 {
		t.Errorf("probed %d times after the executable changed, want 2", got)
	}

	timeouts := 0
	orig := probeFunc
	probeFunc = func(ctx context.Context, path string) (*Interpreter, error) {
		timeouts++
		return nil, fmt.Errorf("run %s: no answer: %w", path, errProbeTimeout)
	}
	defer func() { probeFunc = orig }()
	o.CacheFile = filepath.Join(t.TempDir(), "timeouts.json")
	Find(context.Background(), o)
	Find(context.Background(), o)
	if timeouts != 2 {
		t.Errorf("a timed-out probe ran %d times in two Finds, want 2: timeouts must not be remembered", timeouts)
	}
}

func TestCacheDisabled(t *testing.T) {
	dir, _ := wrapperFarm(t)
	n := countProbes(t)
	for i := 0; i < 2; i++ {
		if _, err := Find(context.Background(), opts(dir)); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.Load(); got != 2 {
		t.Errorf("probed %d times with CacheFile \"\", want 2", got)
	}
}

// Launchers started together share one cache file; each must leave it whole.
func TestCacheConcurrentWriters(t *testing.T) {
	dir, rp := wrapperFarm(t)
	cacheDir := t.TempDir()
	o := opts(dir)
	o.CacheFile = filepath.Join(cacheDir, "c.json")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip, err := Find(context.Background(), o)
			if err == nil && ip.Version != rp.version {
				err = fmt.Errorf("got %v, want %v", ip.Version, rp.version)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if d := readCache(t, o.CacheFile); d.Entries[filepath.Join(dir, "python3.11")].Interpreter.Version != rp.version {
		t.Errorf("cache after concurrent writers = %+v", d)
	}
	left, _ := filepath.Glob(filepath.Join(cacheDir, "*"))
	if len(left) != 1 {
		t.Errorf("cache directory holds %v, want only c.json (no temp files left)", left)
	}
}

func TestCacheUnwritableDoesNotFail(t *testing.T) {
	dir, rp := wrapperFarm(t)
	o := opts(dir)
	// A regular file where the cache's directory should be: saving must fail quietly.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.CacheFile = filepath.Join(blocker, "c.json")
	ip, err := Find(context.Background(), o)
	if err != nil || ip.Version != rp.version {
		t.Fatalf("Find with an unwritable cache = %+v, %v; want %v", ip, err, rp.version)
	}
}
