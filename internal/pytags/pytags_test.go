package pytags

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current code")

// tagCase is one target: the positions below were worked out by hand from packaging's
// rules (counts: platform tags P; cpython_tags 3P + (minor-2)P; compatible_tags
// (minor+2)P + 1 + (minor+2)).
type tagCase struct {
	name   string
	minor  int
	p      Platform
	first5 []string
	total  int
	at     map[string]int // tag -> expected position
	absent []string       // tags the target must not accept
}

var cases = []tagCase{
	{
		name:  "cp310-linux-amd64-glibc2.17",
		minor: 10,
		p:     Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 17}},
		first5: []string{
			"cp310-cp310-manylinux_2_17_x86_64", "cp310-cp310-manylinux2014_x86_64",
			"cp310-cp310-manylinux_2_16_x86_64", "cp310-cp310-manylinux_2_15_x86_64",
			"cp310-cp310-manylinux_2_14_x86_64",
		},
		total: 404, // P=17: 11*17 + 12*17 + 1 + 12
		at: map[string]int{
			"cp310-cp310-manylinux_2_12_x86_64": 6,
			"cp310-cp310-manylinux2010_x86_64":  7,
			"cp310-cp310-manylinux1_x86_64":     15,
			"cp310-cp310-linux_x86_64":          16,
			"cp310-abi3-manylinux_2_17_x86_64":  17,
			"cp39-abi3-manylinux2014_x86_64":    52,
			"cp32-abi3-linux_x86_64":            186,
			"py310-none-manylinux_2_17_x86_64":  187,
			"cp310-none-any":                    391,
			"py3-none-any":                      393,
			"py30-none-any":                     403,
		},
		absent: []string{"cp311-abi3-manylinux_2_17_x86_64", "cp310-cp310-manylinux_2_28_x86_64", "cp310-cp310-musllinux_1_1_x86_64"},
	},
	{
		name:  "cp311-linux-arm64-glibc2.28",
		minor: 11,
		p:     Platform{OS: "linux", Arch: "arm64", Glibc: [2]int{2, 28}},
		first5: []string{
			"cp311-cp311-manylinux_2_28_aarch64", "cp311-cp311-manylinux_2_27_aarch64",
			"cp311-cp311-manylinux_2_26_aarch64", "cp311-cp311-manylinux_2_25_aarch64",
			"cp311-cp311-manylinux_2_24_aarch64",
		},
		total: 364, // P=14: 12*14 + 13*14 + 1 + 13
		at: map[string]int{
			"cp311-cp311-manylinux_2_17_aarch64": 11,
			"cp311-cp311-manylinux2014_aarch64":  12,
			"cp311-cp311-linux_aarch64":          13,
			"cp311-abi3-manylinux_2_17_aarch64":  25,
			"py3-none-any":                       352,
			"py30-none-any":                      363,
		},
		absent: []string{"cp311-cp311-manylinux_2_16_aarch64", "cp311-cp311-manylinux2010_aarch64", "cp311-cp311-manylinux1_aarch64", "cp311-cp311-manylinux_2_28_x86_64"},
	},
	{
		name:  "cp314-linux-amd64-glibc2.28",
		minor: 14,
		p:     Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 28}},
		first5: []string{
			"cp314-cp314-manylinux_2_28_x86_64", "cp314-cp314-manylinux_2_27_x86_64",
			"cp314-cp314-manylinux_2_26_x86_64", "cp314-cp314-manylinux_2_25_x86_64",
			"cp314-cp314-manylinux_2_24_x86_64",
		},
		total: 885, // P=28: 15*28 + 16*28 + 1 + 16
		at: map[string]int{
			"cp314-abi3-manylinux2014_x86_64":  40,
			"cp314-none-manylinux1_x86_64":     82,
			"cp311-abi3-manylinux_2_17_x86_64": 151,
			"py3-none-any":                     870,
			"py30-none-any":                    884,
		},
		absent: []string{"cp314-cp314t-manylinux_2_28_x86_64", "cp314-cp314-manylinux_2_29_x86_64"},
	},
	{
		name:  "cp312-darwin-arm64-macos13.0",
		minor: 12,
		p:     Platform{OS: "darwin", Arch: "arm64", MacOS: [2]int{13, 0}},
		first5: []string{
			"cp312-cp312-macosx_13_0_arm64", "cp312-cp312-macosx_13_0_universal2",
			"cp312-cp312-macosx_12_0_arm64", "cp312-cp312-macosx_12_0_universal2",
			"cp312-cp312-macosx_11_0_arm64",
		},
		total: 528, // P=19: 13*19 + 14*19 + 1 + 14
		at: map[string]int{
			"cp312-cp312-macosx_10_9_universal2": 13,
			"cp311-abi3-macosx_11_0_arm64":       61,
			"py3-none-any":                       515,
			"py30-none-any":                      527,
		},
		absent: []string{"cp312-cp312-macosx_10_9_x86_64", "cp312-cp312-macosx_14_0_arm64", "cp312-cp312-macosx_10_9_arm64"},
	},
	{
		name:  "cp313-darwin-amd64-macos13.0",
		minor: 13,
		p:     Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{13, 0}},
		first5: []string{
			"cp313-cp313-macosx_13_0_x86_64", "cp313-cp313-macosx_13_0_intel",
			"cp313-cp313-macosx_13_0_fat64", "cp313-cp313-macosx_13_0_fat32",
			"cp313-cp313-macosx_13_0_universal2",
		},
		total: 2800, // P=96: 14*96 + 15*96 + 1 + 15
		at: map[string]int{
			"cp313-cp313-macosx_13_0_universal":  5,
			"cp313-cp313-macosx_10_9_x86_64":     60,
			"cp311-abi3-macosx_10_9_x86_64":      444,
			"py3-none-any":                       2786,
			"py30-none-any":                      2799,
			"cp313-cp313-macosx_10_4_universal2": 18 + 12*6 + 4,
		},
		absent: []string{"cp313-cp313-macosx_13_0_arm64", "cp313-cp313-macosx_10_3_x86_64"},
	},
	{
		name:  "cp310-darwin-amd64-macos10.15",
		minor: 10,
		p:     Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{10, 15}},
		first5: []string{
			"cp310-cp310-macosx_10_15_x86_64", "cp310-cp310-macosx_10_15_intel",
			"cp310-cp310-macosx_10_15_fat64", "cp310-cp310-macosx_10_15_fat32",
			"cp310-cp310-macosx_10_15_universal2",
		},
		total: 1669, // P=72: 11*72 + 12*72 + 1 + 12
		at: map[string]int{
			"cp310-cp310-macosx_10_9_x86_64":   36,
			"cp39-abi3-macosx_10_9_universal2": 256,
			"py3-none-any":                     1658,
			"py30-none-any":                    1668,
		},
		absent: []string{"cp310-cp310-macosx_11_0_x86_64", "cp310-cp310-macosx_10_16_x86_64", "cp310-cp310-macosx_10_3_x86_64"},
	},
	{
		name:  "cp37-linux-amd64-glibc2.17",
		minor: 7,
		p:     Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 17}},
		first5: []string{
			"cp37-cp37m-manylinux_2_17_x86_64", "cp37-cp37m-manylinux2014_x86_64",
			"cp37-cp37m-manylinux_2_16_x86_64", "cp37-cp37m-manylinux_2_15_x86_64",
			"cp37-cp37m-manylinux_2_14_x86_64",
		},
		total: 299, // P=17: 8*17 + 9*17 + 1 + 9
		at: map[string]int{
			"cp37-abi3-manylinux_2_17_x86_64": 17,
			"cp37-none-any":                   289,
			"py3-none-any":                    291,
		},
		absent: []string{"cp37-cp37-manylinux_2_17_x86_64"},
	},
}

