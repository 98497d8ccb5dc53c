package yumrepo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/repotree"
)

var repoTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

const baseURL = "https://packages.example.org/yum/"

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (go tool mage deps installs it)", tool)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fixture is a throwaway key and rpms of testdata/mathesar.spec for two architectures,
// unsigned and signed by that key with rpmsign.
type fixture struct {
	key              *openpgp.Entity
	unsigned, signed []string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	need(t, "rpmbuild", "rpmsign", "gpg", "gpgconf")
	secret, _, err := pgpsign.NewTestKey("Mathesar archive", "archive@example.org")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.asc")
	if err := os.WriteFile(keyPath, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	f := fixture{}
	if f.key, err = pgpsign.LoadKey(keyPath, nil); err != nil {
		t.Fatal(err)
	}
	spec, err := filepath.Abs("testdata/mathesar.spec")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"x86_64", "aarch64"} {
		top := filepath.Join(dir, "top-"+arch)
		run(t, dir, "rpmbuild", "-bb", "--quiet", "--target", arch,
			"--define", "_topdir "+top, "--define", "_tmppath "+dir,
			"--define", "_dbpath "+filepath.Join(dir, "db"),
			// No strip, byte-compiling, debuginfo or build-id links: the package holds no code.
			"--define", "__spec_install_post %{nil}", "--define", "debug_package %{nil}",
			"--define", "_build_id_links none", spec)
		got, _ := filepath.Glob(filepath.Join(top, "RPMS", arch, "*.rpm"))
		if len(got) != 1 {
			t.Fatalf("rpmbuild --target %s made %v, want one rpm", arch, got)
		}
		f.unsigned = append(f.unsigned, got[0])
	}
	// gpg-agent's socket path must be short, and t.TempDir's can be too long for it.
	home, err := os.MkdirTemp("", "yumrepo-gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	run(t, "", "gpg", "--homedir", home, "--batch", "--import", keyPath)
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range f.unsigned {
		s := filepath.Join(dir, "signed-"+filepath.Base(u))
		if err := os.WriteFile(s, readFile(t, u), 0o644); err != nil {
			t.Fatal(err)
		}
		// Debian's rpm looks for gpg2 by default.
		run(t, "", "rpmsign", "--addsign", "--define", "__gpg "+gpg, "--define", "_gpg_name archive@example.org", "--define", "_gpg_path "+home, s)
		f.signed = append(f.signed, s)
	}
	return f
}

func build(t *testing.T, rpms []string, key *openpgp.Entity) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "yum")
	if err := Build(context.Background(), Options{Dir: dir, Rpms: rpms, Key: key, Time: repoTime, BaseURL: baseURL}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Types to read the metadata back, namespace-aware, independent of the writer's types.
const rpmNS = "http://linux.duke.edu/metadata/rpm "

type readRepomd struct {
	XMLName  xml.Name `xml:"http://linux.duke.edu/metadata/repo repomd"`
	Revision string   `xml:"revision"`
	Data     []struct {
		Type         string  `xml:"type,attr"`
		Checksum     readSum `xml:"checksum"`
		OpenChecksum readSum `xml:"open-checksum"`
		Location     struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Timestamp string `xml:"timestamp"`
		Size      int    `xml:"size"`
		OpenSize  int    `xml:"open-size"`
	} `xml:"data"`
}

type readSum struct {
	Type  string `xml:"type,attr"`
	PkgID string `xml:"pkgid,attr"`
	Value string `xml:",chardata"`
}

type readEVR struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

type readDep struct {
	Name  string `xml:"name,attr"`
	Flags string `xml:"flags,attr"`
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
	Pre   string `xml:"pre,attr"`
}

type readDeps struct {
	Entry []readDep `xml:"http://linux.duke.edu/metadata/rpm entry"`
}

type readFileEntry struct {
	Type string `xml:"type,attr"`
	Path string `xml:",chardata"`
}

type readPrimary struct {
	XMLName  xml.Name `xml:"http://linux.duke.edu/metadata/common metadata"`
	Packages int      `xml:"packages,attr"`
	Package  []struct {
		Type        string  `xml:"type,attr"`
		Name        string  `xml:"name"`
		Arch        string  `xml:"arch"`
		Version     readEVR `xml:"version"`
		Checksum    readSum `xml:"checksum"`
		Summary     string  `xml:"summary"`
		Description string  `xml:"description"`
		Packager    string  `xml:"packager"`
		URL         string  `xml:"url"`
		Time        struct {
			File  string `xml:"file,attr"`
			Build string `xml:"build,attr"`
		} `xml:"time"`
		Size struct {
			Package   string `xml:"package,attr"`
			Installed string `xml:"installed,attr"`
			Archive   string `xml:"archive,attr"`
		} `xml:"size"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
		Format struct {
			License     string `xml:"http://linux.duke.edu/metadata/rpm license"`
			Vendor      string `xml:"http://linux.duke.edu/metadata/rpm vendor"`
			Group       string `xml:"http://linux.duke.edu/metadata/rpm group"`
			BuildHost   string `xml:"http://linux.duke.edu/metadata/rpm buildhost"`
			SourceRPM   string `xml:"http://linux.duke.edu/metadata/rpm sourcerpm"`
			HeaderRange struct {
				Start string `xml:"start,attr"`
				End   string `xml:"end,attr"`
			} `xml:"http://linux.duke.edu/metadata/rpm header-range"`
			Provides    readDeps        `xml:"http://linux.duke.edu/metadata/rpm provides"`
			Requires    readDeps        `xml:"http://linux.duke.edu/metadata/rpm requires"`
			Conflicts   readDeps        `xml:"http://linux.duke.edu/metadata/rpm conflicts"`
			Obsoletes   readDeps        `xml:"http://linux.duke.edu/metadata/rpm obsoletes"`
			Suggests    readDeps        `xml:"http://linux.duke.edu/metadata/rpm suggests"`
			Enhances    readDeps        `xml:"http://linux.duke.edu/metadata/rpm enhances"`
			Recommends  readDeps        `xml:"http://linux.duke.edu/metadata/rpm recommends"`
			Supplements readDeps        `xml:"http://linux.duke.edu/metadata/rpm supplements"`
			Files       []readFileEntry `xml:"file"`
		} `xml:"format"`
	} `xml:"package"`
}

type readFilelists struct {
	XMLName  xml.Name `xml:"http://linux.duke.edu/metadata/filelists filelists"`
	Packages int      `xml:"packages,attr"`
	Package  []struct {
		PkgID   string          `xml:"pkgid,attr"`
		Name    string          `xml:"name,attr"`
		Arch    string          `xml:"arch,attr"`
		Version readEVR         `xml:"version"`
		Files   []readFileEntry `xml:"file"`
	} `xml:"package"`
}

type readOther struct {
	XMLName  xml.Name `xml:"http://linux.duke.edu/metadata/other otherdata"`
	Packages int      `xml:"packages,attr"`
	Package  []struct {
		PkgID     string  `xml:"pkgid,attr"`
		Name      string  `xml:"name,attr"`
		Arch      string  `xml:"arch,attr"`
		Version   readEVR `xml:"version"`
		Changelog []struct {
			Author string `xml:"author,attr"`
			Date   string `xml:"date,attr"`
			Text   string `xml:",chardata"`
		} `xml:"changelog"`
	} `xml:"package"`
}

// repodata reads repomd.xml and each file it lists, checking each file's checksums and
// sizes, and decodes primary, filelists and other into the given values.
func repodata(t *testing.T, repo string, primary *readPrimary, fl *readFilelists, other *readOther) readRepomd {
	t.Helper()
	var md readRepomd
	if err := xml.Unmarshal(readFile(t, filepath.Join(repo, "repodata/repomd.xml")), &md); err != nil {
		t.Fatalf("repomd.xml: %v", err)
	}
	targets := map[string]any{"primary": primary, "filelists": fl, "other": other}
	for _, d := range md.Data {
		target, ok := targets[d.Type]
		if !ok {
			continue
		}
		delete(targets, d.Type)
		gz := readFile(t, filepath.Join(repo, filepath.FromSlash(d.Location.Href)))
		if d.Checksum.Type != "sha256" || d.Checksum.Value != sha(gz) || d.Size != len(gz) {
			t.Errorf("repomd.xml says %s is %s %s, %d bytes; the file is sha256 %s, %d bytes", d.Type, d.Checksum.Type, d.Checksum.Value, d.Size, sha(gz), len(gz))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("%s: %v", d.Location.Href, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", d.Location.Href, err)
		}
		if d.OpenChecksum.Type != "sha256" || d.OpenChecksum.Value != sha(plain) || d.OpenSize != len(plain) {
			t.Errorf("repomd.xml says uncompressed %s is %s, %d bytes; it is %s, %d bytes", d.Type, d.OpenChecksum.Value, d.OpenSize, sha(plain), len(plain))
		}
		if err := xml.Unmarshal(plain, target); err != nil {
			t.Fatalf("%s: %v", d.Location.Href, err)
		}
	}
	if len(targets) != 0 {
		t.Fatalf("repomd.xml lacks %v", targets)
	}
	return md
}

// The metadata says what createrepo_c says about the same rpms: same packages, versions,
// checksums, sizes, header ranges, dependencies, file lists and changelogs. Only the file
// time differs (createrepo_c takes the rpm's mtime, we take Options.Time) and createrepo_c's
// sqlite databases, which dnf does not need, have no counterpart.
func TestMatchesCreaterepo(t *testing.T) {
	need(t, "createrepo_c")
	f := newFixture(t)
	cases := []struct {
		name string
		rpms []string
	}{{"fixture rpms", f.signed}}
	if dist, _ := filepath.Glob("../../dist/*.rpm"); len(dist) > 0 {
		cases = append(cases, struct {
			name string
			rpms []string
		}{"release rpms from dist", dist})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ours := build(t, tc.rpms, nil)
			theirs := filepath.Join(t.TempDir(), "createrepo")
			if err := os.MkdirAll(filepath.Join(theirs, PackagesDir), 0o755); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(filepath.Join(ours, PackagesDir))
			if err != nil || len(entries) != len(tc.rpms) {
				t.Fatalf("%s holds %d rpms (%v), want %d", PackagesDir, len(entries), err, len(tc.rpms))
			}
			for _, e := range entries {
				if err := os.WriteFile(filepath.Join(theirs, PackagesDir, e.Name()), readFile(t, filepath.Join(ours, PackagesDir, e.Name())), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			run(t, theirs, "createrepo_c", "--no-database", "--general-compress-type=gz", ".")

			var p1, p2 readPrimary
			var fl1, fl2 readFilelists
			var o1, o2 readOther
			repodata(t, ours, &p1, &fl1, &o1)
			repodata(t, theirs, &p2, &fl2, &o2)
			if p1.Packages != len(tc.rpms) || len(p1.Package) != len(tc.rpms) {
				t.Fatalf("primary.xml lists %d (%d) packages, want %d", p1.Packages, len(p1.Package), len(tc.rpms))
			}
			for i := range p2.Package {
				p2.Package[i].Time.File = ""
			}
			for i := range p1.Package {
				if p1.Package[i].Time.File != strconv.FormatInt(repoTime.Unix(), 10) {
					t.Errorf("time file = %s, want the repository time", p1.Package[i].Time.File)
				}
				p1.Package[i].Time.File = ""
			}
			// createrepo_c orders packages by the order it finds them; we sort by location.
			sort.Slice(p2.Package, func(i, j int) bool { return p2.Package[i].Location.Href < p2.Package[j].Location.Href })
			sort.Slice(fl2.Package, func(i, j int) bool { return fl2.Package[i].Arch < fl2.Package[j].Arch })
			sort.Slice(fl1.Package, func(i, j int) bool { return fl1.Package[i].Arch < fl1.Package[j].Arch })
			sort.Slice(o2.Package, func(i, j int) bool { return o2.Package[i].Arch < o2.Package[j].Arch })
			sort.Slice(o1.Package, func(i, j int) bool { return o1.Package[i].Arch < o1.Package[j].Arch })
			for name, pair := range map[string][2]any{"primary": {p1, p2}, "filelists": {fl1, fl2}, "other": {o1, o2}} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s.xml differs from createrepo_c's:\nours:   %+v\ntheirs: %+v", name, pair[0], pair[1])
				}
			}
		})
	}
}

// The fixture's metadata carries what the spec says, so the comparison above compares
// something: filtered requires, pre marks, typed files, changelogs oldest first.
func TestPrimaryContents(t *testing.T) {
	f := newFixture(t)
	repo := build(t, f.signed, f.key)
	var p readPrimary
	var fl readFilelists
	var o readOther
	md := repodata(t, repo, &p, &fl, &o)
	if md.Revision != strconv.FormatInt(repoTime.Unix(), 10) {
		t.Errorf("revision %s, want the repository time", md.Revision)
	}
	for _, d := range md.Data {
		if d.Timestamp != strconv.FormatInt(repoTime.Unix(), 10) {
			t.Errorf("%s timestamp %s, want the repository time", d.Type, d.Timestamp)
		}
	}
	if len(p.Package) != 2 || p.Package[0].Arch != "aarch64" || p.Package[1].Arch != "x86_64" {
		t.Fatalf("primary.xml lists %d packages, want aarch64 then x86_64", len(p.Package))
	}
	pk := p.Package[1]
	if pk.Version != (readEVR{"2", "1.2.0", "3"}) || pk.Location.Href != "Packages/mathesar-yumrepo-test-1.2.0-3.x86_64.rpm" {
		t.Errorf("version %+v at %s", pk.Version, pk.Location.Href)
	}
	if pk.Checksum.Value != sha(readFile(t, filepath.Join(repo, pk.Location.Href))) || pk.Checksum.PkgID != "YES" {
		t.Errorf("checksum %+v is not the rpm's sha256", pk.Checksum)
	}
	if !strings.Contains(pk.Description, `"quoted" <characters> & such`) {
		t.Errorf("description %q lost its special characters", pk.Description)
	}
	var reqs []string
	for _, r := range pk.Format.Requires.Entry {
		reqs = append(reqs, r.Name+"|"+r.Flags+"|"+r.Ver+"|"+r.Pre)
	}
	// python3 is listed once though required twice; /usr/bin/mathesar (its own primary
	// file) and rpmlib() features are left out; mathesar-web stays, though the package
	// provides it, as createrepo_c 0.17 keeps it.
	want := []string{"python3|GE|3.10|", "/bin/sh|||1", "systemd|||1", "mathesar-web|||"}
	sort.Strings(reqs)
	sort.Strings(want)
	if !reflect.DeepEqual(reqs, want) {
		t.Errorf("requires %q, want %q", reqs, want)
	}
	if ob := pk.Format.Obsoletes.Entry; len(ob) != 1 || ob[0] != (readDep{Name: "mathesar-old", Flags: "LE", Epoch: "1", Ver: "0.9", Rel: "1"}) {
		t.Errorf("obsoletes %+v", ob)
	}
	var primaryFiles []string
	for _, f := range pk.Format.Files {
		primaryFiles = append(primaryFiles, f.Type+":"+f.Path)
	}
	if strings.Join(primaryFiles, " ") != "dir:/etc/mathesar :/etc/mathesar/mathesar.env :/usr/bin/mathesar" {
		t.Errorf("primary files %v", primaryFiles)
	}
	var all []string
	for _, f := range fl.Package[0].Files {
		all = append(all, f.Type+":"+f.Path)
	}
	if strings.Join(all, " ") != "dir:/etc/mathesar :/etc/mathesar/mathesar.env :/usr/bin/mathesar :/usr/share/doc/mathesar/README ghost:/var/log/mathesar/mathesar.log" {
		t.Errorf("filelists %v", all)
	}
	if cl := o.Package[0].Changelog; len(cl) != 2 || !strings.Contains(cl[0].Text, "Second") || !strings.HasSuffix(cl[1].Author, "- 2:1.2.0-3") {
		t.Errorf("changelog %+v, want two entries, oldest first", cl)
	}
}

// repomd.xml.asc is a good signature by the key the repository publishes, the rpms pass
// rpm's own signature check against that key (what dnf's gpgcheck does), and the .repo
// file turns both checks on.
func TestSignaturesAndRepoFile(t *testing.T) {
	need(t, "rpmkeys")
	f := newFixture(t)
	repo := build(t, f.signed, f.key)
	pub := readFile(t, filepath.Join(repo, KeyFile))
	signer, err := pgpsign.Verify(bytes.NewReader(pub), bytes.NewReader(readFile(t, filepath.Join(repo, "repodata/repomd.xml"))), bytes.NewReader(readFile(t, filepath.Join(repo, "repodata/repomd.xml.asc"))))
	if err != nil {
		t.Fatalf("repomd.xml.asc: %v", err)
	}
	if signer.PrimaryKey.KeyId != f.key.PrimaryKey.KeyId {
		t.Errorf("repomd.xml.asc signed by %X, want %X", signer.PrimaryKey.KeyId, f.key.PrimaryKey.KeyId)
	}
	other := build(t, f.signed[:1], f.key)
	if _, err := pgpsign.Verify(bytes.NewReader(pub), bytes.NewReader(readFile(t, filepath.Join(other, "repodata/repomd.xml"))), bytes.NewReader(readFile(t, filepath.Join(repo, "repodata/repomd.xml.asc")))); err == nil {
		t.Error("repomd.xml.asc also verifies another repomd.xml")
	}

	db := t.TempDir()
	run(t, "", "rpmkeys", "--dbpath", db, "--import", filepath.Join(repo, KeyFile))
	rpms, _ := filepath.Glob(filepath.Join(repo, PackagesDir, "*.rpm"))
	out := run(t, "", "rpmkeys", append([]string{"--dbpath", db, "--checksig"}, rpms...)...)
	if strings.Count(out, "digests signatures OK") != 2 {
		t.Errorf("rpmkeys --checksig with %s:\n%s", KeyFile, out)
	}

	conf := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(repo, RepoFile))))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			conf[k] = v
		} else if sc.Text() != "[mathesar]" {
			t.Errorf("%s line %q", RepoFile, sc.Text())
		}
	}
	wantConf := map[string]string{"name": "Mathesar", "baseurl": "https://packages.example.org/yum", "enabled": "1", "gpgcheck": "1", "repo_gpgcheck": "1", "gpgkey": "https://packages.example.org/yum/" + KeyFile}
	if !reflect.DeepEqual(conf, wantConf) {
		t.Errorf("%s = %v, want %v", RepoFile, conf, wantConf)
	}
}

// Two builds from the same inputs, key and time are byte for byte the same, modes and
// mtimes included, whatever order the rpms are given in.
func TestDeterministic(t *testing.T) {
	f := newFixture(t)
	a := tree(t, build(t, f.signed, f.key))
	b := tree(t, build(t, []string{f.signed[1], f.signed[0]}, f.key))
	if len(a) < 8 {
		t.Fatalf("repository holds only %v", a)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("builds differ:\n%v\n%v", a, b)
	}
}

// tree describes a built repository (repotree.Describe) for comparing two builds.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	m, err := repotree.Describe(root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Builds that cannot make a sound repository fail with an error naming the problem, and
// leave the previous repository in place and no temporary directory behind.
func TestBuildRejects(t *testing.T) {
	f := newFixture(t)
	copyPath := filepath.Join(t.TempDir(), "copy.rpm")
	if err := os.WriteFile(copyPath, readFile(t, f.signed[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	notRpm := filepath.Join(t.TempDir(), "broken.rpm")
	if err := os.WriteFile(notRpm, []byte("not an rpm"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts func(o *Options)
		want string
	}{
		{"unsigned rpm with a key", func(o *Options) { o.Rpms = append(o.Rpms[:1:1], f.unsigned[1]) }, "is not signed"},
		{"same package twice", func(o *Options) { o.Rpms = append(o.Rpms, copyPath) }, "are both mathesar-yumrepo-test-2:1.2.0-3"},
		{"not an rpm", func(o *Options) { o.Rpms = append(o.Rpms, notRpm) }, "broken.rpm"},
		{"no rpms", func(o *Options) { o.Rpms = nil }, "no .rpm files"},
		{"no time", func(o *Options) { o.Time = time.Time{} }, "SOURCE_DATE_EPOCH"},
		{"no base URL", func(o *Options) { o.BaseURL = "" }, "Options.BaseURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			good := Options{Dir: filepath.Join(parent, "yum"), Rpms: f.signed, Key: f.key, Time: repoTime, BaseURL: baseURL}
			if err := Build(context.Background(), good); err != nil {
				t.Fatal(err)
			}
			before := tree(t, good.Dir)
			bad := good
			bad.Rpms = append([]string(nil), good.Rpms...)
			tc.opts(&bad)
			err := Build(context.Background(), bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want an error containing %q", err, tc.want)
			}
			if after := tree(t, good.Dir); !reflect.DeepEqual(before, after) {
				t.Error("the failed build changed the previous repository")
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 1 {
				t.Errorf("%s holds %d entries after a failed build, want only yum", parent, len(entries))
			}
		})
	}
	// Without a key, unsigned rpms are fine and the .repo file does not ask for checks.
	repo := build(t, f.unsigned, nil)
	if conf := string(readFile(t, filepath.Join(repo, RepoFile))); !strings.Contains(conf, "gpgcheck=0\nrepo_gpgcheck=0\n") {
		t.Errorf("unsigned repository's %s:\n%s", RepoFile, conf)
	}
}
