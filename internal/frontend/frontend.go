// Package frontend builds Mathesar's Svelte front end (mathesar_ui/, with npm and Vite) into
// mathesar/static/mathesar/ before the source tree is packed, or decides that the assets
// already there are up to date.
package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options says where the front end lives and how to build it.
type Options struct {
	UIDir     string        // <src>/mathesar_ui
	OutDir    string        // <src>/mathesar/static/mathesar
	Skip      bool          // MATHESAR_SKIP_FRONTEND=1: use the assets already built, never run npm
	NPM       string        // npm binary; "" = "npm" from PATH
	Log       io.Writer     // progress lines, each prefixed "frontend: "; nil discards them
	Heartbeat time.Duration // how often to print a "still running" line; 0 = 15s
}

// Result says what Build did.
type Result struct {
	Built    bool          // npm ran
	Reason   string        // why it ran or was skipped, one line
	Duration time.Duration // the whole stage
	Files    int           // files in OutDir afterwards
	Bytes    int64         // their total size
}

const (
	manifestName     = "manifest.json"
	defaultHeartbeat = 15 * time.Second
	tailLines        = 20
	// waitDelay bounds how long Wait waits for output pipes after npm exits or is killed,
	// in case a process outside npm's process group still holds them.
	waitDelay = 5 * time.Second
)

// Build runs `npm ci` and `npm run build` in o.UIDir unless o.Skip is set or UpToDate says the
// assets in o.OutDir are newer than every input, and checks that the build wrote a Vite
// manifest where Mathesar reads it.
func Build(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	l := &logger{w: o.Log}
	if l.w == nil {
		l.w = io.Discard
	}
	if o.UIDir == "" || o.OutDir == "" {
		return Result{}, errors.New("frontend: UIDir and OutDir must both be set (<src>/mathesar_ui and <src>/mathesar/static/mathesar)")
	}

	if o.Skip {
		out, err := scanOutputs(o.OutDir)
		if err != nil {
			return Result{}, err
		}
		if !out.hasManifest {
			return Result{}, fmt.Errorf("MATHESAR_SKIP_FRONTEND is set but %s holds no built front end (no %s): unset it to build with npm, or run `npm ci && npm run build` in %s", o.OutDir, manifestName, o.UIDir)
		}
		r := Result{
			Reason:   fmt.Sprintf("MATHESAR_SKIP_FRONTEND is set: using the %d files already in %s", out.files, o.OutDir),
			Duration: time.Since(start),
			Files:    out.files,
			Bytes:    out.bytes,
		}
		l.printf("skipped: %s", r.Reason)
		return r, nil
	}

	ok, reason, err := UpToDate(o.UIDir, o.OutDir)
	if err != nil {
		return Result{}, err
	}
	if ok {
		out, err := scanOutputs(o.OutDir)
		if err != nil {
			return Result{}, err
		}
		r := Result{Reason: reason, Duration: time.Since(start), Files: out.files, Bytes: out.bytes}
		l.printf("up to date: %s", reason)
		return r, nil
	}

	if _, err := os.Stat(filepath.Join(o.UIDir, "package.json")); err != nil {
		return Result{}, fmt.Errorf("no package.json in %s (%w): point the build at a Mathesar source tree, or set MATHESAR_SKIP_FRONTEND=1 with prebuilt assets in %s", o.UIDir, err, o.OutDir)
	}
	npm := o.NPM
	if npm == "" {
		npm = "npm"
	}
	npmPath, err := exec.LookPath(npm)
	if err != nil {
		return Result{}, fmt.Errorf("npm not found (%w): building the front end needs it; install Node.js 18 or newer with npm (`go tool mage deps` does), or set MATHESAR_SKIP_FRONTEND=1 with prebuilt assets in %s", err, o.OutDir)
	}
	hb := o.Heartbeat
	if hb <= 0 {
		hb = defaultHeartbeat
	}

	l.printf("building: %s", reason)
	steps := []struct {
		args []string
		hint string
	}{
		{[]string{"ci", "--no-audit", "--no-fund"},
			"check that package-lock.json matches package.json and that the npm registry is reachable, or set MATHESAR_SKIP_FRONTEND=1 with prebuilt assets in " + o.OutDir},
		{[]string{"run", "build"},
			"fix the error above (reproduce it with `npm run build` in " + o.UIDir + "), or set MATHESAR_SKIP_FRONTEND=1 with prebuilt assets in " + o.OutDir},
	}
	for _, s := range steps {
		if err := runNPM(ctx, l, npmPath, o.UIDir, s.args, hb, s.hint); err != nil {
			return Result{}, err
		}
	}

	out, err := scanOutputs(o.OutDir)
	if err != nil {
		return Result{}, err
	}
	if !out.hasManifest {
		return Result{}, fmt.Errorf("npm run build in %s succeeded but wrote no %s to %s, where Mathesar expects its front end: check build.outDir and build.manifest in %s", o.UIDir, manifestName, o.OutDir, filepath.Join(o.UIDir, "vite.config.js"))
	}
	r := Result{Built: true, Reason: reason, Duration: time.Since(start), Files: out.files, Bytes: out.bytes}
	l.printf("built %d files (%.1f MB) in %.1fs", r.Files, float64(r.Bytes)/1e6, r.Duration.Seconds())
	return r, nil
}

