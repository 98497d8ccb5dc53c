package pytags

// The interpreter-tag logic below is a port of packaging 24.1 (the copy pip 24.2 vendors):
// tags.cpython_tags, tags.compatible_tags, tags._cpython_abis and tags.sys_tags, which
// pip uses to rank the wheels it may install.

import (
	"fmt"
	"slices"
	"strings"
)

// oldestMinor is the oldest CPython 3 minor accepted: older ones are long out of support,
// and packaging's ABI rules for them (3.3 and older) differ again.
const oldestMinor = 7

// ABI returns the ABI tag of a plain CPython 3.<minor>: "cp3<minor>", except "cp37m" for
// 3.7, whose default (pymalloc) build packaging tags with an "m" (_cpython_abis).
func ABI(minor int) string {
	if minor < 8 {
		return fmt.Sprintf("cp3%dm", minor)
	}
	return fmt.Sprintf("cp3%d", minor)
}

// interpreter is the "cp3<minor>" interpreter tag (packaging's _version_nodot).
func interpreter(minor int) string {
	return fmt.Sprintf("cp3%d", minor)
}

// CPythonTags returns every tag CPython 3.<minor> accepts on the platform, best first,
// as packaging.tags.sys_tags yields them on such a machine:
// packaging.tags.cpython_tags (cp3X-cp3X-*, cp3X-abi3-*, cp3X-none-*, then
// cp3(X-1)…cp32-abi3-*) followed by packaging.tags.compatible_tags (py3X-none-*,
// py3-none-*, py3(X-1)…py30-none-*, cp3X-none-any, py3X-none-any, py3-none-any, …),
// where * runs over p.PlatformTags() in order.
//
// Only the plain ABI (ABI(minor)) is considered: not debug builds ("cp3Xd"), which also
// accept the plain ABI, nor free-threaded builds ("cp313t"), which do not accept abi3.
//
// It panics if minor or p is invalid; SupportedTags is the checked form. Platforms from
// DefaultPlatform and minors from 7 up are always valid.
func CPythonTags(minor int, p Platform) []Tag {
	tags, err := SupportedTags(minor, p)
	if err != nil {
		panic("pytags: " + err.Error())
	}
	return tags
}

// SupportedTags is CPythonTags that reports an invalid minor or platform as an error.
func SupportedTags(minor int, p Platform) ([]Tag, error) {
	if minor < oldestMinor {
		return nil, fmt.Errorf("CPython 3.%d is not supported: use 3.%d or newer", minor, oldestMinor)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	platforms := p.PlatformTags()
	interp := interpreter(minor)
	var tags []Tag
	add := func(interp, abi string) {
		for _, plat := range platforms {
			tags = append(tags, Tag{Interpreter: interp, ABI: abi, Platform: plat})
		}
	}

	// cpython_tags(python_version=(3, minor), abis=[ABI(minor)], platforms=platforms).
	// abi3 applies from 3.2 on and only to builds with the GIL.
	add(interp, ABI(minor))
	add(interp, "abi3")
	add(interp, "none")
	for older := minor - 1; older > 1; older-- {
		add(interpreter(older), "abi3")
	}

	// compatible_tags(python_version=(3, minor), interpreter=interp, platforms=platforms);
	// sys_tags passes the cp interpreter since packaging 22.0.
	pyRange := pyInterpreterRange(minor)
	for _, py := range pyRange {
		add(py, "none")
	}
	tags = append(tags, Tag{Interpreter: interp, ABI: "none", Platform: "any"})
	for _, py := range pyRange {
		tags = append(tags, Tag{Interpreter: py, ABI: "none", Platform: "any"})
	}
	return tags, nil
}

// pyInterpreterRange ports tags._py_interpreter_range for (3, minor):
// py3<minor>, py3, then py3<minor-1> down to py30.
func pyInterpreterRange(minor int) []string {
	r := []string{fmt.Sprintf("py3%d", minor), "py3"}
	for older := minor - 1; older >= 0; older-- {
		r = append(r, fmt.Sprintf("py3%d", older))
	}
	return r
}

// Ranking maps each accepted tag to its position (0 is best).
type Ranking map[Tag]int

// NewRanking ranks tags by their position; a repeated tag keeps its first (best) position,
// as pip's index lookup in the supported-tags list does.
func NewRanking(tags []Tag) Ranking {
	r := make(Ranking, len(tags))
	for i, t := range tags {
		if _, seen := r[t]; !seen {
			r[t] = i
		}
	}
	return r
}

// Best returns the best (lowest) rank among a wheel's tags and whether any tag is accepted.
// This is pip's Wheel.support_index_min: the wheel with the lowest rank is the one pip installs.
func (r Ranking) Best(tags []Tag) (rank int, ok bool) {
	for _, t := range tags {
		if i, accepted := r[t]; accepted && (!ok || i < rank) {
			rank, ok = i, true
		}
	}
	return rank, ok
}

// ParseTagSet expands a possibly compressed tag set as a wheel filename writes it, such as
// "cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64" or "py2.py3-none-any", into its
// tags, lowercased and sorted, as packaging.tags.parse_tag does.
func ParseTagSet(s string) ([]Tag, error) {
	parts := strings.Split(strings.ToLower(s), "-")
	if len(parts) != 3 {
		return nil, fmt.Errorf("tag set %q: want interpreter-abi-platform, such as py3-none-any", s)
	}
	fields := make([][]string, 3)
	for i, part := range parts {
		fields[i] = strings.Split(part, ".")
		for _, f := range fields[i] {
			if f == "" {
				return nil, fmt.Errorf("tag set %q: empty component in %q; separate alternatives with single dots", s, part)
			}
		}
	}
	seen := map[Tag]bool{}
	var tags []Tag
	for _, in := range fields[0] {
		for _, abi := range fields[1] {
			for _, plat := range fields[2] {
				t := Tag{Interpreter: in, ABI: abi, Platform: plat}
				if !seen[t] {
					seen[t] = true
					tags = append(tags, t)
				}
			}
		}
	}
	sortTags(tags)
	return tags, nil
}

func sortTags(tags []Tag) {
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.String(), b.String()) })
}
