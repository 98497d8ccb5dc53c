// Package aptrepo builds a signed, deterministic Debian package repository (pool, Packages
// indexes, Release, InRelease, Release.gpg and the archive keyring) from built .debs, so
// users can install Mathesar with apt from a static file or HTTP server.
package aptrepo

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pkgread"
	"github.com/mathesar-foundation/mathesar-packaging/internal/repotree"
)

// Architectures are the Debian architectures the repository indexes. Both are always
// listed, even when one has no package, so a sources line works the same on every machine
// and apt never reports a missing index.
var Architectures = []string{"amd64", "arm64"}

// Names of the keyring files written at the repository root.
const (
	KeyringFile      = "mathesar-archive-keyring.gpg" // binary OpenPGP, for signed-by
	ArmoredKeyFile   = "mathesar-archive-keyring.asc" // the same key, armored
	defaultSuite     = "stable"
	defaultComponent = "main"
	defaultOrigin    = "Mathesar"
)

// Options says what to build and where.
type Options struct {
	// Dir is the repository root to create or replace, e.g. dist/apt.
	Dir string
	// Debs are the .deb files to publish.
	Debs []string
	// Key signs the Release file. Nil builds an unsigned repository, which apt refuses
	// without [trusted=yes]; it exists for tests of the unsigned path.
	Key *openpgp.Entity
	// Suite is the distribution name in the sources line; it is also the Codename.
	// Default "stable".
	Suite string
	// Component defaults to "main".
	Component string
	// Origin and Label default to "Mathesar".
	Origin, Label string
	// Time is the Release Date, the signature time and every file's mtime: pass
	// SOURCE_DATE_EPOCH so rebuilding gives the same bytes.
	Time time.Time
}

// deb is one package to publish.
type deb struct {
	src      string
	name     string
	version  string
	arch     string
	filename string  // path in the repository, "pool/main/m/mathesar/mathesar_1.0-1_amd64.deb"
	fields   []field // control fields as written in the package
	size     int64
	md5      string
	sha1     string
	sha256   string
}

// field is one control field; value keeps continuation lines ("\n rest") exactly as written.
type field struct{ name, value string }

// Build writes the repository into a temporary directory next to o.Dir and renames it into
// place, so readers see the old repository or the new one, never a half-written one.
func Build(ctx context.Context, o Options) error {
	if o.Dir == "" {
		return errors.New("aptrepo: no output directory: set Options.Dir (e.g. dist/apt)")
	}
	if o.Time.IsZero() {
		return errors.New("aptrepo: no repository time: set Options.Time from SOURCE_DATE_EPOCH")
	}
	if len(o.Debs) == 0 {
		return errors.New("aptrepo: no .deb files given; run `go tool mage release` to build them first")
	}
	o.Suite = orDefault(o.Suite, defaultSuite)
	o.Component = orDefault(o.Component, defaultComponent)
	o.Origin = orDefault(o.Origin, defaultOrigin)
	o.Label = orDefault(o.Label, defaultOrigin)
	for _, s := range []string{o.Suite, o.Component} {
		if strings.ContainsAny(s, "/ \t\n") || s == "." || s == ".." {
			return fmt.Errorf("aptrepo: suite or component %q is not a plain name; use letters, digits, '-' or '.'", s)
		}
	}

	debs, err := readDebs(ctx, o.Debs, o.Component)
	if err != nil {
		return err
	}

	parent, base := filepath.Dir(o.Dir), filepath.Base(o.Dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("aptrepo: create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("aptrepo: create temporary directory in %s: %w", parent, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	if err := write(ctx, tmp, o, debs); err != nil {
		return err
	}
	if err := repotree.Stamp(tmp, o.Time); err != nil {
		return err
	}
	return repotree.ReplaceDir(tmp, o.Dir)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readDebs reads each package's control file and hashes, and refuses what apt could not
// index unambiguously.
func readDebs(ctx context.Context, paths []string, component string) ([]deb, error) {
	seen := map[string]string{}
	var debs []deb
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := pkgread.ReadDeb(p)
		if err != nil {
			return nil, fmt.Errorf("aptrepo: read %s: %w", p, err)
		}
		cf, ok := d.ControlFiles["control"]
		if !ok {
			return nil, fmt.Errorf("aptrepo: %s has no control file; rebuild the package", p)
		}
		fields, err := parseControl(cf.Data)
		if err != nil {
			return nil, fmt.Errorf("aptrepo: control file of %s: %w", p, err)
		}
		e := deb{src: p, fields: fields, name: d.Control["Package"], version: d.Control["Version"], arch: d.Control["Architecture"]}
		if e.name == "" || e.version == "" || e.arch == "" {
			return nil, fmt.Errorf("aptrepo: %s lacks Package, Version or Architecture in its control file; rebuild the package", p)
		}
		if e.arch != "all" && !slices.Contains(Architectures, e.arch) {
			return nil, fmt.Errorf("aptrepo: %s is for architecture %q; this repository holds %s and all only", p, e.arch, strings.Join(Architectures, ", "))
		}
		id := e.name + " " + e.version + " " + e.arch
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("aptrepo: %s and %s are both %s %s for %s; pass one of them", prev, p, e.name, e.version, e.arch)
		}
		seen[id] = p
		e.filename = path.Join("pool", component, poolPrefix(sourceName(d.Control, e.name)), sourceName(d.Control, e.name), poolBase(e))
		if err := hashFile(&e); err != nil {
			return nil, err
		}
		debs = append(debs, e)
	}
	slices.SortFunc(debs, func(a, b deb) int {
		return strings.Compare(a.name+"\x00"+a.version+"\x00"+a.arch, b.name+"\x00"+b.version+"\x00"+b.arch)
	})
	return debs, nil
}

