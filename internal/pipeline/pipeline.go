// Package pipeline drives the build steps behind the mage targets: it picks the app source
// and wheelhouse (Mathesar's, or the embedded sample app's), then builds one pyz per
// platform. Mage targets stay thin and call it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sitehook"
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
	Log             io.Writer
}

// FromEnv reads the build configuration from environment variables.
func FromEnv(root string, log io.Writer) (Config, error) {
	c := Config{
		Root:       root,
		Source:     os.Getenv("MATHESAR_SRC"),
		Wheelhouse: os.Getenv("MATHESAR_WHEELHOUSE"),
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
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds: set it to an integer such as $(git log -1 --format=%%ct)", v)
		}
		c.SourceDateEpoch = n
	}
	return c, nil
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

var versionRE = regexp.MustCompile(`(?m)^__version__\s*=\s*["']([^"']+)["']`)

// ReadVersion reads __version__ from <app>/mathesar/__init__.py without importing it, as
// Mathesar keeps that module free of imports for this purpose.
func ReadVersion(appDir string) (string, error) {
	p := filepath.Join(appDir, "mathesar", "__init__.py")
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read the app version: %w; is %s a Mathesar source tree?", err, appDir)
	}
	m := versionRE.FindSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("%s has no __version__ = \"...\" line: is %s a Mathesar source tree?", p, appDir)
	}
	return string(m[1]), nil
}

// Built is what Zipapps made.
type Built struct {
	AppDir  string
	Version string
	Sample  bool
	Outputs []string
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

// BuildZipapps is Zipapps, also returning the app's version and source.
func BuildZipapps(ctx context.Context, c Config) (*Built, error) {
	app, wheels, sample, err := c.inputs(ctx)
	if err != nil {
		return nil, err
	}
	version, err := ReadVersion(app)
	if err != nil {
		return nil, err
	}
	var outputs []string
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
		start := time.Now()
		res, err := zipapp.Build(ctx, zipapp.Options{
			AppDir:          app,
			AppName:         "mathesar",
			Version:         version,
			Sample:          sample,
			Wheelhouse:      wheels,
			Target:          zipapp.Target{Platform: platform, MinMinor: c.MinMinor, MaxMinor: c.MaxMinor},
			Output:          out,
			SourceDateEpoch: c.SourceDateEpoch,
			SiteFiles:       sitehook.Files(),
		})
		if err != nil {
			return nil, err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(c.Log, "zipapp: warning: %s\n", w)
		}
		info, err := os.Stat(out)
		if err != nil {
			return nil, err
		}
		label := ""
		if sample {
			label = " (sample app)"
		}
		fmt.Fprintf(c.Log, "zipapp: %s %s%s: %d files, %d bytes, build %s, %.1fs\n", out, version, label, len(res.Manifest.Files), info.Size(), res.Manifest.BuildID[:12], time.Since(start).Seconds())
		outputs = append(outputs, out)
	}
	return &Built{AppDir: app, Version: version, Sample: sample, Outputs: outputs}, nil
}

// inputs returns the app tree and wheelhouse to build from: MATHESAR_SRC and
// MATHESAR_WHEELHOUSE, or the embedded sample app with a wheelhouse made here.
func (c Config) inputs(ctx context.Context) (app, wheels string, sample bool, err error) {
	if c.Source != "" {
		if c.Wheelhouse == "" {
			return "", "", false, errors.New("MATHESAR_SRC is set but MATHESAR_WHEELHOUSE is not: point it at a directory of the wheels requirements.txt pins")
		}
		return c.Source, c.Wheelhouse, false, nil
	}
	base := filepath.Join(c.Root, "build", "sample")
	app = filepath.Join(base, "app")
	if err := replaceDir(app, samplewheels.ExtractApp); err != nil {
		return "", "", false, fmt.Errorf("extract the sample app: %w", err)
	}
	wheels = c.Wheelhouse
	if wheels == "" {
		wheels = filepath.Join(base, "wheelhouse")
		if err := replaceDir(wheels, func(dir string) error {
			_, err := samplewheels.BuildWheelhouse(ctx, dir, samplewheels.Options{})
			return err
		}); err != nil {
			return "", "", false, fmt.Errorf("build the sample wheelhouse: %w", err)
		}
	}
	fmt.Fprintf(c.Log, "zipapp: no MATHESAR_SRC set: building the sample app\n")
	return app, wheels, true, nil
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
