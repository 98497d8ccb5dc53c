package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/release"
)

// releaseMarkers cut a release log into stages: our own zipapp and goreleaser lines, then
// GoReleaser's top-level steps. "repos + publish" is what Run does after GoReleaser.
var releaseMarkers = []Marker{
	{Text: "release: goreleaser", Stage: "goreleaser start-up (compile, git, defaults)"},
	{Text: "• building binaries", Stage: "goreleaser: go build (4 targets)"},
	{Text: "• archives", Stage: "goreleaser: tarballs"},
	{Text: "• linux packages", Stage: "goreleaser: nfpm deb + rpm"},
	{Text: "• calculating checksums", Stage: "goreleaser: checksums, metadata"},
	{Text: "• thanks for using GoReleaser", Stage: "APT/YUM repos, Homebrew, publish to dist/"},
}

// release copies the repository (without build/, dist/ and .git) to a fresh git repository,
// so the real tree is untouched, and times a full release and a re-run with nothing changed.
func (b *bencher) release(ctx context.Context) error {
	root := filepath.Join(b.work, "repo")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	cp := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" --exclude=./build --exclude=./dist --exclude=./.git -cf - . | tar -C "$2" -xf -`, "sh", b.o.Root, root)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copy the repository: %w\n%s", err, out)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"}} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v in %s: %w\n%s", args, root, err, out)
		}
	}
	for _, name := range []string{"full release", "re-run, nothing changed"} {
		w := &stampWriter{start: time.Now()}
		cfg, err := pipeline.FromEnv(root, w)
		if err != nil {
			return err
		}
		res, err := release.Run(ctx, release.Options{Pipeline: cfg, Log: w})
		end := time.Since(w.start)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(res.Artifacts) == 0 {
			return fmt.Errorf("%s made no artifacts", name)
		}
		b.r.Release = append(b.r.Release, ReleaseRow{Name: name, Total: end, Stages: stages(w.lines, end, "build the pyz files (4 platforms)", releaseMarkers)})
	}
	arch := map[string][2]string{"amd64": {"amd64", "x86_64"}, "arm64": {"arm64", "aarch64"}}[runtime.GOARCH]
	for _, a := range []struct{ what, glob string }{
		{"sample app pyz in the release (linux/" + runtime.GOARCH + ")", "dist/zipapp/linux_" + runtime.GOARCH + "/mathesar.pyz"},
		{"sample app deb", "dist/*_" + arch[0] + ".deb"},
		{"sample app rpm", "dist/*." + arch[1] + ".rpm"},
		{"sample app tarball (linux)", "dist/*_linux_" + runtime.GOARCH + ".tar.gz"},
	} {
		m, _ := filepath.Glob(filepath.Join(root, a.glob))
		if len(m) != 1 {
			return fmt.Errorf("the release made %d files matching %s, want 1", len(m), a.glob)
		}
		info, err := os.Stat(m[0])
		if err != nil {
			return err
		}
		b.r.Sizes = append(b.r.Sizes, SizeRow{What: a.what + ": " + filepath.Base(m[0]), Bytes: info.Size()})
	}
	return nil
}
