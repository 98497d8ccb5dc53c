package sitehook_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/appenv"
	"github.com/mathesar-foundation/mathesar-packaging/internal/sitehook"
)

// productionPy imports the site overrides the way Mathesar's production settings do.
const productionPy = `ALLOWED_HOSTS = ["from-production"]
try:
    from config.settings.local import *  # noqa
except ImportError:
    pass
`

// probePy prints what the app sees once the launcher's bootstrap ran the hook.
const probePy = `import json, os, sys
from config.settings import production
print(json.dumps({
    "sso": os.environ.get("SSO_CONFIG_DICT"),
    "storage": os.environ.get("FILE_STORAGE_DICT"),
    "hosts": production.ALLOWED_HOSTS,
}))
`

// tree lays out an unpacked bundle: the hook in site-packages, a settings package and the
// probe in app/. The hook runs from the bootstrap, before the probe module.
func tree(t *testing.T) appenv.Tree {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"app/config/__init__.py":            "",
		"app/config/settings/__init__.py":   "",
		"app/config/settings/production.py": productionPy,
		"app/probe.py":                      probePy,
	}
	for name, data := range sitehook.Files() {
		files["site-packages/"+name] = string(data)
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return appenv.Tree{Root: root}
}

type probe struct {
	SSO     *string  `json:"sso"`
	Storage *string  `json:"storage"`
	Hosts   []string `json:"hosts"`
}

func run(t *testing.T, tr appenv.Tree, configDir string, env ...string) (probe, string, int) {
	t.Helper()
	python := interpreter(t)
	base := []string{"PATH=" + os.Getenv("PATH"), "PYTHONDONTWRITEBYTECODE=1", "MATHESAR_CONFIG_DIR=" + configDir}
	c := appenv.Module(python, tr, "probe", nil, append(base, env...))
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var p probe
	if code == 0 {
		if err := json.Unmarshal([]byte(stdout.String()), &p); err != nil {
			t.Fatalf("probe output %q: %v\n%s", stdout.String(), err, stderr.String())
		}
	}
	return p, stderr.String(), code
}

