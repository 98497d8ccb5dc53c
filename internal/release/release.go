// Package release runs `go tool mage release`: it builds the per-platform pyz, prepares what
// .goreleaser.yaml packs (completions, man pages, docs), runs the pinned GoReleaser, checks
// that every artifact is there and moves the result into dist/ in one step, so dist/ holds
// either a whole release or the previous one.
package release

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/mathesar-foundation/mathesar-packaging/internal/aptrepo"
	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/homebrew"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pipeline"
	"github.com/mathesar-foundation/mathesar-packaging/internal/repotree"
	"github.com/mathesar-foundation/mathesar-packaging/internal/yumrepo"
)

// GoReleaserVersion is the GoReleaser the release is made with, pinned in tools/go.mod.
const GoReleaserVersion = "2.15.1"

// Options configure a release.
type Options struct {
	Pipeline   pipeline.Config
	SigningKey string // MATHESAR_SIGNING_KEY: armored secret key file; "" leaves a snapshot unsigned
	Log        io.Writer
}

// Result describes a finished release.
type Result struct {
	Version   string // Mathesar's version, e.g. 0.10.1
	Snapshot  bool
	Artifacts []string // paths under dist/, sorted
}

// Run makes a release in o.Pipeline.Root.
func Run(ctx context.Context, o Options) (*Result, error) {
	root := o.Pipeline.Root
	pkgRelease, err := PackagingRevision(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		return nil, err
	}
	git, err := readGit(ctx, root)
	if err != nil {
		return nil, err
	}
	snapshot := git.tag == ""
	if !snapshot && git.dirty {
		return nil, fmt.Errorf("HEAD is tagged %s but the tree has uncommitted changes: commit or stash them, or remove the tag to make a snapshot", git.tag)
	}
	if !snapshot && o.Pipeline.AllowMissing {
		return nil, fmt.Errorf("HEAD is tagged %s, so this is a real release, and a release bundles every dependency: unset MATHESAR_ALLOW_MISSING_DEPS (only a snapshot may leave wheels out)", git.tag)
	}
	if !snapshot && o.SigningKey == "" {
		return nil, fmt.Errorf("HEAD is tagged %s, so this is a real release, and a release must be signed: set MATHESAR_SIGNING_KEY to an armored OpenPGP secret key file", git.tag)
	}
	if o.Pipeline.SourceDateEpoch == 0 {
		o.Pipeline.SourceDateEpoch = git.commitTime
	}
	if err := checkGoReleaser(ctx, root); err != nil {
		return nil, err
	}
	built, err := pipeline.BuildZipapps(ctx, o.Pipeline)
	if err != nil {
		return nil, err
	}
	if err := checkPlatforms(root, built.Outputs); err != nil {
		return nil, err
	}
	env := []string{
		"MATHESAR_VERSION=" + built.Version,
		"MATHESAR_PKG_RELEASE=" + pkgRelease,
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(o.Pipeline.SourceDateEpoch, 10),
		"MATHESAR_MTIME=" + time.Unix(o.Pipeline.SourceDateEpoch, 0).UTC().Format(time.RFC3339),
		"MATHESAR_COMMIT=" + git.shortCommit,
	}
	stages := slices.Clone(built.Stages)
	timed := func(name string, run func() error) error {
		start := time.Now()
		if err := run(); err != nil {
			return err
		}
		stages = append(stages, pipeline.Stage{Name: name, Took: time.Since(start)})
		return nil
	}
	err = timed("package inputs", func() error { return prepareInputs(ctx, root, built, o, pkgRelease, env) })
	if err != nil {
		return nil, err
	}
	args := []string{"tool", "-modfile=tools/go.mod", "goreleaser", "release", "--clean", "--snapshot"}
	if o.SigningKey == "" {
		args = append(args, "--skip=sign")
	} else {
		env = append(env, "MATHESAR_SIGNING_KEY="+o.SigningKey)
	}
	fmt.Fprintf(o.Log, "release: goreleaser %s for Mathesar %s-%s (snapshot=%t)\n", GoReleaserVersion, built.Version, pkgRelease, snapshot)
	err = timed("goreleaser", func() error {
		if err := runIn(ctx, root, env, o.Log, "go", args...); err != nil {
			return fmt.Errorf("goreleaser: %w", err)
		}
		if o.SigningKey != "" {
			return signChecksums(root, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var artifacts []string
	err = timed("repositories", func() (err error) {
		artifacts, err = publish(root, built, o.SigningKey != "", func(stage string) error {
			return addRepositories(ctx, root, stage, o)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprint(o.Log, pipeline.StageSummary("release", stages))
	return &Result{Version: built.Version, Snapshot: snapshot, Artifacts: artifacts}, nil
}

var revisionRE = regexp.MustCompile(`(?m)^\s+release:\s*"?([0-9][0-9a-z.~]*)"?\s*$`)

// PackagingRevision reads the nfpms release (the packaging revision) from the GoReleaser
// configuration, which is its one home.
func PackagingRevision(config string) (string, error) {
	data, err := os.ReadFile(config)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", config, err)
	}
	m := revisionRE.FindAllSubmatch(data, -1)
	if len(m) != 1 {
		return "", fmt.Errorf("%s must set the packaging revision once, as `release: \"1\"` under nfpms; found %d", config, len(m))
	}
	return string(m[0][1]), nil
}

// checkPlatforms makes sure this run built a pyz for every platform GoReleaser packs; a
// stale one left in build/ by an earlier run must not slip into the release.
func checkPlatforms(root string, outputs []string) error {
	var missing []string
	for _, p := range pipeline.DefaultPlatforms {
		goos, goarch, _ := strings.Cut(p, "/")
		if !slices.Contains(outputs, pipeline.ZipappPath(root, goos, goarch)) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no pyz was built for %s: a release needs %s; unset MATHESAR_PLATFORMS", strings.Join(missing, ", "), strings.Join(pipeline.DefaultPlatforms, ", "))
	}
	return nil
}

type gitState struct {
	shortCommit string
	tag         string
	dirty       bool
	commitTime  int64
}

func readGit(ctx context.Context, root string) (gitState, error) {
	var g gitState
	out, err := output(ctx, root, "git", "log", "-1", "--format=%ct %h")
	if err != nil {
		return g, fmt.Errorf("read the commit date: %w; a release is made from a git checkout with at least one commit", err)
	}
	ct, short, _ := strings.Cut(strings.TrimSpace(out), " ")
	g.shortCommit = short
	if g.commitTime, err = strconv.ParseInt(ct, 10, 64); err != nil {
		return g, fmt.Errorf("commit date %q: %w", out, err)
	}
	if out, err := output(ctx, root, "git", "tag", "--points-at", "HEAD"); err == nil {
		tags := strings.Fields(out)
		sort.Strings(tags)
		if len(tags) > 0 {
			g.tag = tags[0]
		}
	}
	out, err = output(ctx, root, "git", "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return g, fmt.Errorf("read the tree's state: %w", err)
	}
	g.dirty = strings.TrimSpace(out) != ""
	return g, nil
}

var goreleaserVersionRE = regexp.MustCompile(`(?m)^GitVersion:\s*v?(\S+)`)

// checkGoReleaser makes sure the pinned GoReleaser is what `go tool` runs.
func checkGoReleaser(ctx context.Context, root string) error {
	out, err := output(ctx, root, "go", "tool", "-modfile=tools/go.mod", "goreleaser", "--version")
	if err != nil {
		return fmt.Errorf("run goreleaser: %w; it is pinned in tools/go.mod: `go mod download -modfile=tools/go.mod` fetches it", err)
	}
	return checkGoReleaserVersion(out)
}

func checkGoReleaserVersion(versionOutput string) error {
	m := goreleaserVersionRE.FindStringSubmatch(versionOutput)
	if m == nil || m[1] != GoReleaserVersion {
		got := "an unknown version"
		if m != nil {
			got = m[1]
		}
		return fmt.Errorf("goreleaser is %s, the release needs %s: pin it with `go get -modfile=tools/go.mod -tool github.com/goreleaser/goreleaser/v2@v%s`", got, GoReleaserVersion, GoReleaserVersion)
	}
	return nil
}

// prepareInputs writes what .goreleaser.yaml packs besides the launcher and the pyz.
func prepareInputs(ctx context.Context, root string, built *pipeline.Built, o Options, pkgRelease string, env []string) error {
	dir := filepath.Join(root, "build", "release")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	bin := filepath.Join(root, "build", "bin")
	for name, pkg := range map[string]string{"mathesar": "./cmd/mathesar", "mathesar-sign": "./cmd/mathesar-sign"} {
		if err := runIn(ctx, root, []string{"CGO_ENABLED=0"}, o.Log, "go", "build", "-trimpath", "-o", filepath.Join(bin, name), pkg); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
	}
	launcher := filepath.Join(bin, "mathesar")
	for shell, name := range map[string]string{"bash": "mathesar.bash", "zsh": "_mathesar", "fish": "mathesar.fish"} {
		out, err := output(ctx, root, launcher, "completion", shell)
		if err != nil {
			return fmt.Errorf("generate the %s completion: %w", shell, err)
		}
		if err := writeFile(filepath.Join(dir, "completions", name), []byte(out)); err != nil {
			return err
		}
	}
	if err := manPages(ctx, root, launcher, filepath.Join(dir, "man"), env); err != nil {
		return err
	}
	license, err := os.ReadFile(filepath.Join(built.AppDir, "LICENSE"))
	if err != nil {
		return fmt.Errorf("read Mathesar's LICENSE: %w; the source tree must hold it", err)
	}
	date := time.Unix(o.Pipeline.SourceDateEpoch, 0).UTC()
	docs := map[string][]byte{
		"LICENSE":       license,
		"copyright":     []byte(debianCopyright),
		"changelog.yml": []byte(changelogYAML(built.Version, pkgRelease, date)),
	}
	for name, data := range docs {
		if err := writeFile(filepath.Join(dir, "doc", name), data); err != nil {
			return err
		}
	}
	return nil
}

// manPages renders the man pages and gzips them as Debian wants (-9, no name or time).
func manPages(ctx context.Context, root, launcher, dest string, env []string) error {
	raw, err := os.MkdirTemp(filepath.Join(root, "build"), "man-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(raw)
	if err := runIn(ctx, root, env, io.Discard, launcher, "man", "--dir", raw); err != nil {
		return fmt.Errorf("generate the man pages: %w", err)
	}
	pages, err := filepath.Glob(filepath.Join(raw, "*.1"))
	if err != nil || len(pages) == 0 {
		return fmt.Errorf("no man pages were generated in %s", raw)
	}
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		gz, err := repotree.GzipBytes(data)
		if err != nil {
			return fmt.Errorf("compress %s: %w", p, err)
		}
		if err := writeFile(filepath.Join(dest, filepath.Base(p)+".gz"), gz); err != nil {
			return err
		}
	}
	return nil
}

const maintainer = "Mathesar Foundation <packaging@mathesar.org>"

const debianCopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Mathesar
Source: https://github.com/mathesar-foundation/mathesar

Files: *
Copyright: 2021-2026 Mathesar Foundation and contributors
License: GPL-3.0-or-later

License: GPL-3.0-or-later
 This program is free software: you can redistribute it and/or modify
 it under the terms of the GNU General Public License as published by
 the Free Software Foundation, either version 3 of the License, or
 (at your option) any later version.
 .
 This program is distributed in the hope that it will be useful,
 but WITHOUT ANY WARRANTY; without even the implied warranty of
 MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 GNU General Public License for more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 3 can be found in "/usr/share/common-licenses/GPL-3".
`

// changelogYAML is the changelog in the chglog format nFPM reads; nFPM renders it as the
// deb's changelog.Debian.gz and the rpm's %changelog.
func changelogYAML(version, rel string, date time.Time) string {
	return fmt.Sprintf(`- semver: %s-%s
  date: %s
  packager: %s
  deb:
    urgency: medium
    distributions: [stable]
  changes:
    - note: Package Mathesar %s.
`, version, rel, date.UTC().Format(time.RFC3339), maintainer, version)
}

// DefaultRepoURL is where the APT and YUM repositories are published; MATHESAR_REPO_URL
// overrides it. The YUM .repo file names it (the APT sources line is the admin's to write).
const DefaultRepoURL = "https://packages.mathesar.org"

// addRepositories renders what is published from the packages into the staged dist/: the
// signed APT and YUM repositories and the Homebrew tap's formula.
func addRepositories(ctx context.Context, root, stage string, o Options) error {
	built := filepath.Join(root, "build", "goreleaser")
	at := time.Unix(o.Pipeline.SourceDateEpoch, 0).UTC()
	if err := Repositories(ctx, built, stage, o.SigningKey, at); err != nil {
		return err
	}
	formula, err := homebrew.Render(homebrew.Options{Dist: built, BaseURL: homebrew.BaseURLFromEnv(os.Getenv)})
	if err != nil {
		return fmt.Errorf("render the Homebrew formula: %w", err)
	}
	return writeFile(filepath.Join(stage, homebrew.FormulaPath), formula)
}

// Repositories builds the APT repository (out/apt) and the YUM repository (out/yum) from the
// .deb and .rpm files in pkgDir, signed with the key in signingKey ("" for unsigned ones,
// which only a snapshot may publish), with every timestamp set to at.
func Repositories(ctx context.Context, pkgDir, out, signingKey string, at time.Time) error {
	debs, _ := filepath.Glob(filepath.Join(pkgDir, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(pkgDir, "*.rpm"))
	if len(debs) == 0 || len(rpms) == 0 {
		return fmt.Errorf("no .deb or no .rpm in %s: run `go tool mage release` first", pkgDir)
	}
	var key *openpgp.Entity
	if signingKey != "" {
		var err error
		if key, err = pgpsign.LoadKey(signingKey, []byte(os.Getenv("MATHESAR_SIGNING_PASSPHRASE"))); err != nil {
			return err
		}
	}
	repoURL := strings.TrimRight(cmp.Or(os.Getenv("MATHESAR_REPO_URL"), DefaultRepoURL), "/")
	if err := aptrepo.Build(ctx, aptrepo.Options{Dir: filepath.Join(out, "apt"), Debs: debs, Key: key, Time: at}); err != nil {
		return fmt.Errorf("build the APT repository: %w", err)
	}
	if err := yumrepo.Build(ctx, yumrepo.Options{Dir: filepath.Join(out, "yum"), Rpms: rpms, Key: key, Time: at, BaseURL: repoURL + "/yum"}); err != nil {
		return fmt.Errorf("build the YUM repository: %w", err)
	}
	return nil
}

// CommitTime is the time of HEAD's commit, the default timestamp of everything a release
// writes.
func CommitTime(ctx context.Context, root string) (time.Time, error) {
	g, err := readGit(ctx, root)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(g.commitTime, 0).UTC(), nil
}

// signChecksums signs the checksums file GoReleaser wrote last.
func signChecksums(root string, o Options) error {
	sums, err := filepath.Glob(filepath.Join(root, "build", "goreleaser", "*_checksums.txt"))
	if err != nil || len(sums) != 1 {
		return fmt.Errorf("find the checksums file in build/goreleaser: found %d", len(sums))
	}
	key, err := pgpsign.LoadKey(o.SigningKey, []byte(os.Getenv("MATHESAR_SIGNING_PASSPHRASE")))
	if err != nil {
		return err
	}
	return pgpsign.SignFile(key, sums[0], sums[0]+".asc", time.Unix(o.Pipeline.SourceDateEpoch, 0))
}

// publish copies the artifacts into a staging directory and swaps it in for dist/.
func publish(root string, built *pipeline.Built, signed bool, extra func(stage string) error) ([]string, error) {
	src := filepath.Join(root, "build", "goreleaser")
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("read goreleaser's output: %w", err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && (strings.HasSuffix(n, ".deb") || strings.HasSuffix(n, ".rpm") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, "_checksums.txt") || strings.HasSuffix(n, ".asc")) {
			files = append(files, n)
		}
	}
	if err := checkComplete(files, signed); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(root, ".dist-stage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	for _, n := range files {
		if err := copyFile(filepath.Join(src, n), filepath.Join(stage, n)); err != nil {
			return nil, err
		}
	}
	for _, pyz := range built.Outputs {
		rel, err := filepath.Rel(filepath.Join(root, "build"), pyz)
		if err != nil {
			return nil, err
		}
		if err := copyFile(pyz, filepath.Join(stage, rel)); err != nil {
			return nil, err
		}
	}
	if err := extra(stage); err != nil {
		return nil, err
	}
	dist := filepath.Join(root, "dist")
	old := filepath.Join(root, ".dist-old")
	os.RemoveAll(old)
	if err := os.Rename(dist, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("move the previous dist/ aside: %w", err)
	}
	if err := os.Rename(stage, dist); err != nil {
		os.Rename(old, dist)
		return nil, fmt.Errorf("move the release into dist/: %w", err)
	}
	os.RemoveAll(old)
	var out []string
	err = filepath.Walk(dist, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

// checkComplete refuses a release that lacks any package, tarball or signature.
func checkComplete(files []string, signed bool) error {
	want := map[string]int{"_amd64.deb": 1, "_arm64.deb": 1, ".x86_64.rpm": 1, ".aarch64.rpm": 1,
		"_linux_amd64.tar.gz": 1, "_linux_arm64.tar.gz": 1, "_darwin_amd64.tar.gz": 1, "_darwin_arm64.tar.gz": 1, "_checksums.txt": 1}
	var missing []string
	for suffix := range want {
		found := false
		for _, f := range files {
			if strings.HasSuffix(f, suffix) {
				found = true
			}
		}
		if !found {
			missing = append(missing, "*"+suffix)
		}
	}
	if signed {
		for _, f := range files {
			if !strings.HasSuffix(f, ".asc") && !slices.Contains(files, f+".asc") {
				missing = append(missing, f+".asc")
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("goreleaser did not produce %s; dist/ was left as it was", strings.Join(missing, ", "))
	}
	return nil
}

func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, data)
}

func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func runIn(ctx context.Context, dir string, env []string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run()
}
