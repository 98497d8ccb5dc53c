package pkgread

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// entry is one path of the tree both test packages are built from.
type entry struct {
	path     string
	mode     fs.FileMode // type bits plus permissions
	content  string
	link     string // symlink target
	hardlink string // absolute path this is a hard link to
}

// pyz stands in for mathesar.pyz: incompressible bytes, so the payloads are not trivial.
var pyz = func() string {
	b := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return string(b)
}()

// tree is what the test packages install. The rpm spec (testdata/mathesar.spec) lists
// exactly these paths plus one %ghost file; the .deb also holds their parent directories.
var tree = []entry{
	{path: "/etc/mathesar", mode: fs.ModeDir | 0o755},
	{path: "/etc/mathesar/mathesar.conf", mode: 0o640, content: "port = 8000\n"},
	{path: "/usr/bin/mathesar", mode: 0o755, content: "#!/bin/sh\nexec /usr/lib/mathesar/helper \"$@\"\n"},
	{path: "/usr/bin/mathesar-admin", mode: fs.ModeSymlink | 0o777, link: "mathesar"},
	{path: "/usr/lib/mathesar", mode: fs.ModeDir | 0o755},
	{path: "/usr/lib/mathesar/helper", mode: fs.ModeSetuid | 0o755, content: "#!/bin/sh\necho helper\n"},
	{path: "/usr/lib/mathesar/mathesar-hardlink", mode: 0o644, hardlink: "/usr/lib/mathesar/mathesar.pyz"},
	{path: "/usr/lib/mathesar/mathesar.pyz", mode: 0o644, content: pyz},
	{path: "/usr/share/doc/mathesar/README", mode: 0o644, content: "Mathesar, read back by pkgread.\n"},
	{path: "/var/lib/mathesar", mode: fs.ModeDir | 0o750},
}

// treeMTime is stamped on everything but the symlink (whose own mtime Go cannot set).
var treeMTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// contentOf is the bytes a regular entry holds, following a hard link.
func contentOf(t *testing.T, e entry) string {
	t.Helper()
	if e.hardlink == "" {
		return e.content
	}
	for _, o := range tree {
		if o.path == e.hardlink {
			return o.content
		}
	}
	t.Fatalf("fixture: %s links to %s, which is not in the tree", e.path, e.hardlink)
	return ""
}

// writeTree writes tree under root with exact modes and mtimes, whatever the umask.
func writeTree(t *testing.T, root string) {
	t.Helper()
	var all []string
	mkdir := func(dir string) {
		for d := dir; d != "/"; d = path.Dir(d) {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
			all = append(all, d)
		}
	}
	// Hard links last: their targets must exist first.
	ordered := slices.Clone(tree)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].hardlink == "" && ordered[j].hardlink != "" })
	for _, e := range ordered {
		p := filepath.Join(root, e.path)
		mkdir(path.Dir(e.path))
		switch {
		case e.mode.IsDir():
			mkdir(e.path)
		case e.link != "":
			if err := os.Symlink(e.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		case e.hardlink != "":
			if err := os.Link(filepath.Join(root, e.hardlink), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(e.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, e.path)
	}
	// Modes: parents first 0755, then the entries' own (Chmod ignores the umask).
	sort.Strings(all)
	modes := map[string]fs.FileMode{}
	for _, e := range tree {
		modes[e.path] = e.mode
	}
	for _, p := range all {
		mode, ok := modes[p]
		if !ok {
			mode = fs.ModeDir | 0o755
		}
		if err := os.Chmod(filepath.Join(root, p), mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			t.Fatal(err)
		}
	}
	// Mtimes last: creating entries changed their directories' mtimes.
	for _, p := range all {
		if err := os.Chtimes(filepath.Join(root, p), treeMTime, treeMTime); err != nil {
			t.Fatal(err)
		}
	}
}

// need skips the test when a tool the test builds with is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run `go tool mage deps` to install the Debian packages the tests need", tool)
		}
	}
}

// run runs a command and returns its stdout, failing the test with its stderr.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// listing is one line of `dpkg-deb -c` or `rpm -qlvp`, both `ls -l` style.
type listing struct {
	mode     fs.FileMode
	hardlink bool // tar's "h" type: a hard link to link
	owner    string
	group    string
	size     int64
	link     string
	path     string
}

// parsePerms reads an `ls -l` mode string such as "drwxr-x---" or "-rwsr-xr-x".
func parsePerms(t *testing.T, s string) (fs.FileMode, bool) {
	t.Helper()
	if len(s) != 10 {
		t.Fatalf("mode string %q is not 10 characters", s)
	}
	var mode fs.FileMode
	hard := false
	switch s[0] {
	case 'd':
		mode |= fs.ModeDir
	case 'l':
		mode |= fs.ModeSymlink
	case 'h':
		hard = true
	case '-':
	default:
		t.Fatalf("mode string %q: unknown type %q", s, s[0])
	}
	for i, c := range s[1:] {
		bit := fs.FileMode(1) << (8 - i)
		switch c {
		case 'r', 'w', 'x':
			mode |= bit
		case 's':
			mode |= bit
			fallthrough
		case 'S':
			if i < 3 {
				mode |= fs.ModeSetuid
			} else {
				mode |= fs.ModeSetgid
			}
		case 't':
			mode |= bit
			fallthrough
		case 'T':
			mode |= fs.ModeSticky
		case '-':
		default:
			t.Fatalf("mode string %q: unknown permission %q", s, c)
		}
	}
	return mode, hard
}

// parseListing reads `dpkg-deb --contents` lines (tarStyle) or `rpm -qlvp` lines:
// "MODE [NLINK] OWNER(/| )GROUP SIZE DATE... PATH [-> TARGET | link to TARGET]".
func parseListing(t *testing.T, out string, tarStyle bool) map[string]listing {
	t.Helper()
	got := map[string]listing{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		var l listing
		var rest []string
		l.mode, l.hardlink = parsePerms(t, f[0])
		if tarStyle { // -rw-r--r-- root/root 12 2024-01-02 03:04 ./path
			l.owner, l.group, _ = strings.Cut(f[1], "/")
			l.size, _ = strconv.ParseInt(f[2], 10, 64)
			rest = f[5:]
		} else { // -rw-r--r-- 1 root root 12 Jan  2 03:04 /path
			l.owner, l.group = f[2], f[3]
			l.size, _ = strconv.ParseInt(f[4], 10, 64)
			rest = f[8:]
		}
		l.path = path.Clean("/" + rest[0])
		switch {
		case len(rest) == 3 && rest[1] == "->":
			l.link = rest[2]
		case len(rest) == 4 && rest[1] == "link" && rest[2] == "to":
			l.link = path.Clean("/" + rest[3])
		case len(rest) != 1:
			t.Fatalf("cannot parse listing line %q", line)
		}
		got[l.path] = l
	}
	return got
}