// poolBase is the Debian file name, name_version_arch.deb, without the epoch, whatever the
// input file was called, so two inputs cannot collide in the pool.
func poolBase(e deb) string {
	v := e.version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	return e.name + "_" + v + "_" + e.arch + ".deb"
}

// sourceName is the source package the pool directory is named after, as in Debian's archive.
func sourceName(control map[string]string, pkg string) string {
	src, _, _ := strings.Cut(control["Source"], " ") // "Source: name (version)"
	if src == "" {
		return pkg
	}
	return src
}

// poolPrefix is Debian's pool subdirectory: "libf" for "libfoo", the first letter otherwise.
func poolPrefix(src string) string {
	if strings.HasPrefix(src, "lib") && len(src) > 3 {
		return src[:4]
	}
	return src[:1]
}

func hashFile(e *deb) error {
	f, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("aptrepo: %w", err)
	}
	defer f.Close()
	m, s1, s256 := md5.New(), sha1.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(m, s1, s256), f)
	if err != nil {
		return fmt.Errorf("aptrepo: read %s: %w", e.src, err)
	}
	e.size, e.md5, e.sha1, e.sha256 = n, hexSum(m), hexSum(s1), hexSum(s256)
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// parseControl splits a control file's one paragraph into fields, keeping each value's
// text exactly (pkgread's map loses the field order and the description's layout).
func parseControl(data []byte) ([]field, error) {
	var fields []field
	text := strings.TrimRight(string(data), "\n")
	for i, line := range strings.Split(text, "\n") {
		switch {
		case line == "":
			return nil, fmt.Errorf("line %d: blank line inside the paragraph; a control file holds one paragraph", i+1)
		case line[0] == ' ' || line[0] == '\t':
			if len(fields) == 0 {
				return nil, fmt.Errorf("line %d: continuation line before any field", i+1)
			}
			fields[len(fields)-1].value += "\n" + line
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: %q is not a \"Name: value\" field", i+1, line)
			}
			fields = append(fields, field{name, strings.TrimLeft(value, " \t")})
		}
	}
	return fields, nil
}

// archiveFields are the fields the repository computes; a package's own are dropped.
var archiveFields = []string{"filename", "size", "md5sum", "sha1", "sha256"}

// stanza is the package's Packages entry: its control fields, then where and what the file is.
func stanza(e deb) []byte {
	var b bytes.Buffer
	for _, f := range e.fields {
		if slices.Contains(archiveFields, strings.ToLower(f.name)) {
			continue
		}
		b.WriteString(f.name + ": " + f.value + "\n")
	}
	fmt.Fprintf(&b, "Filename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\n", e.filename, e.size, e.md5, e.sha1, e.sha256)
	return b.Bytes()
}

