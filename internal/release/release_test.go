package release

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
)

// gitRepo makes a repository with one commit holding a .goreleaser.yaml.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found: run `go tool mage deps`")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".goreleaser.yaml"), []byte("nfpms:\n  - id: x\n    release: \"3\"\n"), 0o644)
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "x"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestRunRefuses(t *testing.T) {
	cases := []struct {
		name         string
		setup        func(t *testing.T, dir string)
		key          string
		want         string
		allowMissing bool
	}{
		{"dirty tree on a release tag", func(t *testing.T, dir string) {
			git(t, dir, "tag", "v1.0.0")
			os.WriteFile(filepath.Join(dir, ".goreleaser.yaml"), []byte("nfpms:\n  - id: x\n    release: \"4\"\n"), 0o644)
		}, "key.asc", "uncommitted changes", false},
		{"release without a signing key", func(t *testing.T, dir string) {
			git(t, dir, "tag", "v1.0.0")
		}, "", "must be signed: set MATHESAR_SIGNING_KEY", false},
		{"release with missing dependencies allowed", func(t *testing.T, dir string) {
			git(t, dir, "tag", "v1.0.0")
		}, "key.asc", "unset MATHESAR_ALLOW_MISSING_DEPS", true},
		{"no packaging revision", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ".goreleaser.yaml"), []byte("nfpms:\n  - id: x\n"), 0o644)
		}, "", "packaging revision", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := gitRepo(t)
			tc.setup(t, dir)
			_, err := Run(context.Background(), Options{Pipeline: pipeline.Config{Root: dir, AllowMissing: tc.allowMissing}, SigningKey: tc.key, Log: &bytes.Buffer{}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error mentioning %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "dist")); err == nil {
				t.Error("a refused release left dist/ behind")
			}
		})
	}
}

func TestPackagingRevision(t *testing.T) {
	dir := gitRepo(t)
	rev, err := PackagingRevision(filepath.Join(dir, ".goreleaser.yaml"))
	if err != nil || rev != "3" {
		t.Fatalf("PackagingRevision = %q, %v", rev, err)
	}
	// The repository's own configuration must parse too.
	if _, err := PackagingRevision(filepath.Join("..", "..", ".goreleaser.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestCheckGoReleaserVersion(t *testing.T) {
	ok := "GitVersion:    2.15.1\nGitCommit:     abc\n"
	if err := checkGoReleaserVersion(ok); err != nil {
		t.Errorf("2.15.1 refused: %v", err)
	}
	for _, out := range []string{"GitVersion:    2.14.0\n", "nothing useful\n"} {
		if err := checkGoReleaserVersion(out); err == nil || !strings.Contains(err.Error(), "the release needs 2.15.1") {
			t.Errorf("%q: %v", out, err)
		}
	}
}

func TestCheckPlatforms(t *testing.T) {
	root := "/r"
	all := []string{}
	for _, p := range pipeline.DefaultPlatforms {
		goos, goarch, _ := strings.Cut(p, "/")
		all = append(all, pipeline.ZipappPath(root, goos, goarch))
	}
	if err := checkPlatforms(root, all); err != nil {
		t.Fatal(err)
	}
	if err := checkPlatforms(root, all[:2]); err == nil || !strings.Contains(err.Error(), "darwin/amd64, darwin/arm64") {
		t.Fatalf("missing darwin: %v", err)
	}
}

func TestCheckComplete(t *testing.T) {
	files := []string{"m_amd64.deb", "m_arm64.deb", "m.x86_64.rpm", "m.aarch64.rpm", "m_linux_amd64.tar.gz", "m_linux_arm64.tar.gz", "m_darwin_amd64.tar.gz", "m_darwin_arm64.tar.gz", "m_checksums.txt"}
	if err := checkComplete(files, false); err != nil {
		t.Fatal(err)
	}
	if err := checkComplete(files, true); err == nil || !strings.Contains(err.Error(), "m_amd64.deb.asc") {
		t.Fatalf("unsigned files passed a signed release: %v", err)
	}
	if err := checkComplete(files[1:], false); err == nil || !strings.Contains(err.Error(), "*_amd64.deb") {
		t.Fatalf("a missing deb passed: %v", err)
	}
}
