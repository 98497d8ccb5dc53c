package pkgread

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blakesmith/ar"
)

const conffile = "/etc/mathesar/mathesar.conf"

// wantControl is testdata/control as fields; Description holds its first line.
var wantControl = map[string]string{
	"Package":        "mathesar-pkgread-test",
	"Version":        "0.2.0-1",
	"Architecture":   "all",
	"Maintainer":     "Mathesar Foundation <packaging@example.org>",
	"Installed-Size": "300",
	"Depends":        "python3 (>= 3.10), adduser",
	"Recommends":     "postgresql",
	"Section":        "web",
	"Priority":       "optional",
	"Homepage":       "https://example.org/mathesar",
	"Description":    "Mathesar package built by pkgread's tests",
}

const wantDescription = "A small package with the shapes a real Mathesar package has:\n" +
	"a config file, a doc, a symlink, a hard link and a directory owned by another user.\n" +
	"\n" +
	"This paragraph follows an empty line.\n"

// wantMD5Sums is what the test writes to DEBIAN/md5sums: every regular file.
func wantMD5Sums(t *testing.T) map[string]string {
	sums := map[string]string{}
	for _, e := range tree {
		if e.mode.IsRegular() {
			sum := md5.Sum([]byte(contentOf(t, e)))
			sums[e.path] = hex.EncodeToString(sum[:])
		}
	}
	return sums
}

// buildDeb builds the test .deb with dpkg-deb. With fakeroot, /var/lib/mathesar is owned
// by nobody:nogroup (uid/gid 65534) and everything else by root; without, dpkg-deb's
// --root-owner-group makes everything root's.
func buildDeb(t *testing.T, compression string, fakeroot bool) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	writeTree(t, root)
	debian := filepath.Join(root, "DEBIAN")
	if err := os.Mkdir(debian, 0o755); err != nil {
		t.Fatal(err)
	}
	var md5sums strings.Builder
	sums := wantMD5Sums(t)
	paths := make([]string, 0, len(sums))
	for p := range sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&md5sums, "%s  %s\n", sums[p], strings.TrimPrefix(p, "/"))
	}
	control, err := os.ReadFile("testdata/control")
	if err != nil {
		t.Fatal(err)
	}
	postinst, err := os.ReadFile("testdata/postinst")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"control": string(control), "conffiles": conffile + "\n", "md5sums": md5sums.String(), "postinst": string(postinst),
	} {
		mode := fs.FileMode(0o644)
		if name == "postinst" {
			mode = 0o755
		}
		p := filepath.Join(debian, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// Writing DEBIAN changed the root's mtime.
	if err := os.Chtimes(root, treeMTime, treeMTime); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mathesar.deb")
	if fakeroot {
		script := "chown -R 0:0 root && chown 65534:65534 root/var/lib/mathesar && dpkg-deb -Z" + compression + " --build root " + out
		run(t, dir, "fakeroot", "sh", "-c", script)
	} else {
		run(t, dir, "dpkg-deb", "--root-owner-group", "-Z"+compression, "--build", root, out)
	}
	return out
}

func TestReadDeb(t *testing.T) {
	need(t, "dpkg-deb")
	nobody, errU := user.LookupId("65534")
	nogroup, errG := user.LookupGroupId("65534")
	for _, tc := range []struct {
		name        string
		compression string // dpkg-deb -Z
		member      string // data.tar suffix dpkg-deb writes for it
		fakeroot    bool
	}{
		{"gzip", "gzip", "gz", false},
		{"xz with a nobody-owned directory", "xz", "xz", true},
		{"zstd", "zstd", "zst", false},
		{"uncompressed", "none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.fakeroot {
				need(t, "fakeroot")
				if errU != nil || errG != nil {
					t.Skipf("uid/gid 65534 have no names on this machine (%v, %v)", errU, errG)
				}
			}
			deb := buildDeb(t, tc.compression, tc.fakeroot)
			d, err := ReadDeb(deb)
			if err != nil {
				t.Fatal(err)
			}
			if d.DataCompression != tc.member {
				t.Errorf("DataCompression = %q, want %q", d.DataCompression, tc.member)
			}
			if !reflect.DeepEqual(d.Control, wantControl) {
				t.Errorf("Control = %#v\nwant %#v", d.Control, wantControl)
			}
			if d.Description != wantDescription {
				t.Errorf("Description = %q, want %q", d.Description, wantDescription)
			}
			// dpkg-deb's own reading of each field.
			for field, value := range d.Control {
				got := strings.TrimSuffix(run(t, "", "dpkg-deb", "--field", deb, field), "\n")
				got, _, _ = strings.Cut(got, "\n")
				if got != value {
					t.Errorf("dpkg-deb --field %s = %q, ReadDeb has %q", field, got, value)
				}
			}
			checkDebControlFiles(t, d)
			if want := []string{conffile}; !reflect.DeepEqual(d.Conffiles, want) {
				t.Errorf("Conffiles = %q, want %q", d.Conffiles, want)
			}
			if want := wantMD5Sums(t); !reflect.DeepEqual(d.MD5Sums, want) {
				t.Errorf("MD5Sums = %v, want %v", d.MD5Sums, want)
			}
			owner := func(p string) (string, string, int) {
				if tc.fakeroot && p == "/var/lib/mathesar" {
					return nobody.Username, nogroup.Name, 65534
				}
				return "root", "root", 0
			}
			checkDebFiles(t, d, owner)
			checkDebAgainstDpkg(t, d, run(t, "", "dpkg-deb", "--contents", deb))
		})
	}
}