func write(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSiteFiles(t *testing.T) {
	needYAML(t)
	tr := tree(t)
	tests := []struct {
		name       string
		files      map[string]string
		env        []string
		wantCode   int
		wantSSO    string // JSON, "" for unset
		wantStore  string
		wantHosts  string
		wantStderr []string
	}{
		{name: "no files", wantHosts: "from-production"},
		{
			name: "sso.yml and file_storage.yml become JSON",
			files: map[string]string{
				"sso.yml":          "version: 2\nproviders:\n  github:\n    type: github\n    client_id: abc\n    secret: s3cret\n    allowed_email_domains: [example.org]\n",
				"file_storage.yml": "default:\n  protocol: s3\n  kwargs: {anon: no}\n",
			},
			wantSSO:   `{"version": 2, "providers": {"github": {"type": "github", "client_id": "abc", "secret": "s3cret", "allowed_email_domains": ["example.org"]}}}`,
			wantStore: `{"default": {"protocol": "s3", "kwargs": {"anon": false}}}`, // PyYAML's YAML 1.1: "no" is false
			wantHosts: "from-production",
		},
		{
			name: "a variable set by the admin wins", files: map[string]string{"sso.yml": "version: 2\n"},
			env: []string{`SSO_CONFIG_DICT={"version": 1}`}, wantSSO: `{"version": 1}`, wantHosts: "from-production",
			wantStderr: []string{"SSO_CONFIG_DICT is set, so", "sso.yml is ignored"},
		},
		{name: "an empty file sets nothing", files: map[string]string{"sso.yml": "# nothing yet\n"}, wantHosts: "from-production"},
		{
			name: "local.py overrides the settings", files: map[string]string{"local.py": "ALLOWED_HOSTS = ['mathesar.example.org']\n"},
			wantHosts: "mathesar.example.org",
		},
		{
			name: "invalid YAML stops the start", files: map[string]string{"sso.yml": "providers: [unclosed\n"},
			wantCode: 78, wantStderr: []string{"sso.yml: is not valid YAML", "fix the file, or remove it"},
		},
		{
			name: "a list is not a mapping", files: map[string]string{"file_storage.yml": "- a\n- b\n"},
			wantCode: 78, wantStderr: []string{"file_storage.yml: holds a YAML list, not a mapping"},
		},
		{
			name: "a date cannot become JSON", files: map[string]string{"sso.yml": "expires: 2026-01-01\n"},
			wantCode: 78, wantStderr: []string{"holds a value JSON cannot carry", "quote dates"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				write(t, dir, name, data, 0o644)
			}
			p, stderr, code := run(t, tr, dir, tt.env...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if code != 0 {
				return
			}
			if got := deref(p.SSO); got != tt.wantSSO {
				t.Errorf("SSO_CONFIG_DICT = %q, want %q", got, tt.wantSSO)
			}
			if got := deref(p.Storage); got != tt.wantStore {
				t.Errorf("FILE_STORAGE_DICT = %q, want %q", got, tt.wantStore)
			}
			if got := strings.Join(p.Hosts, ","); got != tt.wantHosts {
				t.Errorf("ALLOWED_HOSTS = %q, want %q", got, tt.wantHosts)
			}
		})
	}
}

// TestNoPyYAML: a bundle without PyYAML (the sample app's) cannot read sso.yml, and the
// hook says what to do instead.
func TestNoPyYAML(t *testing.T) {
	tr := tree(t)
	dir := t.TempDir()
	write(t, dir, "sso.yml", "version: 2\n", 0o644)
	// A sitecustomize-free way to hide PyYAML from the hook: shadow it with a package whose
	// import fails, placed first on the path through the app tree.
	if err := os.MkdirAll(filepath.Join(tr.AppDir(), "yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tr.AppDir(), "yaml"), "__init__.py", "raise ImportError('no PyYAML here')\n", 0o644)
	_, stderr, code := run(t, tr, dir)
	if code != 78 || !strings.Contains(stderr, "this bundle has no PyYAML to read it") || !strings.Contains(stderr, "set SSO_CONFIG_DICT (JSON) instead") {
		t.Fatalf("exit %d, stderr:\n%s\nwant 78 and the PyYAML hint", code, stderr)
	}
}

func TestUnreadableFiles(t *testing.T) {
	needYAML(t)
	if os.Geteuid() == 0 {
		t.Skip("root reads every file; run the test as another user to check permission errors")
	}
	tr := tree(t)
	for _, name := range []string{"sso.yml", "local.py"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, name, "x = 1\n", 0o000)
			_, stderr, code := run(t, tr, dir)
			if code == 0 || !strings.Contains(stderr, name) || !strings.Contains(stderr, "cannot be read by user id") || !strings.Contains(stderr, "chmod 0640") {
				t.Fatalf("exit %d, stderr:\n%s\nwant a failure naming the file and the fix", code, stderr)
			}
		})
	}
}

func TestNoConfigDirChangesNothing(t *testing.T) {
	tr := tree(t)
	p, stderr, code := run(t, tr, "")
	if code != 0 || p.SSO != nil || strings.Join(p.Hosts, ",") != "from-production" {
		t.Fatalf("exit %d, probe %+v, stderr:\n%s", code, p, stderr)
	}
}

func needYAML(t *testing.T) {
	t.Helper()
	if err := exec.Command(interpreter(t), "-I", "-c", "import yaml").Run(); err != nil {
		t.Skip("python3 has no PyYAML (Debian package python3-yaml)")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// interpreter is python3's real executable: version managers' shims on PATH (pyenv) add a
// shell start to every run.
func interpreter(t *testing.T) string {
	t.Helper()
	python := findInterpreter()
	if python == "" {
		t.Skip("python3 not found")
	}
	return python
}

var findInterpreter = sync.OnceValue(func() string {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// TestAdminFilesMatchTheHook keeps the Go list (for doctor) and the hook's own in step.
func TestAdminFilesMatchTheHook(t *testing.T) {
	src := string(sitehook.Files()[sitehook.Module+".py"])
	for _, name := range sitehook.AdminFiles {
		if !strings.Contains(src, `"`+name+`"`) {
			t.Errorf("the hook does not read %s, which AdminFiles lists", name)
		}
	}
}