func mustParse(t *testing.T, s string) Tag {
	t.Helper()
	tag, err := ParseTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func tagStrings(tags []Tag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.String()
	}
	return out
}

func TestCPythonTagsTable(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tags := CPythonTags(tc.minor, tc.p)
			got := tagStrings(tags)
			if len(got) != tc.total {
				t.Errorf("got %d tags, want %d", len(got), tc.total)
			}
			if !slices.Equal(got[:min(5, len(got))], tc.first5) {
				t.Errorf("first 5 tags:\n got %q\nwant %q", got[:min(5, len(got))], tc.first5)
			}
			if last := got[len(got)-1]; last != "py30-none-any" {
				t.Errorf("last tag %s, want py30-none-any", last)
			}
			r := NewRanking(tags)
			if len(r) != len(tags) {
				t.Errorf("%d distinct tags among %d: packaging yields no duplicates here", len(r), len(tags))
			}
			for s, want := range tc.at {
				if i, ok := r[mustParse(t, s)]; !ok || i != want {
					t.Errorf("%s at %d (accepted %v), want %d", s, i, ok, want)
				}
			}
			for _, s := range tc.absent {
				if i, ok := r[mustParse(t, s)]; ok {
					t.Errorf("%s accepted at %d, want not accepted", s, i)
				}
			}
			checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
		})
	}
}

