// Package wheelfetch downloads, online, every wheel a requirements file needs for each release
// target (OS/arch × CPython minor) with pip, into a wheelhouse directory cached by the hash of
// the requirements and targets, from which the zipapp builder packs offline.
package wheelfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sync/errgroup"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
)

// Options say what to fetch and where.
//
// Platforms has no default here: the caller passes pipeline.DefaultPlatforms (this package
// cannot import pipeline, which is where a build calls Fetch from).
type Options struct {
	Requirements       string   // path of requirements.txt
	CacheRoot          string   // e.g. <repo>/build/wheels; the wheelhouse is CacheRoot/<key>
	Platforms          []string // "linux/amd64", "darwin/arm64", ...
	MinMinor, MaxMinor int      // CPython 3.MinMinor to 3.MaxMinor, e.g. 10 and 14
	Python             string   // interpreter that runs pip; "" = python3 on PATH
	// AllowMissing completes the wheelhouse even when some wheels do not exist, listing them
	// in Result.Missing instead of failing (MATHESAR_ALLOW_MISSING_DEPS=1, for snapshots).
	AllowMissing bool
	Jobs         int       // pip processes at once; 0 = the number of CPUs, at most 4
	Log          io.Writer // progress lines; nil discards them
}

// TargetWheels is what one target needs from the wheelhouse.
type TargetWheels struct {
	Target string   `json:"target"` // "linux/amd64"
	ABI    string   `json:"abi"`    // "cp310"
	Wheels []string `json:"wheels"` // file names, sorted
}

// Result describes the wheelhouse.
type Result struct {
	Dir      string         // CacheRoot/<key>: the .whl files, plus the .complete marker
	Cached   bool           // reused without running pip
	Wheels   int            // .whl files in Dir
	Duration time.Duration  // time Fetch took
	Targets  []TargetWheels // per target and ABI, in target order then by CPython minor
	Missing  []Missing      // wheels that do not exist (only with AllowMissing; else a *MissingError)
}

// completeMarker is written last into a finished wheelhouse, so a directory without it is
// never taken for a whole one.
const completeMarker = ".complete"

// formatVersion changes when the wheelhouse layout or the way it is fetched changes, so an
// older cache entry is not reused. 2: an AllowMissing wheelhouse holds the dependencies that
// exist of a line that misses one (1 lacked them).
const formatVersion = 2

// manifest is the content of the completion marker.
type manifest struct {
	Format    int            `json:"format"`
	Key       string         `json:"key"`
	Platforms []string       `json:"platforms"`
	Python    string         `json:"python"` // "3.10-3.14"
	Pip       string         `json:"pip"`
	Targets   []TargetWheels `json:"targets"`
	Missing   []Missing      `json:"missing"`
}

// target is one (OS/arch, CPython minor) pip downloads for.
type target struct {
	name     string // "linux/amd64"
	goos     string
	goarch   string
	platform pytags.Platform
	minor    int
	abi      string   // "cp310"
	tags     []string // platform tags, best first
}

func (t target) String() string { return t.name + " " + t.abi }

// targets expands the options into (platform, minor) pairs: platforms sorted and
// deduplicated (their order does not change the wheelhouse), minors ascending.
func targets(o Options) ([]target, error) {
	if o.MinMinor <= 0 || o.MinMinor > o.MaxMinor {
		return nil, fmt.Errorf("CPython range 3.%d-3.%d is empty or invalid: set MATHESAR_PYTHON_RANGE to a range such as 3.10-3.14", o.MinMinor, o.MaxMinor)
	}
	var names []string
	for _, p := range o.Platforms {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no target platforms given: set MATHESAR_PLATFORMS to a list such as linux/amd64,darwin/arm64")
	}
	slices.Sort(names)
	var ts []target
	for _, name := range names {
		goos, goarch, ok := strings.Cut(name, "/")
		if !ok {
			return nil, fmt.Errorf("platform %q: want OS/ARCH such as linux/amd64; fix MATHESAR_PLATFORMS", name)
		}
		p, err := pytags.DefaultPlatform(goos, goarch)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", name, err)
		}
		for minor := o.MinMinor; minor <= o.MaxMinor; minor++ {
			if _, err := pytags.SupportedTags(minor, p); err != nil {
				return nil, fmt.Errorf("CPython 3.%d: %w; fix MATHESAR_PYTHON_RANGE", minor, err)
			}
			ts = append(ts, target{name: name, goos: goos, goarch: goarch, platform: p, minor: minor,
				abi: pytags.ABI(minor), tags: p.PlatformTags()})
		}
	}
	return ts, nil
}