// runNPM runs one npm command in dir, streaming its output to l and printing a heartbeat line
// every hb while it runs.
func runNPM(ctx context.Context, l *logger, npm, dir string, args []string, hb time.Duration, hint string) error {
	name := "npm " + strings.Join(args, " ")
	short := "npm " + args[0]
	if args[0] == "run" {
		short = name
	}
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	lw := &lineWriter{l: l}
	// One writer for both streams: exec then gives npm a single pipe, so stdout and stderr
	// interleave in the order npm wrote them and only one goroutine calls Write.
	cmd.Stdout = lw
	cmd.Stderr = lw
	cmd.WaitDelay = waitDelay
	ownGroup(cmd)

	l.printf("running %s in %s", name, dir)
	started := time.Now()
	done := make(chan struct{})
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		t := time.NewTicker(hb)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				l.printf("%s still running (%s)", short, elapsed(time.Since(started)))
			}
		}
	}()
	err := cmd.Run()
	close(done)
	<-beatDone
	lw.flush()

	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s in %s stopped: %w", short, dir, ctxErr)
	}
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("run %s in %s: %w", name, dir, err)
	}
	status := fmt.Sprintf("exit %d", exitErr.ExitCode())
	if exitErr.ExitCode() < 0 {
		status = exitErr.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s failed (%s)", short, dir, status)
	if tail := lw.tail(); len(tail) > 0 {
		fmt.Fprintf(&b, "; last %d lines of its output:\n", len(tail))
		for _, line := range tail {
			b.WriteString("    " + line + "\n")
		}
	} else {
		b.WriteString(" with no output; ")
	}
	b.WriteString(hint)
	return errors.New(b.String())
}

// UpToDate reports whether outDir holds built assets (a manifest.json and at least one other
// file) all newer than every input file under uiDir (node_modules, and outDir if it were
// inside uiDir, excluded), and names the newest input.
func UpToDate(uiDir, outDir string) (ok bool, reason string, err error) {
	base := filepath.Dir(filepath.Clean(uiDir))
	out, err := scanOutputs(outDir)
	if err != nil {
		return false, "", err
	}
	switch {
	case !out.hasManifest:
		return false, fmt.Sprintf("no built front end in %s (no %s)", show(base, outDir), manifestName), nil
	case out.files < 2:
		return false, fmt.Sprintf("%s holds only %s", show(base, outDir), manifestName), nil
	}

	absUI, err := filepath.Abs(uiDir)
	if err != nil {
		return false, "", fmt.Errorf("resolve %s: %w", uiDir, err)
	}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return false, "", fmt.Errorf("resolve %s: %w", outDir, err)
	}
	var newest string
	var newestT time.Time
	// WalkDir visits in lexical order and only a strictly newer file replaces the newest, so
	// the named input is the same on every run.
	err = filepath.WalkDir(absUI, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != absUI && (d.Name() == "node_modules" || p == absOut) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if newest == "" || info.ModTime().After(newestT) {
			newest, newestT = p, info.ModTime()
		}
		return nil
	})
	if err != nil {
		return false, "", fmt.Errorf("read the front-end sources in %s: %w; set MATHESAR_SKIP_FRONTEND=1 to pack prebuilt assets instead", uiDir, err)
	}
	if newest == "" {
		return false, fmt.Sprintf("%s holds no source files", show(base, uiDir)), nil
	}
	if !out.oldestT.After(newestT) {
		return false, fmt.Sprintf("input %s (%s) is not older than asset %s (%s)",
			show(base, newest), stamp(newestT), show(base, out.oldest), stamp(out.oldestT)), nil
	}
	return true, fmt.Sprintf("assets newer than every input (%s, %s)", show(base, newest), stamp(newestT)), nil
}

// outputs summarises the files in an output directory.
type outputs struct {
	hasManifest bool
	files       int
	bytes       int64
	oldest      string
	oldestT     time.Time
}

// scanOutputs walks outDir; a missing outDir is an empty one.
func scanOutputs(outDir string) (outputs, error) {
	var o outputs
	err := filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == outDir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if p == filepath.Join(outDir, manifestName) && info.Mode().IsRegular() {
			o.hasManifest = true
		}
		o.files++
		o.bytes += info.Size()
		if o.oldest == "" || info.ModTime().Before(o.oldestT) {
			o.oldest, o.oldestT = p, info.ModTime()
		}
		return nil
	})
	if err != nil {
		return outputs{}, fmt.Errorf("read the built front end in %s: %w", outDir, err)
	}
	return o, nil
}

// show names p relative to the source tree (so "mathesar_ui/src/App.svelte") when it lies
// inside it, else as given.
func show(base, p string) string {
	if abs, err := filepath.Abs(base); err == nil {
		if ap, err := filepath.Abs(p); err == nil {
			if rel, err := filepath.Rel(abs, ap); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return filepath.ToSlash(rel)
			}
		}
	}
	return p
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// elapsed rounds to whole seconds, except under a second where that would print "0s".
func elapsed(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// logger serialises lines from npm's output and from the heartbeat.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log writer must not fail the build, so write errors are dropped.
	fmt.Fprintf(l.w, "frontend: "+format+"\n", args...)
}

// lineWriter splits npm's output into lines for the log and keeps the last few for an error.
type lineWriter struct {
	l    *logger
	buf  []byte
	last []string
}

// maxLine flushes a line that never ends (a progress bar, a minified blob) in pieces.
const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxLine {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	// npm frames its output with blank lines; dropping them keeps the log and the
	// error's tail to lines that say something.
	if strings.TrimSpace(line) == "" {
		return
	}
	w.l.printf("%s", line)
	w.last = append(w.last, line)
	if len(w.last) > tailLines {
		w.last = w.last[len(w.last)-tailLines:]
	}
}

func (w *lineWriter) tail() []string { return w.last }
