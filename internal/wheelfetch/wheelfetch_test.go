package wheelfetch

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
)

// The targets of the fetch tests: two platforms × two CPythons keep pip's runs few.
var (
	testPlatforms      = []string{"linux/amd64", "darwin/arm64"}
	testMin, testMax   = 10, 11
	linuxTag, macosTag = newestTag("linux", "amd64"), newestTag("darwin", "arm64")
)

func newestTag(goos, goarch string) string {
	p, err := pytags.DefaultPlatform(goos, goarch)
	if err != nil {
		panic(err)
	}
	return p.PlatformTags()[0]
}

// requirePip skips when no python3 with pip is installed, as on a machine that only builds
// from a wheelhouse made elsewhere.
func requirePip(t *testing.T) {
	t.Helper()
	if err := exec.Command("python3", "-c", "import pip._internal.cli.main").Run(); err != nil {
		t.Skipf("python3 with pip is needed to fetch wheels: %v", err)
	}
}

func testOptions(t *testing.T, reqs string, log *bytes.Buffer) Options {
	o := Options{
		Requirements: filepath.Join("testdata", reqs, "requirements.txt"),
		CacheRoot:    filepath.Join(t.TempDir(), "wheels"),
		Platforms:    testPlatforms,
		MinMinor:     testMin,
		MaxMinor:     testMax,
	}
	if log != nil {
		o.Log = log
	}
	return o
}

// assertNoWheelhouse fails when root holds anything but lock files: a failed fetch must
// leave neither a completed directory nor its temporary one.
func assertNoWheelhouse(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("a failed fetch left %s in the cache", filepath.Join(root, e.Name()))
		}
	}
}

