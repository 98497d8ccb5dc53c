package wheelfetch

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	base := Options{
		Requirements: filepath.Join("testdata", "ok", "requirements.txt"),
		Platforms:    []string{"linux/amd64", "darwin/arm64"},
		MinMinor:     10,
		MaxMinor:     11,
	}
	baseKey, err := Key(base)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(baseKey) {
		t.Fatalf("Key = %q, want 16 hex digits", baseKey)
	}

	// The same bytes under another path must give the same key: the key is about content.
	copied := filepath.Join(t.TempDir(), "requirements.txt")
	data, err := os.ReadFile(base.Requirements)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, data, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		change   func(o *Options)
		sameKey  bool
		errMatch string
	}{
		{name: "same content elsewhere", change: func(o *Options) { o.Requirements = copied }, sameKey: true},
		{name: "platform order", change: func(o *Options) { o.Platforms = []string{"darwin/arm64", " linux/amd64", "darwin/arm64"} }, sameKey: true},
		{name: "cache root and interpreter", change: func(o *Options) { o.CacheRoot, o.Python = "/elsewhere", "/usr/bin/python3" }, sameKey: true},
		{name: "changed pin", change: func(o *Options) { o.Requirements = filepath.Join("testdata", "changed", "requirements.txt") }},
		{name: "added platform", change: func(o *Options) { o.Platforms = append(o.Platforms, "linux/arm64") }},
		{name: "other platform", change: func(o *Options) { o.Platforms = []string{"linux/amd64", "darwin/amd64"} }},
		{name: "wider range", change: func(o *Options) { o.MaxMinor = 12 }},
		{name: "narrower range", change: func(o *Options) { o.MinMinor = 11 }},
		{name: "no platforms", change: func(o *Options) { o.Platforms = nil }, errMatch: "MATHESAR_PLATFORMS"},
		{name: "bad platform", change: func(o *Options) { o.Platforms = []string{"windows/amd64"} }, errMatch: "use linux or darwin"},
		{name: "inverted range", change: func(o *Options) { o.MinMinor, o.MaxMinor = 12, 10 }, errMatch: "MATHESAR_PYTHON_RANGE"},
		{name: "missing file", change: func(o *Options) { o.Requirements = filepath.Join(t.TempDir(), "nope.txt") }, errMatch: "check the path"},
		{name: "url requirement", change: func(o *Options) { o.Requirements = writeReqs(t, "x @ https://example.com/x.whl\n") }, errMatch: "pin x==<version>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Platforms = append([]string(nil), base.Platforms...)
			tc.change(&o)
			got, err := Key(o)
			if tc.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("Key = %q, %v; want an error containing %q", got, err, tc.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == baseKey) != tc.sameKey {
				t.Errorf("Key = %s, base %s; want same=%v", got, baseKey, tc.sameKey)
			}
		})
	}
}

// TestKeyFollowsIncludes: a pin changed in a file included with -r changes the key although
// the top file's bytes stay the same.
func TestKeyFollowsIncludes(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, "requirements.txt")
	inc := filepath.Join(dir, "base.txt")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(top, "-r base.txt\nbeta==2.0\n")
	o := Options{Requirements: top, Platforms: []string{"linux/amd64"}, MinMinor: 10, MaxMinor: 10}
	var keys []string
	for _, pin := range []string{"alpha==1.0\n", "alpha==0.9\n", "alpha==1.0\n"} {
		write(inc, pin)
		k, err := Key(o)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if keys[0] == keys[1] || keys[0] != keys[2] {
		t.Errorf("keys for alpha 1.0, 0.9, 1.0 in the include: %v; want the first and last equal and the middle different", keys)
	}
}

func writeReqs(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMissingErrorMessage(t *testing.T) {
	m := func(pkg, version, abi, target, platform string) Missing {
		return Missing{Package: pkg, Version: version, ABI: abi, Target: target, Platform: platform}
	}
	tests := []struct {
		name    string
		missing []Missing
		want    string
	}{
		{
			name: "grouped by package then target, CPythons in numeric order",
			missing: []Missing{
				m("psycopg-binary", "3.2.10", "cp310", "linux/arm64", "manylinux_2_28_aarch64"),
				m("Pillow", "12.1.1", "cp314", "darwin/amd64", "macosx_13_0_x86_64"),
				m("psycopg-binary", "3.2.10", "cp39", "linux/arm64", "manylinux_2_28_aarch64"),
				m("psycopg-binary", "3.2.10", "cp311", "darwin/amd64", "macosx_13_0_x86_64"),
				m("psycopg-binary", "3.2.10", "cp310", "linux/arm64", "manylinux_2_28_aarch64"),
			},
			want: "the package index has no wheel for 2 requirement(s) on some targets:\n" +
				"  Pillow==12.1.1\n" +
				"    darwin/amd64 (macosx_13_0_x86_64): cp314\n" +
				"  psycopg-binary==3.2.10\n" +
				"    darwin/amd64 (macosx_13_0_x86_64): cp311\n" +
				"    linux/arm64 (manylinux_2_28_aarch64): cp39, cp310\n",
		},
		{
			name: "unpinned dependencies",
			missing: []Missing{
				m("ghost", ">=1,<2", "cp312", "linux/amd64", "manylinux_2_28_x86_64"),
				m("anything", "", "cp312", "linux/amd64", "manylinux_2_28_x86_64"),
			},
			want: "the package index has no wheel for 2 requirement(s) on some targets:\n" +
				"  anything (any version)\n" +
				"    linux/amd64 (manylinux_2_28_x86_64): cp312\n" +
				"  ghost>=1,<2\n" +
				"    linux/amd64 (manylinux_2_28_x86_64): cp312\n",
		},
	}
	const fix = "the package publishes no wheel for these targets: build one, drop the target with " +
		"MATHESAR_PLATFORMS/MATHESAR_PYTHON_RANGE, or for a snapshot set MATHESAR_ALLOW_MISSING_DEPS=1"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := &MissingError{Missing: sortMissing(tc.missing)}
			if got := err.Error(); got != tc.want+fix {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tc.want+fix)
			}
		})
	}
}
