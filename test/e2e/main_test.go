//go:build e2e

// Package e2e_test installs, sets up, upgrades and removes the real packages in a booted
// Debian 12 system (a systemd-nspawn container, internal/nspawn), from signed APT
// repositories made by the real release, and runs the rpm scriptlets in a chroot. It needs
// root, systemd-nspawn, debootstrap and Debian's mirror; without them every test skips and
// says what is missing. Run it with `go test -tags e2e ./test/e2e/...`.
package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/nspawn"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/release"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
)

const (
	v1Version = "0.1.0+sample-1"
	v2Version = "0.2.0+sample-1"
	// The migration v2 adds; f checks it ran on upgrade.
	v2Migration = "0002_add_note"
	v2SQL       = `-- Added by the end-to-end test's v2 of the sample app.
ALTER TABLE sample_items ADD COLUMN note text DEFAULT 'added by 0002';
CREATE TABLE sample_tags (id serial PRIMARY KEY, tag text NOT NULL);
`
)

var (
	repoRoot   string
	skipReason string // set when this machine cannot run the suite
	setupErr   error  // set when it could but preparing failed
	work       string // shared with the container, read-only, at /srv/e2e
	publicKey  []byte
	rootfs     string // the cached debootstrap root
	suiteStart time.Time
)

// dists are the release outputs kept for the tests: work/v1 and work/v2 hold a dist/ each.
func distDir(v string) string { return filepath.Join(work, v) }

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	suiteStart = time.Now()
	code := run(m)
	fmt.Fprintf(os.Stderr, "e2e: whole suite took %s\n", time.Since(suiteStart).Round(time.Second))
	os.Exit(code)
}

func run(m *testing.M) int {
	if skipReason = unmet(); skipReason != "" {
		fmt.Fprintf(os.Stderr, "e2e: skipping: %s\n", skipReason)
		return m.Run()
	}
	var err error
	if work, err = os.MkdirTemp("", "mathesar-e2e-"); err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(work)
	// apt reads file: repositories as the _apt user.
	os.Chmod(work, 0o755)
	if setupErr = prepare(context.Background()); setupErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: preparing failed: %v\n", setupErr)
	}
	return m.Run()
}

// unmet says why this machine cannot run the suite, or "".
func unmet() string {
	if os.Geteuid() != 0 {
		return "the end-to-end tests boot a container and install packages, which needs root (run `sudo go test -tags e2e ./test/e2e/...`)"
	}
	var missing []string
	for _, tool := range []string{"systemd-nspawn", "debootstrap", "nsenter", "unshare", "rpm", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + ": run `go tool mage deps` (systemd-container has systemd-nspawn)"
	}
	return ""
}

func need(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// prepare makes the two signed releases and the cached root file system.
func prepare(ctx context.Context) error {
	start := time.Now()
	rootDone := make(chan error, 1)
	// debootstrap (first run only) and the releases do not depend on each other.
	go func() {
		var err error
		rootfs, err = nspawn.Rootfs(ctx, nspawn.RootfsOptions{Log: os.Stderr})
		rootDone <- err
	}()
	secret, public, err := pgpsign.NewTestKey("Mathesar e2e test", "e2e-test@example.org")
	if err != nil {
		return err
	}
	publicKey = public
	keyPath := filepath.Join(work, "signing-key.asc")
	if err := os.WriteFile(keyPath, secret, 0o600); err != nil {
		return err
	}
	defer os.Remove(keyPath)
	if err := os.WriteFile(filepath.Join(work, "key.asc"), public, 0o644); err != nil {
		return err
	}
	// A copy of the working tree, with the changes not committed yet, so the release does
	// not touch the checkout's build/ and dist/ that other runs use.
	tree := filepath.Join(work, "tree")
	if err := copyTree(ctx, repoRoot, tree); err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	var log bytes.Buffer
	cfg := pipeline.Config{Root: tree, Platforms: pipeline.DefaultPlatforms, MinMinor: 10, MaxMinor: 14, Python: "python3", Log: &log}
	if err := releaseInto(ctx, cfg, keyPath, &log, distDir("v1")); err != nil {
		return err
	}
	app := filepath.Join(work, "app-v2")
	if err := makeV2App(app); err != nil {
		return err
	}
	wheels := filepath.Join(work, "wheelhouse")
	if _, err := samplewheels.BuildWheelhouse(ctx, wheels, samplewheels.Options{}); err != nil {
		return fmt.Errorf("build the sample wheelhouse: %w", err)
	}
	cfg.Source, cfg.Wheelhouse = app, wheels
	if err := releaseInto(ctx, cfg, keyPath, &log, distDir("v2")); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: two signed releases in %s\n", time.Since(start).Round(time.Second))
	if err := <-rootDone; err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: prepared in %s\n", time.Since(start).Round(time.Second))
	return nil
}

func copyTree(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" --exclude=./build --exclude=./dist -cf - . | tar -C "$2" -xf -`, "sh", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copy the working tree to %s: %w: %s", dst, err, out)
	}
	return nil
}

func releaseInto(ctx context.Context, cfg pipeline.Config, key string, log *bytes.Buffer, dest string) error {
	res, err := release.Run(ctx, release.Options{Pipeline: cfg, SigningKey: key, Log: log})
	if err != nil {
		return fmt.Errorf("release: %w\n%s", err, lastLines(log.String(), 40))
	}
	if err := os.Rename(filepath.Join(cfg.Root, "dist"), dest); err != nil {
		return fmt.Errorf("keep the release of %s: %w", res.Version, err)
	}
	return filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
}

var versionLine = regexp.MustCompile(`(?m)^__version__ = "[^"]*"$`)

// v2Stylesheet marks the sample stylesheet of v2, so the upgrade case can tell whose static
// files the server sends.
const v2Stylesheet = "/* v2 of the sample app's stylesheet */\n"

// makeV2App is the sample app one release later, given as MATHESAR_SRC as a Mathesar
// checkout would be: a new version, one more migration, a changed stylesheet and a built
// front end (a source tree without one is refused).
func makeV2App(dir string) error {
	if err := samplewheels.ExtractApp(dir); err != nil {
		return err
	}
	init := filepath.Join(dir, "mathesar", "__init__.py")
	data, err := os.ReadFile(init)
	if err != nil {
		return err
	}
	if !versionLine.Match(data) {
		return fmt.Errorf("%s has no __version__ line to bump", init)
	}
	data = versionLine.ReplaceAll(data, []byte(`__version__ = "0.2.0+sample"`))
	if err := os.WriteFile(init, data, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "mathesar", "migrations", v2Migration+".sql"), []byte(v2SQL), 0o644); err != nil {
		return err
	}
	css := filepath.Join(dir, "mathesar", "static", "sample", "sample.css")
	data, err = os.ReadFile(css)
	if err != nil {
		return err
	}
	if err := os.WriteFile(css, append([]byte(v2Stylesheet), data...), 0o644); err != nil {
		return err
	}
	ui := filepath.Join(dir, "mathesar", "static", "mathesar")
	if err := os.MkdirAll(ui, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ui, "manifest.json"), []byte(`{"src/main.ts": {"file": "assets/main.js", "isEntry": true}}`+"\n"), 0o644)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// timed logs how long a case took, for the report.
func timed(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("case %s took %s", t.Name(), time.Since(start).Round(100*time.Millisecond)) })
}
