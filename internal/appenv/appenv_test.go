package appenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func tree(t *testing.T) Tree {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"app/probe.py": `import json, os, sys
import dep
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "path": sys.path, "dep": dep.NAME,
                  "no_user_site": sys.flags.no_user_site, "isolated": sys.flags.isolated,
                  "setting": os.environ.get("POSTGRES_DB")}))
`,
		"site-packages/dep.py": "NAME = 'dep from site-packages'\n",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Tree{Root: root}
}

type probe struct {
	Argv       []string `json:"argv"`
	Cwd        string   `json:"cwd"`
	Path       []string `json:"path"`
	Dep        string   `json:"dep"`
	NoUserSite int      `json:"no_user_site"`
	Isolated   int      `json:"isolated"`
	Setting    string   `json:"setting"`
}

func run(t *testing.T, c Command) probe {
	t.Helper()
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", c.Args, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	return p
}

func TestModuleIsIsolated(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: run `go tool mage deps`")
	}
	tr := tree(t)
	evil := t.TempDir()
	os.WriteFile(filepath.Join(evil, "dep.py"), []byte("NAME = 'dep from PYTHONPATH'\n"), 0o644)
	env := []string{"PYTHONPATH=" + evil, "POSTGRES_DB=mathesar_django", "PATH=" + os.Getenv("PATH")}
	p := run(t, Module(python, tr, "probe", []string{"--port", "8000"}, env))
	if p.Dep != "dep from site-packages" {
		t.Errorf("imported %q: PYTHONPATH leaked in", p.Dep)
	}
	if !reflect.DeepEqual(p.Argv, []string{"--port", "8000"}) {
		t.Errorf("argv = %v", p.Argv)
	}
	if p.Cwd != tr.AppDir() {
		t.Errorf("cwd = %s, want %s", p.Cwd, tr.AppDir())
	}
	if p.Path[0] != tr.AppDir() || p.Path[1] != tr.SitePackages() {
		t.Errorf("sys.path starts %v", p.Path[:2])
	}
	for _, entry := range p.Path {
		if entry == evil || entry == "" {
			t.Errorf("sys.path holds %q", entry)
		}
	}
	if p.NoUserSite != 1 || p.Isolated != 1 {
		t.Errorf("flags no_user_site=%d isolated=%d", p.NoUserSite, p.Isolated)
	}
	if p.Setting != "mathesar_django" {
		t.Errorf("environment not passed: POSTGRES_DB=%q", p.Setting)
	}
}

func TestPythonSeesTree(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: run `go tool mage deps`")
	}
	tr := tree(t)
	c := Python(python, tr, []string{"-m", "probe", "x"}, []string{"PYTHONPATH=/nowhere"})
	p := run(t, c)
	if p.Dep != "dep from site-packages" || p.NoUserSite != 1 {
		t.Errorf("probe = %+v", p)
	}
	if v, _ := Get(c.Env, "PYTHONPATH"); v == "/nowhere" {
		t.Errorf("PYTHONPATH not replaced")
	}
}

func TestEnvHelpers(t *testing.T) {
	env := []string{"A=1", "B=2", "A=3"}
	if v, ok := Get(env, "A"); !ok || v != "3" {
		t.Errorf("Get A = %q %v, want the last assignment", v, ok)
	}
	env = Set(env, "A", "4")
	if !reflect.DeepEqual(env, []string{"B=2", "A=4"}) {
		t.Errorf("Set = %v", env)
	}
	env = Defaults(env, map[string]string{"A": "x", "C": "5"})
	if !reflect.DeepEqual(env, []string{"B=2", "A=4", "C=5"}) {
		t.Errorf("Defaults = %v", env)
	}
}
