//go:build mage

// Mage targets of the Mathesar packaging project. Each target is thin: the work lives in
// tested packages under internal/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/mathesar-foundation/mathesar-packaging/internal/bench"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/release"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sysdeps"
)

// Deps installs the Debian packages builds and tests need (as root), or prints the apt-get line.
func Deps(ctx context.Context) error {
	return sysdeps.Ensure(ctx, os.Stdout)
}

// Zipapp builds dist/zipapp/<os>_<arch>/mathesar.pyz (the sample app unless MATHESAR_SRC is set).
func Zipapp(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	cfg, err := config()
	if err != nil {
		return err
	}
	outputs, err := pipeline.Zipapps(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = pipeline.Publish(cfg.Root, outputs)
	return err
}

// Wheels fetches every wheel MATHESAR_SRC's requirements.txt pins, per platform and CPython, into build/wheels (online).
func Wheels(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	cfg, err := config()
	if err != nil {
		return err
	}
	dir, err := pipeline.FetchWheels(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("wheels: %s (builds use it with no network; MATHESAR_WHEELHOUSE=%s makes that explicit)\n", dir, dir)
	return nil
}

// Release builds deb, rpm, tarballs, checksums (and signatures with MATHESAR_SIGNING_KEY) into dist/.
func Release(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	cfg, err := config()
	if err != nil {
		return err
	}
	res, err := release.Run(ctx, release.Options{
		Pipeline:   cfg,
		SigningKey: os.Getenv("MATHESAR_SIGNING_KEY"),
		Log:        os.Stdout,
	})
	if err != nil {
		return err
	}
	fmt.Printf("release: Mathesar %s (snapshot=%t), %d files in dist/\n", res.Version, res.Snapshot, len(res.Artifacts))
	for _, a := range res.Artifacts {
		fmt.Println("  " + a)
	}
	return nil
}

// Repos rebuilds the signed APT and YUM repositories in dist/ from the packages in dist/.
func Repos(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	at, err := release.CommitTime(ctx, root)
	if err != nil {
		return err
	}
	dist := filepath.Join(root, "dist")
	if err := release.Repositories(ctx, dist, dist, os.Getenv("MATHESAR_SIGNING_KEY"), at); err != nil {
		return err
	}
	fmt.Println("repos: dist/apt and dist/yum rebuilt")
	return nil
}

// Verify groups the checks that are too slow for `test`.
type Verify mg.Namespace

// Reproducible makes the release twice and fails unless every artifact is byte-identical.
func (Verify) Reproducible(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	cfg, err := config()
	if err != nil {
		return err
	}
	first, second, err := release.VerifyReproducible(ctx, release.Options{Pipeline: cfg, SigningKey: os.Getenv("MATHESAR_SIGNING_KEY"), Log: io.Discard})
	for i := range first {
		fmt.Printf("%s  %s\n", first[i].SHA256, first[i].Name)
	}
	if err != nil {
		return err
	}
	fmt.Printf("verify:reproducible: %d artifacts byte-identical across two releases\n", len(second))
	return nil
}

func config() (pipeline.Config, error) {
	root, err := os.Getwd()
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.FromEnv(root, os.Stdout)
}

// Test checks formatting, runs go vet and runs every test.
func Test(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change these files; run `gofmt -w .`:\n%s", out)
	}
	if err := sh.RunV("go", "vet", "-tags", "mage,e2e", "./..."); err != nil {
		return err
	}
	args := []string{"test", "-count=1", "-timeout=20m"}
	if os.Getenv("MATHESAR_TEST_RACE") != "" {
		args = append(args, "-race")
	}
	args = append(args, "./...")
	fmt.Println("go", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	// The end-to-end tests boot a Debian container and install the packages in it; as
	// non-root they skip and say why (test/e2e).
	e2e := []string{"test", "-tags", "e2e", "-count=1", "-timeout=30m", "./test/e2e/..."}
	fmt.Println("go", strings.Join(e2e, " "))
	cmd = exec.CommandContext(ctx, "go", e2e...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// Bench measures the launcher and the release against their alternatives and writes
// docs/benchmarks.md and docs/benchmarks.svg (a few minutes; not part of test).
func Bench(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	r, err := bench.Run(ctx, bench.Options{Root: root, Log: os.Stdout})
	if err != nil {
		return err
	}
	for _, g := range r.Goals() {
		fmt.Printf("bench: %-70s %-30s met=%t\n", g.What, g.Measured, g.Met)
	}
	fmt.Println("bench: wrote docs/benchmarks.md and docs/benchmarks.svg")
	return nil
}

// Clean removes the build/ and dist/ directories.
func Clean() error {
	for _, d := range []string{"build", "dist"} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}
