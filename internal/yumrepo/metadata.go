package yumrepo

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cavaliergopher/rpm"
)

// The XML below follows createrepo_c's output element for element. Element names carry
// the "rpm:" prefix literally, because encoding/xml cannot choose a namespace prefix; the
// documents declare xmlns:rpm, so namespace-aware readers see the right names.

type repomd struct {
	XMLName  xml.Name     `xml:"repomd"`
	Xmlns    string       `xml:"xmlns,attr"`
	XmlnsRpm string       `xml:"xmlns:rpm,attr"`
	Revision string       `xml:"revision"`
	Data     []repomdData `xml:"data"`
}

type repomdData struct {
	Type         string   `xml:"type,attr"`
	Checksum     checksum `xml:"checksum"`
	OpenChecksum checksum `xml:"open-checksum"`
	Location     location `xml:"location"`
	Timestamp    int64    `xml:"timestamp"`
	Size         int64    `xml:"size"`
	OpenSize     int64    `xml:"open-size"`
}

type checksum struct {
	Type  string `xml:"type,attr"`
	PkgID string `xml:"pkgid,attr,omitempty"`
	Value string `xml:",chardata"`
}

type location struct {
	Href string `xml:"href,attr"`
}

type evr struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

type primaryMetadata struct {
	XMLName  xml.Name         `xml:"metadata"`
	Xmlns    string           `xml:"xmlns,attr"`
	XmlnsRpm string           `xml:"xmlns:rpm,attr"`
	Packages int              `xml:"packages,attr"`
	Package  []primaryPackage `xml:"package"`
}

