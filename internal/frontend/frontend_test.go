package frontend

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log that npm's output goroutine and the heartbeat write at once; it closes
// seen when the log first contains want.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.seen != nil && s.want != "" && strings.Contains(s.b.String(), s.want) {
		close(s.seen)
		s.seen = nil
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func needNPM(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not on PATH; install Node.js with npm to run the build tests")
	}
}

// fixture copies testdata/ui to <tmp>/mathesar_ui, optionally replacing its build.mjs with
// testdata/builds/<variant>.mjs, and returns options for a source tree rooted at <tmp>.
func fixture(t *testing.T, variant string, log *syncBuffer) (Options, string) {
	t.Helper()
	root := t.TempDir()
	ui := filepath.Join(root, "mathesar_ui")
	if err := os.CopyFS(ui, os.DirFS("testdata/ui")); err != nil {
		t.Fatal(err)
	}
	if variant != "" {
		data, err := os.ReadFile(filepath.Join("testdata", "builds", variant+".mjs"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ui, "build.mjs"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Options{UIDir: ui, OutDir: filepath.Join(root, "mathesar", "static", "mathesar"), Log: log}, root
}

func writeAt(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(filepath.Base(path)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func checkPrefixed(t *testing.T, log string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if !strings.HasPrefix(line, "frontend: ") {
			t.Errorf("log line %q lacks the \"frontend: \" prefix", line)
		}
	}
}

func TestUpToDate(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inputs := func(t *testing.T, ui string) {
		writeAt(t, filepath.Join(ui, "package.json"), t0)
		writeAt(t, filepath.Join(ui, "src", "App.svelte"), t0.Add(time.Minute))
		writeAt(t, filepath.Join(ui, "src", "main.ts"), t0)
	}
	assets := func(t *testing.T, out string, at time.Time) {
		writeAt(t, filepath.Join(out, "manifest.json"), at)
		writeAt(t, filepath.Join(out, "assets", "main.js"), at)
	}
	tests := []struct {
		name   string
		inUI   bool // OutDir is <ui>/dist rather than <root>/mathesar/static/mathesar
		setup  func(t *testing.T, ui, out string)
		ok     bool
		reason []string
	}{
		{"no assets", false, func(t *testing.T, ui, out string) { inputs(t, ui) },
			false, []string{"no built front end in mathesar/static/mathesar (no manifest.json)"}},
		{"manifest only", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			writeAt(t, filepath.Join(out, "manifest.json"), t0.Add(time.Hour))
		}, false, []string{"holds only manifest.json"}},
		{"assets but no manifest", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			writeAt(t, filepath.Join(out, "assets", "main.js"), t0.Add(time.Hour))
		}, false, []string{"no manifest.json"}},
		{"fresh", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Hour))
		}, true, []string{"assets newer than every input (mathesar_ui/src/App.svelte, 2026-01-02T03:05:05.000Z)"}},
		{"input edited after build", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Hour))
			writeAt(t, filepath.Join(ui, "src", "main.ts"), t0.Add(2*time.Hour))
		}, false, []string{"input mathesar_ui/src/main.ts (2026-01-02T05:04:05.000Z)", "mathesar/static/mathesar/"}},
		{"one asset older than an input", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Hour))
			writeAt(t, filepath.Join(out, "assets", "old.js"), t0)
		}, false, []string{"mathesar/static/mathesar/assets/old.js"}},
		{"same mtime counts as stale", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Minute))
		}, false, []string{"is not older than"}},
		{"node_modules ignored", false, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Hour))
			writeAt(t, filepath.Join(ui, "node_modules", "vite", "index.js"), t0.Add(2*time.Hour))
			writeAt(t, filepath.Join(ui, "node_modules", ".package-lock.json"), t0.Add(2*time.Hour))
		}, true, []string{"mathesar_ui/src/App.svelte"}},
		{"out dir inside ui dir ignored", true, func(t *testing.T, ui, out string) {
			inputs(t, ui)
			assets(t, out, t0.Add(time.Hour))
		}, true, []string{"mathesar_ui/src/App.svelte"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ui := filepath.Join(root, "mathesar_ui")
			out := filepath.Join(root, "mathesar", "static", "mathesar")
			if tc.inUI {
				out = filepath.Join(ui, "dist")
			}
			tc.setup(t, ui, out)
			ok, reason, err := UpToDate(ui, out)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok {
				t.Errorf("ok = %v, want %v (reason %q)", ok, tc.ok, reason)
			}
			for _, w := range tc.reason {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q lacks %q", reason, w)
				}
			}
		})
	}
}

