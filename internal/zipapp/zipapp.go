// Package zipapp builds mathesar.pyz: one zip that holds an app tree and every wheel its
// requirements resolve to, for each CPython of a range on one OS/arch, with a manifest the
// launcher verifies and unpacks without Python. It installs wheels itself (no pip), so a
// build needs no network and gives byte-identical output for the same inputs.
package zipapp

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheel"
)

//go:embed main.py
var mainPy []byte

// DefaultSourceDateEpoch (1980-01-01T00:00:00Z, the earliest time a zip can record) stamps
// every entry when SOURCE_DATE_EPOCH is not set.
const DefaultSourceDateEpoch = 315532800

// Target is the machines a pyz serves: an OS/arch and a range of CPython minor versions.
type Target struct {
	Platform pytags.Platform
	MinMinor int // 10 for CPython 3.10
	MaxMinor int // 14 for CPython 3.14
}

// ABIs returns the CPython ABIs of the range, oldest first.
func (t Target) ABIs() []string {
	var out []string
	for m := t.MinMinor; m <= t.MaxMinor; m++ {
		out = append(out, pytags.ABI(m))
	}
	return out
}

func (t Target) String() string {
	return fmt.Sprintf("%s/%s CPython 3.%d-3.%d", t.Platform.OS, t.Platform.Arch, t.MinMinor, t.MaxMinor)
}

// Limits bound what a pyz may hold. The defaults keep the archive readable by zipimport
// on every CPython of the range: before 3.13 zipimport cannot read ZIP64 archives, so a pyz
// must stay under 65,535 entries and 4 GiB.
type Limits struct {
	MaxEntries   int
	MaxFileSize  int64
	MaxTotalSize int64
}

// DefaultLimits are the classic (non-ZIP64) zip limits.
func DefaultLimits() Limits {
	return Limits{MaxEntries: 65535, MaxFileSize: 1<<32 - 1, MaxTotalSize: 1<<32 - 1}
}

// Options says what to build.
type Options struct {
	AppDir       string // the app source tree
	AppName      string // "mathesar"
	Version      string // the app's version, e.g. from mathesar/__init__.py
	Sample       bool   // the tree is the sample app, not Mathesar
	Requirements string // default: AppDir/requirements.txt
	Wheelhouse   string // directory of .whl files
	Target       Target
	Output       string // the .pyz to write
	// SourceDateEpoch stamps every entry; 0 means DefaultSourceDateEpoch.
	SourceDateEpoch int64
	// CompressionLevel is a compress/flate level; 0 means flate.DefaultCompression.
	CompressionLevel int
	Limits           Limits // zero means DefaultLimits
	// AllowMissing builds the pyz without the wheels the wheelhouse lacks, listing them in
	// the manifest's Incomplete field, instead of failing. Only snapshots may ask for it.
	AllowMissing bool
	// SiteFiles are added to the site-packages of every ABI, by slash path relative to
	// it: the packaging's own Python, such as the site-configuration hook.
	SiteFiles map[string][]byte
}

// Result is what Build wrote.
type Result struct {
	Manifest *bundle.Manifest
	Warnings []string
}

