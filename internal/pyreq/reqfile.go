package pyreq

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Line is one requirement read from a requirements file.
type Line struct {
	File        string // path as given (includes: joined onto the including file's directory)
	Line        int    // 1-based line where the requirement starts
	Requirement Requirement
	Hashes      []string // from --hash options, "sha256:<hex>", sorted and deduplicated
}

// commentRE is pip's COMMENT_RE: a # at the start of a line or after whitespace.
var commentRE = regexp.MustCompile(`(^|\s+)#.*$`)

// hashHexLen is the hex digest length of each algorithm pip accepts in --hash.
var hashHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

var hexDigits = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// ParseRequirementsFile reads a pip requirements file and the files it includes with -r,
// returning requirements in file order (an include's lines where the -r stands). Anything
// a reproducible wheel-only bundle build cannot honour (editables, index options, URLs,
// local paths, unknown options) is an error, and every error found is reported.
func ParseRequirementsFile(path string) ([]Line, error) {
	p := &reqFileParser{}
	lines := p.parse(path, "", 0, nil)
	return lines, errors.Join(p.errs...)
}

type reqFileParser struct {
	errs []error
}

func (p *reqFileParser) errorf(file string, line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

// parse reads one file. stack holds the files being read, outermost first, for cycle
// detection; from/fromLine say where the include stands (fromLine 0 for the top file).
func (p *reqFileParser) parse(path, from string, fromLine int, stack []openFile) []Line {
	id := fileIdentity(path)
	if i := slices.IndexFunc(stack, func(f openFile) bool { return f.id == id }); i >= 0 {
		var chain []string
		for _, f := range stack[i:] {
			chain = append(chain, f.path)
		}
		p.errorf(from, fromLine, "-r %s: include cycle %s -> %s: remove one of these includes",
			path, strings.Join(chain, " -> "), path)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if fromLine == 0 {
			p.errs = append(p.errs, fmt.Errorf("read requirements file: %w: check the path", err))
		} else {
			p.errorf(from, fromLine, "-r %s: %v: fix the path (it is relative to %s)", path, err, from)
		}
		return nil
	}
	stack = append(stack, openFile{id: id, path: path})
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var out []Line
	for _, ll := range joinLines(string(data)) {
		out = append(out, p.parseLine(path, ll.num, ll.text, stack)...)
	}
	return out
}

type openFile struct {
	id   string // fileIdentity
	path string // as given, for messages
}

// fileIdentity names a file independently of how a path spells it, so a cycle through
// "a.txt" and "./sub/../a.txt" is still found.
func fileIdentity(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

type logicalLine struct {
	num  int
	text string
}

// joinLines applies pip's preprocessing: lines ending in a backslash continue on the next
// line (unless they are comments), then comments and blank lines are dropped.
func joinLines(data string) []logicalLine {
	var out []logicalLine
	var buf strings.Builder
	start := 0 // line number of the first physical line of buf; 0 when not continuing
	raw := strings.Split(data, "\n")
	if len(raw) > 0 && raw[len(raw)-1] == "" {
		raw = raw[:len(raw)-1]
	}
	flush := func(num int, text string) {
		text = strings.TrimSpace(commentRE.ReplaceAllString(text, ""))
		if text != "" {
			out = append(out, logicalLine{num, text})
		}
	}
	for i, line := range raw {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasSuffix(line, `\`) && !commentRE.MatchString(line) {
			if start == 0 {
				start = i + 1
			}
			buf.WriteString(strings.TrimRight(line, `\`))
			continue
		}
		if start > 0 {
			if commentRE.MatchString(line) {
				line = " " + line // keeps a continued comment a comment, as pip does
			}
			buf.WriteString(line)
			flush(start, buf.String())
			buf.Reset()
			start = 0
			continue
		}
		flush(i+1, line)
	}
	if start > 0 {
		flush(start, buf.String())
	}
	return out
}

// parseLine handles one logical line: an option line, or a requirement with --hash options.
func (p *reqFileParser) parseLine(file string, num int, text string, stack []openFile) []Line {
	fields := strings.Fields(text)
	if strings.HasPrefix(fields[0], "-") {
		return p.parseOptionLine(file, num, fields, stack)
	}
	// As in pip, the requirement is every word up to the first one starting with "-".
	n := slices.IndexFunc(fields, func(f string) bool { return strings.HasPrefix(f, "-") })
	if n < 0 {
		n = len(fields)
	}
	reqText := strings.Join(fields[:n], " ")
	hashes, ok := p.parseHashes(file, num, fields[n:])
	req, err := ParseRequirement(reqText)
	switch {
	case err == nil && req.URL != "":
		p.errorf(file, num, "%s @ %s: direct URL requirements cannot be bundled reproducibly: pin %s==<version> from an index instead", req.Name, req.URL, req.Name)
		return nil
	case looksLikePathOrURL(reqText):
		p.errorf(file, num, "%s: URLs and local paths cannot be bundled reproducibly: publish the package to an index and pin it as name==version", fields[0])
		return nil
	case err != nil:
		p.errorf(file, num, "%v: fix the requirement (PEP 508, e.g. name==1.0)", err)
		return nil
	}
	if !ok {
		return nil
	}
	return []Line{{File: file, Line: num, Requirement: req, Hashes: hashes}}
}

// looksLikePathOrURL spots what pip would install from a path or URL rather than an index.
func looksLikePathOrURL(s string) bool {
	first := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' })
	if len(first) == 0 {
		return false
	}
	f := first[0]
	if strings.Contains(f, "://") || strings.HasPrefix(f, "file:") || strings.ContainsAny(f, `/\`) ||
		strings.HasPrefix(f, ".") || strings.HasPrefix(f, "~") {
		return true
	}
	for _, ext := range []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar"} {
		if strings.HasSuffix(strings.ToLower(f), ext) {
			return true
		}
	}
	return false
}

// parseHashes reads the options after a requirement; only --hash is allowed there.
func (p *reqFileParser) parseHashes(file string, num int, opts []string) ([]string, bool) {
	var hashes []string
	ok := true
	for i := 0; i < len(opts); i++ {
		name, value, hasValue := strings.Cut(opts[i], "=")
		if name != "--hash" {
			p.errorf(file, num, "option %s after a requirement cannot be honoured by a bundle build: remove it (only --hash may follow a requirement)", name)
			ok = false
			continue
		}
		if !hasValue {
			if i+1 >= len(opts) {
				p.errorf(file, num, "--hash has no value: write --hash=sha256:<hex digest>")
				ok = false
				continue
			}
			i++
			value = opts[i]
		}
		algo, digest, _ := strings.Cut(value, ":")
		want, known := hashHexLen[algo]
		if !known || len(digest) != want || !hexDigits.MatchString(digest) {
			p.errorf(file, num, "--hash %q is not a hash pip accepts: write --hash=sha256:<64 hex digits>", value)
			ok = false
			continue
		}
		hashes = append(hashes, algo+":"+strings.ToLower(digest))
	}
	slices.Sort(hashes)
	return slices.Compact(hashes), ok
}

// optionHelp says why an option a bundle build cannot honour is rejected and what to do.
var optionHelp = map[string]string{
	"-e":                "editable installs cannot be bundled: pin the package as name==version",
	"--editable":        "editable installs cannot be bundled: pin the package as name==version",
	"-i":                "the bundle build chooses its own package index: remove the option",
	"--index-url":       "the bundle build chooses its own package index: remove the option",
	"--extra-index-url": "the bundle build chooses its own package index: remove the option",
	"--no-index":        "the bundle build chooses its own package index: remove the option",
	"-f":                "the bundle build does not read find-links: remove the option and pin packages from the index",
	"--find-links":      "the bundle build does not read find-links: remove the option and pin packages from the index",
	"-c":                "constraints files are not supported: pin the versions in the requirements file instead",
	"--constraint":      "constraints files are not supported: pin the versions in the requirements file instead",
	"--no-binary":       "the bundle is built from wheels only: remove the option",
	"--hash":            "a --hash must follow its requirement on the same line: move it there",
}

// harmlessOptions agree with what a wheel-only, pinned bundle build does anyway.
var harmlessOptions = map[string]bool{"--require-hashes": true, "--prefer-binary": true}

func (p *reqFileParser) parseOptionLine(file string, num int, fields []string, stack []openFile) []Line {
	var out []Line
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		name, value, hasValue := strings.Cut(f, "=")
		if !strings.HasPrefix(f, "--") && len(f) > 2 {
			name, value, hasValue = f[:2], f[2:], true // -rfile, as optparse reads short options
		}
		if !strings.HasPrefix(f, "-") {
			p.errorf(file, num, "%q follows an option: put each requirement on its own line", f)
			continue
		}
		takeValue := func() (string, bool) {
			if hasValue {
				return value, true
			}
			if i+1 < len(fields) {
				i++
				return fields[i], true
			}
			p.errorf(file, num, "%s needs a value: write %s <file>", name, name)
			return "", false
		}
		switch {
		case name == "-r" || name == "--requirement":
			inc, ok := takeValue()
			if !ok {
				continue
			}
			if strings.Contains(inc, "://") {
				p.errorf(file, num, "%s %s: remote requirement files are not supported: copy the file next to %s", name, inc, file)
				continue
			}
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(file), inc)
			}
			out = append(out, p.parse(inc, file, num, stack)...)
		case name == "--only-binary":
			v, ok := takeValue()
			if ok && v != ":all:" {
				p.errorf(file, num, "--only-binary %s: the bundle is built from wheels only: write --only-binary=:all: or remove the option", v)
			}
		case harmlessOptions[name]:
			if hasValue {
				p.errorf(file, num, "%s takes no value: write %s", name, name)
			}
		case optionHelp[name] != "":
			p.errorf(file, num, "%s: %s", name, optionHelp[name])
			return out // the rest of the line is that option's argument
		default:
			p.errorf(file, num, "unknown or unsupported option %s: remove it", name)
			return out
		}
	}
	return out
}