func TestUpToDateMissingUIDir(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "out")
	writeAt(t, filepath.Join(out, "manifest.json"), time.Now())
	writeAt(t, filepath.Join(out, "main.js"), time.Now())
	_, _, err := UpToDate(filepath.Join(root, "mathesar_ui"), out)
	if err == nil || !strings.Contains(err.Error(), "MATHESAR_SKIP_FRONTEND=1") {
		t.Fatalf("err = %v, want a read error naming MATHESAR_SKIP_FRONTEND=1", err)
	}
}

func TestBuild(t *testing.T) {
	needNPM(t)
	tests := []struct {
		name      string
		variant   string
		heartbeat time.Duration
		wantErr   []string // substrings of the error; nil means success
		notInErr  []string
		wantLog   []string
	}{
		{name: "builds", wantLog: []string{
			"frontend: building: no built front end in mathesar/static/mathesar (no manifest.json)\n",
			"frontend: running npm ci --no-audit --no-fund in ",
			"frontend: running npm run build in ",
			"frontend: fixture build wrote its files\n",
			"frontend: built 2 files (0.0 MB) in ",
		}},
		{name: "heartbeat", variant: "slow", heartbeat: 50 * time.Millisecond, wantLog: []string{
			"frontend: npm run build still running (",
			"frontend: built 2 files",
		}},
		{name: "build fails", variant: "fail",
			wantErr:  []string{"npm run build in ", "failed (exit 1); last 20 lines of its output:\n", "    fixture line 30\n", "    fixture error: broken\n", "reproduce it with `npm run build`", "MATHESAR_SKIP_FRONTEND=1"},
			notInErr: []string{"fixture line 5\n"},
			wantLog:  []string{"frontend: fixture line 5\n", "frontend: fixture error: broken\n"}},
		{name: "no manifest", variant: "nomanifest",
			wantErr: []string{"succeeded but wrote no manifest.json to ", "where Mathesar expects its front end", "vite.config.js"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &syncBuffer{}
			o, _ := fixture(t, tc.variant, log)
			o.Heartbeat = tc.heartbeat
			r, err := Build(context.Background(), o)
			logText := log.String()
			checkPrefixed(t, logText)
			for _, w := range tc.wantLog {
				if !strings.Contains(logText, w) {
					t.Errorf("log lacks %q:\n%s", w, logText)
				}
			}
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Build succeeded, want an error; log:\n%s", logText)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				for _, w := range tc.notInErr {
					if strings.Contains(err.Error(), w) {
						t.Errorf("error holds %q, beyond the last 20 lines:\n%v", w, err)
					}
				}
				if n := strings.Count(err.Error(), "\n    "); n > 20 {
					t.Errorf("error quotes %d lines, want at most 20", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v\nlog:\n%s", err, logText)
			}
			if !r.Built || r.Files != 2 || r.Bytes <= 0 || r.Duration <= 0 {
				t.Errorf("result = %+v, want Built with 2 files", r)
			}
			for _, f := range []string{"manifest.json", "assets/main.js"} {
				if _, err := os.Stat(filepath.Join(o.OutDir, f)); err != nil {
					t.Errorf("build output: %v", err)
				}
			}
		})
	}
}

