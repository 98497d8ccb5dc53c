package zipapp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

// wheelhouse indexes the .whl files of a directory by normalized distribution name. Wheels
// are opened (and so fully verified) only when they are candidates for a target.
type wheelhouse struct {
	dir    string
	byName map[string][]*candidate
	opened map[string]*wheel.Wheel
}

type candidate struct {
	path     string
	filename wheel.Filename
	version  pep440.Version
}

func loadWheelhouse(dir string) (*wheelhouse, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("wheelhouse %s does not exist: build it first or set MATHESAR_WHEELHOUSE to a directory of .whl files", dir)
		}
		return nil, fmt.Errorf("read wheelhouse %s: %w", dir, err)
	}
	wh := &wheelhouse{dir: dir, byName: map[string][]*candidate{}, opened: map[string]*wheel.Wheel{}}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".whl") {
			continue
		}
		fn, err := wheel.ParseFilename(e.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("wheelhouse %s: %w; rename or remove the file", dir, err))
			continue
		}
		v, err := pep440.Parse(fn.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("wheelhouse %s: %s has version %q, which is not a PEP 440 version; remove the file", dir, e.Name(), fn.Version))
			continue
		}
		name := pyreq.NormalizeName(fn.Name)
		wh.byName[name] = append(wh.byName[name], &candidate{path: filepath.Join(dir, e.Name()), filename: fn, version: v})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return wh, nil
}

// open verifies a wheel on first use and remembers it, since the same wheel usually serves
// every ABI of a target.
func (wh *wheelhouse) open(c *candidate) (*wheel.Wheel, error) {
	if w, ok := wh.opened[c.path]; ok {
		return w, nil
	}
	w, err := wheel.Open(c.path)
	if err != nil {
		return nil, err
	}
	if pyreq.NormalizeName(w.Name) != pyreq.NormalizeName(c.filename.Name) {
		return nil, fmt.Errorf("wheel %s: METADATA names the distribution %q, the file name %q; rebuild or re-download the wheel", filepath.Base(c.path), w.Name, c.filename.Name)
	}
	wh.opened[c.path] = w
	return w, nil
}

// versions returns the distinct versions of a distribution in the wheelhouse, newest first.
func (wh *wheelhouse) versions(name string) []pep440.Version {
	var out []pep440.Version
	for _, c := range wh.byName[name] {
		dup := false
		for _, v := range out {
			if v.Equal(c.version) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c.version)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GreaterThan(out[j]) })
	return out
}

// abiTarget is one CPython of the range on the build's platform.
type abiTarget struct {
	minor    int
	abi      string
	platform pytags.Platform
	ranking  pytags.Ranking
	// envs are the marker environments of the lowest and highest patch release, because a
	// bundle is used with whatever patch release the machine has: a marker that depends on
	// the patch level cannot be decided at build time.
	envs [2]pyreq.Env
}

func newABITarget(minor int, p pytags.Platform) (abiTarget, error) {
	t := abiTarget{minor: minor, abi: pytags.ABI(minor), platform: p, ranking: pytags.NewRanking(pytags.CPythonTags(minor, p))}
	for i, patch := range []int{0, 99} {
		env, err := pyreq.TargetEnv(minor, patch, p.OS, p.Arch)
		if err != nil {
			return t, err
		}
		t.envs[i] = env
	}
	return t, nil
}

// markerHolds evaluates a marker for the target with the given extra ("" for none).
func (t abiTarget) markerHolds(m *pyreq.Marker, extra string) (bool, error) {
	if m == nil {
		return true, nil
	}
	var results [2]bool
	for i, env := range t.envs {
		e := pyreq.Env{}
		for k, v := range env {
			e[k] = v
		}
		e["extra"] = extra
		ok, err := m.Evaluate(e)
		if err != nil {
			return false, fmt.Errorf("marker %q: %w", m.String(), err)
		}
		results[i] = ok
	}
	if results[0] != results[1] {
		return false, fmt.Errorf("marker %q depends on the patch release of CPython 3.%d, which a bundle cannot know; compare python_version instead", m.String(), t.minor)
	}
	return results[0], nil
}

// resolution is what one ABI of the target installs.
type resolution struct {
	abi    string
	wheels map[string]*wheel.Wheel // normalized name -> wheel
}

// missingWheel is a pinned distribution with no wheel for one ABI of the target.
type missingWheel struct {
	name, version, abi string
	spec               string // for a dependency no pin names: what its dependents ask for
	platform           string
	available          []string // tags of the wheels the wheelhouse has for this version
}

