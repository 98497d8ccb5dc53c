package aptrepo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
	"github.com/mathesar-foundation/mathesar-packaging/internal/repotree"
)

// repoTime is a past date: apt refuses a Release dated in the future.
var repoTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (go tool mage deps installs it)", tool)
		}
	}
}

// testKey makes a throwaway signing key and loads it the way the release loads its key.
func testKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	secret, _, err := pgpsign.NewTestKey(name, "packaging@example.org")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(p, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := pgpsign.LoadKey(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// buildDeb builds a small real package with dpkg-deb from testdata/control.
func buildDeb(t *testing.T, name, version, arch string) string {
	t.Helper()
	need(t, "dpkg-deb")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	control, err := os.ReadFile("testdata/control")
	if err != nil {
		t.Fatal(err)
	}
	control = []byte(strings.NewReplacer("@NAME@", name, "@VERSION@", version, "@ARCH@", arch).Replace(string(control)))
	files := map[string][]byte{
		"DEBIAN/control":                             control,
		"usr/share/doc/" + name + "/README":          []byte(name + " " + version + " for " + arch + "\n"),
		"usr/lib/" + name + "/" + arch + "/data.txt": []byte(arch + "\n"),
	}
	for p, data := range files {
		full := filepath.Join(tree, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+"_"+version+"_"+arch+".deb")
	run(t, "", nil, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out)
	return out
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := command(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func command(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fixtureDebs are one package per architecture and one for all.
func fixtureDebs(t *testing.T) []string {
	return []string{
		buildDeb(t, "mathesar", "1.2.0-1", "amd64"),
		buildDeb(t, "mathesar", "1.2.0-1", "arm64"),
		buildDeb(t, "mathesar-doc", "1:1.2.0-1", "all"),
	}
}

func build(t *testing.T, debs []string, key *openpgp.Entity) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "apt")
	if err := Build(context.Background(), Options{Dir: dir, Debs: debs, Key: key, Time: repoTime}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// aptClient runs the real apt-get and apt-cache against one repository, with every state,
// cache, key and configuration path in a temporary directory, so the system's apt is
// neither read nor changed.
type aptClient struct {
	dir string
	env []string
}

func newAptClient(t *testing.T, arch, sourcesLine string) *aptClient {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"parts", "sources.d", "trusted.d", "preferences.d", "state/lists/partial", "cache/archives/partial", "log", "download"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"sources.list": sourcesLine + "\n", "status": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// APT_CONFIG is read before apt.conf.d, so pointing Dir::Etc::Parts at an empty
	// directory here keeps the system's hooks (docker-clean, packagekit, ...) out;
	// -o options come too late for that.
	conf := strings.NewReplacer("@D@", dir, "@ARCH@", arch).Replace(`
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "@D@/parts";
Dir::Etc::SourceList "@D@/sources.list";
Dir::Etc::SourceParts "@D@/sources.d";
Dir::Etc::Trusted "/dev/null";
Dir::Etc::TrustedParts "@D@/trusted.d";
Dir::Etc::Preferences "@D@/preferences";
Dir::Etc::PreferencesParts "@D@/preferences.d";
Dir::State "@D@/state";
Dir::State::status "@D@/status";
Dir::Cache "@D@/cache";
Dir::Log "@D@/log";
APT::Architecture "@ARCH@";
APT::Architectures { "@ARCH@"; };
Acquire::Languages "none";
Acquire::http::Proxy::127.0.0.1 "DIRECT";
APT::Sandbox::User "root";
Debug::NoLocking "true";
`)
	confPath := filepath.Join(dir, "apt.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"APT_CONFIG=" + confPath, "PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	return &aptClient{dir: dir, env: env}
}

func (a *aptClient) run(args ...string) (string, error) {
	return command(filepath.Join(a.dir, "download"), a.env, args[0], args[1:]...)
}

// copyTree copies a built repository, for cases that alter it.
func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "apt")
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// The real apt client accepts a signed repository over file: and http:, verifies it with
// the keyring the repository ships, downloads the right package for its architecture, and
// refuses a repository that is unsigned or signed by another key.
func TestAptAcceptsRepository(t *testing.T) {
	need(t, "apt-get", "apt-cache", "gpgv")
	debs := fixtureDebs(t)
	key := testKey(t, "Mathesar archive")
	signed := build(t, debs, key)
	other := build(t, debs, testKey(t, "Somebody else"))
	unsigned := build(t, debs, nil)
	detachedOnly := copyTree(t, signed)
	if err := os.Remove(filepath.Join(detachedOnly, "dists/stable/InRelease")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(signed)))
	defer srv.Close()
	keyring := filepath.Join(signed, KeyringFile)

	for _, tc := range []struct {
		name, arch, uri string
		debs            []string // what apt must download, for a repository it accepts
		refusal         string   // what apt must say, for one it refuses
		// detachedOnly: apt reports the missing InRelease as "Ign:" before falling back.
		detachedOnly bool
	}{
		{name: "file amd64", arch: "amd64", uri: "file:" + signed, debs: []string{debs[0], debs[2]}},
		{name: "file arm64", arch: "arm64", uri: "file:" + signed, debs: []string{debs[1], debs[2]}},
		{name: "Release.gpg without InRelease", arch: "amd64", uri: "file:" + detachedOnly, debs: []string{debs[0], debs[2]}, detachedOnly: true},
		{name: "http", arch: "arm64", uri: srv.URL, debs: []string{debs[1], debs[2]}},
		{name: "signed by another key", arch: "amd64", uri: "file:" + other, refusal: "NO_PUBKEY"},
		{name: "unsigned", arch: "amd64", uri: "file:" + unsigned, refusal: "is not signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAptClient(t, tc.arch, "deb [signed-by="+keyring+"] "+tc.uri+" stable main")
			out, err := a.run("apt-get", "update")
			if tc.refusal != "" {
				if err == nil || !strings.Contains(out, tc.refusal) {
					t.Fatalf("apt-get update: err %v, want a failure saying %q:\n%s", err, tc.refusal, out)
				}
				if out, err := a.run("apt-cache", "show", "mathesar"); err == nil {
					t.Errorf("apt-cache show found mathesar in a refused repository:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("apt-get update: %v\n%s", err, out)
			}
			for _, line := range strings.Split(out, "\n") {
				if tc.detachedOnly && strings.HasPrefix(line, "Ign:") && strings.HasSuffix(line, " stable InRelease") {
					continue
				}
				for _, bad := range []string{"NO_PUBKEY", "not signed", "W:", "E:", "Err:", "Ign:"} {
					if strings.Contains(line, bad) {
						t.Errorf("apt-get update says %q:\n%s", bad, out)
					}
				}
			}
			// apt keeps the signed file it verified; which one shows the path it took.
			verified := "_InRelease"
			if tc.detachedOnly {
				verified = "_Release.gpg"
			}
			if got, _ := filepath.Glob(filepath.Join(a.dir, "state/lists/*"+verified)); len(got) != 1 {
				t.Errorf("apt kept no %s in its lists after update", verified)
			}
			for _, deb := range tc.debs {
				name, version, arch := debName(t, deb)
				show, err := a.run("apt-cache", "show", name)
				if err != nil {
					t.Fatalf("apt-cache show %s: %v\n%s", name, err, show)
				}
				for _, want := range []string{"Version: " + version + "\n", "Architecture: " + arch + "\n", " spans lines\n .\n and paragraphs"} {
					if !strings.Contains(show, want) {
						t.Errorf("apt-cache show %s lacks %q:\n%s", name, want, show)
					}
				}
				if out, err := a.run("apt-get", "download", name); err != nil {
					t.Fatalf("apt-get download %s: %v\n%s", name, err, out)
				}
				got, err := filepath.Glob(filepath.Join(a.dir, "download", name+"_*_"+arch+".deb"))
				if err != nil || len(got) != 1 {
					t.Fatalf("apt-get download %s left %v, want one %s .deb", name, got, arch)
				}
				if !sameBytes(t, got[0], deb) {
					t.Errorf("apt-get download %s gave a file that differs from %s", name, deb)
				}
			}
		})
	}
}

// debName reads a fixture's name, version and architecture from its file name.
func debName(t *testing.T, deb string) (name, version, arch string) {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(deb), ".deb"), "_")
	if len(parts) != 3 {
		t.Fatalf("fixture name %s is not name_version_arch.deb", deb)
	}
	return parts[0], parts[1], parts[2]
}

func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}

// The indexes say what the pool holds, the Release lists every index with its real hashes
// and size, and both signatures and the keyrings belong to the signing key.
func TestIndexesAndSignatures(t *testing.T) {
	debs := fixtureDebs(t)
	key := testKey(t, "Mathesar archive")
	repo := build(t, debs, key)
	dist := filepath.Join(repo, "dists/stable")

	wantArch := map[string][]string{"amd64": {"mathesar", "mathesar-doc"}, "arm64": {"mathesar", "mathesar-doc"}}
	for arch, wantNames := range wantArch {
		plain := readFile(t, filepath.Join(dist, "main/binary-"+arch, "Packages"))
		gzData := readFile(t, filepath.Join(dist, "main/binary-"+arch, "Packages.gz"))
		zr, err := gzip.NewReader(bytes.NewReader(gzData))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzipped, plain) {
			t.Errorf("%s: Packages.gz does not hold Packages", arch)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("%s: Packages.gz header has name %q, mtime %v; want neither", arch, zr.Name, zr.ModTime)
		}
		stanzas := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n\n")
		var names []string
		for _, s := range stanzas {
			f := stanzaFields(s)
			names = append(names, f["Package"])
			if f["Architecture"] != arch && f["Architecture"] != "all" {
				t.Errorf("binary-%s lists %s for %s", arch, f["Package"], f["Architecture"])
			}
			pool := filepath.Join(repo, filepath.FromSlash(f["Filename"]))
			data := readFile(t, pool)
			if f["Size"] != strconv.Itoa(len(data)) || f["MD5sum"] != sum(md5.New(), data) || f["SHA1"] != sum(sha1.New(), data) || f["SHA256"] != sum(sha256.New(), data) {
				t.Errorf("stanza of %s: size or hashes do not match %s", f["Package"], pool)
			}
			if !strings.HasPrefix(f["Filename"], "pool/main/m/"+f["Package"]+"/") {
				t.Errorf("Filename %s is not under pool/main/m/%s/", f["Filename"], f["Package"])
			}
			if !strings.Contains(s, "\nDescription: aptrepo test package\n A small package") {
				t.Errorf("stanza of %s lost the description's layout:\n%s", f["Package"], s)
			}
		}
		if strings.Join(names, " ") != strings.Join(wantNames, " ") {
			t.Errorf("binary-%s lists %v, want %v (sorted)", arch, names, wantNames)
		}
	}

	release := readFile(t, filepath.Join(dist, "Release"))
	rf := stanzaFields(string(release))
	for field, want := range map[string]string{"Origin": "Mathesar", "Label": "Mathesar", "Suite": "stable", "Codename": "stable", "Date": "Fri, 01 Mar 2024 12:00:00 UTC", "Architectures": "amd64 arm64", "Components": "main"} {
		if rf[field] != want {
			t.Errorf("Release %s = %q, want %q", field, rf[field], want)
		}
	}
	listed := 0
	for _, section := range []struct {
		name string
		sum  func([]byte) string
	}{{"MD5Sum", func(b []byte) string { return sum(md5.New(), b) }}, {"SHA1", func(b []byte) string { return sum(sha1.New(), b) }}, {"SHA256", func(b []byte) string { return sum(sha256.New(), b) }}} {
		lines := strings.Split(strings.TrimSpace(rf[section.name]), "\n")
		if len(lines) != 4 {
			t.Errorf("Release %s lists %d files, want 4 (Packages and Packages.gz per architecture)", section.name, len(lines))
		}
		for _, l := range lines {
			parts := strings.Fields(l)
			if len(parts) != 3 {
				t.Fatalf("Release %s line %q", section.name, l)
			}
			data := readFile(t, filepath.Join(dist, parts[2]))
			if parts[0] != section.sum(data) || parts[1] != strconv.Itoa(len(data)) {
				t.Errorf("Release %s: %s has %s %s, want %s %d", section.name, parts[2], parts[0], parts[1], section.sum(data), len(data))
			}
			listed++
		}
	}
	if listed == 0 {
		t.Fatal("Release lists no index")
	}

	keyring, err := openpgp.ReadKeyRing(bytes.NewReader(readFile(t, filepath.Join(repo, KeyringFile))))
	if err != nil {
		t.Fatalf("%s is not a binary OpenPGP keyring: %v", KeyringFile, err)
	}
	if len(keyring) != 1 || keyring[0].PrimaryKey.KeyId != key.PrimaryKey.KeyId || keyring[0].PrivateKey != nil {
		t.Fatalf("%s does not hold exactly the signing key's public part", KeyringFile)
	}
	if _, err := pgpsign.Verify(bytes.NewReader(readFile(t, filepath.Join(repo, ArmoredKeyFile))), bytes.NewReader(release), bytes.NewReader(readFile(t, filepath.Join(dist, "Release.gpg")))); err != nil {
		t.Errorf("Release.gpg with %s: %v", ArmoredKeyFile, err)
	}
	block, rest := clearsign.Decode(readFile(t, filepath.Join(dist, "InRelease")))
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatal("InRelease is not one clearsigned message")
	}
	if !bytes.Equal(block.Plaintext, release) {
		t.Errorf("InRelease does not hold Release:\n%s", block.Plaintext)
	}
	if _, err := block.VerifySignature(keyring, nil); err != nil {
		t.Errorf("InRelease signature: %v", err)
	}
}

func stanzaFields(s string) map[string]string {
	fields := map[string]string{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") {
			fields[last] += "\n" + line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		last = name
		fields[name] = strings.TrimSpace(value)
	}
	return fields
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sum(h interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, data []byte) string {
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Two builds from the same inputs, key and time are byte for byte the same, mtimes and
// modes included, whatever order the .debs are given in.
func TestDeterministic(t *testing.T) {
	debs := fixtureDebs(t)
	key := testKey(t, "Mathesar archive")
	a := build(t, debs, key)
	b := build(t, []string{debs[2], debs[1], debs[0]}, key)
	ta, tb := tree(t, a), tree(t, b)
	if len(ta) == 0 {
		t.Fatal("empty repository")
	}
	for p, ea := range ta {
		if eb, ok := tb[p]; !ok {
			t.Errorf("%s only in the first build", p)
		} else if ea != eb {
			t.Errorf("%s differs between builds: %s vs %s", p, ea, eb)
		}
	}
	for p := range tb {
		if _, ok := ta[p]; !ok {
			t.Errorf("%s only in the second build", p)
		}
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
	debs := fixtureDebs(t)
	i386 := buildDeb(t, "mathesar", "1.2.0-1", "i386")
	renamed := filepath.Join(t.TempDir(), "copy.deb")
	if err := os.WriteFile(renamed, readFile(t, debs[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	notDeb := filepath.Join(t.TempDir(), "broken.deb")
	if err := os.WriteFile(notDeb, []byte("not an ar archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts func(o *Options)
		want string
	}{
		{"foreign architecture", func(o *Options) { o.Debs = append(o.Debs, i386) }, `architecture "i386"`},
		{"same package twice", func(o *Options) { o.Debs = append(o.Debs, renamed) }, "are both mathesar 1.2.0-1 for amd64"},
		{"not a deb", func(o *Options) { o.Debs = append(o.Debs, notDeb) }, "broken.deb"},
		{"missing file", func(o *Options) { o.Debs = append(o.Debs, filepath.Join(t.TempDir(), "gone.deb")) }, "gone.deb"},
		{"no debs", func(o *Options) { o.Debs = nil }, "no .deb files"},
		{"no time", func(o *Options) { o.Time = time.Time{} }, "SOURCE_DATE_EPOCH"},
		{"bad suite", func(o *Options) { o.Suite = "../x" }, "not a plain name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "apt")
			good := Options{Dir: dir, Debs: debs, Time: repoTime}
			if err := Build(context.Background(), good); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			bad := good
			bad.Debs = append([]string(nil), good.Debs...)
			tc.opts(&bad)
			err := Build(context.Background(), bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want an error containing %q", err, tc.want)
			}
			after := tree(t, dir)
			if len(after) != len(before) {
				t.Errorf("the failed build changed the previous repository")
			}
			for p, e := range before {
				if after[p] != e {
					t.Errorf("the failed build changed %s", p)
				}
			}
			entries, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("%s holds %d entries after a failed build, want only apt", parent, len(entries))
			}
		})
	}
}

// The packages `go tool mage release` made, when present, index and download like the
// fixtures: their real control files and sizes go through apt unchanged.
func TestReleaseDebs(t *testing.T) {
	need(t, "apt-get", "apt-cache", "gpgv")
	debs, _ := filepath.Glob("../../dist/*.deb")
	if len(debs) == 0 {
		t.Skip("no .deb in dist/; run `go tool mage release` to test the real packages")
	}
	repo := build(t, debs, testKey(t, "Mathesar archive"))
	a := newAptClient(t, "amd64", "deb [signed-by="+filepath.Join(repo, KeyringFile)+"] file:"+repo+" stable main")
	if out, err := a.run("apt-get", "update"); err != nil || strings.Contains(out, "W:") {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	if out, err := a.run("apt-get", "download", "mathesar"); err != nil {
		t.Fatalf("apt-get download mathesar: %v\n%s", err, out)
	}
	got, _ := filepath.Glob(filepath.Join(a.dir, "download", "mathesar_*_amd64.deb"))
	want, _ := filepath.Glob("../../dist/mathesar_*_amd64.deb")
	if len(got) != 1 || len(want) != 1 || !sameBytes(t, got[0], want[0]) {
		t.Errorf("apt-get download gave %v, want a copy of %v", got, want)
	}
}
