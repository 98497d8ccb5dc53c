package wheelfetch

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
)

// fetcher downloads the requirements per target. It is not changed once made, so targets
// run at once; each target writes only its own files in work.
type fetcher struct {
	pip      pipRunner
	work     string       // scratch directory: requirement files and per-target downloads
	lines    []pyreq.Line // the requirements, includes flattened
	hashMode bool         // some line has --hash, so pip checks hashes of everything it fetches
}

// allFile is the flattened requirements file pip reads first for every target.
func (f fetcher) allFile() string { return filepath.Join(f.work, "requirements.txt") }

// writeRequirementFiles writes the flattened requirements.
func (f fetcher) writeRequirementFiles() error {
	all := make([]int, len(f.lines))
	for i := range all {
		all[i] = i
	}
	return f.writeSubset(f.allFile(), all)
}

// args are pip download's arguments for target t: wheels only, for CPython 3.<minor>'s ABI,
// abi3 and pure wheels, on every platform tag the target accepts. pip expands a macosx tag
// to the older macOS versions itself, but not manylinux_2_X tags (only the legacy
// manylinux2014/2010 aliases), so every tag is passed.
func (t target) args(reqFile, dest string, noDeps bool) []string {
	args := []string{"download", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
		"--only-binary=:all:", "--implementation", "cp", "--python-version", fmt.Sprintf("3.%d", t.minor),
		"--abi", t.abi, "--abi", "abi3", "--abi", "none"}
	for _, tag := range t.tags {
		args = append(args, "--platform", tag)
	}
	if noDeps {
		args = append(args, "--no-deps")
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
func (f fetcher) download(ctx context.Context, t target, reqFile, dest string, noDeps bool) (pipRun, error) {
	env, err := t.markerEnv()
	if err != nil {
		return pipRun{}, fmt.Errorf("%s: %w", t, err)
	}
	res, err := f.pip.run(ctx, env, t.args(reqFile, dest, noDeps)...)
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
// wheels of every line that resolves land in dest (an AllowMissing wheelhouse needs them).
func (f fetcher) fetchTarget(ctx context.Context, t target, dest string) ([]string, []Missing, error) {
	res, err := f.download(ctx, t, f.allFile(), dest, false)
	if err != nil {
		return nil, nil, err
	}
	if res.outcome == succeeded {
		wheels, err := listWheels(dest)
		return wheels, nil, err
	}

	s := search{fetcher: f, t: t, dest: dest, missingPins: map[string]bool{}}
	rest := make([]int, len(f.lines))
	for i := range rest {
		rest[i] = i
	}
	for len(rest) > 0 {
		probe, err := s.try(ctx, rest, true)
		if err != nil {
			return nil, nil, err
		}
		if probe.outcome == succeeded {
			break
		}
		named := pyreq.NormalizeName(probe.missing.Name)
		i := slices.IndexFunc(rest, func(i int) bool { return pyreq.NormalizeName(f.lines[i].Requirement.Name) == named })
		if i < 0 {
			return nil, nil, fmt.Errorf("pip download --no-deps for %s named %s, which requirements.txt does not pin:\n%s", t, probe.missing.Name, tail(probe.output, 15))
		}
		s.add(f.lines[rest[i]].Requirement)
		s.missingPins[named] = true
		rest = slices.Delete(rest, i, i+1)
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
	t           target
	dest        string
	missing     []Missing
	missingPins map[string]bool // normalized names of pins found missing
}

func (s *search) add(r pyreq.Requirement) {
	version, ok := r.Pin()
	if !ok {
		version = r.Specifier
	}
	s.missing = append(s.missing, Missing{Package: r.Name, Version: version, ABI: s.t.abi, Platform: s.t.tags[0], Target: s.t.name})
}

// try downloads the lines idx for the target.
func (s *search) try(ctx context.Context, idx []int, noDeps bool) (pipRun, error) {
	file := filepath.Join(s.work, fmt.Sprintf("%s_%s-%s.txt", s.t.goos, s.t.goarch, s.t.abi))
	if err := s.writeSubset(file, idx); err != nil {
		return pipRun{}, err
	}
	return s.download(ctx, s.t, file, s.dest, noDeps)
}

// resolve downloads the lines idx with their dependencies; known, when given, is a failed
// run of exactly those lines.
func (s *search) resolve(ctx context.Context, idx []int, known *pipRun) error {
	run := known
	if run == nil {
		r, err := s.try(ctx, idx, false)
		if err != nil {
			return err
		}
		if r.outcome == succeeded {
			return nil
		}
		run = &r
	}
	before := len(s.missing)
	// Splitting a hash-checked set fails on the hashes of dependencies pinned in the other
	// half; such a file normally pins every dependency anyway, so the missing pins are known.
	if len(idx) > 1 && !s.hashMode {
		mid := len(idx) / 2
		if err := s.resolve(ctx, idx[:mid], nil); err != nil {
			return err
		}
		if err := s.resolve(ctx, idx[mid:], nil); err != nil {
			return err
		}
	}
	// A missing pin that another line depends on was reported already. When both halves
	// resolve alone, what pip named for the whole set is still reported.
	if len(s.missing) == before && !s.missingPins[pyreq.NormalizeName(run.missing.Name)] {
		s.add(run.missing)
	}
	return nil
}

// writeSubset writes the requirement lines whose own wheels exist, to resolve them together.
func (f fetcher) writeSubset(path string, idx []int) error {
	var data []byte
	for _, i := range idx {
		data = append(data, requirementLine(f.lines[i])+"\n"...)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write requirements for pip: %w", err)
	}
	return nil
}
