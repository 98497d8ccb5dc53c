// Package yumrepo builds a signed, deterministic rpm-md (dnf/yum) repository from built
// .rpms: the packages, repodata in createrepo's schema with a signed repomd.xml, the
// public key and a .repo file, so users can install Mathesar with dnf.
package yumrepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/cavaliergopher/rpm"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pkgread"
	"github.com/mathesar-foundation/mathesar-packaging/internal/repotree"
)

// Names of the files at the repository root, and where the packages go.
const (
	KeyFile      = "RPM-GPG-KEY-mathesar"
	RepoFile     = "mathesar.repo"
	PackagesDir  = "Packages"
	repoID       = "mathesar"
	nsCommon     = "http://linux.duke.edu/metadata/common"
	nsRpm        = "http://linux.duke.edu/metadata/rpm"
	nsFilelists  = "http://linux.duke.edu/metadata/filelists"
	nsOther      = "http://linux.duke.edu/metadata/other"
	nsRepo       = "http://linux.duke.edu/metadata/repo"
	changelogMax = 10 // createrepo_c's default --changelog-limit
)

// Options says what to build and where.
type Options struct {
	// Dir is the repository root to create or replace, e.g. dist/yum.
	Dir string
	// Rpms are the .rpm files to publish. With a Key they must already be signed (the
	// release signs them); Build checks, it does not sign packages.
	Rpms []string
	// Key signs repomd.xml. Nil builds an unsigned repository (repo_gpgcheck=0 in the
	// .repo file); it exists for tests of the unsigned path.
	Key *openpgp.Entity
	// Time is every timestamp in the metadata, the signature time and every file's mtime:
	// pass SOURCE_DATE_EPOCH so rebuilding gives the same bytes.
	Time time.Time
	// BaseURL is where the repository is published, written into mathesar.repo.
	BaseURL string
}

// pkg is one package with everything the metadata says about it.
type pkg struct {
	src, href, pkgid string
	size             int64
	hdr              *rpm.Package
	primary          primaryPackage
}

// Build writes the repository into a temporary directory next to o.Dir and renames it into
// place, so readers see the old repository or the new one, never a half-written one.
func Build(ctx context.Context, o Options) error {
	switch {
	case o.Dir == "":
		return errors.New("yumrepo: no output directory: set Options.Dir (e.g. dist/yum)")
	case o.Time.IsZero():
		return errors.New("yumrepo: no repository time: set Options.Time from SOURCE_DATE_EPOCH")
	case len(o.Rpms) == 0:
		return errors.New("yumrepo: no .rpm files given; run `go tool mage release` to build them first")
	case !strings.HasPrefix(o.BaseURL, "https://") && !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "file://"):
		return fmt.Errorf("yumrepo: base URL %q is not an http(s):// or file:// URL; set Options.BaseURL to where the repository is published", o.BaseURL)
	}
	pkgs, err := readRpms(ctx, o)
	if err != nil {
		return err
	}
	parent, base := filepath.Dir(o.Dir), filepath.Base(o.Dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("yumrepo: create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("yumrepo: create temporary directory in %s: %w", parent, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	if err := write(ctx, tmp, o, pkgs); err != nil {
		return err
	}
	if err := repotree.Stamp(tmp, o.Time); err != nil {
		return err
	}
	return repotree.ReplaceDir(tmp, o.Dir)
}

// readRpms reads and checks every package and refuses what dnf could not tell apart.
func readRpms(ctx context.Context, o Options) ([]*pkg, error) {
	seen := map[string]string{}
	var pkgs []*pkg
	for _, p := range o.Rpms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// pkgread checks the header and payload digests and every file against the header.
		checked, err := pkgread.ReadRpm(p)
		if err != nil {
			return nil, fmt.Errorf("yumrepo: read %s: %w", p, err)
		}
		if o.Key != nil && !checked.Signed {
			return nil, fmt.Errorf("yumrepo: %s is not signed, and dnf's gpgcheck=1 would refuse it; publish the signed rpms the release made (MATHESAR_SIGNING_KEY)", p)
		}
		hdr, err := rpm.Open(p)
		if err != nil {
			return nil, fmt.Errorf("yumrepo: read header of %s: %w", p, err)
		}
		nevra := fmt.Sprintf("%s-%d:%s-%s.%s", hdr.Name(), hdr.Epoch(), hdr.Version(), hdr.Release(), hdr.Architecture())
		if prev, dup := seen[nevra]; dup {
			return nil, fmt.Errorf("yumrepo: %s and %s are both %s; pass one of them", prev, p, nevra)
		}
		seen[nevra] = p
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("yumrepo: %w", err)
		}
		sum := sha256.Sum256(data)
		e := &pkg{
			src:   p,
			hdr:   hdr,
			pkgid: hex.EncodeToString(sum[:]),
			size:  int64(len(data)),
			// The rpm's own file name, as rpmbuild and nfpm write it: name-version-release.arch.rpm.
			href: path.Join(PackagesDir, fmt.Sprintf("%s-%s-%s.%s.rpm", hdr.Name(), hdr.Version(), hdr.Release(), hdr.Architecture())),
		}
		e.primary = primaryOf(e, o.Time)
		pkgs = append(pkgs, e)
	}
	slices.SortFunc(pkgs, func(a, b *pkg) int { return strings.Compare(a.href, b.href) })
	for i := 1; i < len(pkgs); i++ {
		if pkgs[i].href == pkgs[i-1].href {
			return nil, fmt.Errorf("yumrepo: %s and %s would both be %s; pass one of them", pkgs[i-1].src, pkgs[i].src, pkgs[i].href)
		}
	}
	return pkgs, nil
}

