package mathesarfixture

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/test/fixtures/sampleapp"
)

// shared is one default generation, read (never changed) by the tests that only inspect it.
var shared struct {
	once     sync.Once
	dir      string
	stats    Stats
	duration time.Duration
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(filepath.Dir(shared.dir))
	}
	os.Exit(code)
}

func defaultTree(t *testing.T) (string, Stats) {
	t.Helper()
	shared.once.Do(func() {
		parent, err := os.MkdirTemp("", "mathesarfixture-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = filepath.Join(parent, "mathesar")
		start := time.Now()
		shared.stats, shared.err = Generate(shared.dir, Options{})
		shared.duration = time.Since(start)
	})
	if shared.err != nil {
		t.Fatalf("Generate: %v", shared.err)
	}
	return shared.dir, shared.stats
}

func generate(t *testing.T, o Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	if _, err := Generate(dir, o); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return dir
}

// walkTree returns every regular file of dir by slash path, sorted.
func walkTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func digest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range walkTree(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", p, info.Mode().Perm(), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not on PATH (%v); install it to run this test", tool, err)
	}
	return p
}

func TestGenerateShape(t *testing.T) {
	dir, st := defaultTree(t)
	t.Logf("default generation: %+v in %v", st, shared.duration)
	if shared.duration > 10*time.Second {
		t.Errorf("generation took %v; it should take well under 2 s", shared.duration)
	}
	files := walkTree(t, dir)
	var total int64
	for _, p := range files {
		info, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		total += info.Size()
	}
	if st.Files != len(files) || st.Bytes != total {
		t.Errorf("Stats say %d files, %d bytes; the tree has %d files, %d bytes", st.Files, st.Bytes, len(files), total)
	}
	count := func(match func(string) bool) int {
		n := 0
		for _, p := range files {
			if match(p) {
				n++
			}
		}
		return n
	}
	prefix := func(pre, suf string) func(string) bool {
		return func(p string) bool { return strings.HasPrefix(p, pre) && strings.HasSuffix(p, suf) }
	}
	tests := []struct {
		name     string
		got      int
		min, max int
	}{
		{"all files", len(files), 1650, 1750},
		{"megabytes", int(total >> 20), 10, 20},
		{"mathesar/ .py", count(prefix("mathesar/", ".py")), 600, 700},
		{"mathesar/templates/ .html", count(prefix("mathesar/templates/", ".html")), 20, 20},
		{"db/", count(prefix("db/", "")), 340, 360},
		{"db/ .sql", count(prefix("db/", ".sql")), 150, 250},
		{"config/settings/common_settings.py", count(prefix("config/settings/common_settings.py", "")), 1, 1},
		{"translations .po", count(prefix("translations/", "/LC_MESSAGES/django.po")), 4, 4},
		{"Stats.POFiles", st.POFiles, 4, 4},
		{"mathesar_ui/src/", count(prefix("mathesar_ui/src/", "")), 530, 600},
		{"Stats.UIFiles", st.UIFiles, count(prefix("mathesar_ui/", "")), count(prefix("mathesar_ui/", ""))},
		{"mathesar_ui/src/ binary assets", count(func(p string) bool {
			return strings.HasPrefix(p, "mathesar_ui/src/assets/") && (strings.HasSuffix(p, ".png") || strings.HasSuffix(p, ".woff2"))
		}), 20, 40},
		{"docs/ .md", count(prefix("docs/", ".md")), 40, 40},
		{".github/workflows/ .yml", count(prefix(".github/workflows/", ".yml")), 3, 10},
		{"LICENSES/", count(prefix("LICENSES/", "")), 2, 10},
		{"mathesar/static/mathesar/ (front-end build output)", count(prefix("mathesar/static/mathesar/", "")), 0, 0},
		{"mathesar/static/ beyond the sample's", count(prefix("mathesar/static/", "")), sampleCount(t, "mathesar/static/"), sampleCount(t, "mathesar/static/")},
		{"config/settings/local.py (site overrides)", count(prefix("config/settings/local.py", "")), 0, 0},
	}
	for _, tt := range tests {
		if tt.got < tt.min || tt.got > tt.max {
			t.Errorf("%s: %d, want %d..%d", tt.name, tt.got, tt.min, tt.max)
		}
	}
	for _, p := range []string{"LICENSE", "THIRDPARTY", "README.md", "manage.py", "requirements.txt", "mathesar_ui/README.md", "mathesar_ui/package.json", "mathesar_ui/package-lock.json", "mathesar_ui/build.mjs", "config/urls.py", "config/asgi.py"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// Python sizes follow a realistic spread rather than one size.
	var small, large int
	for _, p := range files {
		if !strings.HasPrefix(p, "mathesar/") || !strings.HasSuffix(p, ".py") || strings.HasSuffix(p, "__init__.py") {
			continue
		}
		info, _ := os.Stat(filepath.Join(dir, p))
		if info.Size() < 1000 {
			small++
		}
		if info.Size() > 10000 {
			large++
		}
		if info.Size() < 200 || info.Size() > 25000 {
			t.Errorf("%s is %d bytes; modules should be 200 B to 20 KB", p, info.Size())
		}
	}
	if small < 50 || large < 50 {
		t.Errorf("module sizes not spread: %d under 1 KB, %d over 10 KB", small, large)
	}
}

// sampleCount is how many files of the sample app start with prefix.
func sampleCount(t *testing.T, prefix string) int {
	t.Helper()
	n := 0
	err := fs.WalkDir(sampleapp.AppFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(p, prefix) {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSampleFilesKept checks that the sample app, which makes the tree runnable, is intact
// apart from the two permitted changes.
func TestSampleFilesKept(t *testing.T) {
	dir, _ := defaultTree(t)
	err := fs.WalkDir(sampleapp.AppFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := fs.ReadFile(sampleapp.AppFS(), p)
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("sample file %s missing: %v", p, err)
			return nil
		}
		switch p {
		case "mathesar/__init__.py":
			re := regexp.MustCompile(`(?m)^__version__ = .*$`)
			if !bytes.Equal(re.ReplaceAll(got, nil), re.ReplaceAll(want, nil)) {
				t.Errorf("%s changed beyond its version line:\n%s", p, got)
			}
		case enPO:
			if !bytes.HasPrefix(got, want) || len(got) <= len(want) {
				t.Errorf("%s: sample entries not kept as the prefix, or nothing appended", p)
			}
		default:
			if !bytes.Equal(got, want) {
				t.Errorf("sample file %s was modified", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	py := need(t, "python3")
	tests := []struct {
		name, version, want string
	}{
		{"default", "", DefaultVersion},
		{"release", "0.10.1", "0.10.1"},
		{"local", "1.2.3rc1+deb12", "1.2.3rc1+deb12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var dir string
			if tt.version == "" {
				dir, _ = defaultTree(t)
			} else {
				dir = generate(t, Options{Version: tt.version})
			}
			data, err := os.ReadFile(filepath.Join(dir, "mathesar", "__init__.py"))
			if err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("__version__ = %q\n", tt.want)
			if !strings.Contains(string(data), "\n"+line) {
				t.Errorf("mathesar/__init__.py lacks %q:\n%s", line, data)
			}
			// Importing the sample's modules from the tree proves that no generated file
			// shadows them and that the version is readable as the launcher reads it; -B
			// keeps __pycache__ out of the shared tree.
			cmd := exec.Command(py, "-I", "-B", "-c", "import sys; sys.path.insert(0, '.'); import mathesar, mathesar.install, config.wsgi; "+
				"assert callable(config.wsgi.application); print(mathesar.__version__)")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "POSTGRES_DB=mathesar_django", "POSTGRES_USER=mathesar", "POSTGRES_HOST=/var/run/postgresql")
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Errorf("import from the tree: %v\n%s", err, out)
			}
		})
	}
}

func TestBadVersionAndTarget(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, version, wantErr string
	}{
		{"quote in version", filepath.Join(t.TempDir(), "a"), `1"2`, "not a plain version"},
		{"newline in version", filepath.Join(t.TempDir(), "b"), "1\n2", "not a plain version"},
		{"space in version", filepath.Join(t.TempDir(), "c"), "1 2", "not a plain version"},
		{"non-empty target", full, "", "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadDir(filepath.Dir(tt.dir))
			_, err := Generate(tt.dir, Options{Version: tt.version})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Generate: %v, want an error containing %q", err, tt.wantErr)
			}
			after, _ := os.ReadDir(filepath.Dir(tt.dir))
			if len(after) != len(before) {
				t.Errorf("failed Generate left entries behind in %s: %v", filepath.Dir(tt.dir), after)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(data) != "keep" {
		t.Errorf("non-empty target was changed")
	}
}

// TestDeterministic also covers an existing empty directory as the target.
func TestDeterministic(t *testing.T) {
	dir, _ := defaultTree(t)
	again := t.TempDir()
	st, err := Generate(again, Options{})
	if err != nil {
		t.Fatalf("Generate into an empty directory: %v", err)
	}
	if n := len(walkTree(t, again)); n != st.Files {
		t.Errorf("tree has %d files, Stats say %d", n, st.Files)
	}
	entries, _ := os.ReadDir(filepath.Dir(again))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("staging directory left behind: %s", e.Name())
		}
	}
	if a, b := digest(t, dir), digest(t, again); a != b {
		t.Fatalf("two default generations differ: %s vs %s", a, b)
	}
}

func TestTranslationsPassMsgfmt(t *testing.T) {
	msgfmt := need(t, "msgfmt")
	dir, _ := defaultTree(t)
	pos, _ := filepath.Glob(filepath.Join(dir, "translations", "*", "LC_MESSAGES", "django.po"))
	if len(pos) != 4 {
		t.Fatalf("found %d catalogs, want 4: %v", len(pos), pos)
	}
	for _, po := range pos {
		lang := filepath.Base(filepath.Dir(filepath.Dir(po)))
		t.Run(lang, func(t *testing.T) {
			out, err := exec.Command(msgfmt, "--check-format", "-o", os.DevNull, po).CombinedOutput()
			if err != nil {
				t.Fatalf("msgfmt --check-format %s: %v\n%s", po, err, out)
			}
			data, _ := os.ReadFile(po)
			text := string(data)
			ids := poMsgids(text)
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Errorf("duplicate msgid %q", id)
				}
				seen[id] = true
			}
			checks := []struct {
				what string
				n    int
				min  int
			}{
				{"msgids", len(ids), poMessages},
				{"python-format entries", strings.Count(text, "#, python-format\n"), 50},
				{"plural entries", strings.Count(text, "\nmsgid_plural "), 20},
				{"Content-Type header", strings.Count(text, `"Content-Type: text/plain; charset=UTF-8\n"`), 1},
			}
			for _, c := range checks {
				if c.n < c.min {
					t.Errorf("%s: %d, want at least %d", c.what, c.n, c.min)
				}
			}
			if lang != "en" && !strings.Contains(text, `"Plural-Forms: nplurals=`) {
				t.Errorf("no Plural-Forms header")
			}
			if lang == "ja" && !strings.Contains(text, "テーブル") {
				t.Errorf("ja catalog has no Japanese text")
			}
		})
	}

	// The check must be able to fail: a renamed placeholder in one msgstr is rejected.
	es, _ := os.ReadFile(filepath.Join(dir, "translations", "es", "LC_MESSAGES", "django.po"))
	broken := regexp.MustCompile(`(?m)^(msgstr ".*)%\(name\)s`).ReplaceAll(es, []byte("${1}%(nombre)s"))
	if bytes.Equal(broken, es) {
		t.Fatal("no %(name)s msgstr to break in the es catalog")
	}
	bad := filepath.Join(t.TempDir(), "broken.po")
	os.WriteFile(bad, broken, 0o644)
	if out, err := exec.Command(msgfmt, "--check-format", "-o", os.DevNull, bad).CombinedOutput(); err == nil {
		t.Errorf("msgfmt accepted a catalog with a mismatched placeholder:\n%s", out)
	}
}

// compileScript compiles every .py under the current directory without writing .pyc files
// and prints the count; failures go to stderr with a non-zero exit.
const compileScript = `
import os, sys
n, bad = 0, []
for d, dirs, files in os.walk("."):
    dirs.sort()
    for f in sorted(files):
        if f.endswith(".py"):
            p = os.path.join(d, f)
            n += 1
            try:
                compile(open(p, encoding="utf-8").read(), p, "exec")
            except SyntaxError as e:
                bad.append(f"{p}: {e}")
if bad:
    sys.exit("\n".join(bad[:20]))
print(n)
`

func TestPythonCompiles(t *testing.T) {
	py := need(t, "python3")
	dir, _ := defaultTree(t)
	cmd := exec.Command(py, "-I", "-c", compileScript)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python modules do not compile: %v\n%s", err, stderr.String())
	}
	var n int
	fmt.Sscan(string(out), &n)
	if n < 800 {
		t.Errorf("compiled %d .py files, want at least 800", n)
	}
}