// write lays out the whole repository under root.
func write(ctx context.Context, root string, o Options, debs []deb) error {
	for _, e := range debs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := repotree.CopyFile(e.src, filepath.Join(root, filepath.FromSlash(e.filename))); err != nil {
			return err
		}
	}
	dist := filepath.Join(root, "dists", o.Suite)
	var indexes []string // paths relative to dists/<suite>, in the order Release lists them
	for _, arch := range Architectures {
		var packages bytes.Buffer
		for _, e := range debs {
			if e.arch == arch || e.arch == "all" {
				if packages.Len() > 0 {
					packages.WriteString("\n")
				}
				packages.Write(stanza(e))
			}
		}
		gz, err := repotree.GzipBytes(packages.Bytes())
		if err != nil {
			return err
		}
		rel := path.Join(o.Component, "binary-"+arch)
		for name, data := range map[string][]byte{"Packages": packages.Bytes(), "Packages.gz": gz} {
			if err := repotree.WriteFile(filepath.Join(dist, filepath.FromSlash(rel), name), data); err != nil {
				return err
			}
		}
		indexes = append(indexes, path.Join(rel, "Packages"), path.Join(rel, "Packages.gz"))
	}
	slices.Sort(indexes)
	release, err := releaseFile(o, dist, indexes)
	if err != nil {
		return err
	}
	if err := repotree.WriteFile(filepath.Join(dist, "Release"), release); err != nil {
		return err
	}
	if o.Key == nil {
		return nil
	}
	return sign(root, dist, release, o)
}

// releaseFile is the suite's Release: what the repository is and every index's hashes.
func releaseFile(o Options, dist string, indexes []string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\n", o.Origin, o.Label, o.Suite, o.Suite)
	// apt parses RFC 1123 dates with a "UTC" zone name, which is what Debian's archive writes.
	fmt.Fprintf(&b, "Date: %s\n", o.Time.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC"))
	fmt.Fprintf(&b, "Architectures: %s\nComponents: %s\n", strings.Join(Architectures, " "), o.Component)
	fmt.Fprintf(&b, "Description: %s packages\n", o.Label)
	sums := []struct {
		name string
		new  func() hash.Hash
	}{{"MD5Sum", md5.New}, {"SHA1", sha1.New}, {"SHA256", sha256.New}}
	contents := map[string][]byte{}
	for _, rel := range indexes {
		data, err := os.ReadFile(filepath.Join(dist, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("aptrepo: %w", err)
		}
		contents[rel] = data
	}
	for _, s := range sums {
		b.WriteString(s.name + ":\n")
		for _, rel := range indexes {
			h := s.new()
			h.Write(contents[rel])
			fmt.Fprintf(&b, " %s %16d %s\n", hexSum(h), len(contents[rel]), rel)
		}
	}
	return b.Bytes(), nil
}

// sign writes InRelease (apt's first choice), Release.gpg (for clients that fetch Release
// and its detached signature) and the public keyring files.
func sign(root, dist string, release []byte, o Options) error {
	k, ok := o.Key.SigningKey(o.Time)
	if !ok || k.PrivateKey == nil {
		return fmt.Errorf("aptrepo: key %X has no secret signing key valid at %s; use the release signing key (MATHESAR_SIGNING_KEY)", o.Key.PrimaryKey.Fingerprint, o.Time.UTC().Format(time.RFC3339))
	}
	var inRelease bytes.Buffer
	w, err := clearsign.Encode(&inRelease, k.PrivateKey, pgpsign.Config(o.Time))
	if err != nil {
		return fmt.Errorf("aptrepo: clearsign Release: %w", err)
	}
	if _, err := w.Write(release); err != nil {
		return fmt.Errorf("aptrepo: clearsign Release: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("aptrepo: clearsign Release: %w", err)
	}
	// Release.gpg is armored, as in Debian's own archive: gpgv and sqv read both forms, and
	// armored text is what pgpsign makes for every other release signature.
	var detached bytes.Buffer
	if err := pgpsign.Sign(&detached, o.Key, bytes.NewReader(release), o.Time); err != nil {
		return fmt.Errorf("aptrepo: sign Release: %w", err)
	}
	var public, armored bytes.Buffer
	if err := o.Key.Serialize(&public); err != nil {
		return fmt.Errorf("aptrepo: export public key: %w", err)
	}
	aw, err := armor.Encode(&armored, openpgp.PublicKeyType, nil)
	if err != nil {
		return fmt.Errorf("aptrepo: armor public key: %w", err)
	}
	aw.Write(public.Bytes())
	if err := aw.Close(); err != nil {
		return fmt.Errorf("aptrepo: armor public key: %w", err)
	}
	armored.WriteString("\n")
	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dist, "InRelease"), inRelease.Bytes()},
		{filepath.Join(dist, "Release.gpg"), detached.Bytes()},
		{filepath.Join(root, KeyringFile), public.Bytes()},
		{filepath.Join(root, ArmoredKeyFile), armored.Bytes()},
	}
	for _, f := range files {
		if err := repotree.WriteFile(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}