// Build resolves, installs and writes the pyz described by o. The output appears
// atomically: on any error no file is left at o.Output or beside it.
func Build(ctx context.Context, o Options) (*Result, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	appFiles, err := walkApp(o.AppDir, o.Limits)
	if err != nil {
		return nil, err
	}
	lines, err := pyreq.ParseRequirementsFile(o.Requirements)
	if err != nil {
		return nil, fmt.Errorf("read requirements: %w", err)
	}
	if err := checkPinned(lines); err != nil {
		return nil, err
	}
	wh, err := loadWheelhouse(o.Wheelhouse)
	if err != nil {
		return nil, err
	}
	resolutions, incomplete, warnings, err := resolveAll(wh, lines, o.Target, o.AllowMissing)
	if err != nil {
		return nil, err
	}
	if len(incomplete) > 0 {
		warnings = append(warnings, fmt.Sprintf("MATHESAR_ALLOW_MISSING_DEPS is set: the bundle is incomplete, without %s", strings.Join(incomplete, "; ")))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	layout, err := installAll(resolutions)
	if err != nil {
		return nil, err
	}
	m, entries, err := o.plan(appFiles, layout, resolutions, incomplete)
	if err != nil {
		return nil, err
	}
	if err := writeZip(ctx, o, m, entries); err != nil {
		return nil, err
	}
	return &Result{Manifest: m, Warnings: warnings}, nil
}

func (o *Options) fill() error {
	if o.AppDir == "" {
		return errors.New("no app directory given: set MATHESAR_SRC to a Mathesar checkout, or unset it to build the sample app")
	}
	if o.AppName == "" {
		o.AppName = "mathesar"
	}
	if o.Version == "" {
		return fmt.Errorf("no version given for the app in %s", o.AppDir)
	}
	if o.Requirements == "" {
		o.Requirements = filepath.Join(o.AppDir, "requirements.txt")
	}
	if o.Output == "" {
		return errors.New("no output path given for the pyz")
	}
	if o.Target.MinMinor < 7 || o.Target.MaxMinor < o.Target.MinMinor {
		return fmt.Errorf("python range 3.%d-3.%d is empty or too old: use a range such as 3.10-3.14", o.Target.MinMinor, o.Target.MaxMinor)
	}
	if o.SourceDateEpoch == 0 {
		o.SourceDateEpoch = DefaultSourceDateEpoch
	}
	if o.SourceDateEpoch < DefaultSourceDateEpoch {
		return fmt.Errorf("SOURCE_DATE_EPOCH %d is before 1980, which a zip cannot record: use a later time", o.SourceDateEpoch)
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	return nil
}

func checkPinned(lines []pyreq.Line) error {
	var errs []error
	for _, l := range lines {
		if l.Requirement.URL != "" {
			errs = append(errs, fmt.Errorf("%s:%d: %s is a URL requirement; pin a version with == and put its wheel in the wheelhouse", l.File, l.Line, l.Requirement.Name))
			continue
		}
		if _, ok := l.Requirement.Pin(); !ok {
			errs = append(errs, fmt.Errorf("%s:%d: %s%s is not pinned; pin an exact version with ==, so every build bundles the same code", l.File, l.Line, l.Requirement.Name, l.Requirement.Specifier))
		}
	}
	return errors.Join(errs...)
}

// resolveAll resolves every ABI of the target and reports every missing wheel and every
// problem at once, so one build run tells the whole story. With allowMissing, missing wheels
// are returned as the incomplete list (one "name==version (cpXY, platform) ..." each)
// instead of failing; any other problem still fails.
func resolveAll(wh *wheelhouse, lines []pyreq.Line, t Target, allowMissing bool) ([]*resolution, []string, []string, error) {
	pins := map[string]pyreq.Line{}
	var errs []error
	for _, l := range lines {
		name := pyreq.NormalizeName(l.Requirement.Name)
		if prev, ok := pins[name]; ok {
			errs = append(errs, fmt.Errorf("%s:%d: %s is also pinned at %s:%d; keep one pin", l.File, l.Line, l.Requirement.Name, prev.File, prev.Line))
			continue
		}
		pins[name] = l
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, err
	}
	var (
		out      []*resolution
		missing  []missingWheel
		problems []string
		warnings []string
		seen     = map[string]bool{}
	)
	note := func(list *[]string, s string) {
		if !seen[s] {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	for m := t.MinMinor; m <= t.MaxMinor; m++ {
		at, err := newABITarget(m, t.Platform)
		if err != nil {
			return nil, nil, nil, err
		}
		r := &resolver{wh: wh, target: at, pins: pins, allowMissing: allowMissing}
		out = append(out, r.resolve(lines))
		missing = append(missing, r.missing...)
		for _, p := range r.problems {
			note(&problems, p.Error())
		}
		for _, w := range r.warnings {
			note(&warnings, w)
		}
	}
	if allowMissing && len(problems) == 0 {
		return out, listMissing(missing, t), warnings, nil
	}
	if msg := describeMissing(missing, t); msg != "" {
		problems = append([]string{msg}, problems...)
	}
	if len(problems) > 0 {
		return nil, nil, warnings, fmt.Errorf("cannot bundle the requirements for %s:\n  %s\n(a snapshot may be built without them with MATHESAR_ALLOW_MISSING_DEPS=1; a release may not)", t, strings.Join(problems, "\n  "))
	}
	return out, nil, warnings, nil
}

// listMissing names each missing distribution once with every (ABI, platform) it lacks,
// sorted, for the manifest's Incomplete field.
func listMissing(missing []missingWheel, t Target) []string {
	where := map[string][]string{}
	for _, m := range missing {
		key := pyreq.NormalizeName(m.name) + "==" + m.version
		if m.spec != "" {
			key = pyreq.NormalizeName(m.name) + m.spec
		}
		if m.abi == "" {
			for _, abi := range t.ABIs() {
				where[key] = append(where[key], "("+abi+", "+t.Platform.PlatformTags()[0]+")")
			}
			continue
		}
		where[key] = append(where[key], "("+m.abi+", "+m.platform+")")
	}
	var out []string
	for _, key := range slices.Sorted(maps.Keys(where)) {
		list := where[key]
		sort.Strings(list)
		out = append(out, key+" "+strings.Join(dedupe(list), " "))
	}
	return out
}

// describeMissing groups the missing wheels: pins with no wheel at all, then distributions
// that have wheels for some ABIs of the range but not others.
func describeMissing(missing []missingWheel, t Target) string {
	noWheel := map[string]bool{}
	perDist := map[string][]missingWheel{}
	for _, m := range missing {
		if m.abi == "" {
			noWheel[m.name+"=="+m.version] = true
			continue
		}
		key := pyreq.NormalizeName(m.name) + " " + m.version
		perDist[key] = append(perDist[key], m)
	}
	var lines []string
	if len(noWheel) > 0 {
		names := sortedKeys(noWheel)
		lines = append(lines, fmt.Sprintf("%d pinned requirement(s) have no wheel in the wheelhouse: %s; add their wheels", len(names), strings.Join(names, ", ")))
	}
	keys := make([]string, 0, len(perDist))
	for k := range perDist {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ms := perDist[k]
		var abis []string
		for _, m := range ms {
			abis = append(abis, m.abi)
		}
		sort.Strings(abis)
		abis = dedupe(abis)
		have := "no wheels for this platform"
		if len(ms[0].available) > 0 {
			have = "wheels: " + strings.Join(dedupe(ms[0].available), ", ")
		}
		lines = append(lines, fmt.Sprintf("%s has no wheel for %s on %s (%s); add the wheels or narrow the CPython range (MATHESAR_PYTHON_RANGE)", k, describeABIs(abis, ms[0].platform), t.Platform.OS+"/"+t.Platform.Arch, have))
	}
	return strings.Join(lines, "\n  ")
}

func describeABIs(abis []string, platform string) string {
	parts := make([]string, len(abis))
	for i, a := range abis {
		parts[i] = "(" + a + ", " + platform + ")"
	}
	return strings.Join(parts, " ")
}

func dedupe(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// installed is one file of an ABI's install tree, with where it came from.
type installed struct {
	file wheel.InstalledFile
	dist string
}

// installAll installs each ABI's wheels into a virtual tree and reports files that two
// distributions both install with different contents.
func installAll(resolutions []*resolution) (map[string]map[string]installed, error) {
	cache := map[string][]wheel.InstalledFile{}
	trees := map[string]map[string]installed{}
	var errs []error
	for _, res := range resolutions {
		tree := map[string]installed{}
		names := make([]string, 0, len(res.wheels))
		for n := range res.wheels {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			w := res.wheels[n]
			files, ok := cache[w.Path]
			if !ok {
				var err error
				if files, err = w.Install(); err != nil {
					return nil, fmt.Errorf("install %s: %w", filepath.Base(w.Path), err)
				}
				cache[w.Path] = files
			}
			for _, f := range files {
				if prev, ok := tree[f.Path]; ok {
					if prev.file.SHA256 != f.SHA256 || prev.file.Mode != f.Mode {
						errs = append(errs, fmt.Errorf("%s and %s both install %s with different contents for %s; drop one of them from requirements.txt", prev.dist, w.Name, f.Path, res.abi))
					}
					continue
				}
				tree[f.Path] = installed{file: f, dist: w.Name}
			}
		}
		trees[res.abi] = tree
	}
	return trees, errors.Join(errs...)
}
