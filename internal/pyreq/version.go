package pyreq

import (
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// specOps lists the PEP 440 comparison operators, longest first so that a lexer taking the
// first match reads "===" rather than "==".
var specOps = []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"}

var (
	// specVersionChars is checked before handing a version to go-pep440-version, whose
	// parser is more lenient than packaging: it accepts a leading "v" in specifiers and
	// splits on "||", which PEP 440 specifiers do not allow.
	specVersionChars = regexp.MustCompile(`^[0-9][A-Za-z0-9.*+!_-]*$`)
	// wildcardBase is what may precede ".*": packaging (>= 22) accepts only an epoch and a
	// release segment there.
	wildcardBase = regexp.MustCompile(`^(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)$`)
	// leadingRelease reads the epoch and release segment of a normalized version string.
	leadingRelease = regexp.MustCompile(`^(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)`)
)

// checkClause validates one specifier clause such as ">=1.0" or "==3.*".
func checkClause(op, ver string) error {
	if ver == "" {
		return fmt.Errorf("operator %s has no version after it: write e.g. %s1.0", op, op)
	}
	if op == "===" {
		// Arbitrary equality compares strings; PEP 440 puts no rule on the right side.
		return nil
	}
	if !specVersionChars.MatchString(ver) {
		return fmt.Errorf("%q is not a PEP 440 version: write digits and dots such as 1.4.2", ver)
	}
	if base, ok := strings.CutSuffix(ver, ".*"); ok {
		if op != "==" && op != "!=" {
			return fmt.Errorf("%s%s: a .* wildcard is only allowed with == or !=", op, ver)
		}
		if !wildcardBase.MatchString(base) {
			return fmt.Errorf("%s%s: a .* wildcard must follow a plain release such as 3.*", op, ver)
		}
		return nil
	}
	if _, err := pep440.NewSpecifiers(op + ver); err != nil {
		return fmt.Errorf("%s%s is not a valid PEP 440 specifier (%v): use a version such as 1.4.2", op, ver, err)
	}
	return nil
}

// specContains reports whether version v satisfies the single clause op+ver, the way
// packaging's Specifier.contains(v, prereleases=True) does. ok is false when the clause is
// not a valid specifier or v is not a PEP 440 version, so the caller falls back to strings.
func specContains(v, op, ver string) (result, ok bool) {
	if op == "===" || checkClause(op, ver) != nil {
		return false, false
	}
	pv, err := pep440.Parse(v)
	if err != nil {
		return false, false
	}
	defer func() {
		// go-pep440-version calls MustParse internally; a panic there on input we did not
		// foresee must not take down the build, so it is reported as "not comparable".
		if recover() != nil {
			result, ok = false, false
		}
	}()
	switch {
	case strings.HasSuffix(ver, ".*"):
		m := prefixMatch(pv, strings.TrimSuffix(ver, ".*"))
		if op == "!=" {
			return !m, true
		}
		return m, true
	case op == "~=":
		// ~=V means >=V and ==P.* where P is V's release without its last part. Done here
		// rather than by the library because its wildcard matching pads the wrong side.
		sv := pep440.MustParse(ver)
		m := leadingRelease.FindStringSubmatch(sv.String())
		rel := strings.Split(m[2], ".")
		prefix := strings.Join(rel[:len(rel)-1], ".")
		if m[1] != "" {
			prefix = m[1] + "!" + prefix
		}
		return pv.GreaterThanOrEqual(sv) && prefixMatch(pv, prefix), true
	}
	ss, err := pep440.NewSpecifiers(op + ver)
	if err != nil {
		return false, false
	}
	return ss.Check(pv), true
}

// prefixMatch implements "== base.*" for a release-only base the way packaging >= 24 does:
// same epoch, and v's release padded with zeros and cut to base's length equals base.
// Hand-written because go-pep440-version's padVersion compares the wrong slices when v has
// fewer release parts than base ("3.10" == "3.10.0.*" must hold).
func prefixMatch(v pep440.Version, base string) bool {
	bm := wildcardBase.FindStringSubmatch(base)
	vm := leadingRelease.FindStringSubmatch(v.Public())
	if bm == nil || vm == nil {
		return false
	}
	if epochOf(bm[1]) != epochOf(vm[1]) {
		return false
	}
	want := strings.Split(bm[2], ".")
	have := strings.Split(vm[2], ".")
	for i, w := range want {
		h := "0"
		if i < len(have) {
			h = have[i]
		}
		if !sameNumber(h, w) {
			return false
		}
	}
	return true
}

func epochOf(s string) string {
	return strings.TrimLeft(s, "0")
}

// sameNumber compares decimal strings by value without overflowing on long digit runs.
func sameNumber(a, b string) bool {
	return strings.TrimLeft(a, "0") == strings.TrimLeft(b, "0")
}