type primaryPackage struct {
	Type        string   `xml:"type,attr"`
	Name        string   `xml:"name"`
	Arch        string   `xml:"arch"`
	Version     evr      `xml:"version"`
	Checksum    checksum `xml:"checksum"`
	Summary     string   `xml:"summary"`
	Description string   `xml:"description"`
	Packager    string   `xml:"packager"`
	URL         string   `xml:"url"`
	Time        struct {
		File  int64 `xml:"file,attr"`
		Build int64 `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   int64  `xml:"package,attr"`
		Installed uint64 `xml:"installed,attr"`
		Archive   uint64 `xml:"archive,attr"`
	} `xml:"size"`
	Location location `xml:"location"`
	Format   format   `xml:"format"`
}

type format struct {
	License     string `xml:"rpm:license"`
	Vendor      string `xml:"rpm:vendor"`
	Group       string `xml:"rpm:group"`
	BuildHost   string `xml:"rpm:buildhost"`
	SourceRPM   string `xml:"rpm:sourcerpm"`
	HeaderRange struct {
		Start int `xml:"start,attr"`
		End   int `xml:"end,attr"`
	} `xml:"rpm:header-range"`
	Provides    *deps  `xml:"rpm:provides"`
	Requires    *deps  `xml:"rpm:requires"`
	Conflicts   *deps  `xml:"rpm:conflicts"`
	Obsoletes   *deps  `xml:"rpm:obsoletes"`
	Suggests    *deps  `xml:"rpm:suggests"`
	Enhances    *deps  `xml:"rpm:enhances"`
	Recommends  *deps  `xml:"rpm:recommends"`
	Supplements *deps  `xml:"rpm:supplements"`
	Files       []file `xml:"file"`
}

type deps struct {
	Entry []dep `xml:"rpm:entry"`
}

type dep struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr,omitempty"`
	Epoch string `xml:"epoch,attr,omitempty"`
	Ver   string `xml:"ver,attr,omitempty"`
	Rel   string `xml:"rel,attr,omitempty"`
	Pre   string `xml:"pre,attr,omitempty"`
}

type file struct {
	Type string `xml:"type,attr,omitempty"` // "dir", "ghost" or empty for a file
	Path string `xml:",chardata"`
}

type filelists struct {
	XMLName  xml.Name          `xml:"filelists"`
	Xmlns    string            `xml:"xmlns,attr"`
	Packages int               `xml:"packages,attr"`
	Package  []filelistPackage `xml:"package"`
}

type filelistPackage struct {
	PkgID   string `xml:"pkgid,attr"`
	Name    string `xml:"name,attr"`
	Arch    string `xml:"arch,attr"`
	Version evr    `xml:"version"`
	Files   []file `xml:"file"`
}

type otherdata struct {
	XMLName  xml.Name       `xml:"otherdata"`
	Xmlns    string         `xml:"xmlns,attr"`
	Packages int            `xml:"packages,attr"`
	Package  []otherPackage `xml:"package"`
}

type otherPackage struct {
	PkgID     string      `xml:"pkgid,attr"`
	Name      string      `xml:"name,attr"`
	Arch      string      `xml:"arch,attr"`
	Version   evr         `xml:"version"`
	Changelog []changelog `xml:"changelog"`
}

type changelog struct {
	Author string `xml:"author,attr"`
	Date   int64  `xml:"date,attr"`
	Text   string `xml:",chardata"`
}

// Header tags of dependencies: name, flags, version.
var depTags = map[string][3]int{
	"provides":    {1047, 1112, 1113},
	"requires":    {1049, 1048, 1050},
	"conflicts":   {1054, 1053, 1055},
	"obsoletes":   {1090, 1114, 1115},
	"recommends":  {5046, 5048, 5047},
	"suggests":    {5049, 5051, 5050},
	"supplements": {5052, 5054, 5053},
	"enhances":    {5055, 5057, 5056},
}

// rpm's dependency sense bits (rpmds.h).
const (
	senseMask       = 0xf
	sensePrereq     = 1 << 6
	senseScriptPre  = 1 << 9
	senseScriptPost = 1 << 10
)

var flagNames = map[int64]string{2: "LT", 4: "GT", 8: "EQ", 10: "LE", 12: "GE"}

func fileEVR(h *rpm.Package) evr {
	return evr{Epoch: itoa(h.Epoch()), Ver: h.Version(), Rel: h.Release()}
}

func itoa(i int) string { return strconv.Itoa(i) }

// primaryOf is the package's primary.xml entry. Its file time is the repository time
// rather than the file's mtime, which createrepo_c uses, so the metadata is reproducible.
func primaryOf(e *pkg, at time.Time) primaryPackage {
	h := e.hdr
	p := primaryPackage{
		Type: "rpm", Name: h.Name(), Arch: h.Architecture(), Version: fileEVR(h),
		Checksum: checksum{Type: "sha256", PkgID: "YES", Value: e.pkgid},
		Summary:  h.Summary(), Description: h.Description(), Packager: h.Packager(), URL: h.URL(),
		Location: location{Href: e.href},
	}
	p.Time.File, p.Time.Build = at.Unix(), h.BuildTime().Unix()
	p.Size.Package, p.Size.Installed, p.Size.Archive = e.size, h.Size(), h.ArchiveSize()
	f := &p.Format
	f.License, f.Vendor, f.BuildHost, f.SourceRPM = h.License(), h.Vendor(), h.BuildHost(), h.SourceRPM()
	if g := h.Groups(); len(g) > 0 {
		f.Group = g[0]
	}
	f.HeaderRange.Start, f.HeaderRange.End = h.HeaderRange()
	files := filesOf(h)
	f.Provides = depsOf(h, "provides", nil)
	f.Requires = depsOf(h, "requires", files)
	f.Conflicts = depsOf(h, "conflicts", nil)
	f.Obsoletes = depsOf(h, "obsoletes", nil)
	f.Suggests = depsOf(h, "suggests", nil)
	f.Enhances = depsOf(h, "enhances", nil)
	f.Recommends = depsOf(h, "recommends", nil)
	f.Supplements = depsOf(h, "supplements", nil)
	for _, fl := range files {
		if isPrimaryFile(fl.Path) {
			f.Files = append(f.Files, fl)
		}
	}
	return p
}

// isPrimaryFile says whether primary.xml lists a file (createrepo's rule): dnf resolves
// dependencies on these paths without downloading filelists.
func isPrimaryFile(p string) bool {
	return strings.HasPrefix(p, "/etc/") || p == "/usr/lib/sendmail" || strings.Contains(p, "bin/")
}

// filesOf lists the package's files sorted by path, typed as createrepo types them.
func filesOf(h *rpm.Package) []file {
	var files []file
	for _, fi := range h.Files() {
		f := file{Path: fi.Name()}
		switch {
		case fi.IsDir():
			f.Type = "dir"
		case fi.Flags()&rpm.FileFlagGhost != 0:
			f.Type = "ghost"
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.Path, b.Path) })
	return files
}

