package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/appenv"
	"github.com/mathesar-foundation/mathesar-packaging/internal/bundle"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pyfind"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
	"github.com/mathesar-foundation/mathesar-packaging/internal/zipapp"
)

// buildOnlySecretKey lets Django's settings load for collectstatic, which signs nothing;
// it never reaches a bundle or an installed system.
const buildOnlySecretKey = "build-time-collectstatic-only-not-a-secret"

// collectStatic fills <app>/static (Mathesar's STATIC_ROOT, BASE_DIR/static) at build time,
// so every bundle carries its static files under the read-only code tree: an install
// needs no collectstatic, and an upgrade, a new tree, can never serve the old files.
//
// Django's collectstatic runs for real: a pyz for this machine and its CPython is built from
// the staged tree, unpacked, and `manage.py collectstatic --noinput --clear` runs in it with
// a settings-only environment (no database is reached). What it writes is copied back into
// the staged tree, which the final bundles of every platform then pack: static files are
// the same for every OS and CPython.
func (c Config) collectStatic(ctx context.Context, app, wheels, version string, sample bool) (string, error) {
	platform, err := pytags.DefaultPlatform(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return "", fmt.Errorf("collect static files on this %s/%s machine: %w; build on Linux or macOS", runtime.GOOS, runtime.GOARCH, err)
	}
	py, err := pyfind.Find(ctx, pyfind.Options{
		Min: [2]int{3, c.MinMinor}, Max: [2]int{3, c.MaxMinor}, Explicit: c.Python,
		// Probing every python3.X on PATH costs a process start each (more through pyenv's
		// shims); the launcher's probe cache, keyed by path, size and mtime, spares repeats.
		CacheFile: filepath.Join(c.Root, "build", "python-probes.json"),
	})
	if err != nil {
		return "", fmt.Errorf("collecting static files runs Django at build time with a CPython of the bundle's range on this machine: %w", err)
	}
	work := filepath.Join(c.Root, "build", "static-pass")
	if err := os.RemoveAll(work); err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	pyz := filepath.Join(work, "mathesar.pyz")
	if _, err := zipapp.Build(ctx, c.zipappOptions(app, wheels, version, sample, platform, py.Version[1], py.Version[1], pyz)); err != nil {
		return "", fmt.Errorf("collect static files: build the bundle for this machine (%s/%s, %s): %w", runtime.GOOS, runtime.GOARCH, py.ABI, err)
	}
	b, err := bundle.Open(pyz)
	if err != nil {
		return "", err
	}
	tree := appenv.Tree{Root: filepath.Join(work, "tree")}
	err = b.Extract(ctx, py.ABI, tree.Root, nil)
	b.Close()
	if err != nil {
		return "", err
	}
	cmd := appenv.Module(py.Exec(), tree, "manage", []string{"collectstatic", "--noinput", "--clear"}, collectStaticEnv())
	var out bytes.Buffer
	run := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	run.Env, run.Dir, run.Stdout, run.Stderr = cmd.Env, cmd.Dir, &out, &out
	if err := run.Run(); err != nil {
		return "", fmt.Errorf("manage.py collectstatic failed (%v) with %s:\n%s\nfix the settings or the static files in the source, then build again", err, py.Path, tail(out.String(), 20))
	}
	collected := filepath.Join(tree.AppDir(), "static")
	files, size, err := copyTree(collected, filepath.Join(app, "static"))
	if err != nil {
		return "", fmt.Errorf("copy the collected static files: %w", err)
	}
	if files == 0 {
		return "", fmt.Errorf("manage.py collectstatic wrote no files into %s (STATIC_ROOT must be BASE_DIR/static):\n%s", collected, tail(out.String(), 20))
	}
	return fmt.Sprintf("%d files, %.1f MB collected by manage.py collectstatic (%s %d.%d.%d) into app/static", files, float64(size)/1e6, py.Path, py.Version[0], py.Version[1], py.Version[2]), nil
}

// collectStaticEnv is all collectstatic sees: nothing of the maintainer's environment
// (DEBUG, a MATHESAR_* or POSTGRES_* setting) may change what the bundle carries. The
// database settings are placeholders that Mathesar's settings require and collectstatic
// never connects to.
func collectStaticEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"LC_ALL=C.UTF-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_SETTINGS_MODULE=config.settings.production",
		"SECRET_KEY=" + buildOnlySecretKey,
		"POSTGRES_DB=mathesar_django",
		"POSTGRES_USER=mathesar",
		"POSTGRES_HOST=/nonexistent/collectstatic-needs-no-database",
	}
}

// copyTree copies the regular files of src into dst (created), keeping relative paths.
func copyTree(src, dst string) (files int, size int64, err error) {
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		size += int64(len(data))
		return os.WriteFile(target, data, 0o644)
	})
	return files, size, err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