func checkDebControlFiles(t *testing.T, d *Deb) {
	t.Helper()
	names := make([]string, 0, len(d.ControlFiles))
	for name := range d.ControlFiles {
		names = append(names, name)
	}
	sort.Strings(names)
	if want := []string{"conffiles", "control", "md5sums", "postinst"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ControlFiles = %q, want %q", names, want)
	}
	for name, mode := range map[string]fs.FileMode{"control": 0o644, "postinst": 0o755} {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f := d.ControlFiles[name]
		if !bytes.Equal(f.Data, want) || f.Mode != mode || f.Path != name {
			t.Errorf("control member %s = %q mode %s path %q, want %q mode %s", name, f.Data, f.Mode, f.Path, want, mode)
		}
	}
}

// checkDebFiles compares the data.tar entries with the tree the test wrote.
func checkDebFiles(t *testing.T, d *Deb, owner func(string) (string, string, int)) {
	t.Helper()
	want := map[string]entry{"/": {path: "/", mode: fs.ModeDir | 0o755}}
	for _, e := range tree {
		want[e.path] = e
		for p := path.Dir(e.path); p != "/"; p = path.Dir(p) {
			if _, ok := want[p]; !ok {
				want[p] = entry{path: p, mode: fs.ModeDir | 0o755}
			}
		}
	}
	if len(d.Files) != len(want) {
		t.Errorf("ReadDeb found %d files, the tree has %d", len(d.Files), len(want))
	}
	if !sort.SliceIsSorted(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path }) {
		t.Error("Files are not sorted by path")
	}
	for p, e := range want {
		f, ok := d.File(p)
		if !ok {
			t.Errorf("%s: missing from ReadDeb's files", p)
			continue
		}
		user, group, id := owner(p)
		if f.Mode != e.mode || f.User != user || f.Group != group || f.UID != id || f.GID != id {
			t.Errorf("%s: mode %s owner %s:%s (%d:%d), want mode %s owner %s:%s (%d)", p, f.Mode, f.User, f.Group, f.UID, f.GID, e.mode, user, group, id)
		}
		if e.link != "" && f.LinkTarget != e.link {
			t.Errorf("%s: link target %q, want %q", p, f.LinkTarget, e.link)
		}
		if e.mode.IsRegular() {
			content := contentOf(t, e)
			if string(f.Data) != content || f.Size != int64(len(content)) {
				t.Errorf("%s: %d bytes of data (size %d), want the %d the test wrote", p, len(f.Data), f.Size, len(content))
			}
		}
		if e.link == "" && !f.ModTime.Equal(treeMTime) {
			t.Errorf("%s: mtime %s, want %s", p, f.ModTime, treeMTime)
		}
	}
	// Either name of the hard link pair may be the one tar stored as a link.
	a, _ := d.File("/usr/lib/mathesar/mathesar.pyz")
	b, _ := d.File("/usr/lib/mathesar/mathesar-hardlink")
	if !(a.LinkTarget == b.Path && b.LinkTarget == "") && !(b.LinkTarget == a.Path && a.LinkTarget == "") {
		t.Errorf("hard link pair: link targets %q and %q, want exactly one pointing at the other", a.LinkTarget, b.LinkTarget)
	}
}

// checkDebAgainstDpkg compares Files with `dpkg-deb --contents`.
func checkDebAgainstDpkg(t *testing.T, d *Deb, contents string) {
	t.Helper()
	listed := parseListing(t, contents, true)
	if len(listed) != len(d.Files) {
		t.Errorf("dpkg-deb lists %d entries, ReadDeb %d", len(listed), len(d.Files))
	}
	for _, f := range d.Files {
		l, ok := listed[f.Path]
		if !ok {
			t.Errorf("%s: not listed by dpkg-deb --contents", f.Path)
			continue
		}
		if l.mode != f.Mode || l.owner != f.User || l.group != f.Group || l.link != f.LinkTarget {
			t.Errorf("%s: dpkg-deb says %s %s/%s link %q, ReadDeb %s %s/%s link %q", f.Path, l.mode, l.owner, l.group, l.link, f.Mode, f.User, f.Group, f.LinkTarget)
		}
		if !l.hardlink && l.size != f.Size {
			t.Errorf("%s: dpkg-deb says %d bytes, ReadDeb %d", f.Path, l.size, f.Size)
		}
	}
}

