package mathesarsrc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// shaped is the least a Mathesar checkout holds.
func shaped() map[string]string {
	return map[string]string{
		"mathesar/__init__.py":                          "__version__ = \"0.10.1\"\n",
		"mathesar/install.py":                           "",
		"manage.py":                                     "",
		"config/settings/production.py":                 "",
		"config/wsgi.py":                                "",
		"requirements.txt":                              "Django==4.2.29\n",
		"translations/fr/LC_MESSAGES/django.po":         "",
		"translations/fr/LC_MESSAGES/django.mo":         "stale",
		"mathesar_ui/package.json":                      "{}",
		"mathesar_ui/node_modules/x/index.js":           "",
		"mathesar/static/mathesar/manifest.json":        "{}",
		"mathesar/__pycache__/__init__.cpython-311.pyc": "",
		"static/admin/base.css":                         "stale collectstatic output",
		"docs/index.md":                                 "",
		"db/sql/00_msar.sql":                            "SELECT 1;",
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]string)
		want []string // substrings of the error; none means success
	}{
		{name: "shaped", edit: func(map[string]string) {}},
		{
			name: "missing parts are all named",
			edit: func(f map[string]string) { delete(f, "manage.py"); delete(f, "config/wsgi.py") },
			want: []string{"is not a Mathesar source tree", "manage.py (", "config/wsgi.py (gunicorn serves config.wsgi)", "point MATHESAR_SRC at the top"},
		},
		{
			name: "site files are refused",
			edit: func(f map[string]string) { f["sso.yml"] = "secret"; f["config/settings/local.py"] = "" },
			want: []string{"site-specific files", "sso.yml, config/settings/local.py", "/etc/mathesar"},
		},
		{
			name: "no version line",
			edit: func(f map[string]string) { f["mathesar/__init__.py"] = "VERSION = 1\n" },
			want: []string{"has no __version__"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := shaped()
			tt.edit(files)
			err := Check(writeTree(t, files))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check passed, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if err := Check(filepath.Join(t.TempDir(), "nowhere")); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Check of a missing directory: %v", err)
	}
}

func TestStage(t *testing.T) {
	src := writeTree(t, shaped())
	dst := filepath.Join(t.TempDir(), "app")
	st, err := Stage(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{
		"config/settings/production.py", "config/wsgi.py", "db/sql/00_msar.sql", "manage.py",
		"mathesar/__init__.py", "mathesar/install.py", "mathesar/static/mathesar/manifest.json",
		"requirements.txt", "translations/fr/LC_MESSAGES/django.po",
	}
	if !slices.Equal(got, want) {
		t.Errorf("staged files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Files != len(want) {
		t.Errorf("Staged.Files = %d, want %d", st.Files, len(want))
	}
	excluded := strings.Join(st.Excluded, "\n")
	for _, w := range []string{"docs/", "mathesar_ui/ (front-end source", "static/ (collectstatic output"} {
		if !strings.Contains(excluded, w) {
			t.Errorf("Excluded lacks %q:\n%s", w, excluded)
		}
	}
	// Later stages replace staged files by rename; the checkout must not change.
	if err := os.WriteFile(filepath.Join(dst, "new.mo"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src, "new.mo")); err == nil {
		t.Error("a file written into the stage appeared in the checkout")
	}
	if _, err := Stage(src, dst); err == nil {
		t.Error("Stage into an existing directory succeeded, want an error")
	}
}

func TestVersion(t *testing.T) {
	dir := t.TempDir()
	if _, err := Version(dir); err == nil || !strings.Contains(err.Error(), "Mathesar source tree") {
		t.Errorf("no mathesar/__init__.py: %v", err)
	}
	dir = writeTree(t, map[string]string{"mathesar/__init__.py": "# no version here\n"})
	if _, err := Version(dir); err == nil || !strings.Contains(err.Error(), "__version__") {
		t.Errorf("no __version__: %v", err)
	}
	dir = writeTree(t, map[string]string{"mathesar/__init__.py": "\"\"\"Mathesar.\"\"\"\n__version__ = '0.10.1'\n"})
	if v, err := Version(dir); err != nil || v != "0.10.1" {
		t.Fatalf("Version = %q, %v", v, err)
	}
}
