package wheelfetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// deepDists: top needs ghost (absent) and middle, which needs phantom (absent) and leaf.
// Markers are decided for the target: skipped never applies, darwinonly on macOS only,
// extraonly through the extra requirements.txt asks for.
var deepDists = []dist{
	{name: "top", version: "1.0", tags: []string{"py3-none-any"}, extras: []string{"more"}, requires: []string{
		"ghost>=1",
		"middle==2.0",
		`extraonly==1.0; extra == "more"`,
		`darwinonly>=1; sys_platform == "darwin"`,
		`skipped==1.0; sys_platform == "win32"`,
	}},
	{name: "middle", version: "2.0", tags: []string{"py3-none-any"}, requires: []string{"phantom", "leaf>=1"}},
	{name: "leaf", version: "1.0", tags: []string{"py3-none-any"}},
	{name: "leaf", version: "2.0", tags: []string{"py3-none-any"}},
	{name: "extraonly", version: "1.0", tags: []string{"py3-none-any"}},
	{name: "darwinonly", version: "1.0", tags: []string{"py3-none-any"}},
}

// TestFetchKeepsWhatResolvesBesideMissingDependencies: when a line's dependency has no
// wheel, a snapshot still holds the line, its other dependencies and theirs, and lists each
// missing dependency once per target; a strict fetch still fails naming it.
func TestFetchKeepsWhatResolvesBesideMissingDependencies(t *testing.T) {
	requirePip(t)
	sampleIndex := func(t *testing.T, dir string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := samplewheels.BuildWheelhouse(ctx, dir, samplewheels.Options{})
		if errors.Is(err, samplewheels.ErrToolchain) {
			t.Skipf("cannot build the sample wheelhouse here: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		helpers, err := filepath.Glob(filepath.Join(dir, "samplehelper-*.whl"))
		if err != nil || len(helpers) == 0 {
			t.Fatalf("the sample wheelhouse has no samplehelper wheel to remove (%v)", err)
		}
		for _, h := range helpers {
			if err := os.Remove(h); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name         string
		reqs         string                         // testdata directory
		index        func(t *testing.T, dir string) // writes the index's wheels into dir
		allowMissing bool                           // else the fetch must fail with a *MissingError
		minMinor     int                            // testMin unless set, to keep pip's runs few
		missing      [][2]string                    // package and version, missing on every target
		wheels       func(target string) []string   // "project version" per target, sorted
	}{
		{
			name: "sample app, snapshot", reqs: "transitive", index: sampleIndex, allowMissing: true,
			missing: [][2]string{{"samplehelper", ">=1.0"}},
			wheels: func(string) []string {
				return []string{"gunicorn 23.0.0+sample", "samplefancy 0.3", "samplepure 1.2.0"}
			},
		},
		{
			name: "sample app, strict", reqs: "transitive", index: sampleIndex, minMinor: testMax,
			missing: [][2]string{{"samplehelper", ">=1.0"}},
		},
		{
			name: "dependencies of dependencies, snapshot", reqs: "deep", allowMissing: true, minMinor: testMax,
			index:   func(t *testing.T, dir string) { buildDists(t, dir, deepDists) },
			missing: [][2]string{{"ghost", ">=1"}, {"phantom", ""}},
			wheels: func(target string) []string {
				if target == "darwin/arm64" {
					return []string{"darwinonly 1.0", "extraonly 1.0", "leaf 1.0", "middle 2.0", "top 1.0"}
				}
				return []string{"extraonly 1.0", "leaf 1.0", "middle 2.0", "top 1.0"}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.index(t, dir)
			usePipIndex(t, serveIndex(t, dir, false).url)
			var log bytes.Buffer
			o := testOptions(t, tc.reqs, &log)
			o.AllowMissing = tc.allowMissing
			if tc.minMinor != 0 {
				o.MinMinor = tc.minMinor
			}

			var want []Missing
			for _, p := range testPlatforms {
				for minor := o.MinMinor; minor <= o.MaxMinor; minor++ {
					for _, m := range tc.missing {
						want = append(want, Missing{Package: m[0], Version: m[1], ABI: fmt.Sprintf("cp3%d", minor),
							Platform: map[string]string{"linux/amd64": linuxTag, "darwin/arm64": macosTag}[p], Target: p})
					}
				}
			}
			want = sortMissing(want)

			res, err := Fetch(context.Background(), o)
			if !tc.allowMissing {
				var me *MissingError
				if !errors.As(err, &me) {
					t.Fatalf("Fetch: got %v, want a *MissingError\nlog:\n%s", err, log.String())
				}
				if !slices.Equal(me.Missing, want) {
					t.Errorf("missing:\n got %+v\nwant %+v", me.Missing, want)
				}
				assertNoWheelhouse(t, o.CacheRoot)
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v\nlog:\n%s", err, log.String())
			}
			t.Logf("snapshot fetch:\n%s", log.String())
			if !slices.Equal(res.Missing, want) {
				t.Errorf("Result.Missing:\n got %+v\nwant %+v", res.Missing, want)
			}
			if n := len(testPlatforms) * (o.MaxMinor - o.MinMinor + 1); len(res.Targets) != n {
				t.Errorf("%d targets in the result, want %d: %+v", len(res.Targets), n, res.Targets)
			}
			var union []string
			for _, tw := range res.Targets {
				if got, want := projects(t, tw.Wheels), tc.wheels(tw.Target); !slices.Equal(got, want) {
					t.Errorf("%s %s wheels: got %v, want %v", tw.Target, tw.ABI, got, want)
				}
				union = append(union, tw.Wheels...)
			}
			slices.Sort(union)
			union = slices.Compact(union)
			got, err := listWheels(res.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, union) {
				t.Errorf("the wheelhouse holds %v, the targets name %v", got, union)
			}
		})
	}
}

// projects maps wheel file names to "project version", sorted.
func projects(t *testing.T, wheels []string) []string {
	t.Helper()
	var out []string
	for _, w := range wheels {
		fn, err := wheel.ParseFilename(w)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fn.Project()+" "+fn.Version)
	}
	slices.Sort(out)
	return out
}
