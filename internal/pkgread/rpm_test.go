package pkgread

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const ghost = "/var/log/mathesar/mathesar.log"

// buildRpm builds testdata/mathesar.spec with rpmbuild, with payload compression
// payload (an rpm _binary_payload value such as "w19.zstdio").
func buildRpm(t *testing.T, payload string) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	writeTree(t, root)
	spec, err := filepath.Abs("testdata/mathesar.spec")
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "top")
	run(t, dir, "rpmbuild", "-bb", "--nodeps", "--quiet",
		"--define", "_topdir "+top,
		"--define", "_tmppath "+dir,
		"--define", "_dbpath "+filepath.Join(dir, "db"),
		"--define", "tree "+root,
		"--define", "_binary_payload "+payload,
		// No strip, no byte-compiling, no debuginfo: the tree holds no code to treat.
		"--define", "__spec_install_post %{nil}",
		"--define", "debug_package %{nil}",
		spec)
	matches, err := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("rpmbuild made %v (%v), want one noarch rpm", matches, err)
	}
	return matches[0]
}

// rpmQuery runs `rpm -qp` against a private database, so it needs neither root nor /var/lib/rpm.
func rpmQuery(t *testing.T, pkg string, args ...string) string {
	t.Helper()
	args = append([]string{"-qp", "--dbpath", filepath.Join(t.TempDir(), "db")}, args...)
	return run(t, "", "rpm", append(args, pkg)...)
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestReadRpm(t *testing.T) {
	need(t, "rpmbuild", "rpm")
	for _, tc := range []struct {
		name, payload, compression string
	}{
		{"gzip", "w9.gzdio", "gzip"},
		{"xz", "w2.xzdio", "xz"},
		{"zstd", "w19.zstdio", "zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pkg := buildRpm(t, tc.payload)
			r, err := ReadRpm(pkg)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{r.Name, r.Version, r.Release, r.Arch, r.Summary, r.License, r.PayloadCompression}
			want := []string{"mathesar-pkgread-test", "0.2.0", "1", "noarch", "Mathesar package built by pkgread's tests", "GPL-3.0-only", tc.compression}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("name, version, release, arch, summary, license, compression = %q, want %q", got, want)
			}
			if r.Signed {
				t.Error("Signed = true for a package rpmbuild did not sign")
			}
			// What the spec says, then what rpm itself reads.
			for _, c := range []struct {
				what string
				got  []string
				want string
			}{
				{"requires", r.Requires, "python3 >= 3.10"},
				{"recommends", r.Recommends, "postgresql-server"},
				{"provides", r.Provides, "mathesar-web = 0.2.0-1"},
				{"conflicts", r.Conflicts, "mathesar-legacy < 0.1"},
			} {
				if !contains(c.got, c.want) {
					t.Errorf("%s = %q, want it to hold %q", c.what, c.got, c.want)
				}
				if rpmSays := lines(rpmQuery(t, pkg, "--"+c.what)); !reflect.DeepEqual(c.got, rpmSays) {
					t.Errorf("%s = %q, rpm -qp --%s says %q", c.what, c.got, c.what, rpmSays)
				}
			}
			checkRpmScripts(t, r, pkg)
			checkRpmFiles(t, r)
			checkRpmAgainstRpm(t, r, pkg)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkRpmScripts(t *testing.T, r *Rpm, pkg string) {
	t.Helper()
	wantScripts := map[string]string{
		"postin": `echo "mathesar installed ($1)"`,
		"preun":  `if [ "$1" = 0 ]; then echo "mathesar removed"; fi`,
	}
	wantProgs := map[string]string{"postin": "/bin/sh", "preun": "/bin/sh", "postun": "/sbin/ldconfig"}
	if !reflect.DeepEqual(r.Scripts, wantScripts) {
		t.Errorf("Scripts = %q, want %q", r.Scripts, wantScripts)
	}
	if !reflect.DeepEqual(r.ScriptInterpreters, wantProgs) {
		t.Errorf("ScriptInterpreters = %q, want %q", r.ScriptInterpreters, wantProgs)
	}
	for _, s := range scriptTags {
		tag := strings.ToUpper(s.name)
		out := strings.Split(rpmQuery(t, pkg, "--qf", "%{"+tag+"}\x1f%{"+tag+"PROG}"), "\x1f")
		body, prog := out[0], out[1]
		if body == "(none)" {
			body = ""
		}
		if prog == "(none)" {
			prog = ""
		}
		if body != r.Scripts[s.name] || prog != r.ScriptInterpreters[s.name] {
			t.Errorf("%s: rpm says %q using %q, ReadRpm %q using %q", s.name, body, prog, r.Scripts[s.name], r.ScriptInterpreters[s.name])
		}
	}
}

// checkRpmFiles compares the files with the tree the test wrote and the spec's attributes.
func checkRpmFiles(t *testing.T, r *Rpm) {
	t.Helper()
	want := map[string]entry{ghost: {path: ghost, mode: 0o644}}
	for _, e := range tree {
		want[e.path] = e
	}
	if len(r.Files) != len(want) {
		t.Errorf("ReadRpm found %d files, the spec lists %d", len(r.Files), len(want))
	}
	for p, e := range want {
		f, ok := r.File(p)
		if !ok {
			t.Errorf("%s: missing from ReadRpm's files", p)
			continue
		}
		owner, group := "root", "root"
		switch p {
		case conffile:
			group = "mathesar"
		case "/var/lib/mathesar":
			owner, group = "nobody", "nogroup"
		}
		if f.Mode != e.mode || f.Owner != owner || f.Group != group {
			t.Errorf("%s: mode %s owner %s:%s, want %s %s:%s", p, f.Mode, f.Owner, f.Group, e.mode, owner, group)
		}
		flags := [4]bool{f.Config, f.NoReplace, f.Doc, f.Ghost}
		wantFlags := [4]bool{p == conffile, p == conffile, p == "/usr/share/doc/mathesar/README", p == ghost}
		if flags != wantFlags {
			t.Errorf("%s: config, noreplace, doc, ghost = %v, want %v", p, flags, wantFlags)
		}
		if f.LinkTarget != e.link {
			t.Errorf("%s: link target %q, want %q", p, f.LinkTarget, e.link)
		}
		if e.mode.IsRegular() && p != ghost {
			content := contentOf(t, e)
			sum := sha256.Sum256([]byte(content))
			if string(f.Data) != content || f.Size != int64(len(content)) || f.Digest != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: %d bytes of data (size %d, digest %s), want the %d the test wrote", p, len(f.Data), f.Size, f.Digest, len(content))
			}
		}
		if p == ghost && f.Data != nil {
			t.Errorf("%s: a ghost has data %q", p, f.Data)
		}
	}
}

// checkRpmAgainstRpm compares Files with `rpm -qlvp` and rpm's own file flags and digests.
func checkRpmAgainstRpm(t *testing.T, r *Rpm, pkg string) {
	t.Helper()
	listed := parseListing(t, rpmQuery(t, pkg, "-lv"), false)
	if len(listed) != len(r.Files) {
		t.Errorf("rpm -qlvp lists %d files, ReadRpm %d", len(listed), len(r.Files))
	}
	extra := map[string][]string{}
	for _, line := range lines(rpmQuery(t, pkg, "--qf", "[%{FILENAMES}\t%{FILEFLAGS:fflags}\t%{FILEDIGESTS}\n]")) {
		f := strings.Split(line, "\t")
		extra[f[0]] = f[1:]
	}
	for _, f := range r.Files {
		l, ok := listed[f.Path]
		if !ok {
			t.Errorf("%s: not listed by rpm -qlvp", f.Path)
			continue
		}
		if l.mode != f.Mode || l.owner != f.Owner || l.group != f.Group || l.link != f.LinkTarget || l.size != f.Size {
			t.Errorf("%s: rpm says %s %s:%s %d bytes link %q, ReadRpm %s %s:%s %d bytes link %q",
				f.Path, l.mode, l.owner, l.group, l.size, l.link, f.Mode, f.Owner, f.Group, f.Size, f.LinkTarget)
		}
		var flags strings.Builder
		for _, fl := range []struct {
			on bool
			c  string
		}{{f.Doc, "d"}, {f.Config, "c"}, {f.MissingOK, "m"}, {f.NoReplace, "n"}, {f.Ghost, "g"}, {f.License, "l"}} {
			if fl.on {
				flags.WriteString(fl.c)
			}
		}
		if e := extra[f.Path]; len(e) != 2 || e[0] != flags.String() || e[1] != f.Digest {
			t.Errorf("%s: rpm says flags and digest %q, ReadRpm %q %q", f.Path, e, flags.String(), f.Digest)
		}
	}
}

func TestReadRpmRejects(t *testing.T) {
	need(t, "rpmbuild", "rpm")
	good, err := os.ReadFile(buildRpm(t, "w9.gzdio"))
	if err != nil {
		t.Fatal(err)
	}
	summary := []byte("Mathesar package built by pkgread's tests")
	at := bytes.Index(good, summary)
	if at < 0 {
		t.Fatal("the built rpm does not hold its summary")
	}
	changed := func(offset int) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			b := bytes.Clone(good)
			b[offset] ^= 0x20
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		want []string // substrings the error must hold, besides the file's path
	}{
		{"not an rpm", func(t *testing.T, p string) { copyFile(t, "testdata/control", p) }, []string{"not an .rpm"}},
		{"empty file", truncateTo(good, 0), []string{"truncated"}},
		{"truncated in the lead", truncateTo(good, 50), []string{"truncated"}},
		{"truncated in the signature", truncateTo(good, 96+20), []string{"truncated"}},
		{"truncated in the payload", truncateTo(good, len(good)/2), []string{"payload", "truncated"}},
		{"truncated by one byte", truncateTo(good, len(good)-1), []string{"payload", "truncated"}},
		{"header changed after build", changed(at), []string{"header sha256", "rebuild"}},
		{"payload changed after build", changed(len(good) - 1000), []string{"payload"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.rpm")
			tc.make(t, p)
			_, err := ReadRpm(p)
			if err == nil {
				t.Fatal("ReadRpm accepted the broken package")
			}
			t.Log(err)
			// The temporary path holds the test's name, so look for the words without it.
			msg := strings.ReplaceAll(err.Error(), p, "<package>")
			for _, want := range append(tc.want, "<package>") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

// A file mode rpm stores as stat(2) bits must come out with Go's type bits.
func TestRpmMode(t *testing.T) {
	for _, tc := range []struct {
		stat int64
		want fs.FileMode
	}{
		{0o100644, 0o644},
		{0o104755, fs.ModeSetuid | 0o755},
		{0o040750, fs.ModeDir | 0o750},
		{0o120777, fs.ModeSymlink | 0o777},
		{0o041777, fs.ModeDir | fs.ModeSticky | 0o777},
	} {
		if got := rpmMode(tc.stat); got != tc.want {
			t.Errorf("rpmMode(%o) = %s, want %s", tc.stat, got, tc.want)
		}
	}
}

// A package signed with rpmsign reads back as Signed, with its digests still checked.
func TestReadRpmSigned(t *testing.T) {
	need(t, "rpmbuild", "rpm", "rpmsign", "gpg", "gpgconf")
	pkg := buildRpm(t, "w9.gzdio")
	// gpg-agent's socket path must be short, and t.TempDir's can be too long for it.
	home, err := os.MkdirTemp("", "pkgread-gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run(t, "", "gpgconf", "--homedir", home, "--kill", "gpg-agent")
		os.RemoveAll(home)
	})
	const uid = "pkgread test <pkgread@example.org>"
	run(t, "", "gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-generate-key", uid, "rsa2048", "sign", "never")
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatal(err)
	}
	// Debian's rpm looks for gpg2 by default.
	run(t, "", "rpmsign", "--addsign", "--define", "__gpg "+gpg, "--define", "_gpg_name "+uid, "--define", "_gpg_path "+home, pkg)
	r, err := ReadRpm(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Signed {
		t.Error("Signed = false for a package rpmsign signed")
	}
	if sig := rpmQuery(t, pkg, "--qf", "%{RSAHEADER:pgpsig}"); !strings.HasPrefix(sig, "RSA/") {
		t.Errorf("rpm reads the signature as %q, want an RSA one", sig)
	}
}
