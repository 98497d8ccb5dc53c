package wheelfetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// fetcher downloads the requirements per target. It is not changed once made, so targets
// run at once; each target writes only its own files in work.
type fetcher struct {
	pip      pipRunner
	work     string       // scratch directory: requirement files and per-target downloads
	lines    []pyreq.Line // the requirements, includes flattened
	hashMode bool         // some line has --hash, so pip checks hashes of everything it fetches
	// expandDeps fetches, for a line that fails on a missing dependency, the dependencies
	// that do exist (AllowMissing: the snapshot's wheelhouse needs them).
	expandDeps bool
}

// allFile is the flattened requirements file pip reads first for every target.
func (f fetcher) allFile() string { return filepath.Join(f.work, "requirements.txt") }

// constraintsFile holds the pins as constraints, for runs that resolve only some of the
// requirements: a dependency that requirements.txt pins gets that version there too, as it
// would in one run over the whole file.
func (f fetcher) constraintsFile() string { return filepath.Join(f.work, "constraints.txt") }

// writeRequirementFiles writes the flattened requirements and their constraints.
func (f fetcher) writeRequirementFiles() error {
	if err := writeLines(f.allFile(), f.lines); err != nil {
		return err
	}
	// pip refuses extras in a constraint; the line itself carries them.
	var data []byte
	for _, l := range f.lines {
		r := l.Requirement
		data = append(data, pyreq.Requirement{Name: r.Name, Specifier: r.Specifier, Marker: r.Marker}.String()+"\n"...)
	}
	if err := atomicfile.WriteFile(f.constraintsFile(), data, 0o644); err != nil {
		return fmt.Errorf("write constraints for pip: %w", err)
	}
	return nil
}

// args are pip download's arguments for target t: wheels only, for CPython 3.<minor>'s ABI,
// abi3 and pure wheels, on every platform tag the target accepts. pip expands a macosx tag
// to the older macOS versions itself, but not manylinux_2_X tags (only the legacy
// manylinux2014/2010 aliases), so every tag is passed. constraints is a constraints file,
// "" for none.
func (t target) args(reqFile, constraints, dest string, noDeps bool) []string {
	args := []string{"download", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
		"--only-binary=:all:", "--implementation", "cp", "--python-version", fmt.Sprintf("3.%d", t.minor),
		"--abi", t.abi, "--abi", "abi3", "--abi", "none"}
	for _, tag := range t.tags {
		args = append(args, "--platform", tag)
	}
	if noDeps {
		args = append(args, "--no-deps")
	}
	if constraints != "" {
		args = append(args, "-c", constraints)
	}
	return append(args, "-r", reqFile, "-d", dest)
}

// markerEnv is the marker environment pip evaluates requirements in for t. The patch level
// is unknown at build time; the zipapp builder refuses markers that depend on it.
func (t target) markerEnv() (pyreq.Env, error) {
	return pyreq.TargetEnv(t.minor, 0, t.goos, t.goarch)
}

// download runs pip for t; a run that failed for another reason than a missing wheel is an
// error naming pip's last lines.
func (f fetcher) download(ctx context.Context, t target, reqFile, constraints, dest string, noDeps bool) (pipRun, error) {
	env, err := t.markerEnv()
	if err != nil {
		return pipRun{}, fmt.Errorf("%s: %w", t, err)
	}
	res, err := f.pip.run(ctx, env, t.args(reqFile, constraints, dest, noDeps)...)
	if err != nil {
		return res, fmt.Errorf("pip download for %s: %w", t, err)
	}
	if res.outcome == failed {
		return res, fmt.Errorf("pip download for %s failed:\n%s\ncheck the network and the index settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS); "+
			"offline builds skip fetching with MATHESAR_WHEELHOUSE=dir, a directory holding the wheels", t, tail(res.output, 15))
	}
	return res, nil
}

