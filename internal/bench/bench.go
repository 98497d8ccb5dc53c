// Package bench measures the launcher and the release against their alternatives, side by
// side in one run, and writes docs/benchmarks.md and docs/benchmarks.svg (issue #8). It
// records numbers and checks that results are correct (exit codes, tree hashes, one
// unpack); no threshold fails it, because benchmarks are not timed tests.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
	"github.com/mathesar-foundation/mathesar-packaging/internal/zipapp"
)

// Options configure a benchmark run.
type Options struct {
	Root   string    // repository root; the report goes to Root/docs
	Runs   int       // runs per measurement; fewer than 10 means 10
	Python string    // interpreter for both sides; "" means MATHESAR_PYTHON or python3's sys.executable
	Log    io.Writer // progress
	// Tree is the realistic bundle's shape; zero means RealisticTree.
	Tree TreeSpec
	// SkipRelease leaves out the release timings (they need git, GoReleaser and a minute).
	SkipRelease bool
}

// Run measures everything and writes the report; it returns the report's data.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Runs < 10 {
		o.Runs = 10
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Tree == (TreeSpec{}) {
		o.Tree = RealisticTree
	}
	python, err := resolvePython(ctx, o.Python)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "mathesar-bench-")
	if err != nil {
		return nil, fmt.Errorf("create a work directory: %w", err)
	}
	defer os.RemoveAll(work)
	r := &Report{Date: time.Now().UTC(), Machine: readMachine(ctx, python), Runs: o.Runs}
	b := &bencher{o: o, python: python, work: work, r: r}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"build the launcher", b.buildLauncher},
		{"build the sample pyz", b.buildSample},
		{"warm start (sample app)", b.warmSample},
		{"generate and build the realistic bundle", b.buildRealistic},
		{"warm start (realistic bundle)", b.warmRealistic},
		{"first run with a cold cache", b.coldRuns},
		{"8 concurrent first runs", b.concurrent},
	}
	if !o.SkipRelease {
		steps = append(steps, struct {
			name string
			fn   func(context.Context) error
		}{"release, full and re-run", b.release})
	}
	for _, s := range steps {
		start := time.Now()
		fmt.Fprintf(o.Log, "bench: %s...\n", s.name)
		if err := s.fn(ctx); err != nil {
			return r, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(o.Log, "bench: %s: %.1fs\n", s.name, time.Since(start).Seconds())
	}
	md, svg := r.Markdown(), r.SVG()
	if err := atomicfile.WriteFile(filepath.Join(o.Root, "docs", "benchmarks.svg"), svg, 0o644); err != nil {
		return r, err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Root, "docs", "benchmarks.md"), md, 0o644); err != nil {
		return r, err
	}
	return r, nil
}

// resolvePython returns a real interpreter path: a pyenv shim is a shell script that would
// add its own start-up cost to the direct side only if the launcher resolved it differently.
func resolvePython(ctx context.Context, given string) (string, error) {
	if given == "" {
		given = os.Getenv("MATHESAR_PYTHON")
	}
	if given == "" {
		given = "python3"
	}
	out, err := exec.CommandContext(ctx, given, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("run %s: %w; install python3 or set MATHESAR_PYTHON to a CPython 3.10-3.14", given, err)
	}
	return strings.TrimSpace(string(out)), nil
}

type bencher struct {
	o        Options
	python   string
	work     string
	r        *Report
	launcher string
	abi      string
	sample   bundleInfo
	real     map[int]bundleInfo // by compression level
	realSrc  string             // the generated tree
	realHash string
}

type bundleInfo struct {
	pyz, buildID string
	files        int
	size         int64
	build        time.Duration
}

// env is the launcher's environment for one cache; an empty config file keeps the
// machine's own config out of the numbers.
func (b *bencher) env(pyz, cache string) []string {
	return []string{"MATHESAR_PYZ=" + pyz, "MATHESAR_CACHE_DIR=" + cache, "MATHESAR_PYTHON=" + b.python,
		"MATHESAR_CONFIG=" + filepath.Join(b.work, "empty.conf")}
}

func (b *bencher) buildLauncher(ctx context.Context) error {
	b.launcher = filepath.Join(b.work, "mathesar")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.launcher, "./cmd/mathesar")
	cmd.Dir = b.o.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/mathesar: %w\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(b.work, "empty.conf"), nil, 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, b.python, "-c", "import sys; print('cp%d%d' % sys.version_info[:2])").Output()
	if err != nil {
		return fmt.Errorf("probe %s: %w", b.python, err)
	}
	b.abi = strings.TrimSpace(string(out))
	return nil
}

func (b *bencher) target() (zipapp.Target, error) {
	p, err := pytags.DefaultPlatform("linux", runtime.GOARCH)
	return zipapp.Target{Platform: p, MinMinor: 10, MaxMinor: 14}, err
}