// depsOf reads one kind of dependency from the header. Requirements are filtered as
// createrepo_c 0.17 (Debian 12's, which the tests compare against) filters them: rpmlib()
// features, the package's own primary files, what the package provides itself with the
// same flags and version (rpmbuild's config(name) = version pair) and exact duplicates are
// left out, and pre marks install-time needs. createrepo_c also keeps only the highest libc.so.6 symbol
// version; our packages carry no automatic library requirements, so that filter is left out.
func depsOf(h *rpm.Package, kind string, files []file) *deps {
	provided := map[[3]string]bool{}
	if kind == "requires" {
		tags := depTags["provides"]
		names := h.Header.GetTag(tags[0]).StringSlice()
		flags := h.Header.GetTag(tags[1]).Int64Slice()
		versions := h.Header.GetTag(tags[2]).StringSlice()
		for i := range min(len(names), len(flags), len(versions)) {
			provided[[3]string{names[i], flagNames[flags[i]&senseMask], versions[i]}] = true
		}
	}
	tags := depTags[kind]
	names := h.Header.GetTag(tags[0]).StringSlice()
	flags := h.Header.GetTag(tags[1]).Int64Slice()
	versions := h.Header.GetTag(tags[2]).StringSlice()
	if len(flags) != len(names) || len(versions) != len(names) {
		return nil
	}
	own := map[string]bool{}
	for _, f := range files {
		own[f.Path] = true
	}
	type seenKey struct{ flags, version, pre string }
	seen := map[string]seenKey{}
	var out []dep
	for i, name := range names {
		d := dep{Name: name, Flags: flagNames[flags[i]&senseMask]}
		d.Epoch, d.Ver, d.Rel = parseEVR(versions[i])
		if kind == "requires" {
			if strings.HasPrefix(name, "rpmlib(") || (own[name] && isPrimaryFile(name)) || provided[[3]string{name, d.Flags, versions[i]}] {
				continue
			}
			if flags[i]&(sensePrereq|senseScriptPre|senseScriptPost) != 0 {
				d.Pre = "1"
			}
			k := seenKey{d.Flags, versions[i], d.Pre}
			if prev, ok := seen[name]; ok && prev == k {
				continue
			}
			seen[name] = k
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil
	}
	return &deps{Entry: out}
}

// parseEVR splits "[epoch:]version[-release]" as createrepo_c does: a version without an
// epoch gets epoch 0, and an empty string gives no attributes at all.
func parseEVR(s string) (epoch, version, release string) {
	if s == "" {
		return "", "", ""
	}
	epoch, rest := "0", s
	if e, r, ok := strings.Cut(s, ":"); ok {
		rest = r
		if e != "" && strings.Trim(e, "0123456789") == "" {
			epoch = e
		}
	}
	version, release, _ = strings.Cut(rest, "-")
	return epoch, version, release
}

func primaryDoc(pkgs []*pkg) primaryMetadata {
	d := primaryMetadata{Xmlns: nsCommon, XmlnsRpm: nsRpm, Packages: len(pkgs)}
	for _, e := range pkgs {
		d.Package = append(d.Package, e.primary)
	}
	return d
}

func filelistsDoc(pkgs []*pkg) filelists {
	d := filelists{Xmlns: nsFilelists, Packages: len(pkgs)}
	for _, e := range pkgs {
		d.Package = append(d.Package, filelistPackage{PkgID: e.pkgid, Name: e.hdr.Name(), Arch: e.hdr.Architecture(), Version: fileEVR(e.hdr), Files: filesOf(e.hdr)})
	}
	return d
}

// otherDoc holds each package's newest changelog entries, oldest first, as createrepo_c
// writes them.
func otherDoc(pkgs []*pkg) otherdata {
	d := otherdata{Xmlns: nsOther, Packages: len(pkgs)}
	for _, e := range pkgs {
		h := e.hdr
		times := h.Header.GetTag(1080).Int64Slice()
		names := h.Header.GetTag(1081).StringSlice()
		texts := h.Header.GetTag(1082).StringSlice()
		n := min(len(times), len(names), len(texts), changelogMax)
		var cl []changelog
		for i := n - 1; i >= 0; i-- {
			cl = append(cl, changelog{Author: strings.TrimRight(names[i], " "), Date: times[i], Text: texts[i]})
		}
		d.Package = append(d.Package, otherPackage{PkgID: e.pkgid, Name: h.Name(), Arch: h.Architecture(), Version: fileEVR(h), Changelog: cl})
	}
	return d
}