func TestBuildSkipsUntilInputChanges(t *testing.T) {
	needNPM(t)
	t.Parallel()
	log := &syncBuffer{}
	o, _ := fixture(t, "", log)
	r, err := Build(context.Background(), o)
	if err != nil || !r.Built {
		t.Fatalf("first Build = %+v, %v; log:\n%s", r, err, log.String())
	}

	// A nonexistent npm proves the up-to-date path never runs it.
	noNPM := o
	noNPM.NPM = filepath.Join(t.TempDir(), "no-npm")
	r, err = Build(context.Background(), noNPM)
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if r.Built || r.Files != 2 || !strings.HasPrefix(r.Reason, "assets newer than every input (mathesar_ui/") {
		t.Errorf("second Build = %+v, want a skip naming the newest input", r)
	}
	if !strings.Contains(log.String(), "frontend: up to date: assets newer than every input") {
		t.Errorf("log lacks the up-to-date line:\n%s", log.String())
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(o.UIDir, "src", "App.svelte"), later, later); err != nil {
		t.Fatal(err)
	}
	r, err = Build(context.Background(), o)
	if err != nil {
		t.Fatalf("third Build: %v", err)
	}
	if !r.Built || !strings.Contains(r.Reason, "input mathesar_ui/src/App.svelte") {
		t.Errorf("third Build = %+v, want a rebuild naming src/App.svelte", r)
	}
}

func TestBuildSkipOption(t *testing.T) {
	tests := []struct {
		name    string
		assets  bool
		wantErr string
	}{
		{name: "assets present", assets: true},
		{name: "no assets", wantErr: "MATHESAR_SKIP_FRONTEND is set but {out} holds no built front end (no manifest.json): unset it to build with npm, or run `npm ci && npm run build` in {ui}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &syncBuffer{}
			o, _ := fixture(t, "fail", log)
			o.Skip = true
			o.NPM = filepath.Join(t.TempDir(), "no-npm")
			if tc.assets {
				// Older than every input: Skip must not care.
				old := time.Now().Add(-time.Hour)
				writeAt(t, filepath.Join(o.OutDir, "manifest.json"), old)
				writeAt(t, filepath.Join(o.OutDir, "assets", "main.js"), old)
			}
			r, err := Build(context.Background(), o)
			if tc.wantErr != "" {
				want := strings.NewReplacer("{out}", o.OutDir, "{ui}", o.UIDir).Replace(tc.wantErr)
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Built || r.Files != 2 || !strings.Contains(r.Reason, "MATHESAR_SKIP_FRONTEND is set") {
				t.Errorf("result = %+v, want a skip of 2 files", r)
			}
			checkPrefixed(t, log.String())
		})
	}
}

func TestBuildNPMMissing(t *testing.T) {
	o, _ := fixture(t, "", &syncBuffer{})
	o.NPM = filepath.Join(t.TempDir(), "bin", "npm")
	_, err := Build(context.Background(), o)
	if err == nil {
		t.Fatal("Build succeeded without npm")
	}
	for _, w := range []string{o.NPM, "install Node.js 18 or newer with npm (`go tool mage deps` does), or set MATHESAR_SKIP_FRONTEND=1 with prebuilt assets"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestBuildCancelKillsBuild(t *testing.T) {
	needNPM(t)
	t.Parallel()
	log := &syncBuffer{want: "frontend: fixture started", seen: make(chan struct{})}
	seen := log.seen
	o, root := fixture(t, "hang", log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		r   Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Build(ctx, o)
		done <- result{r, err}
	}()
	var started time.Time
	select {
	case <-seen:
		started = time.Now()
		cancel()
	case res := <-done:
		t.Fatalf("Build returned before the build started: %+v, %v\nlog:\n%s", res.r, res.err, log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the build never started; log:\n%s", log.String())
	}
	select {
	case res := <-done:
		if !errors.Is(res.err, context.Canceled) || !strings.Contains(res.err.Error(), "npm run build in ") {
			t.Fatalf("err = %v, want npm run build stopped by context.Canceled", res.err)
		}
	case <-time.After(waitDelay + 5*time.Second):
		t.Fatal("Build did not return after cancellation")
	}
	// The script writes ../finished 1.5s after starting; if node outlived npm it would.
	time.Sleep(time.Until(started.Add(2500 * time.Millisecond)))
	if _, err := os.Stat(filepath.Join(root, "finished")); err == nil {
		t.Error("the build script kept running after cancellation")
	}
}
