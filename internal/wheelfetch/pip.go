package wheelfetch

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
)

// pipWrapper runs pip with the target's marker environment and reports index pages pip
// could not fetch; see the comments in the file.
//
//go:embed pipwrap.py
var pipWrapper string

// noPipExit is the wrapper's exit status when the interpreter cannot import pip.
const noPipExit = 120

// outcome classifies one pip run.
type outcome int

const (
	succeeded outcome = iota
	notFound          // "No matching distribution found": the index has no usable wheel
	failed            // anything else: network, index, resolver or pip trouble
)

// pipRun is what one pip run left behind.
type pipRun struct {
	outcome outcome
	// missing is the requirement pip named in "No matching distribution found for X".
	missing pyreq.Requirement
	output  string
}

var (
	noMatchRE = regexp.MustCompile(`(?m)No matching distribution found for (.+?)\s*$`)
	// fetchFailedRE matches the wrapper's echo of pip's "Could not fetch URL <url>: <reason> - skipping".
	fetchFailedRE = regexp.MustCompile(`(?m)^wheelfetch-fetch-failed: Could not fetch URL (\S+): (.*?)(?: - skipping)?\s*$`)
	// notFoundReasonRE is the reason pip gives for a 404: the project is not on that index,
	// which is a missing distribution rather than a network problem.
	notFoundReasonRE = regexp.MustCompile(`^404 `)
)

// pipRunner runs pip through the wrapper with one interpreter.
type pipRunner struct {
	python string
	dir    string // working directory, so a stray pip/ in the caller's directory is not imported
}

// run runs "pip args..." with markers evaluated in env (nil: the host's).
func (r pipRunner) run(ctx context.Context, env pyreq.Env, args ...string) (pipRun, error) {
	if env == nil {
		env = pyreq.Env{}
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return pipRun{}, fmt.Errorf("encode the marker environment: %w", err)
	}
	return r.runWrapper(ctx, append([]string{string(envJSON)}, args...)...)
}

// runWrapper runs the wrapper script with args and classifies the outcome.
func (r pipRunner) runWrapper(ctx context.Context, args ...string) (pipRun, error) {
	cmd := exec.CommandContext(ctx, r.python, append([]string{"-c", pipWrapper}, args...)...)
	cmd.Dir = r.dir
	// pip reads PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, proxies and certificates
	// from the environment: that is how a build points it at a mirror.
	cmd.Env = os.Environ()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := pipRun{output: out.String()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("pip download interrupted: %w", ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		res.outcome = succeeded
		return res, nil
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		return res, fmt.Errorf("%s not found: install Python 3 with pip (Debian: apt-get install python3 python3-pip) or name an interpreter that has pip", r.python)
	case !errors.As(err, &exitErr):
		return res, fmt.Errorf("run %s: %w", r.python, err)
	case exitErr.ExitCode() == noPipExit && strings.Contains(res.output, "wheelfetch-no-pip:"):
		return res, fmt.Errorf("%s has no pip (%s): install it (Debian: apt-get install python3-pip) or name an interpreter that has pip",
			r.python, strings.TrimSpace(strings.SplitN(strings.SplitN(res.output, "wheelfetch-no-pip:", 2)[1], "\n", 2)[0]))
	}
	res.outcome = failed
	for _, m := range fetchFailedRE.FindAllStringSubmatch(res.output, -1) {
		if !notFoundReasonRE.MatchString(m[2]) {
			// An unreachable index also ends in "No matching distribution": that must not
			// be reported as a wheel the package lacks.
			return res, nil
		}
	}
	if m := noMatchRE.FindStringSubmatch(res.output); m != nil {
		if req, err := pyreq.ParseRequirement(m[1]); err == nil {
			res.outcome, res.missing = notFound, req
		}
	}
	return res, nil
}

// probe checks that the interpreter has pip and returns the interpreter's real path (what
// later runs use) and pip's version.
func (r pipRunner) probe(ctx context.Context) (python, version string, err error) {
	res, err := r.runWrapper(ctx, "probe")
	if err != nil {
		return "", "", err
	}
	lines := strings.Split(strings.TrimSpace(res.output), "\n")
	if res.outcome != succeeded || len(lines) != 2 {
		return "", "", fmt.Errorf("%s cannot run pip:\n%s\ninstall pip (Debian: apt-get install python3-pip) or name an interpreter that has pip", r.python, tail(res.output, 10))
	}
	python = strings.TrimSpace(lines[0])
	if python == "" { // sys.executable is empty when Python cannot tell
		python = r.python
	}
	return python, strings.TrimSpace(lines[1]), nil
}

// tail returns the last n non-blank lines of pip's output, indented, for error messages.
func tail(output string, n int) string {
	var lines []string
	for _, l := range strings.Split(output, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, "  "+strings.TrimRight(l, "\r "))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
