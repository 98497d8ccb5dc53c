package envfile

// This file is not test-only on purpose: the end-to-end suite reuses CompareWithSystemd
// against a booted systemd, and `go test` here uses it against systemd's own library.

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Runner says how to make systemd load one environment file and print the environment
// that results, as NUL-terminated KEY=VALUE records (what `env -0` prints).
type Runner struct {
	Name string
	// Argv is the command; "{file}" inside any argument is replaced by the file's path
	// as the command sees it. A non-zero exit means systemd refused the file.
	Argv []string
	// Root, when set, is where the command's file system is seen from here (for
	// example /proc/PID/root of a container). Files are copied under Root/tmp first.
	Root string
}

// SystemdRun loads files through a transient service of the systemd that is PID 1 here
// (needs root and /run/systemd/system).
func SystemdRun() Runner {
	return Runner{Name: "systemd-run", Argv: systemdRunArgv()}
}

// Nsenter loads files through systemd-run inside the booted container whose init has
// pid (as seen from here), entering all its namespaces.
func Nsenter(pid int) Runner {
	p := strconv.Itoa(pid)
	return Runner{
		Name: "nsenter -t " + p,
		Argv: append([]string{"nsenter", "-t", p, "-a"}, systemdRunArgv()...),
		Root: "/proc/" + p + "/root",
	}
}

func systemdRunArgv() []string {
	return []string{"systemd-run", "--wait", "--pipe", "--quiet", "--collect",
		"-p", "EnvironmentFile={file}", "/usr/bin/env", "-0"}
}

//go:embed sdharness/load_env_file.c
var harnessSource []byte

// libsystemdGlobs are where distributions install systemd's private shared library.
var libsystemdGlobs = []string{
	"/usr/lib/*/systemd/libsystemd-shared-*.so",
	"/usr/lib64/systemd/libsystemd-shared-*.so",
	"/usr/lib/systemd/libsystemd-shared-*.so",
	"/lib/systemd/libsystemd-shared-*.so",
}

// BuildHarness compiles a small C program into dir that calls systemd's own
// load_env_file() from the installed libsystemd-shared library, the same code PID 1
// runs for EnvironmentFile=. It works where systemd is installed but not running
// (build hosts, containers). It needs a C compiler ($CC or cc).
func BuildHarness(ctx context.Context, dir string) (Runner, error) {
	var libs []string
	for _, g := range libsystemdGlobs {
		m, _ := filepath.Glob(g)
		libs = append(libs, m...)
	}
	if len(libs) == 0 {
		return Runner{}, fmt.Errorf("libsystemd-shared-*.so not found in %s; install systemd", strings.Join(libsystemdGlobs, ", "))
	}
	sort.Strings(libs)
	lib := libs[len(libs)-1]
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return Runner{}, fmt.Errorf("no C compiler (%s): %w; install gcc or set CC", cc, err)
	}
	src := filepath.Join(dir, "load_env_file.c")
	if err := os.WriteFile(src, harnessSource, 0o644); err != nil {
		return Runner{}, fmt.Errorf("write %s: %w", src, err)
	}
	bin := filepath.Join(dir, "load-env-file")
	libDir := filepath.Dir(lib)
	cmd := exec.CommandContext(ctx, cc, "-o", bin, src, "-L"+libDir, "-l:"+filepath.Base(lib), "-Wl,-rpath,"+libDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return Runner{}, fmt.Errorf("compile %s against %s: %w: %s", src, lib, err, bytes.TrimSpace(out))
	}
	return Runner{Name: filepath.Base(lib), Argv: []string{bin, "{file}"}}, nil
}

// CompareWithSystemd loads each file with Parse and through r, and returns an error
// listing every difference: a key systemd set that Parse did not, or set differently,
// or a file one side refused and the other accepted. Variables the runner prints for
// an empty file (a service manager's own, such as PATH or INVOCATION_ID) are ignored
// unless the file sets them. Files Parse rejects as ErrVersionDependent are skipped.
func CompareWithSystemd(ctx context.Context, r Runner, files []string) error {
	if len(r.Argv) == 0 {
		return errors.New("compare with systemd: the runner has no command; use SystemdRun, Nsenter or BuildHarness")
	}
	tmpParent := os.TempDir()
	if r.Root != "" {
		tmpParent = filepath.Join(r.Root, "tmp")
	}
	tmp, err := os.MkdirTemp(tmpParent, "mathesar-envfile-cmp-")
	if err != nil {
		return fmt.Errorf("compare with systemd: make a directory the runner can read: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}

	run := func(name string, data []byte) (map[string]string, error) {
		local := filepath.Join(tmp, name)
		if err := os.WriteFile(local, data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", local, err)
		}
		seen := local
		if r.Root != "" {
			seen = "/" + strings.TrimPrefix(strings.TrimPrefix(local, filepath.Clean(r.Root)), "/")
		}
		argv := make([]string, len(r.Argv))
		for i, a := range r.Argv {
			argv[i] = strings.ReplaceAll(a, "{file}", seen)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		env := map[string]string{}
		for _, rec := range strings.Split(stdout.String(), "\x00") {
			if rec == "" {
				continue
			}
			k, v, ok := strings.Cut(rec, "=")
			if !ok {
				return nil, fmt.Errorf("%s printed %q, not KEY=VALUE; the runner must print `env -0` output", argv[0], rec)
			}
			env[k] = v
		}
		return env, nil
	}

	baseline, err := run("empty.env", nil)
	if err != nil {
		return fmt.Errorf("compare with systemd via %s: the runner fails on an empty file, so it cannot be used: %w", r.Name, err)
	}

	var problems []string
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("compare with systemd: %w", err)
		}
		entries, _, perr := Parse(bytes.NewReader(data), f)
		got, rerr := run(fmt.Sprintf("%03d-%s", i, filepath.Base(f)), data)
		switch {
		case perr != nil && errors.Is(perr, ErrVersionDependent):
			continue
		case perr != nil && rerr == nil:
			problems = append(problems, fmt.Sprintf("%s: Parse refuses the file (%v) but %s accepts it", f, perr, r.Name))
			continue
		case perr != nil:
			continue
		case rerr != nil:
			problems = append(problems, fmt.Sprintf("%s: %s refuses the file (%v) but Parse accepts it", f, r.Name, rerr))
			continue
		}
		want := map[string]string{}
		for _, e := range entries {
			want[e.Key] = e.Value
		}
		for _, k := range sortedKeys(want) {
			if v, ok := got[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: Parse sets %s=%q, %s does not set it", f, k, want[k], r.Name))
			} else if v != want[k] {
				problems = append(problems, fmt.Sprintf("%s: %s: Parse reads %q, %s reads %q", f, k, want[k], r.Name, v))
			}
		}
		for _, k := range sortedKeys(got) {
			if _, ok := want[k]; ok {
				continue
			}
			if _, ok := baseline[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %s sets %s=%q, Parse does not", f, r.Name, k, got[k]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("envfile.Parse and %s disagree (fix the parser to match systemd):\n  %s", r.Name, strings.Join(problems, "\n  "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
