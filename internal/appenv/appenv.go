// Package appenv composes how the bundled app runs under Python: the interpreter's command
// line, the module search path, the working directory and the environment, for an unpacked
// bundle tree. It decides nothing about which Python or which tree; callers pass both.
package appenv

import (
	"path/filepath"
	"sort"
	"strings"
)

// Tree is an unpacked bundle: <Root>/app holds the app source, <Root>/site-packages every
// installed distribution.
type Tree struct{ Root string }

// AppDir is the app source tree, which is also the working directory: Mathesar resolves
// LOCALE_PATHS = ['translations'] relative to it.
func (t Tree) AppDir() string { return filepath.Join(t.Root, "app") }

// SitePackages holds the installed wheels.
func (t Tree) SitePackages() string { return filepath.Join(t.Root, "site-packages") }

// bootstrap runs in place of `python -m`: isolated mode (-I) ignores PYTHONPATH, the user
// site directory and the current directory, so the search path is set here, from argv,
// to the unpacked tree alone (plus the standard library). It then runs the bundle's site
// hook (internal/sitehook), which a tree built without it simply lacks.
const bootstrap = `import runpy, sys
app, site = sys.argv[1], sys.argv[2]
sys.path[:0] = [app, site]
sys.argv = sys.argv[3:]
try:
    import _mathesar_site
except ModuleNotFoundError as exc:
    if exc.name != "_mathesar_site":
        raise
else:
    _mathesar_site.install()
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
`

// Command is a process to start or exec.
type Command struct {
	Path string   // the interpreter
	Args []string // argv, Args[0] being the interpreter's path
	Env  []string
	Dir  string
}

// Module returns the command that runs `python -m module args...` inside the tree.
func Module(python string, t Tree, module string, args []string, env []string) Command {
	argv := append([]string{python, "-I", "-c", bootstrap, t.AppDir(), t.SitePackages(), module}, args...)
	return Command{Path: python, Args: argv, Env: env, Dir: t.AppDir()}
}

// Python returns the command that runs the interpreter with the tree on its search path and
// the admin's own arguments (`mathesar python -- ARGS`). PYTHONPATH is used here rather than
// the bootstrap, so `-c`, `-m` and scripts behave exactly as with a plain interpreter; -s
// still keeps the user's site directory out.
func Python(python string, t Tree, args []string, env []string) Command {
	env = Set(env, "PYTHONPATH", t.AppDir()+string(filepath.ListSeparator)+t.SitePackages())
	env = Set(env, "PYTHONNOUSERSITE", "1")
	argv := append([]string{python, "-s"}, args...)
	return Command{Path: python, Args: argv, Env: env, Dir: t.AppDir()}
}

// Set returns env with key set to value, replacing every earlier assignment of key.
func Set(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// Get returns the value of key in env and whether it is set.
func Get(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Defaults sets each key of defaults that env does not set yet, in sorted order.
func Defaults(env []string, defaults map[string]string) []string {
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := Get(env, k); !ok {
			env = append(env, k+"="+defaults[k])
		}
	}
	return env
}
