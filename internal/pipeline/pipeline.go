// Package pipeline drives the build steps behind the mage targets: it picks the app source
// and wheelhouse (Mathesar's, or the embedded sample app's), then builds one pyz per
// platform. Mage targets stay thin and call it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/frontend"
	"github.com/mathesar-foundation/mathesar-packaging/internal/mathesarsrc"
	"github.com/mathesar-foundation/mathesar-packaging/internal/msgcompile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sitehook"
	"github.com/mathesar-foundation/mathesar-packaging/internal/srcfetch"
	"github.com/mathesar-foundation/mathesar-packaging/internal/wheelfetch"
	"github.com/mathesar-foundation/mathesar-packaging/internal/zipapp"
)

// DefaultPlatforms are the OS/arch pairs a release serves.
var DefaultPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

// Config is what a build reads from the environment.
type Config struct {
	Root            string   // the repository root; build/ and dist/ live here
	Source          string   // MATHESAR_SRC; "" builds the sample app
	Wheelhouse      string   // MATHESAR_WHEELHOUSE
	Platforms       []string // MATHESAR_PLATFORMS, "linux/amd64,..."
	MinMinor        int      // MATHESAR_PYTHON_RANGE, "3.10-3.14"
	MaxMinor        int
	SourceDateEpoch int64 // SOURCE_DATE_EPOCH
	SkipFrontend    bool  // MATHESAR_SKIP_FRONTEND=1: pack the front end already built
	// Python (MATHESAR_PYTHON) runs collectstatic at build time; "" finds a CPython in
	// the range as the launcher does.
	Python string
	// AllowMissing (MATHESAR_ALLOW_MISSING_DEPS=1) packs a bundle without the wheels the
	// wheelhouse lacks, marked incomplete; the release refuses it for anything but a snapshot.
	AllowMissing bool
	Log          io.Writer
}

// FromEnv reads the build configuration from environment variables.
func FromEnv(root string, log io.Writer) (Config, error) {
	c := Config{
		Root:       root,
		Source:     os.Getenv("MATHESAR_SRC"),
		Wheelhouse: os.Getenv("MATHESAR_WHEELHOUSE"),
		Python:     os.Getenv("MATHESAR_PYTHON"),
		Platforms:  DefaultPlatforms,
		MinMinor:   10,
		MaxMinor:   14,
		Log:        log,
	}
	if v := os.Getenv("MATHESAR_PLATFORMS"); v != "" {
		c.Platforms = strings.Split(v, ",")
	}
	if v := os.Getenv("MATHESAR_PYTHON_RANGE"); v != "" {
		lo, hi, err := ParsePythonRange(v)
		if err != nil {
			return c, err
		}
		c.MinMinor, c.MaxMinor = lo, hi
	}
	for name, dst := range map[string]*bool{"MATHESAR_SKIP_FRONTEND": &c.SkipFrontend, "MATHESAR_ALLOW_MISSING_DEPS": &c.AllowMissing} {
		v, err := envBool(name)
		if err != nil {
			return c, err
		}
		*dst = v
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds: set it to an integer such as $(git log -1 --format=%%ct)", v)
		}
		c.SourceDateEpoch = n
	}
	return c, nil
}

// envBool reads a yes/no switch: unset, "" or "0" is off, "1" is on; anything else is
// refused rather than guessed.
func envBool(name string) (bool, error) {
	switch v := os.Getenv(name); v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: set it to 1 to turn it on, or unset it", name, v)
	}
}

// ParsePythonRange reads "3.10-3.14" into minor versions.
func ParsePythonRange(s string) (int, int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	a, errA := parseMinor(lo)
	b, errB := parseMinor(hi)
	if errA != nil || errB != nil || a > b {
		return 0, 0, fmt.Errorf("MATHESAR_PYTHON_RANGE=%q: want a CPython range such as 3.10-3.14", s)
	}
	return a, b, nil
}

func parseMinor(s string) (int, error) {
	major, minor, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok || major != "3" {
		return 0, errors.New("not 3.X")
	}
	return strconv.Atoi(minor)
}

// Stage is one timed step of a build, for the summary a build prints.
type Stage struct {
	Name   string
	Took   time.Duration
	Detail string
}

