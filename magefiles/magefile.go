//go:build mage

// Mage targets of the Mathesar packaging project. Each target is thin: the work lives in
// tested packages under internal/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sysdeps"
)

// Deps installs the Debian packages builds and tests need (as root), or prints the apt-get line.
func Deps(ctx context.Context) error {
	return sysdeps.Ensure(ctx, os.Stdout)
}

// Zipapp builds dist/zipapp/<os>_<arch>/mathesar.pyz (the sample app unless MATHESAR_SRC is set).
func Zipapp(ctx context.Context) error {
	mg.CtxDeps(ctx, Deps)
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg, err := pipeline.FromEnv(root, os.Stdout)
	if err != nil {
		return err
	}
	_, err = pipeline.Zipapps(ctx, cfg)
	return err
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
	if err := sh.RunV("go", "vet", "-tags", "mage", "./..."); err != nil {
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
	return cmd.Run()
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