func (b *bencher) build(ctx context.Context, app, wheels, version string, sample bool, level int, out string) (bundleInfo, error) {
	t, err := b.target()
	if err != nil {
		return bundleInfo{}, err
	}
	start := time.Now()
	res, err := zipapp.Build(ctx, zipapp.Options{AppDir: app, Version: version, Sample: sample, Wheelhouse: wheels,
		Target: t, Output: out, CompressionLevel: level})
	if err != nil {
		return bundleInfo{}, fmt.Errorf("build %s: %w", out, err)
	}
	d := time.Since(start)
	info, err := os.Stat(out)
	if err != nil {
		return bundleInfo{}, err
	}
	return bundleInfo{pyz: out, buildID: res.Manifest.BuildID, files: len(res.Manifest.Files), size: info.Size(), build: d}, nil
}

func (b *bencher) buildSample(ctx context.Context) error {
	dir := filepath.Join(b.work, "sample")
	app, wheels := filepath.Join(dir, "app"), filepath.Join(dir, "wheels")
	if err := samplewheels.ExtractApp(app); err != nil {
		return fmt.Errorf("extract the sample app: %w", err)
	}
	if _, err := samplewheels.BuildWheelhouse(ctx, wheels, samplewheels.Options{Python: b.python}); err != nil {
		return fmt.Errorf("build the sample wheelhouse: %w", err)
	}
	var err error
	b.sample, err = b.build(ctx, app, wheels, "0.1.0+sample", true, 0, filepath.Join(dir, "mathesar.pyz"))
	b.r.Sizes = append(b.r.Sizes, SizeRow{What: "sample app pyz (linux/" + runtime.GOARCH + ")", Bytes: b.sample.size, Files: b.sample.files})
	return err
}

// warm compares warm starts of one bundle: the cache is filled first, then each round runs
// every command once, so drift in the machine's load hits all sides alike.
func (b *bencher) warm(ctx context.Context, label string, bi bundleInfo, withVersion bool) error {
	cache := filepath.Join(b.work, "cache-warm-"+label)
	env := b.env(bi.pyz, cache)
	tree := filepath.Join(cache, bi.buildID, b.abi)
	app, site := filepath.Join(tree, "app"), filepath.Join(tree, "site-packages")
	if _, _, err := (proc{argv: []string{b.launcher, "python", "--", "-c", "pass"}, env: env}).run(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(tree, "app")); err != nil {
		return fmt.Errorf("the launcher did not unpack into %s: %w", tree, err)
	}
	pypath := "PYTHONPATH=" + app + string(filepath.ListSeparator) + site
	procs := []proc{
		{argv: []string{b.launcher, "python", "--", "-c", "pass"}, env: env},
		// What the launcher execs for `mathesar python` (appenv.Python): same interpreter,
		// same search path, -s, run in the app directory.
		{argv: []string{b.python, "-s", "-c", "pass"}, env: []string{pypath, "PYTHONNOUSERSITE=1"}, dir: app},
	}
	names := []string{"`mathesar python -- -c pass`", "`python3 -s -c pass`, same path"}
	if withVersion {
		procs = append(procs,
			proc{argv: []string{b.launcher, "version"}, env: env},
			proc{argv: []string{b.python, "-c", "from mathesar import __version__; print(__version__)"}, env: []string{"PYTHONPATH=" + app}, dir: app})
		names = append(names, "`mathesar version`", "`python3 -c \"from mathesar import __version__\"`")
	}
	samples := make([]Sample, len(procs))
	for round := 0; round < 2*b.o.Runs; round++ {
		for i, p := range procs {
			d, out, err := p.run(ctx)
			if err != nil {
				return err
			}
			if i >= 2 && !strings.Contains(string(out), "0.1.0+sample") {
				return fmt.Errorf("%s printed %q, not the version 0.1.0+sample", names[i], out)
			}
			samples[i] = append(samples[i], d)
		}
	}
	for i := 0; i < len(procs); i += 2 {
		b.r.Warm = append(b.r.Warm, Pair{Bundle: label, Subject: names[i], Base: names[i+1], S: samples[i], B: samples[i+1]})
	}
	return nil
}

func (b *bencher) warmSample(ctx context.Context) error { return b.warm(ctx, "sample", b.sample, true) }

func (b *bencher) warmRealistic(ctx context.Context) error {
	return b.warm(ctx, "realistic", b.real[6], false)
}

var levels = []int{1, 6, 9}

func (b *bencher) buildRealistic(ctx context.Context) error {
	dir := filepath.Join(b.work, "real")
	b.realSrc = filepath.Join(dir, "app")
	total, err := Generate(b.realSrc, b.o.Tree)
	if err != nil {
		return err
	}
	pkg := filepath.Join(b.realSrc, "mathesar")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return err
	}
	for name, data := range map[string]string{
		filepath.Join(pkg, "__init__.py"):            "__version__ = \"0.0.0+bench\"\n",
		filepath.Join(b.realSrc, "requirements.txt"): "",
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			return err
		}
	}
	if b.realHash, _, err = TreeHash(b.realSrc); err != nil {
		return err
	}
	wheels := filepath.Join(dir, "wheels")
	if err := os.MkdirAll(wheels, 0o755); err != nil {
		return err
	}
	b.r.Tree = TreeRow{Files: b.o.Tree.Files + 2, Bytes: total}
	b.real = map[int]bundleInfo{}
	for _, l := range levels {
		bi, err := b.build(ctx, b.realSrc, wheels, "0.0.0+bench", false, l, filepath.Join(dir, fmt.Sprintf("level%d.pyz", l)))
		if err != nil {
			return err
		}
		b.real[l] = bi
	}
	return nil
}