// Built is what BuildZipapps made.
type Built struct {
	AppDir  string // the staged app tree that was packed
	Version string
	Sample  bool
	Outputs []string
	Stages  []Stage
}

// ZipappPath is where the pyz of one platform is built.
func ZipappPath(root, goos, goarch string) string {
	return filepath.Join(root, "build", "zipapp", goos+"_"+goarch, "mathesar.pyz")
}

// Zipapps builds build/zipapp/<os>_<arch>/mathesar.pyz for every configured platform and
// returns their paths.
func Zipapps(ctx context.Context, c Config) ([]string, error) {
	b, err := BuildZipapps(ctx, c)
	if err != nil {
		return nil, err
	}
	return b.Outputs, nil
}

// BuildZipapps runs every stage: source, front end, staging, translations, wheelhouse,
// static files, then one pyz per platform. Each stage logs its time, and the summary
// ends the log.
func BuildZipapps(ctx context.Context, c Config) (*Built, error) {
	b := &Built{}
	stage := func(name string, run func() (string, error)) error {
		start := time.Now()
		detail, err := run()
		if err != nil {
			return err
		}
		st := Stage{Name: name, Took: time.Since(start), Detail: detail}
		b.Stages = append(b.Stages, st)
		fmt.Fprintf(c.Log, "zipapp: stage %s: %s (%.1fs)\n", name, detail, st.Took.Seconds())
		return nil
	}
	var src string
	err := stage("source", func() (detail string, err error) {
		src, b.Sample, err = c.source(ctx)
		if err != nil {
			return "", err
		}
		if b.Version, err = mathesarsrc.Version(src); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s", src, b.Version), nil
	})
	if err != nil {
		return nil, err
	}
	if err := stage("frontend", func() (string, error) { return c.frontend(ctx, src, b.Sample) }); err != nil {
		return nil, err
	}
	b.AppDir = filepath.Join(c.Root, "build", "stage", "app")
	err = stage("stage", func() (string, error) {
		if err := os.RemoveAll(filepath.Dir(b.AppDir)); err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(b.AppDir), 0o755); err != nil {
			return "", err
		}
		st, err := mathesarsrc.Stage(src, b.AppDir)
		if err != nil {
			return "", err
		}
		detail := fmt.Sprintf("%d files, %.1f MB into %s", st.Files, float64(st.Bytes)/1e6, b.AppDir)
		if len(st.Excluded) > 0 {
			detail += "; left out " + strings.Join(st.Excluded, ", ")
		}
		return detail, nil
	})
	if err != nil {
		return nil, err
	}
	if err := stage("translations", func() (string, error) { return compileTranslations(ctx, b.AppDir) }); err != nil {
		return nil, err
	}
	var wheels string
	err = stage("wheels", func() (detail string, err error) {
		wheels, detail, err = c.wheelhouse(ctx, src, b.Sample)
		return detail, err
	})
	if err != nil {
		return nil, err
	}
	err = stage("static", func() (string, error) {
		return c.collectStatic(ctx, b.AppDir, wheels, b.Version, b.Sample)
	})
	if err != nil {
		return nil, err
	}
	for _, p := range c.Platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return nil, fmt.Errorf("platform %q: want OS/ARCH such as linux/amd64", p)
		}
		platform, err := pytags.DefaultPlatform(goos, goarch)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		out := ZipappPath(c.Root, goos, goarch)
		err = stage("pyz "+goos+"/"+goarch, func() (string, error) {
			res, err := zipapp.Build(ctx, c.zipappOptions(b.AppDir, wheels, b.Version, b.Sample, platform, c.MinMinor, c.MaxMinor, out))
			if err != nil {
				return "", err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.Log, "zipapp: warning: %s\n", w)
			}
			info, err := os.Stat(out)
			if err != nil {
				return "", err
			}
			label := ""
			if b.Sample {
				label = " (sample app)"
			}
			if len(res.Manifest.Incomplete) > 0 {
				label += " INCOMPLETE"
			}
			return fmt.Sprintf("%s %s%s: %d files, %d bytes, build %s", out, b.Version, label, len(res.Manifest.Files), info.Size(), res.Manifest.BuildID[:12]), nil
		})
		if err != nil {
			return nil, err
		}
		b.Outputs = append(b.Outputs, out)
	}
	fmt.Fprint(c.Log, StageSummary("zipapp", b.Stages))
	if len(b.Outputs) > 0 {
		groups, err := Sizes(b.Outputs[0])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c.Log, "zipapp: what %s holds\n%s", b.Outputs[0], SizeTable(groups, 12))
	}
	return b, nil
}