// readRequirements returns the requirements file's bytes and its requirements, includes
// (-r) flattened in.
func readRequirements(path string) ([]byte, []pyreq.Line, error) {
	if path == "" {
		return nil, nil, errors.New("no requirements file given: pass the path of requirements.txt")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read requirements: %w: check the path", err)
	}
	lines, err := pyreq.ParseRequirementsFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read requirements %s: %w", path, err)
	}
	if len(lines) == 0 {
		return nil, nil, fmt.Errorf("%s lists no requirements: pin the app's dependencies there, one name==version a line", path)
	}
	return data, lines, nil
}

// Key is the cache key: sha256 (hex, first 16) of the requirements file's bytes plus the
// platforms and the range, so a changed pin or target makes a new wheelhouse.
func Key(o Options) (string, error) {
	data, lines, err := readRequirements(o.Requirements)
	if err != nil {
		return "", err
	}
	ts, err := targets(o)
	if err != nil {
		return "", err
	}
	return key(data, lines, ts), nil
}

// key also hashes the flattened requirements (an included file can change while the top file
// does not) and each target's platform tags (a new default glibc or macOS version changes
// which wheels fit). Every field is length-prefixed so no two inputs hash alike.
func key(data []byte, lines []pyreq.Line, ts []target) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s\n", len(s), s) }
	field("mathesar-packaging wheelfetch " + strconv.Itoa(formatVersion))
	field(string(data))
	for _, l := range lines {
		field(requirementLine(l))
	}
	for _, t := range ts {
		field(t.String())
		field(strings.Join(t.tags, " "))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// requirementLine renders a requirement as one line of a requirements file pip reads.
func requirementLine(l pyreq.Line) string {
	s := l.Requirement.String()
	for _, h := range l.Hashes {
		s += " --hash=" + h
	}
	return s
}

// readManifest returns the completion marker of dir, or ok=false when dir is not a
// completed wheelhouse of this format.
func readManifest(dir string) (manifest, bool) {
	data, err := os.ReadFile(filepath.Join(dir, completeMarker))
	if err != nil {
		return manifest{}, false
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil || m.Format != formatVersion {
		return manifest{}, false
	}
	return m, true
}

// Fetch makes sure CacheRoot/<key> holds every wheel the requirements need on every target,
// running pip only when no completed wheelhouse is there. A fetch that fails or is
// interrupted leaves no completed directory. When wheels do not exist it returns a
// *MissingError listing all of them, unless o.AllowMissing.
func Fetch(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	data, lines, err := readRequirements(o.Requirements)
	if err != nil {
		return Result{}, err
	}
	ts, err := targets(o)
	if err != nil {
		return Result{}, err
	}
	if o.CacheRoot == "" {
		return Result{}, errors.New("no wheel cache directory given: pass one such as <repo>/build/wheels")
	}
	k := key(data, lines, ts)
	dir := filepath.Join(o.CacheRoot, k)

	if res, ok, err := cached(dir, o.AllowMissing, start, log); ok || err != nil {
		return res, err
	}
	if err := os.MkdirAll(o.CacheRoot, 0o755); err != nil {
		return Result{}, fmt.Errorf("create wheel cache: %w", err)
	}
	// Two builds fetching the same wheelhouse at once would download it twice; the second
	// waits and then finds it complete.
	lock := flock.New(filepath.Join(o.CacheRoot, "."+k+".lock"))
	if _, err := lock.TryLockContext(ctx, 250*time.Millisecond); err != nil {
		return Result{}, fmt.Errorf("lock the wheel cache %s: %w", lock.Path(), err)
	}
	defer lock.Unlock()
	if res, ok, err := cached(dir, o.AllowMissing, start, log); ok || err != nil {
		return res, err
	}
	if _, err := os.Stat(filepath.Join(dir, completeMarker)); err == nil {
		fmt.Fprintf(log, "wheels: %s lacks some wheels (a MATHESAR_ALLOW_MISSING_DEPS fetch): fetching again\n", dir)
	}
	// Under the lock, a temporary directory of this key is what a killed fetch left.
	removeTemps(o.CacheRoot, k)
	tmp, err := os.MkdirTemp(o.CacheRoot, "."+k+".tmp-")
	if err != nil {
		return Result{}, fmt.Errorf("create wheel cache: %w", err)
	}
	defer os.RemoveAll(tmp) // after the rename there is nothing left to remove
	work := filepath.Join(tmp, ".work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return Result{}, fmt.Errorf("create wheel cache: %w", err)
	}

	python := o.Python
	if python == "" {
		python = "python3"
	}
	pip := pipRunner{python: python, dir: work}
	resolved, pipVersion, err := pip.probe(ctx)
	if err != nil {
		return Result{}, err
	}
	pip.python = resolved
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = min(runtime.NumCPU(), 4)
	}
	fmt.Fprintf(log, "wheels: fetching %d target(s) into %s with pip %s (%s), %d at a time\n", len(ts), dir, pipVersion, resolved, jobs)

	f := fetcher{pip: pip, work: work, lines: lines, hashMode: slices.ContainsFunc(lines, func(l pyreq.Line) bool { return len(l.Hashes) > 0 })}
	// Only a snapshot keeps the wheels of a line that misses a dependency; a strict fetch
	// fails on what pip names, as before. In hash mode every dependency is a pin, which the
	// no-deps runs fetch already; resolving one apart would fetch its dependencies unhashed.
	f.expandDeps = o.AllowMissing && !f.hashMode
	if err := f.writeRequirementFiles(); err != nil {
		return Result{}, err
	}
	type fetched struct {
		out     string
		wheels  []string
		missing []Missing
	}
	results := make([]fetched, len(ts))
	plog := &syncWriter{w: log}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, t := range ts {
		g.Go(func() error {
			tStart := time.Now()
			out := filepath.Join(work, fmt.Sprintf("%s_%s-%s", t.goos, t.goarch, t.abi))
			wheels, missing, err := f.fetchTarget(gctx, t, out)
			if err != nil {
				return err
			}
			results[i] = fetched{out: out, wheels: wheels, missing: missing}
			note := ""
			if len(missing) > 0 {
				note = fmt.Sprintf(", %d missing", len(missing))
			}
			fmt.Fprintf(plog, "wheels: %s %s: %d wheels%s (%.1fs)\n", t.name, t.abi, len(wheels), note, time.Since(tStart).Seconds())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}

	man := manifest{Format: formatVersion, Key: k, Python: fmt.Sprintf("3.%d-3.%d", o.MinMinor, o.MaxMinor), Pip: pipVersion}
	for i, t := range ts {
		if i == 0 || t.name != ts[i-1].name {
			man.Platforms = append(man.Platforms, t.name)
		}
		// Merged in target order, so the result does not depend on which pip ran first.
		if err := mergeWheels(results[i].out, tmp, results[i].wheels); err != nil {
			return Result{}, err
		}
		man.Targets = append(man.Targets, TargetWheels{Target: t.name, ABI: t.abi, Wheels: results[i].wheels})
		man.Missing = append(man.Missing, results[i].missing...)
	}
	man.Missing = sortMissing(man.Missing)
	res := Result{Dir: dir, Targets: man.Targets, Missing: man.Missing}
	if len(man.Missing) > 0 && !o.AllowMissing {
		res.Dir = ""
		res.Duration = time.Since(start)
		return res, &MissingError{Missing: man.Missing}
	}

	if err := os.RemoveAll(work); err != nil {
		return Result{}, fmt.Errorf("clean up %s: %w", work, err)
	}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return Result{}, fmt.Errorf("encode %s: %w", completeMarker, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, completeMarker), append(manJSON, '\n'), 0o644); err != nil {
		return Result{}, fmt.Errorf("mark the wheelhouse complete: %w", err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		return Result{}, err
	}
	if res.Wheels, err = countWheels(dir); err != nil {
		return Result{}, err
	}
	if len(res.Missing) > 0 {
		fmt.Fprintf(log, "wheels: warning: %d wheel(s) do not exist; the wheelhouse is incomplete (MATHESAR_ALLOW_MISSING_DEPS):\n%s\n",
			len(res.Missing), (&MissingError{Missing: res.Missing}).Error())
	}
	res.Duration = time.Since(start)
	fmt.Fprintf(log, "wheels: %s: %d wheels (%.1fs)\n", dir, res.Wheels, res.Duration.Seconds())
	return res, nil
}

// replaceDir renames the finished tmp to dir, replacing an incomplete (or snapshot)
// wheelhouse left there.
func replaceDir(tmp, dir string) error {
	err := os.Rename(tmp, dir)
	if err == nil {
		return nil
	}
	if _, statErr := os.Lstat(dir); statErr != nil {
		return fmt.Errorf("move the wheelhouse into place: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("replace the old wheelhouse %s: %w; remove it by hand", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move the wheelhouse into place: %w", err)
	}
	return nil
}

// removeTemps removes temporary directories of this key that killed fetches left (a
// cancelled or failed fetch removes its own). The caller holds the key's lock.
func removeTemps(root, key string) {
	matches, _ := filepath.Glob(filepath.Join(root, "."+key+".tmp-*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// cached returns the completed wheelhouse in dir, if there is one fit for the fetch: one
// that lacks wheels serves only fetches that allow that.
func cached(dir string, allowMissing bool, start time.Time, log io.Writer) (Result, bool, error) {
	m, ok := readManifest(dir)
	if !ok || (len(m.Missing) > 0 && !allowMissing) {
		return Result{}, false, nil
	}
	res := Result{Dir: dir, Cached: true, Targets: m.Targets, Missing: m.Missing}
	var err error
	if res.Wheels, err = countWheels(dir); err != nil {
		return Result{}, false, err
	}
	res.Duration = time.Since(start)
	fmt.Fprintf(log, "wheels: using %s (%d wheels, cached)\n", dir, res.Wheels)
	return res, true, nil
}

// syncWriter serializes progress lines of targets fetched at once.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// mergeWheels moves one target's wheels into the wheelhouse. The same file name fetched for
// two targets must have the same bytes: two different files by one name would make the
// wheelhouse depend on the order targets ran in.
func mergeWheels(from, to string, names []string) error {
	for _, n := range names {
		src, dst := filepath.Join(from, n), filepath.Join(to, n)
		if _, err := os.Lstat(dst); err == nil {
			same, err := sameContent(src, dst)
			if err != nil {
				return err
			}
			if !same {
				return fmt.Errorf("pip fetched two different files named %s: the configured indexes (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS) disagree about it; use one index that serves it", n)
			}
			continue
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("move %s into the wheelhouse: %w", n, err)
		}
	}
	return nil
}

func sameContent(a, b string) (bool, error) {
	da, err := os.ReadFile(a)
	if err != nil {
		return false, fmt.Errorf("compare wheels: %w", err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		return false, fmt.Errorf("compare wheels: %w", err)
	}
	return bytes.Equal(da, db), nil
}

// listWheels returns the .whl file names in dir, sorted.
func listWheels(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list wheels: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".whl") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func countWheels(dir string) (int, error) {
	names, err := listWheels(dir)
	return len(names), err
}