// fresh returns a path that does not exist yet, for one extraction.
func (b *bencher) fresh(prefix string) string {
	d, err := os.MkdirTemp(b.work, prefix)
	if err == nil {
		os.Remove(d)
	}
	return d
}

// coldRuns times, round after round, the launcher's first run on each compression level
// and the two other extractors on the default level.
func (b *bencher) coldRuns(ctx context.Context) error {
	def := b.real[6]
	type side struct {
		name  string
		level int
		mk    func(dest string) proc
		tree  func(dest string, bi bundleInfo) string // where the app tree lands
	}
	launcher := func(l int) side {
		return side{name: fmt.Sprintf("mathesar (flate level %d)", l), level: l,
			mk: func(dest string) proc {
				return proc{argv: []string{b.launcher, "python", "--", "-c", "pass"}, env: b.env(b.real[l].pyz, dest)}
			},
			tree: func(dest string, bi bundleInfo) string { return filepath.Join(dest, bi.buildID, b.abi, "app") }}
	}
	sides := []side{
		launcher(6),
		{name: "python3 -m zipfile -e", level: 6,
			mk:   func(dest string) proc { return proc{argv: []string{b.python, "-m", "zipfile", "-e", def.pyz, dest}} },
			tree: func(dest string, _ bundleInfo) string { return filepath.Join(dest, "app") }},
		{name: "unzip -q", level: 6,
			mk:   func(dest string) proc { return proc{argv: []string{"unzip", "-q", def.pyz, "-d", dest}} },
			tree: func(dest string, _ bundleInfo) string { return filepath.Join(dest, "app") }},
		launcher(1),
		launcher(9),
	}
	samples := make([]Sample, len(sides))
	hashes := make([]string, len(sides))
	for round := 0; round < b.o.Runs; round++ {
		for i, s := range sides {
			dest := b.fresh("cold-")
			d, _, err := s.mk(dest).run(ctx)
			if err != nil {
				return err
			}
			samples[i] = append(samples[i], d)
			if round == 0 {
				h, _, err := TreeHash(s.tree(dest, b.real[s.level]))
				if err != nil {
					return err
				}
				if h != b.realHash {
					return fmt.Errorf("%s unpacked a tree that differs from the generated source (hash %s, want %s)", s.name, h, b.realHash)
				}
				hashes[i] = h
			}
			if err := os.RemoveAll(dest); err != nil {
				return err
			}
		}
	}
	for i, s := range sides {
		b.r.Cold = append(b.r.Cold, ColdRow{Tool: s.name, Level: s.level, S: samples[i], Hash: hashes[i], Size: b.real[s.level].size, Build: b.real[s.level].build})
	}
	return nil
}

// concurrent times, round after round, one first run and then 8 started together on a
// fresh cache, and checks that all succeed and that one tree was unpacked.
func (b *bencher) concurrent(ctx context.Context) error {
	const n = 8
	bi := b.real[6]
	var single, group Sample
	for round := 0; round < b.o.Runs; round++ {
		dest := b.fresh("single-")
		d, _, err := (proc{argv: []string{b.launcher, "python", "--", "-c", "pass"}, env: b.env(bi.pyz, dest)}).run(ctx)
		if err != nil {
			return err
		}
		single = append(single, d)
		os.RemoveAll(dest)

		dest = b.fresh("group-")
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = (proc{argv: []string{b.launcher, "python", "--", "-c", "pass"}, env: b.env(bi.pyz, dest)}).run(ctx)
			}()
		}
		wg.Wait()
		group = append(group, time.Since(start))
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("concurrent run %d of %d: %w", i+1, n, err)
			}
		}
		entries, err := os.ReadDir(filepath.Join(dest, bi.buildID))
		if err != nil {
			return err
		}
		var trees []string
		for _, e := range entries {
			if e.IsDir() {
				trees = append(trees, e.Name())
			}
		}
		if len(trees) != 1 || trees[0] != b.abi {
			return fmt.Errorf("%d concurrent first runs left directories %v under the build, want one unpacked tree %s", n, trees, b.abi)
		}
		if round == 0 {
			h, _, err := TreeHash(filepath.Join(dest, bi.buildID, b.abi, "app"))
			if err != nil {
				return err
			}
			if h != b.realHash {
				return fmt.Errorf("the tree unpacked by %d concurrent runs differs from the generated source", n)
			}
		}
		os.RemoveAll(dest)
	}
	b.r.Concurrent = &ConcurrentRow{N: n, Single: single, Group: group, Trees: 1}
	return nil
}
