package unpackcache

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
)

const (
	// progressDelay keeps quick unpacks silent.
	progressDelay = time.Second
	// progressEvery limits redraws; a terminal cannot show more anyway.
	progressEvery = 100 * time.Millisecond
)

// progressLine redraws one terminal line with an unpack's progress.
type progressLine struct {
	w     io.Writer // nil when nothing is to be shown
	label string
	start time.Time
	last  time.Time
	shown bool
}

func newProgressLine(w io.Writer, label string, start time.Time) *progressLine {
	if !isTerminal(w) {
		w = nil
	}
	return &progressLine{w: w, label: label, start: start}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

func (p *progressLine) update(pr bundle.Progress, now time.Time) {
	if p.w == nil || now.Sub(p.start) < progressDelay || (p.shown && now.Sub(p.last) < progressEvery && pr.FilesDone < pr.FilesTotal) {
		return
	}
	p.shown, p.last = true, now
	pct := 100
	if pr.BytesTotal > 0 {
		pct = int(pr.BytesDone * 100 / pr.BytesTotal)
	}
	// \r and the erase-to-end-of-line code redraw in place.
	fmt.Fprintf(p.w, "\r%s: %3d%% (%d/%d files, %.1f/%.1f MB)\x1b[K", p.label, pct,
		pr.FilesDone, pr.FilesTotal, float64(pr.BytesDone)/1e6, float64(pr.BytesTotal)/1e6)
}

func (p *progressLine) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
