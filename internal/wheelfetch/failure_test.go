package wheelfetch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFetchFailureLeavesNoWheelhouse: whatever stops a fetch, the cache holds no directory
// a later build could take for a whole wheelhouse, and the error says what to do.
func TestFetchFailureLeavesNoWheelhouse(t *testing.T) {
	requirePip(t)
	wheels := t.TempDir()
	buildDists(t, wheels, testDists)

	tests := []struct {
		name string
		// setup prepares the environment and returns the options' Python and a function run
		// while Fetch runs (nil: none).
		setup   func(t *testing.T, cancel context.CancelFunc) (python string, during func())
		wantErr []string
		wantIs  error
	}{
		{
			name: "unreachable index",
			setup: func(t *testing.T, _ context.CancelFunc) (string, func()) {
				usePipIndex(t, closedURL(t))
				return "", nil
			},
			wantErr: []string{"pip download for ", "Could not fetch URL", "MATHESAR_WHEELHOUSE=dir"},
		},
		{
			name: "interrupted while downloading",
			setup: func(t *testing.T, cancel context.CancelFunc) (string, func()) {
				ix := serveIndex(t, wheels, true)
				usePipIndex(t, ix.url)
				return "", func() {
					select {
					case <-ix.fileHit:
					case <-time.After(30 * time.Second):
						t.Error("pip never started a download")
					}
					cancel()
				}
			},
			wantErr: []string{"interrupted"},
			wantIs:  context.Canceled,
		},
		{
			name: "python without pip",
			setup: func(t *testing.T, _ context.CancelFunc) (string, func()) {
				venv := filepath.Join(t.TempDir(), "venv")
				if out, err := exec.Command("python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
					t.Skipf("cannot make a venv without pip: %v: %s", err, out)
				}
				return filepath.Join(venv, "bin", "python"), nil
			},
			wantErr: []string{"has no pip", "python3-pip"},
		},
		{
			name: "no python",
			setup: func(t *testing.T, _ context.CancelFunc) (string, func()) {
				return filepath.Join(t.TempDir(), "python3"), nil
			},
			wantErr: []string{"not found", "python3-pip"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			python, during := tc.setup(t, cancel)
			var log bytes.Buffer
			o := testOptions(t, "ok", &log)
			o.Python = python
			done := make(chan struct{})
			if during != nil {
				go func() { defer close(done); during() }()
			} else {
				close(done)
			}
			res, err := Fetch(ctx, o)
			cancel()
			<-done
			if err == nil {
				t.Fatalf("Fetch succeeded (%+v); want an error", res)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%v", s, err)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if res.Dir != "" {
				t.Errorf("a failed fetch returned Dir %s", res.Dir)
			}
			assertNoWheelhouse(t, o.CacheRoot)
		})
	}
}

// TestFetchKeepsNoPartialDirectory: a directory under the key's name without the
// completion marker (a crash of an older fetch, a hand-made copy) is never used as is.
func TestFetchKeepsNoPartialDirectory(t *testing.T) {
	startTestIndex(t)
	o := testOptions(t, "ok", nil)
	o.Platforms, o.MinMinor = []string{"linux/amd64"}, 11
	key, err := Key(o)
	if err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(o.CacheRoot, key)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(partial, "stray-1.0-py3-none-any.whl")
	if err := os.WriteFile(stray, []byte("not a wheel"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cached {
		t.Error("a directory without the completion marker was taken as cached")
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial directory's file survived the fetch: %v", err)
	}
	got, err := listWheels(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alpha-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", "beta-2.0-py3-none-any.whl"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("wheelhouse holds %v, want %v", got, want)
	}
}
