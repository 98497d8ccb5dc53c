// Package config decides the value of every Mathesar setting for one launcher run and
// remembers where each value came from.
//
// The config file is a systemd environment file (see package envfile), the same file
// mathesar.service names in EnvironmentFile=, so the launcher and systemd read it
// identically. Which file: $MATHESAR_CONFIG if set, else /etc/mathesar/mathesar.env for
// the system install, else $XDG_CONFIG_HOME/mathesar/mathesar.env
// (~/.config/mathesar/mathesar.env).
//
// Precedence, highest first:
//
//	default:                       flag > config file > environment > default
//	run -e/--prefer-exported-env:  flag > environment > config file > default
//
// The file wins over exported variables by default, as in Mathesar's own bin/mathesar,
// because the service sees only the file: a value exported in an admin's shell must not
// make `mathesar run` behave differently from the service. -e reverses that for
// one-off experiments. Flags always win because they are typed for this run.
//
// Unknown keys in the file are kept and passed on (systemd passes them too) but warned
// about, since they are usually typos.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mathesar-foundation/mathesar-packaging/internal/envfile"
)

// SystemFile is the config file of a system install, read by mathesar.service.
const SystemFile = "/etc/mathesar/mathesar.env"

// Source is where a setting's value came from, lowest precedence first.
type Source int

const (
	Default Source = iota
	ConfigFile
	Environment
	Flag
)

func (s Source) String() string {
	switch s {
	case Default:
		return "default"
	case ConfigFile:
		return "config file"
	case Environment:
		return "environment"
	case Flag:
		return "flag"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Setting is the value a key resolved to.
type Setting struct {
	Key, Value string
	Source     Source
	Secret     bool   // the whole value is secret; print Mask(s), never Value
	Origin     string // "/etc/mathesar/mathesar.env:4", "environment", "flag --port", "default"
}

// Warning is a problem worth telling the admin that does not stop Mathesar.
type Warning struct {
	Key     string
	Origin  string
	Message string // a whole sentence naming the next step
}

func (w Warning) String() string { return w.Message }

// Path returns the config file to use: $MATHESAR_CONFIG if set, else SystemFile when
// system is true, else $XDG_CONFIG_HOME/mathesar/mathesar.env (an unset or relative
// XDG_CONFIG_HOME means ~/.config, as the XDG spec says). The file may not exist.
func Path(system bool) (string, error) {
	if p := os.Getenv("MATHESAR_CONFIG"); p != "" {
		return p, nil
	}
	if system {
		return SystemFile, nil
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "mathesar", "mathesar.env"), nil
	}
	home := os.Getenv("HOME")
	if home == "" {
		return "", errors.New("find the user config file: neither XDG_CONFIG_HOME nor HOME is set; set MATHESAR_CONFIG to the file's path")
	}
	return filepath.Join(home, ".config", "mathesar", "mathesar.env"), nil
}

// Resolver holds the inputs of one resolution.
type Resolver struct {
	File      string            // config file; "" for none; a missing file counts as empty
	Environ   []string          // the process environment, as os.Environ returns it
	Flags     map[string]string // setting key (e.g. MATHESAR_PORT) -> value of flags given on the command line
	PreferEnv bool              // run -e/--prefer-exported-env
	Defaults  map[string]string // values used when no source sets a key
}

// Resolved is the outcome of Resolve.
type Resolved struct {
	File       string
	FileExists bool
	settings   map[string]Setting
	environ    map[string]string
}

// Resolve reads the config file and merges the sources by precedence. Errors are for
// a file that cannot be read or that systemd would refuse, and for flags naming keys
// that are not settings (a bug in the caller).
func (r Resolver) Resolve() (*Resolved, []Warning, error) {
	res := &Resolved{File: r.File, settings: map[string]Setting{}, environ: map[string]string{}}
	var warns []Warning

	for k := range r.Flags {
		if info, ok := Lookup(k); !ok || info.EnvOnly {
			return nil, nil, fmt.Errorf("resolve settings: flag value for %s, which is not a setting; add it to config.Known or fix the caller", k)
		}
	}

	var fileEntries []envfile.Entry
	if r.File != "" {
		entries, fw, err := envfile.ParseFile(r.File)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, nil, fmt.Errorf("read config file: %w", err)
		default:
			res.FileExists = true
			fileEntries = entries
			for _, w := range fw {
				warns = append(warns, Warning{Key: w.Key, Origin: fmt.Sprintf("%s:%d", r.File, w.Line), Message: w.String()})
			}
		}
	}

	envSettings := map[string]string{}
	var envKeys []string
	for _, kv := range r.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		res.environ[k] = v
		if info, known := Lookup(k); known && !info.EnvOnly {
			if _, dup := envSettings[k]; !dup {
				envKeys = append(envKeys, k)
			}
			envSettings[k] = v
		} else if !known && strings.HasPrefix(k, "MATHESAR_") {
			warns = append(warns, Warning{Key: k, Origin: "environment", Message: fmt.Sprintf(
				"unknown key %s in the environment (the launcher ignores it; check the spelling)", k)})
		}
	}

	set := func(k, v string, src Source, origin string) {
		res.settings[k] = Setting{Key: k, Value: v, Source: src, Secret: IsSecret(k), Origin: origin}
	}
	applyFile := func() {
		for _, e := range fileEntries {
			set(e.Key, e.Value, ConfigFile, fmt.Sprintf("%s:%d", r.File, e.Line))
		}
	}
	applyEnv := func() {
		for _, k := range envKeys {
			set(k, envSettings[k], Environment, "environment")
		}
	}

	for k, v := range r.Defaults {
		set(k, v, Default, "default")
	}
	if r.PreferEnv {
		applyFile()
		applyEnv()
	} else {
		applyEnv()
		applyFile()
	}
	for k, v := range r.Flags {
		origin := "flag"
		if info, _ := Lookup(k); info.Flag != "" {
			origin = "flag " + info.Flag
		}
		set(k, v, Flag, origin)
	}

	for _, e := range fileEntries {
		origin := fmt.Sprintf("%s:%d", r.File, e.Line)
		info, ok := Lookup(e.Key)
		switch {
		case !ok:
			warns = append(warns, Warning{Key: e.Key, Origin: origin, Message: fmt.Sprintf(
				"unknown key %s in %s (Mathesar ignores it; check the spelling)", e.Key, origin)})
		case info.EnvOnly:
			warns = append(warns, Warning{Key: e.Key, Origin: origin, Message: fmt.Sprintf(
				"%s in %s has no effect there; set it in the environment instead, or delete the line", e.Key, origin)})
		}
	}
	sort.SliceStable(warns, func(i, j int) bool { return originLess(warns[i].Origin, warns[j].Origin) })
	return res, warns, nil
}