// fetchTarget downloads every wheel t needs into dest and returns their names with the
// wheels that do not exist.
//
// pip stops at the first distribution it cannot find. After a miss, the pins are
// downloaded without dependencies, each one pip names is dropped and the rest tried again,
// until the rest downloads: that finds every missing pin in one run more than there are.
// Then the rest is resolved with dependencies; while a set of lines fails on a dependency
// no line pins, it is split in halves, to find the missing dependency of each line. The
// wheels of every line that resolves land in dest (an AllowMissing wheelhouse needs them),
// and with expandDeps so do those of a line that does not (see search.expand).
func (f fetcher) fetchTarget(ctx context.Context, t target, dest string) ([]string, []Missing, error) {
	res, err := f.download(ctx, t, f.allFile(), "", dest, false)
	if err != nil {
		return nil, nil, err
	}
	if res.outcome == succeeded {
		wheels, err := listWheels(dest)
		return wheels, nil, err
	}

	s := search{fetcher: f, t: t, dest: dest, listed: map[string]bool{}, done: map[string]bool{}, pinned: map[string]string{}}
	rest := slices.Clone(f.lines)
	for len(rest) > 0 {
		probe, err := s.try(ctx, rest, dest, true)
		if err != nil {
			return nil, nil, err
		}
		if probe.outcome == succeeded {
			break
		}
		named := pyreq.NormalizeName(probe.missing.Name)
		i := slices.IndexFunc(rest, func(l pyreq.Line) bool { return pyreq.NormalizeName(l.Requirement.Name) == named })
		if i < 0 {
			return nil, nil, fmt.Errorf("pip download --no-deps for %s named %s, which requirements.txt does not pin:\n%s", t, probe.missing.Name, tail(probe.output, 15))
		}
		s.add(rest[i].Requirement)
		rest = slices.Delete(rest, i, i+1)
	}
	if len(rest) > 0 && f.expandDeps {
		// The probe that succeeded fetched exactly one wheel for each line left (pip refuses
		// a name given twice), and nothing else: a failed resolution downloads nothing.
		names, err := listWheels(dest)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range names {
			if fn, err := wheel.ParseFilename(n); err == nil {
				if _, seen := s.pinned[fn.Project()]; seen {
					n = "" // not one wheel per name after all: let pip pick
				}
				s.pinned[fn.Project()] = n
			}
		}
	}
	if len(rest) > 0 {
		// When no pin was missing, the first run already says the whole set fails.
		var known *pipRun
		if len(rest) == len(f.lines) {
			known = &res
		}
		if err := s.resolve(ctx, rest, known); err != nil {
			return nil, nil, err
		}
	}
	wheels, err := listWheels(dest)
	return wheels, sortMissing(s.missing), err
}

// search collects the missing wheels of one target.
type search struct {
	fetcher
	t       target
	dest    string
	missing []Missing
	listed  map[string]bool // normalized names in missing: each is listed once
	// done holds the requirements (reqKey) resolved or expanded on this target, so a
	// dependency several lines share costs its pip runs once.
	done map[string]bool
	// pinned maps the normalized name of each line to its wheel in dest, which the pins
	// select for every dependency of that name too (they are constraints): expanding a line
	// costs no run to fetch its own wheel.
	pinned map[string]string
}

// add lists r as missing, unless its distribution is listed already.
func (s *search) add(r pyreq.Requirement) {
	name := pyreq.NormalizeName(r.Name)
	if s.listed[name] {
		return
	}
	s.listed[name] = true
	version, ok := r.Pin()
	if !ok {
		version = r.Specifier
	}
	s.missing = append(s.missing, Missing{Package: r.Name, Version: version, ABI: s.t.abi, Platform: s.t.tags[0], Target: s.t.name})
}

// reqKey identifies what a requirement asks for, its marker aside (already decided).
func reqKey(r pyreq.Requirement) string {
	return pyreq.NormalizeName(r.Name) + "[" + strings.Join(r.Extras, ",") + "]" + r.Specifier
}

// try downloads the requirements ls for the target into dest. With dependencies, and
// unless pip checks hashes (a hashed file pins everything already), the pins constrain
// what ls need.
func (s *search) try(ctx context.Context, ls []pyreq.Line, dest string, noDeps bool) (pipRun, error) {
	file := filepath.Join(s.work, fmt.Sprintf("%s_%s-%s.txt", s.t.goos, s.t.goarch, s.t.abi))
	if err := writeLines(file, ls); err != nil {
		return pipRun{}, err
	}
	constraints := ""
	if !noDeps && !s.hashMode {
		constraints = s.constraintsFile()
	}
	return s.download(ctx, s.t, file, constraints, dest, noDeps)
}

// resolve downloads the requirements ls with their dependencies; known, when given, is a
// failed run of exactly those.
func (s *search) resolve(ctx context.Context, ls []pyreq.Line, known *pipRun) error {
	run := known
	if run == nil {
		ls = slices.DeleteFunc(slices.Clone(ls), func(l pyreq.Line) bool { return s.done[reqKey(l.Requirement)] })
		if len(ls) == 0 {
			return nil
		}
		r, err := s.try(ctx, ls, s.dest, false)
		if err != nil {
			return err
		}
		if r.outcome == succeeded {
			for _, l := range ls {
				s.done[reqKey(l.Requirement)] = true
			}
			return nil
		}
		run = &r
	}
	before := len(s.missing)
	// Splitting a hash-checked set fails on the hashes of dependencies pinned in the other
	// half; such a file normally pins every dependency anyway, so the missing pins are known.
	if len(ls) > 1 && !s.hashMode {
		mid := len(ls) / 2
		if err := s.resolve(ctx, ls[:mid], nil); err != nil {
			return err
		}
		if err := s.resolve(ctx, ls[mid:], nil); err != nil {
			return err
		}
	}
	// A missing pin that another line depends on was listed already. When both halves
	// resolve alone, what pip named for the whole set is still listed.
	if len(s.missing) == before {
		s.add(run.missing)
	}
	if len(ls) == 1 && s.expandDeps {
		return s.expand(ctx, ls[0].Requirement)
	}
	return nil
}