// StageSummary renders the stages' times as a small table headed "<prefix>: stage times".
func StageSummary(prefix string, stages []Stage) string {
	var sb strings.Builder
	var total time.Duration
	sb.WriteString(prefix + ": stage times\n")
	for _, st := range stages {
		fmt.Fprintf(&sb, "  %-18s %7.2fs\n", st.Name, st.Took.Seconds())
		total += st.Took
	}
	fmt.Fprintf(&sb, "  %-18s %7.2fs\n", "total", total.Seconds())
	return sb.String()
}

func (c Config) zipappOptions(app, wheels, version string, sample bool, platform pytags.Platform, lo, hi int, out string) zipapp.Options {
	return zipapp.Options{
		AppDir:          app,
		AppName:         "mathesar",
		Version:         version,
		Sample:          sample,
		Wheelhouse:      wheels,
		Target:          zipapp.Target{Platform: platform, MinMinor: lo, MaxMinor: hi},
		Output:          out,
		SourceDateEpoch: c.SourceDateEpoch,
		SiteFiles:       sitehook.Files(),
		AllowMissing:    c.AllowMissing,
	}
}

// PinnedSource is the MATHESAR_SRC value that builds the release pinned in
// packaging/mathesar-source.json, downloaded and verified, instead of a checkout.
const PinnedSource = "pinned"

// source returns the tree to build from: the pinned release, MATHESAR_SRC, checked, or the
// embedded sample app extracted under build/sample.
func (c Config) source(ctx context.Context) (string, bool, error) {
	if c.Source == PinnedSource {
		pin, err := srcfetch.LoadPin(filepath.Join(c.Root, srcfetch.PinFile))
		if err != nil {
			return "", false, err
		}
		pin.File = srcfetch.PinFile
		dir, cached, err := srcfetch.Fetch(ctx, pin, srcfetch.Options{CacheRoot: filepath.Join(c.Root, "build", "source"), Log: c.Log})
		if err != nil {
			return "", false, fmt.Errorf("MATHESAR_SRC=%s: %w", PinnedSource, err)
		}
		how := "downloaded and verified"
		if cached {
			how = "cached"
		}
		fmt.Fprintf(c.Log, "zipapp: Mathesar %s from %s (%s): %s\n", pin.Version, pin.URL, how, dir)
		return dir, false, mathesarsrc.Check(dir)
	}
	if c.Source != "" {
		src, err := filepath.Abs(c.Source)
		if err != nil {
			return "", false, err
		}
		return src, false, mathesarsrc.Check(src)
	}
	src := filepath.Join(c.Root, "build", "sample", "app")
	if err := replaceDir(src, samplewheels.ExtractApp); err != nil {
		return "", false, fmt.Errorf("extract the sample app: %w", err)
	}
	fmt.Fprintf(c.Log, "zipapp: no MATHESAR_SRC set: building the sample app\n")
	return src, true, nil
}

// frontend builds mathesar_ui into mathesar/static/mathesar/ in the checkout, as
// Mathesar's own build does, unless the assets are up to date or MATHESAR_SKIP_FRONTEND.
func (c Config) frontend(ctx context.Context, src string, sample bool) (string, error) {
	ui := filepath.Join(src, mathesarsrc.UIDir)
	out := filepath.Join(src, filepath.FromSlash(mathesarsrc.UIBuildDir))
	skip := c.SkipFrontend
	if _, err := os.Stat(ui); errors.Is(err, fs.ErrNotExist) {
		if sample {
			return "skipped: the sample app has no front end", nil
		}
		if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
			return "", fmt.Errorf("%s has neither the front end's source (%s/) nor its build (%s/manifest.json): use a full Mathesar checkout", src, mathesarsrc.UIDir, mathesarsrc.UIBuildDir)
		}
		// A source tree that ships only the built front end (no mathesar_ui/) packs that.
		skip = true
	}
	res, err := frontend.Build(ctx, frontend.Options{UIDir: ui, OutDir: out, Skip: skip, Log: c.Log})
	if err != nil {
		return "", err
	}
	verb := "skipped"
	if res.Built {
		verb = "built"
	}
	return fmt.Sprintf("%s %d files, %.1f MB (%s)", verb, res.Files, float64(res.Bytes)/1e6, res.Reason), nil
}

