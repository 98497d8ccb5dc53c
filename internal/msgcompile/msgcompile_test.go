package msgcompile

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	emptyTree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(emptyTree, "translations", "fr", "LC_MESSAGES"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		root    string
		want    []string
		wantErr string
	}{
		{name: "mathesar layout", root: "testdata/good", want: []string{
			"translations/en/LC_MESSAGES/django.po",
			"translations/es/LC_MESSAGES/django.po",
			"translations/fr/LC_MESSAGES/django.po",
			"translations/ja/LC_MESSAGES/django.po",
		}},
		{name: "no translations dir", root: t.TempDir(), wantErr: "no translations directory at"},
		{name: "no catalogs", root: emptyTree, wantErr: "no .po catalogs under"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find(%s) error = %v, want one containing %q", tt.root, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Find = %q, want %q", got, tt.want)
			}
		})
	}
}

// pyLoad is run by the real CPython gettext module, the one Django uses to read catalogs.
const pyLoad = `
import gettext, json, sys
t = gettext.GNUTranslations(open(sys.argv[1], "rb"))
print(json.dumps([
    t.gettext("Save"),
    t.gettext("Welcome, %(name)s") % {"name": "Ana"},
    t.ngettext("%(count)s table", "%(count)s tables", 1) % {"count": 1},
    t.ngettext("%(count)s table", "%(count)s tables", 2) % {"count": 2},
    t.gettext("Delete"),
]))
`

func TestCompileLoadsInPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed to check the .mo files: %v", err)
	}
	rels, err := Find("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cats, err := Compile(context.Background(), "testdata/good", out, rels, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel      string
		messages int
		want     []string // Save, Welcome, 1 table, 2 tables, Delete
	}{
		{"translations/en/LC_MESSAGES/django.po", 3, []string{"Save", "Welcome, Ana", "1 table", "2 tables", "Delete"}},
		// Untranslated "Delete" falls back to the msgid.
		{"translations/es/LC_MESSAGES/django.po", 3, []string{"Guardar", "Bienvenido, Ana", "1 tabla", "2 tablas", "Delete"}},
		// fr's "Delete" is fuzzy, so it is left out; plural=(n > 1) still picks the plural.
		{"translations/fr/LC_MESSAGES/django.po", 3, []string{"Enregistrer", "Bienvenue, Ana", "1 table", "2 tables", "Delete"}},
		{"translations/ja/LC_MESSAGES/django.po", 3, []string{"保存", "ようこそ、Anaさん", "1 個のテーブル", "2 個のテーブル", "Delete"}},
	}
	if len(cats) != len(tests) {
		t.Fatalf("Compile returned %d catalogs, want %d: %+v", len(cats), len(tests), cats)
	}
	for i, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			c := cats[i]
			wantMO := filepath.Join(out, filepath.FromSlash(strings.TrimSuffix(tt.rel, ".po")+".mo"))
			if c.Rel != tt.rel || c.MO != wantMO || c.Messages != tt.messages {
				t.Fatalf("catalog = %+v, want Rel %s MO %s Messages %d", c, tt.rel, wantMO, tt.messages)
			}
			st, err := os.Stat(c.MO)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("%s mode %v, want 0644", c.MO, st.Mode().Perm())
			}
			cmd := exec.Command(py, "-c", pyLoad, c.MO)
			cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
			res, err := cmd.Output()
			if err != nil {
				t.Fatalf("python3 gettext on %s: %v", c.MO, err)
			}
			var got []string
			if err := json.Unmarshal(res, &got); err != nil {
				t.Fatalf("python output %q: %v", res, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("python gettext gave %q, want %q", got, tt.want)
			}
		})
	}
	// Only the four .mo files: no temp files, nothing for README.txt or notes.txt.
	if files := listFiles(t, out); len(files) != len(tests) {
		t.Errorf("output tree holds %q, want only the %d .mo files", files, len(tests))
	}
}