// arMember is one member of an ar archive, for rebuilding a .deb.
type arMember struct {
	name string
	data []byte
}

func readAr(t *testing.T, p string) []arMember {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var members []arMember
	r := ar.NewReader(f)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return members
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, arMember{h.Name, b})
	}
}

func writeAr(t *testing.T, p string, members []arMember) {
	t.Helper()
	var buf bytes.Buffer
	w := ar.NewWriter(&buf)
	if err := w.WriteGlobalHeader(); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		h := &ar.Header{Name: m.name, Size: int64(len(m.data)), Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperData rewrites data.tar.gz with a different conffile content, keeping md5sums.
func tamperData(t *testing.T, members []arMember) []arMember {
	t.Helper()
	for i, m := range members {
		if m.name != "data.tar.gz" {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(m.data))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		tw := tar.NewWriter(zw)
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if path.Clean("/"+h.Name) == conffile {
				body = []byte("port = 9000\n")
				h.Size = int64(len(body))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		members[i].data = out.Bytes()
		return members
	}
	t.Fatal("no data.tar.gz member to tamper with")
	return nil
}

func TestReadDebRejects(t *testing.T) {
	need(t, "dpkg-deb")
	good := buildDeb(t, "gzip", false)
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// The offset just past debian-binary: ar magic, a 60-byte header, "2.0\n".
	const afterBinary = 8 + 60 + 4
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		want []string // substrings the error must hold, besides the file's path
	}{
		{"empty file", truncateTo(goodBytes, 0), []string{"not a .deb"}},
		{"not an ar archive", func(t *testing.T, p string) {
			copyFile(t, "testdata/control", p)
		}, []string{"not a .deb", "!<arch>"}},
		{"truncated inside debian-binary", truncateTo(goodBytes, afterBinary-2), []string{"debian-binary", "truncated"}},
		{"truncated after debian-binary", truncateTo(goodBytes, afterBinary), []string{"control.tar", "truncated"}},
		{"truncated in the middle", truncateTo(goodBytes, len(goodBytes)/2), []string{"data.tar.gz", "truncated"}},
		{"truncated by one byte", truncateTo(goodBytes, len(goodBytes)-1), []string{"data.tar.gz", "truncated"}},
		{"data changed after build", func(t *testing.T, p string) {
			writeAr(t, p, tamperData(t, readAr(t, good)))
		}, []string{conffile, "md5sums"}},
		{"members out of order", func(t *testing.T, p string) {
			m := readAr(t, good)
			m[1], m[2] = m[2], m[1]
			writeAr(t, p, m)
		}, []string{"data.tar.gz", "out of order"}},
		{"wrong format version", func(t *testing.T, p string) {
			m := readAr(t, good)
			m[0].data = []byte("3.0\n")
			writeAr(t, p, m)
		}, []string{"debian-binary", `"3.0\n"`}},
		{"first member not debian-binary", func(t *testing.T, p string) {
			writeAr(t, p, readAr(t, good)[1:])
		}, []string{"control.tar.gz", "not a .deb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.deb")
			tc.make(t, p)
			_, err := ReadDeb(p)
			if err == nil {
				t.Fatal("ReadDeb accepted the broken package")
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

func truncateTo(b []byte, n int) func(*testing.T, string) {
	return func(t *testing.T, p string) {
		if err := os.WriteFile(p, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseControl(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     map[string]string
		wantDesc string
		wantErr  string
	}{
		{
			name:     "continuations",
			in:       "Package: a\nDescription: short\n long one\n .\n two\nConffiles:\n /etc/a 123\n\nPackage: second paragraph is ignored\n",
			want:     map[string]string{"Package": "a", "Description": "short", "Conffiles": "\n/etc/a 123"},
			wantDesc: "long one\n\ntwo\n",
		},
		{name: "comment lines are skipped", in: "# a comment\nPackage: a\n", want: map[string]string{"Package": "a"}},
		{name: "value keeps its colons", in: "Homepage: https://example.org:8000/\n", want: map[string]string{"Homepage": "https://example.org:8000/"}},
		{name: "continuation first", in: " stray\nPackage: a\n", wantErr: "line 1 is a continuation line"},
		{name: "no colon", in: "Package a\n", wantErr: `line 1 is "Package a"`},
		{name: "duplicate field", in: "Package: a\nPackage: b\n", wantErr: "field Package appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, desc, err := parseControl([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || desc != tc.wantDesc {
				t.Errorf("got %q, %q; want %q, %q", got, desc, tc.want, tc.wantDesc)
			}
		})
	}
}
