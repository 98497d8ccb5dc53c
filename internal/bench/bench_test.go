package bench

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in        Sample
		med, fast time.Duration
	}{
		{nil, 0, 0},
		{Sample{5}, 5, 5},
		{Sample{9, 1, 5}, 5, 1},
		{Sample{4, 1, 3, 2}, 2, 1}, // (2+3)/2 in integer nanoseconds
		{Sample{10, 10, 30, 20}, 15, 10},
	} {
		if got := tc.in.Median(); got != tc.med {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.med)
		}
		if got := tc.in.Min(); got != tc.fast {
			t.Errorf("Min(%v) = %v, want %v", tc.in, got, tc.fast)
		}
	}
}

func TestGenerateIsDeterministicAndShaped(t *testing.T) {
	spec := TreeSpec{Seed: 3, Files: 200, TotalBytes: 2 << 20, BinaryShare: 0.1}
	var hashes []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		total, err := Generate(dir, spec)
		if err != nil {
			t.Fatal(err)
		}
		h, n, err := TreeHash(dir)
		if err != nil {
			t.Fatal(err)
		}
		if n != spec.Files {
			t.Fatalf("generated %d files, want %d", n, spec.Files)
		}
		if total < spec.TotalBytes*7/10 || total > spec.TotalBytes*13/10 {
			t.Fatalf("generated %d bytes, want about %d", total, spec.TotalBytes)
		}
		so, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.so"))
		if len(so) != 20 {
			t.Fatalf("generated %d binaries, want 20", len(so))
		}
		hashes = append(hashes, h)
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("the same spec gave two trees: %s and %s", hashes[0], hashes[1])
	}
	other := t.TempDir()
	spec.Seed++
	if _, err := Generate(other, spec); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := TreeHash(other); h == hashes[0] {
		t.Fatal("another seed gave the same tree")
	}
}

func TestTreeHash(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for name, data := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := map[string]string{"a/x.py": "x", "b.so": "\x00\x01"}
	for _, tc := range []struct {
		name  string
		files map[string]string
		skip  []string
		same  bool
	}{
		{"identical", base, nil, true},
		{"marker skipped", map[string]string{"a/x.py": "x", "b.so": "\x00\x01", ".marker": "1"}, []string{".marker"}, true},
		{"content differs", map[string]string{"a/x.py": "y", "b.so": "\x00\x01"}, nil, false},
		{"file moved", map[string]string{"a/b.so": "\x00\x01", "a/x.py": "x"}, nil, false},
		{"file missing", map[string]string{"a/x.py": "x"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d1, d2 := t.TempDir(), t.TempDir()
			write(d1, base)
			write(d2, tc.files)
			h1, _, err := TreeHash(d1)
			if err != nil {
				t.Fatal(err)
			}
			h2, _, err := TreeHash(d2, tc.skip...)
			if err != nil {
				t.Fatal(err)
			}
			if (h1 == h2) != tc.same {
				t.Fatalf("hashes equal = %t, want %t", h1 == h2, tc.same)
			}
		})
	}
}

func TestStages(t *testing.T) {
	lines := []stampedLine{{1, "zipapp: built"}, {3, "release: goreleaser 2"}, {4, "  • building binaries"}, {9, "  • archives"}}
	got := stages(lines, 12, "pyz", []Marker{{"release: goreleaser", "start"}, {"• never", "missing"}, {"• building binaries", "build"}, {"• archives", "tar"}})
	want := []Stage{{"pyz", 3}, {"start", 1}, {"build", 5}, {"tar", 3}}
	if len(got) != len(want) {
		t.Fatalf("stages = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stages = %v, want %v", got, want)
		}
	}
}

// TestReport renders a report from the fixture numbers in testdata and checks the goals
// are judged from them and that the chart is well-formed SVG.
func TestReport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The fixture holds one millisecond figure per line: launcher, direct, unzip-like ...
	var v []time.Duration
	for _, f := range strings.Fields(string(data)) {
		d, err := time.ParseDuration(f)
		if err != nil {
			t.Fatal(err)
		}
		v = append(v, d)
	}
	r := &Report{Runs: 10, Machine: Machine{CPU: "Test CPU", Cores: 2},
		Warm:       []Pair{{Bundle: "sample", Subject: "`mathesar python -- -c pass`", Base: "direct", S: Sample{v[0]}, B: Sample{v[1]}}},
		Cold:       []ColdRow{{Tool: "mathesar (flate level 6)", Level: 6, S: Sample{v[2]}}, {Tool: "python3 -m zipfile -e", Level: 6, S: Sample{v[3]}}, {Tool: "unzip -q", Level: 6, S: Sample{v[4]}}},
		Concurrent: &ConcurrentRow{N: 8, Single: Sample{v[5]}, Group: Sample{v[6]}, Trees: 1},
		Release:    []ReleaseRow{{Name: "full", Total: v[7]}, {Name: "re-run", Total: v[8]}},
	}
	met := map[string]bool{}
	for _, g := range r.Goals() {
		met[strings.SplitN(g.What, " ", 3)[1]] = g.Met
	}
	want := map[string]bool{"`mathesar": false, "first": true, "concurrent": true, "re-run": false}
	for k, w := range want {
		if got, ok := met[k]; !ok || got != w {
			t.Errorf("goal %q met = %t (present %t), want %t; goals %v", k, got, ok, w, r.Goals())
		}
	}
	md := string(r.Markdown())
	for _, s := range []string{"Test CPU, 2 cores", "| 8 started together", "benchmarks.svg", "**missed**"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	dec := xml.NewDecoder(strings.NewReader(string(r.SVG())))
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("chart is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != 1+2+3+2+2 {
		t.Fatalf("chart has %d rects, want a background and 9 bars", rects)
	}
}
