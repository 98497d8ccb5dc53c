package pyreq

import (
	"fmt"
	"slices"
	"strings"
)

// Requirement is one parsed PEP 508 dependency specification.
type Requirement struct {
	Name      string   // as written
	Extras    []string // normalized, sorted, deduplicated
	Specifier string   // e.g. "==1.4.2" or ">=1.0,<2" ("" when none), whitespace removed
	URL       string   // for "name @ url" (parsed so the caller can reject it)
	Marker    *Marker  // nil means always
}

// ParseRequirement parses a PEP 508 requirement such as
// `django-allauth[socialaccount] == 65.14.1 ; python_version >= "3.10"`.
func ParseRequirement(s string) (Requirement, error) {
	r, err := parseRequirement(s)
	if err != nil {
		return Requirement{}, fmt.Errorf("requirement %q: %w", s, err)
	}
	return r, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func parseRequirement(s string) (Requirement, error) {
	var r Requirement
	i := skipSpace(s, 0)
	start := i
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	r.Name = s[start:i]
	if r.Name == "" {
		return r, fmt.Errorf("does not start with a package name: write e.g. requests==2.33.0")
	}
	if !validName.MatchString(r.Name) {
		return r, fmt.Errorf("%q is not a valid package name: use letters, digits and . _ - and start and end with a letter or digit", r.Name)
	}
	i = skipSpace(s, i)
	if i < len(s) && s[i] == '[' {
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return r, fmt.Errorf("the [ of the extras is never closed: add a ]")
		}
		extras, err := parseExtras(s[i+1 : i+end])
		if err != nil {
			return r, err
		}
		r.Extras = extras
		i = skipSpace(s, i+end+1)
	}
	if i < len(s) && s[i] == '@' {
		i = skipSpace(s, i+1)
		start := i
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		r.URL = s[start:i]
		if r.URL == "" {
			return r, fmt.Errorf("nothing follows @: write name @ https://... or drop the @")
		}
		// A marker after a URL needs whitespace before ";", since ";" may be part of a URL.
		rest := strings.TrimSpace(s[i:])
		if rest == "" {
			return r, nil
		}
		if rest[0] != ';' {
			return r, fmt.Errorf("unexpected %q after the URL: only '; marker' may follow it", rest)
		}
		m, err := parseReqMarker(rest[1:])
		r.Marker = m
		return r, err
	}
	spec, next, err := parseSpecifier(s, i)
	if err != nil {
		return r, err
	}
	r.Specifier = spec
	i = skipSpace(s, next)
	if i == len(s) {
		return r, nil
	}
	switch s[i] {
	case ';':
		m, err := parseReqMarker(s[i+1:])
		r.Marker = m
		return r, err
	case '@':
		return r, fmt.Errorf("has both a version and a URL: keep one of them")
	case '[':
		return r, fmt.Errorf("extras must come right after the name, before the version: write name[extra]%s", spec)
	}
	return r, fmt.Errorf("unexpected %q: expected a version such as ==1.0, separate versions with commas, or start a marker with ';'", s[i:])
}

func parseExtras(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if !validName.MatchString(e) {
			return nil, fmt.Errorf("extra %q is not a valid name: list extras as [a,b] with letters, digits and . _ -", e)
		}
		out = append(out, NormalizeName(e))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseReqMarker(s string) (*Marker, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("nothing follows ';': write a marker such as python_version >= \"3.11\" or drop the ';'")
	}
	return ParseMarker(strings.TrimSpace(s))
}

// parseSpecifier reads an optional version specifier starting at s[i], with or without
// parentheses, and returns it without whitespace and the offset after it.
func parseSpecifier(s string, i int) (string, int, error) {
	paren := i < len(s) && s[i] == '('
	if paren {
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == ')' {
			return "", i + 1, nil
		}
	} else if i >= len(s) || !strings.ContainsRune("<>=!~", rune(s[i])) {
		return "", i, nil
	}
	var clauses []string
	for {
		i = skipSpace(s, i)
		op := ""
		for _, o := range specOps {
			if strings.HasPrefix(s[i:], o) {
				op = o
				break
			}
		}
		if op == "" {
			return "", i, fmt.Errorf("expected a version operator (== != < <= > >= ~= ===) at %q", s[i:])
		}
		i = skipSpace(s, i+len(op))
		start := i
		for i < len(s) && !isSpace(s[i]) && !strings.ContainsRune(",;()[]", rune(s[i])) {
			i++
		}
		ver := s[start:i]
		if err := checkClause(op, ver); err != nil {
			return "", i, err
		}
		clauses = append(clauses, op+ver)
		i = skipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		break
	}
	if paren {
		if i >= len(s) || s[i] != ')' {
			return "", i, fmt.Errorf("the ( before the versions is never closed: add a )")
		}
		i++
	}
	return strings.Join(clauses, ","), i, nil
}

// Pin returns the exact version of a requirement pinned with "==X" (no wildcard) or "===X".
func (r Requirement) Pin() (version string, ok bool) {
	if r.Specifier == "" || strings.Contains(r.Specifier, ",") {
		return "", false
	}
	if v, ok := strings.CutPrefix(r.Specifier, "==="); ok {
		return v, true
	}
	if v, ok := strings.CutPrefix(r.Specifier, "=="); ok && !strings.HasSuffix(v, ".*") {
		return v, true
	}
	return "", false
}

// String renders the requirement canonically, e.g. `name[a,b]>=1.0,<2; os_name == "posix"`.
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	b.WriteString(r.Specifier)
	if r.URL != "" {
		b.WriteString(" @ " + r.URL)
		if r.Marker != nil {
			b.WriteString(" ")
		}
	}
	if r.Marker != nil {
		b.WriteString("; " + r.Marker.String())
	}
	return b.String()
}