// resolver turns requirements into one wheel per distribution for one ABI, following the
// dependencies declared in each wheel's METADATA. requirements.txt pins win; other
// dependencies get the newest version in the wheelhouse that meets every constraint seen, as
// pip would pick from a find-links directory.
type resolver struct {
	wh       *wheelhouse
	target   abiTarget
	pins     map[string]pyreq.Line
	missing  []missingWheel
	problems []error
	warnings []string
	// allowMissing records an unpinned dependency with no wheel as missing, not a problem.
	allowMissing bool
}

type constraint struct {
	spec string
	from string // who asked: "requirements.txt:3" or "samplepure 1.2.0"
}

func (r *resolver) resolve(lines []pyreq.Line) *resolution {
	res := &resolution{abi: r.target.abi, wheels: map[string]*wheel.Wheel{}}
	constraints := map[string][]constraint{}
	extras := map[string]map[string]bool{}
	var queue []string
	queued := map[string]bool{}
	enqueue := func(name string) {
		if !queued[name] {
			queued[name] = true
			queue = append(queue, name)
		}
	}
	for _, l := range lines {
		ok, err := r.target.markerHolds(l.Requirement.Marker, "")
		if err != nil {
			r.problems = append(r.problems, fmt.Errorf("%s:%d: %w", l.File, l.Line, err))
			continue
		}
		if !ok {
			continue
		}
		name := pyreq.NormalizeName(l.Requirement.Name)
		constraints[name] = append(constraints[name], constraint{spec: l.Requirement.Specifier, from: fmt.Sprintf("%s:%d", l.File, l.Line)})
		addExtras(extras, name, l.Requirement.Extras)
		enqueue(name)
	}
	// Dependencies can add constraints or extras to a distribution already chosen, so the
	// loop revisits a name whenever what is asked of it changes.
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		queued[name] = false
		w, ok := r.choose(name, constraints[name])
		if !ok {
			continue
		}
		res.wheels[name] = w
		for _, e := range sortedKeys(extras[name]) {
			if !contains(w.ProvidesExtra, e) {
				r.warnings = append(r.warnings, fmt.Sprintf("%s %s does not provide the extra %q", w.Name, w.Version, e))
			}
		}
		for _, raw := range w.RequiresDist {
			dep, err := pyreq.ParseRequirement(raw)
			if err != nil {
				r.problems = append(r.problems, fmt.Errorf("wheel %s: Requires-Dist %q: %w", filepath.Base(w.Path), raw, err))
				continue
			}
			needed, err := r.depNeeded(dep, extras[name])
			if err != nil {
				r.problems = append(r.problems, fmt.Errorf("wheel %s: Requires-Dist %q: %w", filepath.Base(w.Path), raw, err))
				continue
			}
			if !needed {
				continue
			}
			depName := pyreq.NormalizeName(dep.Name)
			c := constraint{spec: dep.Specifier, from: w.Name + " " + w.Version}
			changed := !hasConstraint(constraints[depName], c)
			if changed {
				constraints[depName] = append(constraints[depName], c)
			}
			if addExtras(extras, depName, dep.Extras) || changed {
				enqueue(depName)
			}
		}
	}
	return res
}