// checkGolden compares lines with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, lines []string) {
	t.Helper()
	data := []byte(strings.Join(lines, "\n") + "\n")
	if *update {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden: %v (run go test ./internal/pytags -update to create it)", err)
	}
	if bytes.Equal(want, data) {
		return
	}
	wantLines := readLines(want)
	for i := 0; i < max(len(wantLines), len(lines)); i++ {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(lines) {
			g = lines[i]
		}
		if w != g {
			t.Fatalf("%s differs first at line %d: got %q, want %q (%d vs %d lines); if the change is intended, run with -update",
				path, i+1, g, w, len(lines), len(wantLines))
		}
	}
}

func readLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestPlatformTags(t *testing.T) {
	tests := []struct {
		p     Platform
		count int
		head  []string
		tail  []string
	}{
		{Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 5}}, 3,
			[]string{"manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"}, nil},
		{Platform{OS: "linux", Arch: "arm64", Glibc: [2]int{2, 17}}, 3,
			[]string{"manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"}, nil},
		{Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 12}}, 11,
			[]string{"manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_11_x86_64"},
			[]string{"manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"}},
		// A glibc 3 continues into 2.x from packaging's guessed last 2.x minor, 50.
		{Platform{OS: "linux", Arch: "arm64", Glibc: [2]int{3, 1}}, 2 + 34 + 1 + 1,
			[]string{"manylinux_3_1_aarch64", "manylinux_3_0_aarch64", "manylinux_2_50_aarch64"},
			[]string{"manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"}},
		{Platform{OS: "darwin", Arch: "arm64", MacOS: [2]int{11, 5}}, 2 + 13,
			[]string{"macosx_11_0_arm64", "macosx_11_0_universal2", "macosx_10_16_universal2"},
			[]string{"macosx_10_4_universal2"}},
		{Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{10, 4}}, 6,
			[]string{"macosx_10_4_x86_64", "macosx_10_4_intel", "macosx_10_4_fat64", "macosx_10_4_fat32", "macosx_10_4_universal2", "macosx_10_4_universal"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			got := tt.p.PlatformTags()
			if len(got) != tt.count {
				t.Errorf("got %d tags %q, want %d", len(got), got, tt.count)
			}
			if !slices.Equal(got[:min(len(tt.head), len(got))], tt.head) {
				t.Errorf("head %q, want %q", got[:min(len(tt.head), len(got))], tt.head)
			}
			if len(got) >= len(tt.tail) && !slices.Equal(got[len(got)-len(tt.tail):], tt.tail) {
				t.Errorf("tail %q, want %q", got[len(got)-len(tt.tail):], tt.tail)
			}
		})
	}
}

func TestDefaultPlatform(t *testing.T) {
	tests := []struct {
		goos, goarch string
		want         Platform
		wantErr      string
	}{
		{"linux", "amd64", Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 28}}, ""},
		{"linux", "arm64", Platform{OS: "linux", Arch: "arm64", Glibc: [2]int{2, 28}}, ""},
		{"darwin", "amd64", Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{13, 0}}, ""},
		{"darwin", "arm64", Platform{OS: "darwin", Arch: "arm64", MacOS: [2]int{13, 0}}, ""},
		{"windows", "amd64", Platform{}, `target OS "windows" is not supported: use linux or darwin`},
		{"linux", "386", Platform{}, `target architecture "386" is not supported: use amd64 or arm64`},
	}
	for _, tt := range tests {
		got, err := DefaultPlatform(tt.goos, tt.goarch)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("DefaultPlatform(%s, %s) error %v, want %q", tt.goos, tt.goarch, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DefaultPlatform(%s, %s) = %+v, %v; want %+v", tt.goos, tt.goarch, got, err, tt.want)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		minor   int
		p       Platform
		wantErr string
	}{
		{6, Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 28}}, "CPython 3.6 is not supported: use 3.7 or newer"},
		{12, Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 4}}, "linux/amd64 glibc 2.4: glibc 2.4 is older than manylinux supports on x86_64: use 2.5 or newer"},
		{12, Platform{OS: "linux", Arch: "arm64", Glibc: [2]int{2, 12}}, "linux/arm64 glibc 2.12: glibc 2.12 is older than manylinux supports on aarch64: use 2.17 or newer"},
		{12, Platform{OS: "linux", Arch: "amd64"}, "linux/amd64 glibc 0.0: glibc 0.0 is older than manylinux supports on x86_64: use 2.5 or newer"},
		{12, Platform{OS: "darwin", Arch: "arm64", MacOS: [2]int{10, 15}}, "darwin/arm64 macOS 10.15: macOS 10.15 is older than arm64 supports: use 11.0 or newer"},
		{12, Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{10, 3}}, "darwin/amd64 macOS 10.3: macOS 10.3 is older than x86_64 supports: use 10.4 or newer"},
		{12, Platform{OS: "darwin", Arch: "amd64", MacOS: [2]int{10, 17}}, "darwin/amd64 macOS 10.17: macOS 10.17 does not exist (10.16 is the last 10.x): use 11.0 or newer"},
		{12, Platform{OS: "freebsd", Arch: "amd64"}, `target OS "freebsd" is not supported: use linux or darwin`},
	}
	for _, tt := range tests {
		_, err := SupportedTags(tt.minor, tt.p)
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("SupportedTags(%d, %+v) error %v, want %q", tt.minor, tt.p, err, tt.wantErr)
		}
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "use 3.7 or newer") {
				t.Errorf("CPythonTags(5, …) panic %v, want the SupportedTags error", r)
			}
		}()
		CPythonTags(5, Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 28}})
	}()
}