func compileTranslations(ctx context.Context, app string) (string, error) {
	rels, err := msgcompile.Find(app)
	if err != nil {
		return "", err
	}
	catalogs, err := msgcompile.Compile(ctx, app, app, rels, "")
	if err != nil {
		return "", err
	}
	var parts []string
	for _, cat := range catalogs {
		lang := strings.Split(cat.Rel, "/")[1]
		parts = append(parts, fmt.Sprintf("%s %d", lang, cat.Messages))
	}
	return fmt.Sprintf("%d catalogs compiled to .mo (messages: %s)", len(catalogs), strings.Join(parts, ", ")), nil
}

// wheelhouse returns the directory of wheels to pack from: MATHESAR_WHEELHOUSE (offline),
// the sample app's wheelhouse built here, or the wheels pip fetches for every target.
func (c Config) wheelhouse(ctx context.Context, src string, sample bool) (string, string, error) {
	if c.Wheelhouse != "" {
		return c.Wheelhouse, "MATHESAR_WHEELHOUSE=" + c.Wheelhouse + " (offline)", nil
	}
	if sample {
		dir := filepath.Join(c.Root, "build", "sample", "wheelhouse")
		if err := replaceDir(dir, func(dir string) error {
			_, err := samplewheels.BuildWheelhouse(ctx, dir, samplewheels.Options{})
			return err
		}); err != nil {
			return "", "", fmt.Errorf("build the sample wheelhouse: %w", err)
		}
		return dir, "the sample app's wheels, built here", nil
	}
	res, err := c.fetchWheels(ctx, src)
	if err != nil {
		return "", "", err
	}
	how := "fetched with pip"
	if res.Cached {
		how = "cached"
	}
	return res.Dir, fmt.Sprintf("%d wheels in %s (%s)", res.Wheels, res.Dir, how), nil
}

// FetchWheels is `go tool mage wheels`: it fetches, online, every wheel MATHESAR_SRC's
// requirements.txt pins for each platform and CPython, into build/wheels/<key>, where
// later builds find them with no network.
func FetchWheels(ctx context.Context, c Config) (string, error) {
	if c.Source == "" {
		return "", errors.New("no MATHESAR_SRC set: `wheels` fetches the wheels a Mathesar checkout pins; the sample app's wheels are built locally by `zipapp`")
	}
	src, _, err := c.source(ctx)
	if err != nil {
		return "", err
	}
	res, err := c.fetchWheels(ctx, src)
	if err != nil {
		return "", err
	}
	return res.Dir, nil
}

func (c Config) fetchWheels(ctx context.Context, src string) (wheelfetch.Result, error) {
	res, err := wheelfetch.Fetch(ctx, wheelfetch.Options{
		Requirements: filepath.Join(src, "requirements.txt"),
		CacheRoot:    filepath.Join(c.Root, "build", "wheels"),
		Platforms:    c.Platforms, MinMinor: c.MinMinor, MaxMinor: c.MaxMinor,
		AllowMissing: c.AllowMissing, Log: c.Log,
	})
	if err != nil {
		return res, fmt.Errorf("fetch the wheels (set MATHESAR_WHEELHOUSE=dir to build offline from wheels you have): %w", err)
	}
	return res, nil
}

// replaceDir fills a fresh temporary directory and swaps it in for dir, so a stale file
// from an earlier build never leaks into this one.
func replaceDir(dir string, fill func(string) error) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dir)
}

// Publish copies built pyz files from build/zipapp into dist/zipapp, each through a
// temporary file renamed into place.
func Publish(root string, outputs []string) ([]string, error) {
	var published []string
	for _, src := range outputs {
		rel, err := filepath.Rel(filepath.Join(root, "build"), src)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(root, "dist", rel)
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(dst, data, 0o644); err != nil {
			return nil, fmt.Errorf("publish the pyz: %w", err)
		}
		published = append(published, dst)
	}
	return published, nil
}