// originLess orders "file:line" origins by file, then by line as a number.
func originLess(a, b string) bool {
	an, al := splitOrigin(a)
	bn, bl := splitOrigin(b)
	if an != bn {
		return an < bn
	}
	return al < bl
}

func splitOrigin(o string) (string, int) {
	if i := strings.LastIndexByte(o, ':'); i >= 0 {
		if n, err := strconv.Atoi(o[i+1:]); err == nil {
			return o[:i], n
		}
	}
	return o, 0
}

// Get returns the setting of key.
func (r *Resolved) Get(key string) (Setting, bool) {
	s, ok := r.settings[key]
	return s, ok
}

// All returns every setting, sorted by key.
func (r *Resolved) All() []Setting {
	out := make([]Setting, 0, len(r.settings))
	for _, s := range r.settings {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Environ returns the environment to start Python with: the process environment with
// every resolved setting (defaults included) set over it, sorted. Keys of the config
// file that Mathesar does not know are passed too, as systemd passes them.
func (r *Resolved) Environ() []string {
	env := make(map[string]string, len(r.environ)+len(r.settings))
	for k, v := range r.environ {
		env[k] = v
	}
	for k, s := range r.settings {
		env[k] = s.Value
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// CheckPermissions returns an error when the file at path, which holds secrets, can be
// read or written by users other than its owner and group.
func CheckPermissions(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check permissions of %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return fmt.Errorf("%s holds secrets but every user on this machine can access it (mode %04o); run: chmod 0640 %s", path, perm, path)
	}
	return nil
}