func TestFetchDownloadsEveryTarget(t *testing.T) {
	ix := startTestIndex(t)
	var log bytes.Buffer
	o := testOptions(t, "ok", &log)

	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("first fetch: %s\n%s", res.Duration, log.String())
	key, err := Key(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(o.CacheRoot, key); res.Dir != want || res.Cached {
		t.Errorf("first fetch: Dir %s, Cached %v; want %s, false", res.Dir, res.Cached, want)
	}

	want := []TargetWheels{
		{Target: "darwin/arm64", ABI: "cp310", Wheels: []string{"alpha-1.0-cp310-cp310-macosx_11_0_arm64.whl",
			"beta-2.0-py3-none-any.whl", "delta-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"}},
		{Target: "darwin/arm64", ABI: "cp311", Wheels: []string{"alpha-1.0-cp311-abi3-macosx_11_0_arm64.whl",
			"beta-2.0-py3-none-any.whl", "delta-1.0-py3-none-any.whl"}},
		{Target: "linux/amd64", ABI: "cp310", Wheels: []string{"alpha-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			"beta-2.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"}},
		{Target: "linux/amd64", ABI: "cp311", Wheels: []string{"alpha-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
			"beta-2.0-py3-none-any.whl"}},
	}
	if !slices.EqualFunc(res.Targets, want, func(a, b TargetWheels) bool {
		return a.Target == b.Target && a.ABI == b.ABI && slices.Equal(a.Wheels, b.Wheels)
	}) {
		t.Errorf("per-target wheels:\n got %+v\nwant %+v", res.Targets, want)
	}
	var union []string
	for _, tw := range want {
		union = append(union, tw.Wheels...)
	}
	slices.Sort(union)
	union = slices.Compact(union)
	got, err := listWheels(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, union) || res.Wheels != len(union) {
		t.Errorf("wheelhouse holds %d: %v\nwant %v", res.Wheels, got, union)
	}
	for _, line := range []string{"wheels: linux/amd64 cp310: 3 wheels (", "wheels: darwin/arm64 cp311: 3 wheels ("} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
	if _, err := os.Stat(filepath.Join(res.Dir, completeMarker)); err != nil {
		t.Errorf("no completion marker: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(o.CacheRoot, ".*.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}

	before := ix.requests.Load()
	again, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if n := ix.requests.Load() - before; n != 0 || !again.Cached || again.Dir != res.Dir || again.Wheels != res.Wheels {
		t.Errorf("second fetch: %d requests, Cached %v, Dir %s, %d wheels; want 0, true, %s, %d",
			n, again.Cached, again.Dir, again.Wheels, res.Dir, res.Wheels)
	}
}

func TestFetchReportsAllMissing(t *testing.T) {
	startTestIndex(t)
	var log bytes.Buffer
	o := testOptions(t, "missing", &log)

	mac := func(pkg, version, abi string) Missing {
		return Missing{Package: pkg, Version: version, ABI: abi, Platform: macosTag, Target: "darwin/arm64"}
	}
	want := []Missing{
		mac("ghost", ">=1", "cp310"), mac("ghost", ">=1", "cp311"),
		mac("linux-only", "1.0", "cp310"), mac("linux-only", "1.0", "cp311"),
		mac("linuxonly2", "3.0", "cp310"), mac("linuxonly2", "3.0", "cp311"),
		{Package: "linuxonly2", Version: "3.0", ABI: "cp311", Platform: linuxTag, Target: "linux/amd64"},
	}

	_, err := Fetch(context.Background(), o)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Fetch: got %v, want a *MissingError\nlog:\n%s", err, log.String())
	}
	t.Logf("strict fetch:\n%s\n%v", log.String(), err)
	if !slices.Equal(me.Missing, want) {
		t.Errorf("missing:\n got %+v\nwant %+v", me.Missing, want)
	}
	for _, s := range []string{
		"  linux-only==1.0\n    darwin/arm64 (" + macosTag + "): cp310, cp311\n",
		"  linuxonly2==3.0\n    darwin/arm64 (" + macosTag + "): cp310, cp311\n    linux/amd64 (" + linuxTag + "): cp311\n",
		"  ghost>=1\n",
		"MATHESAR_ALLOW_MISSING_DEPS=1",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	assertNoWheelhouse(t, o.CacheRoot)

	// A snapshot completes anyway, with every wheel that does exist. One target keeps the
	// pip runs few.
	o.AllowMissing = true
	o.Platforms, o.MinMinor = []string{"darwin/arm64"}, 11
	log.Reset()
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("Fetch with AllowMissing: %v\nlog:\n%s", err, log.String())
	}
	wantSnapshot := slices.DeleteFunc(slices.Clone(want), func(m Missing) bool { return m.Target != "darwin/arm64" || m.ABI != "cp311" })
	if !slices.Equal(res.Missing, wantSnapshot) || res.Cached {
		t.Errorf("AllowMissing: Cached %v, Result.Missing\n got %+v\nwant %+v", res.Cached, res.Missing, wantSnapshot)
	}
	got, err := listWheels(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWheels := []string{"alpha-1.0-cp311-abi3-macosx_11_0_arm64.whl", "needsghost-1.0-py3-none-any.whl"}
	if !slices.Equal(got, wantWheels) {
		t.Errorf("snapshot wheelhouse:\n got %v\nwant %v", got, wantWheels)
	}
	if !strings.Contains(log.String(), "wheels: warning: 3 wheel(s) do not exist") {
		t.Errorf("the snapshot's log does not warn about the missing wheels:\n%s", log.String())
	}
	if again, err := Fetch(context.Background(), o); err != nil || !again.Cached || !slices.Equal(again.Missing, wantSnapshot) {
		t.Errorf("second snapshot fetch: Cached %v, missing %v, err %v; want the cached snapshot", again.Cached, again.Missing, err)
	}

	// A strict fetch must not take the snapshot for a whole wheelhouse: it asks the index
	// again (here an unreachable one, so it fails fast).
	o.AllowMissing = false
	usePipIndex(t, closedURL(t))
	if res, err := Fetch(context.Background(), o); err == nil || res.Cached {
		t.Errorf("strict fetch over a snapshot: Cached %v, err %v; want it to run pip", res.Cached, err)
	}
}

// closedURL returns an index URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/simple/"
}
