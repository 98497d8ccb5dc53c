package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Machine describes where the numbers were measured.
type Machine struct {
	CPU    string
	Cores  int
	Memory string
	Kernel string
	Go     string
	Python string
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s RAM, Linux %s, %s, Python %s", m.CPU, m.Cores, m.Memory, m.Kernel, m.Go, m.Python)
}

func readMachine(ctx context.Context, python string) Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Memory: "?", Kernel: "?", Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(data), "\n") {
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import platform; print(platform.python_version())").Output(); err == nil {
		m.Python = strings.TrimSpace(string(out))
	}
	return m
}

// Sample is the wall times of repeated runs of one command.
type Sample []time.Duration

// Median is the middle run (the mean of the two middle runs for an even count).
func (s Sample) Median() time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := append(Sample(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// Min is the fastest run.
func (s Sample) Min() time.Duration {
	m := time.Duration(0)
	for i, d := range s {
		if i == 0 || d < m {
			m = d
		}
	}
	return m
}

// proc is one command to time.
type proc struct {
	argv []string
	env  []string // added to the harness's environment
	dir  string
}

// run starts p, waits for it and returns its wall time; a non-zero exit is an error
// carrying the command's output, since a benchmark of a failing command measures nothing.
func (p proc) run(ctx context.Context) (time.Duration, []byte, error) {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, out.Bytes(), fmt.Errorf("%s: %w\n%s", strings.Join(shortArgv(p.argv), " "), err, tail(out.String(), 2000))
	}
	return d, out.Bytes(), nil
}

func shortArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 60 {
			a = a[:57] + "..."
		}
		out[i] = a
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stampWriter records when each line of a log arrived, so the stages of a release that
// logs as it goes can be timed without changing the release code.
type stampWriter struct {
	start   time.Time
	partial []byte
	lines   []stampedLine
}

type stampedLine struct {
	at   time.Duration
	text string
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, stampedLine{at: time.Since(w.start), text: string(w.partial[:i])})
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Stage is one timed step of a run.
type Stage struct {
	Name     string
	Duration time.Duration
}

// Marker starts a stage at the first log line containing Text.
type Marker struct {
	Text  string
	Stage string
}

// stages splits a stamped log into the stage first (from 0) and then one stage per marker
// found, in order; a marker that never appears is skipped. The last stage runs to end.
func stages(lines []stampedLine, end time.Duration, first string, markers []Marker) []Stage {
	out := []Stage{{Name: first}}
	starts := []time.Duration{0}
	next := 0
	for _, m := range markers {
		for i := next; i < len(lines); i++ {
			if strings.Contains(lines[i].text, m.Text) {
				out = append(out, Stage{Name: m.Stage})
				starts = append(starts, lines[i].at)
				next = i + 1
				break
			}
		}
	}
	for i := range out {
		stop := end
		if i+1 < len(starts) {
			stop = starts[i+1]
		}
		out[i].Duration = stop - starts[i]
	}
	return out
}