func TestCompileDeterministic(t *testing.T) {
	rels, err := Find("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	first, second := t.TempDir(), t.TempDir()
	for _, out := range []string{first, second} {
		if _, err := Compile(context.Background(), "testdata/good", out, rels, ""); err != nil {
			t.Fatal(err)
		}
	}
	files := listFiles(t, first)
	if len(files) != len(rels) {
		t.Fatalf("first build wrote %q", files)
	}
	if got := listFiles(t, second); !reflect.DeepEqual(got, files) {
		t.Fatalf("second build wrote %q, first %q", got, files)
	}
	for _, f := range files {
		a, errA := os.ReadFile(filepath.Join(first, f))
		b, errB := os.ReadFile(filepath.Join(second, f))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between builds (%d and %d bytes)", f, len(a), len(b))
		}
	}
}

func TestCompileRefusesBrokenCatalogs(t *testing.T) {
	const (
		frPO = "translations/fr/LC_MESSAGES/django.po"
		esPO = "translations/es/LC_MESSAGES/django.po"
		enPO = "translations/en/LC_MESSAGES/django.po"
	)
	type broken struct {
		rel, line, msg string // line: text of the fixture line msgfmt must point at
		after          int    // how many lines past it msgfmt reports
	}
	formatErr := broken{frPO, `msgstr "Bienvenue, %(nom)s"`, "a format specification for argument 'name' doesn't exist in 'msgstr'", 0}
	// msgfmt notices the unterminated string at the newline, so it names the next line.
	syntaxErr := broken{esPO, `msgstr "Guardar`, "end-of-line within string", 1}
	tests := []struct {
		name   string
		root   string
		broken []broken
		good   []string // catalogs of the tree that do compile
	}{
		{name: "python-format mismatch", root: "testdata/badformat", broken: []broken{formatErr}},
		{name: "unterminated string", root: "testdata/syntax", broken: []broken{syntaxErr}},
		{name: "two broken catalogs", root: "testdata/twobad", broken: []broken{syntaxErr, formatErr}, good: []string{enPO}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels, err := Find(tt.root)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			// A .mo from an earlier, good build must not survive a failed one.
			for _, b := range tt.broken {
				stale := filepath.Join(out, filepath.FromSlash(strings.TrimSuffix(b.rel, ".po")+".mo"))
				if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(stale, []byte("stale"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cats, err := Compile(context.Background(), tt.root, out, rels, "")
			if err == nil {
				t.Fatalf("Compile succeeded with %+v, want an error", cats)
			}
			for _, b := range tt.broken {
				po := filepath.Join(tt.root, filepath.FromSlash(b.rel))
				for _, want := range []string{
					"compile " + po + ": msgfmt refused it",
					po + ":" + strconv.Itoa(lineOf(t, po, b.line)+b.after) + ": " + b.msg,
					"fix the translation in " + po + ", then build again",
				} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
			}
			var want []string
			for _, g := range tt.good {
				want = append(want, filepath.FromSlash(strings.TrimSuffix(g, ".po")+".mo"))
			}
			if got := listFiles(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("output tree holds %q, want only %q", got, want)
			}
		})
	}
}

func TestCompileMsgfmtMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-msgfmt")
	out := t.TempDir()
	_, err := Compile(context.Background(), "testdata/good", out, []string{"translations/en/LC_MESSAGES/django.po"}, missing)
	want := "msgfmt not found: install GNU gettext (`go tool mage deps` installs the Debian package gettext; on macOS `brew install gettext`)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	if files := listFiles(t, out); len(files) != 0 {
		t.Errorf("output tree holds %q, want nothing", files)
	}
}

func TestCompileCanceled(t *testing.T) {
	rels, err := Find("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := Compile(ctx, "testdata/good", out, rels, ""); err == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("error = %v, want context canceled", err)
	}
	if files := listFiles(t, out); len(files) != 0 {
		t.Errorf("output tree holds %q, want nothing", files)
	}
}

// listFiles returns the sorted paths of the regular files under root, relative to it.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// lineOf returns the 1-based number of the line of file that equals text, so the tests do not
// hard-code line numbers of the fixtures.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if l == text {
			return i + 1
		}
	}
	t.Fatalf("%s has no line %q", file, text)
	return 0
}
