package wheelfetch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pyreq"
)

// Missing is one wheel the index does not have: a distribution for one CPython ABI on one
// target.
type Missing struct {
	Package string `json:"package"` // as requirements.txt (or pip, for a dependency) spells it
	// Version is the pinned version ("1.0"), or for a dependency requirements.txt does not
	// pin, the specifier pip could not satisfy (">=1.0", "" for any version).
	Version  string `json:"version"`
	ABI      string `json:"abi"`      // "cp310"
	Platform string `json:"platform"` // the newest platform tag the target accepts, e.g. "manylinux_2_28_x86_64" or "macosx_13_0_arm64"
	Target   string `json:"target"`   // the release target, e.g. "linux/amd64"
}

// requirement renders the package and version as a requirement a person can search for.
func (m Missing) requirement() string {
	switch {
	case m.Version == "":
		return m.Package + " (any version)"
	case unicode.IsDigit(rune(m.Version[0])):
		return m.Package + "==" + m.Version
	}
	return m.Package + m.Version
}

// compareMissing orders by package, version, target, then CPython minor (numerically, so
// cp39 would precede cp310).
func compareMissing(a, b Missing) int {
	return cmp.Or(
		cmp.Compare(pyreq.NormalizeName(a.Package), pyreq.NormalizeName(b.Package)),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Target, b.Target),
		cmp.Compare(len(a.ABI), len(b.ABI)),
		cmp.Compare(a.ABI, b.ABI),
		cmp.Compare(a.Platform, b.Platform),
	)
}

// sortMissing sorts and drops duplicates (the same dependency found through two lines).
func sortMissing(ms []Missing) []Missing {
	slices.SortFunc(ms, compareMissing)
	return slices.CompactFunc(ms, func(a, b Missing) bool { return compareMissing(a, b) == 0 })
}

// MissingError lists every wheel the index lacks, over all targets at once, so one fetch
// shows the whole problem.
type MissingError struct {
	Missing []Missing // sorted by package, version, target, ABI
}

// Error groups the missing wheels by package, then by target with its CPython ABIs:
//
//	the package index has no wheel for 2 requirement(s) on some targets:
//	  linuxonly==1.0
//	    darwin/arm64 (macosx_13_0_arm64): cp310, cp311
//	  ...
//	the package publishes no wheel for these targets: ...
func (e *MissingError) Error() string {
	var b strings.Builder
	groups := 0
	for i, m := range e.Missing {
		if i == 0 || m.requirement() != e.Missing[i-1].requirement() {
			groups++
		}
	}
	fmt.Fprintf(&b, "the package index has no wheel for %d requirement(s) on some targets:", groups)
	for i := 0; i < len(e.Missing); {
		req := e.Missing[i].requirement()
		fmt.Fprintf(&b, "\n  %s", req)
		for i < len(e.Missing) && e.Missing[i].requirement() == req {
			m := e.Missing[i]
			var abis []string
			for i < len(e.Missing) && e.Missing[i].requirement() == req && e.Missing[i].Target == m.Target {
				abis = append(abis, e.Missing[i].ABI)
				i++
			}
			fmt.Fprintf(&b, "\n    %s (%s): %s", m.Target, m.Platform, strings.Join(abis, ", "))
		}
	}
	b.WriteString("\nthe package publishes no wheel for these targets: build one, drop the target with " +
		"MATHESAR_PLATFORMS/MATHESAR_PYTHON_RANGE, or for a snapshot set MATHESAR_ALLOW_MISSING_DEPS=1")
	return b.String()
}