func TestSQLDollarQuotesClosed(t *testing.T) {
	dir, _ := defaultTree(t)
	for _, p := range walkTree(t, dir) {
		if !strings.HasPrefix(p, "db/") || !strings.HasSuffix(p, ".sql") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, p))
		text := string(data)
		if strings.Count(text, "$$")%2 != 0 || strings.Count(text, "CREATE OR REPLACE FUNCTION") == 0 {
			t.Errorf("%s: unbalanced $$ or no function", p)
		}
	}
}

type manifestEntry struct {
	File    string   `json:"file"`
	Src     string   `json:"src"`
	IsEntry bool     `json:"isEntry"`
	CSS     []string `json:"css"`
	Assets  []string `json:"assets"`
}

func TestUIBuildOffline(t *testing.T) {
	npm := need(t, "npm")
	need(t, "node")
	dir := generate(t, Options{})
	ui := filepath.Join(dir, "mathesar_ui")
	env := append(os.Environ(), "npm_config_cache="+t.TempDir(), "npm_config_update_notifier=false", "HOME="+t.TempDir())
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(npm, args...)
		cmd.Dir = ui
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ci", "--offline", "--no-audit", "--no-fund")
	run("run", "build")
	out := filepath.Join(dir, "mathesar", "static", "mathesar")
	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatalf("build wrote no manifest: %v", err)
	}
	var m map[string]manifestEntry
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	entry, ok := m["src/main.ts"]
	if !ok || !entry.IsEntry {
		t.Fatalf("manifest has no entry src/main.ts: %s", raw)
	}
	hashed := regexp.MustCompile(`^assets/[a-z0-9-]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`)
	listed := append([]string{entry.File}, entry.CSS...)
	listed = append(listed, entry.Assets...)
	for _, f := range listed {
		if !hashed.MatchString(f) {
			t.Errorf("manifest lists %q, not a content-hashed asset name", f)
		}
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("manifest lists %s but the build did not write it: %v", f, err)
		}
	}
	if !strings.HasPrefix(entry.File, "assets/index-") || !strings.HasSuffix(entry.File, ".js") || len(entry.CSS) != 1 {
		t.Errorf("entry: %+v, want assets/index-<hash>.js with one stylesheet", entry)
	}
	srcAssets := 0
	for _, p := range walkTree(t, filepath.Join(ui, "src", "assets")) {
		srcAssets++
		if _, ok := m["src/assets/"+p]; !ok {
			t.Errorf("asset src/assets/%s is not in the manifest", p)
		}
	}
	if len(entry.Assets) != srcAssets {
		t.Errorf("entry lists %d assets, src/assets has %d", len(entry.Assets), srcAssets)
	}

	// A rebuild gives the same output.
	first := digest(t, out)
	run("run", "build")
	if digest(t, out) != first {
		t.Errorf("second build differs from the first")
	}
}
