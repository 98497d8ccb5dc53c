package unpackcache

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

func TestProgressLine(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	p := func(files int, bytes int64) bundle.Progress {
		return bundle.Progress{FilesDone: files, FilesTotal: 10, BytesDone: bytes, BytesTotal: 2_000_000}
	}
	tests := []struct {
		name    string
		updates []time.Time
		done    []bundle.Progress
		want    string
	}{
		{"quick unpack stays silent", []time.Time{at(100), at(900)}, []bundle.Progress{p(5, 1e6), p(10, 2e6)}, ""},
		{"slow unpack shows, throttled, always shows the end",
			[]time.Time{at(500), at(1000), at(1050), at(1200), at(1210)},
			[]bundle.Progress{p(1, 1e5), p(4, 5e5), p(5, 1e6), p(9, 1.9e6), p(10, 2e6)},
			"\rUnpacking x:  25% (4/10 files, 0.5/2.0 MB)\x1b[K" +
				"\rUnpacking x:  95% (9/10 files, 1.9/2.0 MB)\x1b[K" +
				"\rUnpacking x: 100% (10/10 files, 2.0/2.0 MB)\x1b[K\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			// Built by hand: newProgressLine would see that a strings.Builder is no terminal.
			pl := &progressLine{w: &out, label: "Unpacking x", start: start}
			for i, now := range tt.updates {
				pl.update(tt.done[i], now)
			}
			pl.finish()
			if out.String() != tt.want {
				t.Fatalf("wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []io.Writer{nil, f, &strings.Builder{}} {
		if pl := newProgressLine(w, "x", time.Unix(0, 0)); pl.w != nil {
			t.Errorf("%T was taken for a terminal", w)
		}
	}
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test with: %v", err)
	}
	defer tty.Close()
	if pl := newProgressLine(tty, "x", time.Unix(0, 0)); pl.w == nil {
		t.Errorf("a pseudo-terminal was not taken for a terminal")
	}
}