// write lays out the whole repository under root.
func write(ctx context.Context, root string, o Options, pkgs []*pkg) error {
	for _, e := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := repotree.CopyFile(e.src, filepath.Join(root, filepath.FromSlash(e.href))); err != nil {
			return err
		}
	}
	docs := []struct {
		kind string
		doc  any
	}{
		{"primary", primaryDoc(pkgs)},
		{"filelists", filelistsDoc(pkgs)},
		{"other", otherDoc(pkgs)},
	}
	md := repomd{Xmlns: nsRepo, XmlnsRpm: nsRpm, Revision: strconv.FormatInt(o.Time.Unix(), 10)}
	for _, d := range docs {
		plain, err := marshal(d.doc)
		if err != nil {
			return fmt.Errorf("yumrepo: %s.xml: %w", d.kind, err)
		}
		gz, err := repotree.GzipBytes(plain)
		if err != nil {
			return err
		}
		// createrepo's unique file names: a client never mixes an old file with a new repomd.xml.
		href := "repodata/" + sha256Hex(gz) + "-" + d.kind + ".xml.gz"
		if err := repotree.WriteFile(filepath.Join(root, filepath.FromSlash(href)), gz); err != nil {
			return err
		}
		md.Data = append(md.Data, repomdData{
			Type:         d.kind,
			Checksum:     checksum{Type: "sha256", Value: sha256Hex(gz)},
			OpenChecksum: checksum{Type: "sha256", Value: sha256Hex(plain)},
			Location:     location{Href: href},
			Timestamp:    o.Time.Unix(),
			Size:         int64(len(gz)),
			OpenSize:     int64(len(plain)),
		})
	}
	repomdXML, err := marshal(md)
	if err != nil {
		return fmt.Errorf("yumrepo: repomd.xml: %w", err)
	}
	if err := repotree.WriteFile(filepath.Join(root, "repodata", "repomd.xml"), repomdXML); err != nil {
		return err
	}
	if err := repotree.WriteFile(filepath.Join(root, RepoFile), repoFile(o)); err != nil {
		return err
	}
	if o.Key == nil {
		return nil
	}
	// dnf's repo_gpgcheck fetches repomd.xml.asc, an armored detached signature.
	var sig bytes.Buffer
	if err := pgpsign.Sign(&sig, o.Key, bytes.NewReader(repomdXML), o.Time); err != nil {
		return fmt.Errorf("yumrepo: sign repomd.xml: %w", err)
	}
	if err := repotree.WriteFile(filepath.Join(root, "repodata", "repomd.xml.asc"), sig.Bytes()); err != nil {
		return err
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return fmt.Errorf("yumrepo: armor public key: %w", err)
	}
	if err := o.Key.Serialize(w); err != nil {
		return fmt.Errorf("yumrepo: export public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("yumrepo: armor public key: %w", err)
	}
	pub.WriteString("\n")
	return repotree.WriteFile(filepath.Join(root, KeyFile), pub.Bytes())
}

// repoFile is the dnf configuration users drop into /etc/yum.repos.d.
func repoFile(o Options) []byte {
	base := strings.TrimRight(o.BaseURL, "/")
	check := "1"
	if o.Key == nil {
		check = "0"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "[%s]\nname=Mathesar\nbaseurl=%s\nenabled=1\n", repoID, base)
	fmt.Fprintf(&b, "gpgcheck=%s\nrepo_gpgcheck=%s\n", check, check)
	if o.Key != nil {
		fmt.Fprintf(&b, "gpgkey=%s/%s\n", base, KeyFile)
	}
	return b.Bytes()
}

// marshal writes an XML document with a declaration, indented, ending in a newline.
// encoding/xml writes struct fields in declaration order, so the output depends on the
// values only.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