func TestArchNameAndABI(t *testing.T) {
	arch := map[[2]string]string{
		{"linux", "amd64"}: "x86_64", {"linux", "arm64"}: "aarch64",
		{"darwin", "amd64"}: "x86_64", {"darwin", "arm64"}: "arm64",
	}
	for in, want := range arch {
		if got, err := ArchName(in[0], in[1]); err != nil || got != want {
			t.Errorf("ArchName(%s, %s) = %q, %v; want %q", in[0], in[1], got, err, want)
		}
	}
	abi := map[int]string{7: "cp37m", 8: "cp38", 10: "cp310", 14: "cp314"}
	for minor, want := range abi {
		if got := ABI(minor); got != want {
			t.Errorf("ABI(%d) = %q, want %q", minor, got, want)
		}
	}
}

// TestBestCompressed ranks wheel tag sets against cp310 on linux/amd64 glibc 2.17
// (positions from the first table case).
func TestBestCompressed(t *testing.T) {
	r := NewRanking(CPythonTags(10, Platform{OS: "linux", Arch: "amd64", Glibc: [2]int{2, 17}}))
	tests := []struct {
		set  string
		rank int
		ok   bool
	}{
		{"cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64", 0, true},
		{"cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64", 0, true},
		{"cp310-cp310-manylinux_2_5_x86_64.manylinux1_x86_64", 14, true},
		{"cp36.cp37.cp38.cp39.cp310-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64", 23, true},
		{"cp39.cp311-abi3-linux_x86_64", 67, true},
		{"py2.py3-none-any", 393, true},
		{"PY3-NONE-ANY", 393, true},
		{"cp310-cp310.abi3.none-any", 391, true},
		{"cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", 0, false},
		{"cp310-cp310-manylinux_2_28_x86_64.musllinux_1_1_x86_64", 0, false},
	}
	for _, tt := range tests {
		tags, err := ParseTagSet(tt.set)
		if err != nil {
			t.Fatal(err)
		}
		rank, ok := r.Best(tags)
		if rank != tt.rank || ok != tt.ok {
			t.Errorf("Best(%s) = %d, %v; want %d, %v", tt.set, rank, ok, tt.rank, tt.ok)
		}
	}
	if rank, ok := r.Best(nil); ok || rank != 0 {
		t.Errorf("Best(nil) = %d, %v; want 0, false", rank, ok)
	}
}

func TestParseTagSet(t *testing.T) {
	got, err := ParseTagSet("py3.py2-none-any.Linux_x86_64")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"py2-none-any", "py2-none-linux_x86_64", "py3-none-any", "py3-none-linux_x86_64"}
	if !slices.Equal(tagStrings(got), want) {
		t.Errorf("got %q, want %q", tagStrings(got), want)
	}
	for _, bad := range []string{"py3-none", "py3..py2-none-any", "py3-none-any-x", "-none-any"} {
		if _, err := ParseTagSet(bad); err == nil {
			t.Errorf("ParseTagSet(%q) accepted, want error", bad)
		}
	}
}

func TestNewRankingKeepsFirst(t *testing.T) {
	a, b := Tag{"py3", "none", "any"}, Tag{"cp310", "none", "any"}
	r := NewRanking([]Tag{a, b, a})
	if r[a] != 0 || r[b] != 1 || len(r) != 2 {
		t.Errorf("NewRanking = %v, want py3-none-any 0, cp310-none-any 1", r)
	}
}