func (r *resolver) depNeeded(dep pyreq.Requirement, extras map[string]bool) (bool, error) {
	ok, err := r.target.markerHolds(dep.Marker, "")
	if err != nil || ok {
		return ok, err
	}
	for _, e := range sortedKeys(extras) {
		ok, err := r.target.markerHolds(dep.Marker, e)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// choose picks the version and then the wheel of a distribution for this ABI.
func (r *resolver) choose(name string, cons []constraint) (*wheel.Wheel, bool) {
	pin, pinned := r.pins[name]
	var version pep440.Version
	if pinned {
		want, _ := pin.Requirement.Pin()
		v, err := pep440.Parse(want)
		if err != nil {
			r.problems = append(r.problems, fmt.Errorf("%s:%d: %s: %q is not a PEP 440 version", pin.File, pin.Line, pin.Requirement.Name, want))
			return nil, false
		}
		if !r.hasVersion(name, v) {
			r.missing = append(r.missing, missingWheel{name: pin.Requirement.Name, version: want})
			return nil, false
		}
		for _, c := range cons {
			if !satisfies(v, c.spec) {
				r.problems = append(r.problems, fmt.Errorf("%s:%d pins %s==%s, but %s requires %s%s; change the pin", pin.File, pin.Line, pin.Requirement.Name, want, c.from, name, c.spec))
				return nil, false
			}
		}
		version = v
	} else {
		found := false
		for _, v := range r.wh.versions(name) {
			if allSatisfied(v, cons) && r.bestWheel(name, v, false) != nil {
				version, found = v, true
				break
			}
		}
		if !found {
			if r.allowMissing {
				specs := make([]string, len(cons))
				for i, c := range cons {
					specs[i] = c.spec
				}
				r.missing = append(r.missing, missingWheel{name: name, spec: strings.Join(specs, ","), abi: r.target.abi, platform: r.target.platform.PlatformTags()[0]})
				return nil, false
			}
			r.problems = append(r.problems, fmt.Errorf("no wheel of %s for %s on %s satisfies %s; add one to the wheelhouse or pin %s in requirements.txt", name, r.target.abi, r.target.platform.OS+"/"+r.target.platform.Arch, describe(cons), name))
			return nil, false
		}
	}
	c := r.bestWheel(name, version, true)
	if c == nil {
		return nil, false
	}
	w, err := r.wh.open(c)
	if err != nil {
		r.problems = append(r.problems, err)
		return nil, false
	}
	return w, true
}

func (r *resolver) hasVersion(name string, v pep440.Version) bool {
	for _, c := range r.wh.byName[name] {
		if c.version.Equal(v) {
			return true
		}
	}
	return false
}

// bestWheel ranks the wheels of one version by pip's tag order, then by build tag, and
// refuses a tie: two files that are equally good for the same target make the bundle depend
// on which one the directory listing returned first.
func (r *resolver) bestWheel(name string, v pep440.Version, record bool) *candidate {
	var best *candidate
	bestRank := -1
	tie := ""
	var available []string
	for _, c := range r.wh.byName[name] {
		if !c.version.Equal(v) {
			continue
		}
		available = append(available, tagSummary(c.filename.Tags))
		rank, ok := r.target.ranking.Best(c.filename.Tags)
		if !ok {
			continue
		}
		if record {
			if w, err := r.wh.open(c); err == nil && w.RequiresPython != "" && !satisfies(pep440.MustParse(fmt.Sprintf("3.%d.99", r.target.minor)), w.RequiresPython) {
				continue
			}
		}
		switch {
		case best == nil || rank < bestRank || (rank == bestRank && compareBuild(c.filename.Build, best.filename.Build) > 0):
			best, bestRank, tie = c, rank, ""
		case rank == bestRank && compareBuild(c.filename.Build, best.filename.Build) == 0:
			tie = c.path
		}
	}
	if !record {
		return best
	}
	if best == nil {
		sort.Strings(available)
		r.missing = append(r.missing, missingWheel{name: name, version: v.String(), abi: r.target.abi, platform: r.target.platform.PlatformTags()[0], available: available})
		return nil
	}
	if tie != "" {
		a, b := filepath.Base(best.path), filepath.Base(tie)
		if a > b {
			a, b = b, a
		}
		r.problems = append(r.problems, fmt.Errorf("two wheels of the same distribution, %s and %s, are equally good on %s/%s; keep one of them in the wheelhouse", a, b, r.target.platform.OS, r.target.platform.Arch))
		return nil
	}
	return best
}

func tagSummary(tags []pytags.Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.String()
	}
	return strings.Join(parts, ".")
}

// compareBuild orders wheel build tags as pip does: by the leading number, then the rest;
// a wheel without a build tag sorts first.
func compareBuild(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	na, ra := splitBuild(a)
	nb, rb := splitBuild(b)
	if na != nb {
		if na < nb {
			return -1
		}
		return 1
	}
	return strings.Compare(ra, rb)
}

func splitBuild(s string) (int, string) {
	i := 0
	n := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:]
}

func satisfies(v pep440.Version, spec string) bool {
	if spec == "" {
		return true
	}
	s, err := pep440.NewSpecifiers(spec, pep440.WithPreRelease(true))
	if err != nil {
		return false
	}
	return s.Check(v)
}

func allSatisfied(v pep440.Version, cons []constraint) bool {
	for _, c := range cons {
		if !satisfies(v, c.spec) {
			return false
		}
	}
	return true
}

func describe(cons []constraint) string {
	var parts []string
	for _, c := range cons {
		spec := c.spec
		if spec == "" {
			spec = "any version"
		}
		parts = append(parts, spec+" (from "+c.from+")")
	}
	return strings.Join(parts, ", ")
}

func hasConstraint(cons []constraint, c constraint) bool {
	for _, x := range cons {
		if x == c {
			return true
		}
	}
	return false
}

func addExtras(m map[string]map[string]bool, name string, extras []string) bool {
	if len(extras) == 0 {
		return false
	}
	if m[name] == nil {
		m[name] = map[string]bool{}
	}
	added := false
	for _, e := range extras {
		e = pyreq.NormalizeName(e)
		if !m[name][e] {
			m[name][e] = true
			added = true
		}
	}
	return added
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if pyreq.NormalizeName(x) == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
