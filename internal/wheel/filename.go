package wheel

import (
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pytags"
)

// Filename is a parsed wheel file name.
type Filename struct {
	Name    string // as in the file name (escaped form, e.g. "django_storages")
	Version string // as in the file name
	Build   string // optional build tag, "" when absent; starts with a digit
	Tags    []pytags.Tag
}

var (
	// nameRE is the PEP 508 project name rule; pip accepts a little more in file names
	// (leading "_", non-ASCII letters) but no index serves such names, so we refuse them.
	nameRE = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)
	// fileNameRE is the escaped form allowed in a wheel file name: no "-" (the field
	// separator) and, as in pip, no "__".
	fileNameRE  = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9._]*[a-z0-9])$`)
	normalizeRE = regexp.MustCompile(`[-_.]+`)
	tagPartRE   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// NormalizeName returns the PEP 503 normalized form of a project name
// ("Django_Storages" and "django-storages" both give "django-storages").
func NormalizeName(name string) string {
	return normalizeRE.ReplaceAllString(strings.ToLower(name), "-")
}

// EscapeName returns a project name as wheel file names and .dist-info directories
// spell it: lower case, every run of "-_." replaced by "_".
func EscapeName(name string) string {
	return normalizeRE.ReplaceAllString(strings.ToLower(name), "_")
}

// EscapeVersion returns a version as wheel file names spell it ("-" becomes "_").
func EscapeVersion(version string) string {
	return strings.ReplaceAll(version, "-", "_")
}

// sameVersion compares versions by PEP 440 equality so that "1.0" in a file name
// matches "1.0.0" or "1.0" in metadata the way pip treats them; versions that do not
// parse fall back to comparing their escaped spelling.
func sameVersion(a, b string) bool {
	va, errA := pep440.Parse(a)
	vb, errB := pep440.Parse(b)
	if errA == nil && errB == nil {
		return va.Equal(vb)
	}
	return EscapeVersion(a) == EscapeVersion(b)
}

// ParseTagSet expands a compressed tag set such as "py2.py3-none-any" into its tags, in
// order (interpreters outermost, platforms innermost). Like packaging.tags.parse_tag it
// lower-cases the parts; repeated parts are dropped.
func ParseTagSet(s string) ([]pytags.Tag, error) {
	fields := strings.Split(s, "-")
	if len(fields) != 3 {
		return nil, fmt.Errorf("tag set %q: want interpreters-abis-platforms, such as py2.py3-none-any", s)
	}
	var parts [3][]string
	for i, f := range fields {
		seen := map[string]bool{}
		for _, p := range strings.Split(f, ".") {
			if !tagPartRE.MatchString(p) {
				return nil, fmt.Errorf("tag set %q: part %q is not letters, digits and underscores", s, p)
			}
			p = strings.ToLower(p)
			if !seen[p] {
				seen[p] = true
				parts[i] = append(parts[i], p)
			}
		}
	}
	tags := make([]pytags.Tag, 0, len(parts[0])*len(parts[1])*len(parts[2]))
	for _, in := range parts[0] {
		for _, abi := range parts[1] {
			for _, plat := range parts[2] {
				tags = append(tags, pytags.Tag{Interpreter: in, ABI: abi, Platform: plat})
			}
		}
	}
	return tags, nil
}

// FormatTagSet compresses tags that form a product, as ParseTagSet returns them, back
// into "py2.py3-none-any" form.
func FormatTagSet(tags []pytags.Tag) string {
	var parts [3][]string
	seen := [3]map[string]bool{{}, {}, {}}
	for _, t := range tags {
		for i, p := range [3]string{t.Interpreter, t.ABI, t.Platform} {
			if !seen[i][p] {
				seen[i][p] = true
				parts[i] = append(parts[i], p)
			}
		}
	}
	return strings.Join(parts[0], ".") + "-" + strings.Join(parts[1], ".") + "-" + strings.Join(parts[2], ".")
}

// ParseFilename parses a wheel base name "{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl".
// It follows packaging.utils.parse_wheel_filename, but is stricter about the name (PEP
// 508 names only) and refuses whitespace in the version.
func ParseFilename(base string) (Filename, error) {
	bad := func(format string, args ...any) (Filename, error) {
		return Filename{}, fmt.Errorf("wheel file name %q: %s; wheel files are named {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl, rename or rebuild it", base, fmt.Sprintf(format, args...))
	}
	stem, ok := strings.CutSuffix(base, ".whl")
	if !ok {
		return bad("does not end in .whl")
	}
	fields := strings.Split(stem, "-")
	if len(fields) != 5 && len(fields) != 6 {
		return bad("has %d dash-separated fields, want 5 or 6", len(fields))
	}
	f := Filename{Name: fields[0], Version: fields[1]}
	if !fileNameRE.MatchString(f.Name) || strings.Contains(f.Name, "__") {
		return bad("project name %q is not a valid escaped name", f.Name)
	}
	if strings.TrimSpace(f.Version) != f.Version {
		return bad("version %q has surrounding whitespace", f.Version)
	}
	if _, err := pep440.Parse(f.Version); err != nil {
		return bad("version %q is not a PEP 440 version", f.Version)
	}
	if len(fields) == 6 {
		f.Build = fields[2]
		if f.Build == "" || f.Build[0] < '0' || f.Build[0] > '9' {
			return bad("build tag %q does not start with a digit", f.Build)
		}
	}
	tags, err := ParseTagSet(strings.Join(fields[len(fields)-3:], "-"))
	if err != nil {
		return bad("%v", err)
	}
	f.Tags = tags
	return f, nil
}

// String renders the file name back; tags are compressed with FormatTagSet.
func (f Filename) String() string {
	s := f.Name + "-" + f.Version
	if f.Build != "" {
		s += "-" + f.Build
	}
	return s + "-" + FormatTagSet(f.Tags) + ".whl"
}

// Project returns the PEP 503 normalized project name.
func (f Filename) Project() string { return NormalizeName(f.Name) }