// expand lands what exists of a requirement whose resolution failed on a missing
// distribution. pip downloads nothing of a resolution that fails and names only the first
// distribution it misses, so the requirement's own wheel is fetched without dependencies
// and the dependencies its METADATA declares for the target are resolved without it,
// expanding in turn those that fail.
func (s *search) expand(ctx context.Context, r pyreq.Requirement) error {
	s.done[reqKey(r)] = true // a dependency cycle leads back here
	if s.listed[pyreq.NormalizeName(r.Name)] {
		return nil // its own wheel is what is missing
	}
	w, err := s.ownWheel(ctx, r)
	if err != nil || w == nil {
		return err
	}
	deps, err := s.dependencies(w, r.Extras)
	if err != nil {
		return err
	}
	var todo []pyreq.Line
	for _, d := range deps {
		if !s.listed[pyreq.NormalizeName(d.Name)] && !s.done[reqKey(d)] &&
			!slices.ContainsFunc(todo, func(l pyreq.Line) bool { return reqKey(l.Requirement) == reqKey(d) }) {
			todo = append(todo, pyreq.Line{Requirement: d})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	return s.resolve(ctx, todo, nil)
}

// ownWheel downloads r's wheel alone into dest and returns it opened, or nil when it does
// not exist (then it is listed missing).
func (s *search) ownWheel(ctx context.Context, r pyreq.Requirement) (*wheel.Wheel, error) {
	if name := s.pinned[pyreq.NormalizeName(r.Name)]; name != "" {
		w, err := wheel.Open(filepath.Join(s.dest, name))
		if err != nil {
			return nil, fmt.Errorf("read the dependencies of %s (for %s): %w", name, s.t, err)
		}
		return w, nil
	}
	// A directory of its own tells which file pip picked.
	scratch, err := os.MkdirTemp(s.work, fmt.Sprintf("%s_%s-%s-nodeps-", s.t.goos, s.t.goarch, s.t.abi))
	if err != nil {
		return nil, fmt.Errorf("create a download directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	run, err := s.try(ctx, []pyreq.Line{{Requirement: r}}, scratch, true)
	if err != nil {
		return nil, err
	}
	if run.outcome == notFound {
		s.add(run.missing)
		return nil, nil
	}
	names, err := listWheels(scratch)
	if err != nil {
		return nil, err
	}
	if len(names) != 1 {
		return nil, fmt.Errorf("pip download --no-deps %s for %s left %d wheels (%s), want one:\n%s", r, s.t, len(names), strings.Join(names, ", "), tail(run.output, 15))
	}
	path := filepath.Join(scratch, names[0])
	w, err := wheel.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the dependencies of %s (for %s): %w", names[0], s.t, err)
	}
	// wheel.Open holds the verified bytes, so moving the file does not change w. An earlier
	// run of this target may have fetched the same file already.
	switch _, err := os.Lstat(filepath.Join(s.dest, names[0])); {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Rename(path, filepath.Join(s.dest, names[0])); err != nil {
			return nil, fmt.Errorf("move %s into the download directory: %w", names[0], err)
		}
	case err != nil:
		return nil, fmt.Errorf("check the download directory: %w", err)
	}
	return w, nil
}

// dependencies returns what w requires on the target with extras, markers decided and
// dropped (pip would evaluate an extra marker again without the extra). Like pip, only the
// extras the wheel provides count.
func (s *search) dependencies(w *wheel.Wheel, extras []string) ([]pyreq.Requirement, error) {
	env, err := s.t.markerEnv()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.t, err)
	}
	active := []string{""}
	for _, e := range extras {
		if slices.ContainsFunc(w.ProvidesExtra, func(p string) bool { return pyreq.NormalizeName(p) == pyreq.NormalizeName(e) }) {
			active = append(active, e)
		}
	}
	file := filepath.Base(w.Path)
	var deps []pyreq.Requirement
	for _, raw := range w.RequiresDist {
		d, err := pyreq.ParseRequirement(raw)
		if err != nil {
			return nil, fmt.Errorf("wheel %s: Requires-Dist %q: %w; the wheel's metadata is broken, ask its publisher", file, raw, err)
		}
		if d.URL != "" {
			return nil, fmt.Errorf("wheel %s requires %s by URL, which a wheel-only build cannot fetch; pin another version", file, d.Name)
		}
		holds := false
		for _, e := range active {
			if holds, err = d.Marker.Evaluate(env.WithExtra(e)); err != nil {
				return nil, fmt.Errorf("wheel %s: Requires-Dist %q on %s: %w", file, raw, s.t, err)
			}
			if holds {
				break
			}
		}
		if holds {
			deps = append(deps, pyreq.Requirement{Name: d.Name, Extras: d.Extras, Specifier: d.Specifier})
		}
	}
	return deps, nil
}

// writeLines writes requirement lines as a requirements file pip reads.
func writeLines(path string, ls []pyreq.Line) error {
	var data []byte
	for _, l := range ls {
		data = append(data, requirementLine(l)+"\n"...)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write requirements for pip: %w", err)
	}
	return nil
}
