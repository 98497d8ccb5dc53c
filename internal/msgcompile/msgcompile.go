// Package msgcompile compiles the gettext .po catalogs of a Mathesar source tree into .mo
// files at build time with GNU gettext's msgfmt, as Django's compilemessages does, so the
// packaged bundle needs no build step at install time.
package msgcompile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mathesar-foundation/mathesar-packaging/internal/atomicfile"
)

// Catalog is one compiled catalog.
type Catalog struct {
	Rel      string // slash path of the .po relative to the tree, e.g. translations/fr/LC_MESSAGES/django.po
	MO       string // path of the written .mo under the output root
	Messages int    // translated messages, per msgfmt --statistics
}

// Find lists the .po files under <root>/translations/<lang>/LC_MESSAGES/*.po as sorted slash
// paths relative to root. A tree without translations/, or with no catalog in it, is an
// error: a build that silently shipped no translations would look fine until a user switched
// language.
func Find(root string) ([]string, error) {
	dir := filepath.Join(root, "translations")
	langs, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no translations directory at %s: point the build at a Mathesar source tree (it has translations/<lang>/LC_MESSAGES/django.po)", dir)
		}
		return nil, fmt.Errorf("list translations: %w", err)
	}
	var rels []string
	for _, lang := range langs {
		if !lang.IsDir() {
			continue
		}
		msgDir := filepath.Join(dir, lang.Name(), "LC_MESSAGES")
		files, err := os.ReadDir(msgDir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list translations: %w", err)
		}
		for _, f := range files {
			if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".po") {
				rels = append(rels, path.Join("translations", lang.Name(), "LC_MESSAGES", f.Name()))
			}
		}
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("no .po catalogs under %s/<lang>/LC_MESSAGES: point the build at a Mathesar source tree", dir)
	}
	sort.Strings(rels)
	return rels, nil
}

// Compile compiles each .po under srcRoot (slash paths relative to it, as from Find) into the
// same relative path with a .mo suffix under outRoot, running up to runtime.NumCPU() msgfmt
// processes at once. msgfmt is the program to run ("" means msgfmt on PATH). Every failing
// catalog is reported in the one error; none of them leaves a .mo behind. The result is
// sorted by Rel.
func Compile(ctx context.Context, srcRoot, outRoot string, rels []string, msgfmt string) ([]Catalog, error) {
	if msgfmt == "" {
		msgfmt = "msgfmt"
	}
	bin, err := exec.LookPath(msgfmt)
	if err != nil {
		return nil, fmt.Errorf("msgfmt not found: install GNU gettext (`go tool mage deps` installs the Debian package gettext; on macOS `brew install gettext`): %w", err)
	}
	rels = append([]string(nil), rels...)
	sort.Strings(rels)
	out := make([]Catalog, len(rels))
	errs := make([]error, len(rels))
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	for i, rel := range rels {
		g.Go(func() error {
			// Errors are collected per catalog rather than returned, so one broken catalog
			// does not hide the others from the person fixing them.
			out[i], errs[i] = compileOne(ctx, bin, srcRoot, outRoot, rel)
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

var translatedRE = regexp.MustCompile(`(?m)^(\d+) translated message.*\n?`)

func compileOne(ctx context.Context, bin, srcRoot, outRoot, rel string) (Catalog, error) {
	if !strings.HasSuffix(rel, ".po") || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return Catalog{}, fmt.Errorf("compile %s: not a .po path inside the tree", rel)
	}
	po := filepath.Join(srcRoot, filepath.FromSlash(rel))
	mo := filepath.Join(outRoot, filepath.FromSlash(strings.TrimSuffix(rel, ".po")+".mo"))
	// A .mo from an earlier build must not outlive a catalog that now fails: with outRoot
	// equal to srcRoot it would otherwise be packaged as if current.
	if err := os.Remove(mo); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Catalog{}, fmt.Errorf("remove stale %s: %w", mo, err)
	}
	// msgfmt writes the .mo to stdout ("-o -") so that the only file ever created is the
	// atomic rename below; msgfmt may write output even when it reports fatal errors.
	cmd := exec.CommandContext(ctx, bin, "--check-format", "--statistics", "-o", "-", po)
	cmd.Env = cLocaleEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Catalog{}, fmt.Errorf("compile %s: %w", po, ctx.Err())
		}
		// The statistics line is noise next to the errors a translator has to fix.
		msg := strings.TrimSpace(translatedRE.ReplaceAllString(stderr.String(), ""))
		if msg == "" {
			msg = err.Error()
		}
		return Catalog{}, fmt.Errorf("compile %s: msgfmt refused it:\n  %s\nfix the translation in %s, then build again",
			po, strings.ReplaceAll(msg, "\n", "\n  "), po)
	}
	n := 0
	if m := translatedRE.FindSubmatch(stderr.Bytes()); m != nil {
		n, _ = strconv.Atoi(string(m[1]))
	}
	if err := atomicfile.WriteFile(mo, stdout.Bytes(), 0o644); err != nil {
		return Catalog{}, fmt.Errorf("compile %s: %w", po, err)
	}
	return Catalog{Rel: rel, MO: mo, Messages: n}, nil
}

// cLocaleEnv is the environment with the locale forced to C, so msgfmt's messages (and
// therefore the errors people read and tests match) do not depend on the builder's locale.
func cLocaleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}
