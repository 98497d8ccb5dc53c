package pyreq

import (
	"fmt"
	"sort"
	"strings"
)

// markerVars are the PEP 508 environment marker variables.
var markerVars = map[string]bool{
	"python_version":                 true,
	"python_full_version":            true,
	"os_name":                        true,
	"sys_platform":                   true,
	"platform_release":               true,
	"platform_system":                true,
	"platform_version":               true,
	"platform_machine":               true,
	"platform_python_implementation": true,
	"implementation_name":            true,
	"implementation_version":         true,
	"extra":                          true,
}

// legacyVars are PEP 345 / setuptools spellings that packaging >= 22 no longer accepts, so a
// requirement using them would break on the pip inside the bundle too.
var legacyVars = map[string]string{
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
	"platform.python_implementation": "platform_python_implementation",
	"python_implementation":          "platform_python_implementation",
}

// Marker is a parsed PEP 508 environment marker.
type Marker struct {
	root node
}

// node is one of *orNode, *andNode or *cmpNode.
type node interface {
	eval(env Env) (bool, error)
	write(b *strings.Builder)
	vars(set map[string]bool)
}

type orNode struct{ terms []node }
type andNode struct{ terms []node }

// operand is either an environment variable or a quoted literal.
type operand struct {
	name  string // variable name when isVar
	value string // literal value when !isVar
	isVar bool
}

type cmpNode struct {
	lhs, rhs operand
	op       string
}

// ParseMarker parses a PEP 508 marker expression such as
// `python_version < "3.11" and sys_platform == "linux"`.
func ParseMarker(s string) (*Marker, error) {
	toks, err := lexMarker(s)
	if err != nil {
		return nil, fmt.Errorf("marker %q: %w", s, err)
	}
	p := &markerParser{toks: toks}
	root, err := p.parseOr()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %s: join conditions with 'and' or 'or'", p.toks[p.pos])
	}
	if err != nil {
		return nil, fmt.Errorf("marker %q: %w", s, err)
	}
	return &Marker{root: root}, nil
}

// String renders the marker canonically: single spaces, double quotes unless the value
// holds one, and only the parentheses precedence needs.
func (m *Marker) String() string {
	if m == nil || m.root == nil {
		return ""
	}
	var b strings.Builder
	m.root.write(&b)
	return b.String()
}

// Variables returns the sorted names of the environment variables the marker reads.
func (m *Marker) Variables() []string {
	set := map[string]bool{}
	if m != nil && m.root != nil {
		m.root.vars(set)
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Evaluate reports whether the marker holds in env. A nil marker always holds.
//
// "and" and "or" are decided as soon as the known terms decide them: `sys_platform ==
// "win32" and platform_release >= "10"` is false for a Linux target even though a build
// cannot know the target's platform_release. When the answer depends on a term that
// fails (a variable missing from env, an undefined comparison) that error is returned.
func (m *Marker) Evaluate(env Env) (bool, error) {
	if m == nil || m.root == nil {
		return true, nil
	}
	ok, err := m.root.eval(env)
	if err != nil {
		return false, fmt.Errorf("marker %q: %w", m.String(), err)
	}
	return ok, nil
}

func (n *orNode) eval(env Env) (bool, error) {
	var firstErr error
	for _, t := range n.terms {
		ok, err := t.eval(env)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case ok:
			return true, nil
		}
	}
	return false, firstErr
}

func (n *andNode) eval(env Env) (bool, error) {
	var firstErr error
	for _, t := range n.terms {
		ok, err := t.eval(env)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case !ok:
			return false, nil
		}
	}
	return firstErr == nil, firstErr
}

func (n *cmpNode) eval(env Env) (bool, error) {
	lhs, err := n.lhs.resolve(env)
	if err != nil {
		return false, err
	}
	rhs, err := n.rhs.resolve(env)
	if err != nil {
		return false, err
	}
	if n.lhs.name == "extra" || n.rhs.name == "extra" {
		// PEP 685: extras compare by normalized name.
		lhs, rhs = NormalizeName(lhs), NormalizeName(rhs)
	}
	switch n.op {
	case "in":
		return strings.Contains(rhs, lhs), nil
	case "not in":
		return !strings.Contains(rhs, lhs), nil
	case "===":
		// Arbitrary equality is string equality; packaging compares it case-insensitively.
		return strings.EqualFold(lhs, rhs), nil
	}
	if ok, valid := specContains(lhs, n.op, rhs); valid {
		return ok, nil
	}
	switch n.op {
	case "==":
		return lhs == rhs, nil
	case "!=":
		return lhs != rhs, nil
	}
	return false, fmt.Errorf("%q %s %q: %s needs PEP 440 versions on both sides; compare strings with == or != instead",
		lhs, n.op, rhs, n.op)
}

func (o operand) resolve(env Env) (string, error) {
	if !o.isVar {
		return o.value, nil
	}
	v, ok := env[o.name]
	if !ok {
		if o.name == "extra" {
			return "", fmt.Errorf("marker variable extra is not set: evaluate with env.WithExtra(name), or WithExtra(\"\") when no extra was requested")
		}
		return "", fmt.Errorf("marker variable %s has no value for this target (a build cannot know it): pin a release of the package whose markers do not use %s", o.name, o.name)
	}
	return v, nil
}

func (n *orNode) write(b *strings.Builder) {
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(" or ")
		}
		t.write(b)
	}
}

func (n *andNode) write(b *strings.Builder) {
	for i, t := range n.terms {
		if i > 0 {
			b.WriteString(" and ")
		}
		if _, isOr := t.(*orNode); isOr {
			b.WriteByte('(')
			t.write(b)
			b.WriteByte(')')
		} else {
			t.write(b)
		}
	}
}

func (n *cmpNode) write(b *strings.Builder) {
	n.lhs.write(b)
	b.WriteByte(' ')
	b.WriteString(n.op)
	b.WriteByte(' ')
	n.rhs.write(b)
}

func (o operand) write(b *strings.Builder) {
	switch {
	case o.isVar:
		b.WriteString(o.name)
	case strings.Contains(o.value, `"`):
		b.WriteString("'" + o.value + "'")
	default:
		b.WriteString(`"` + o.value + `"`)
	}
}

func (n *orNode) vars(set map[string]bool) {
	for _, t := range n.terms {
		t.vars(set)
	}
}

func (n *andNode) vars(set map[string]bool) {
	for _, t := range n.terms {
		t.vars(set)
	}
}

func (n *cmpNode) vars(set map[string]bool) {
	for _, o := range []operand{n.lhs, n.rhs} {
		if o.isVar {
			set[o.name] = true
		}
	}
}

type tokKind int

const (
	tokLParen tokKind = iota
	tokRParen
	tokString
	tokIdent // variable names and the words and, or, in, not
	tokOp
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset, for error messages
}

func (t token) String() string {
	switch t.kind {
	case tokString:
		return fmt.Sprintf("string %q at offset %d", t.text, t.pos)
	default:
		return fmt.Sprintf("%q at offset %d", t.text, t.pos)
	}
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9', c == '.':
		return !first
	}
	return false
}

func lexMarker(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("string starting at offset %d has no closing %c", i, c)
			}
			toks = append(toks, token{tokString, s[i+1 : i+1+end], i})
			i += end + 2
		case isIdentByte(c, true):
			j := i + 1
			for j < len(s) && isIdentByte(s[j], false) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range specOps {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unexpected %q at offset %d: values must be quoted, e.g. \"linux\"", c, i)
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		}
	}
	return toks, nil
}

type markerParser struct {
	toks []token
	pos  int
}

func (p *markerParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == tokIdent && p.toks[p.pos].text == w
}

func (p *markerParser) parseOr() (node, error) {
	var terms []node
	for {
		t, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if o, ok := t.(*orNode); ok {
			terms = append(terms, o.terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.peekWord("or") {
			break
		}
		p.pos++
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &orNode{terms: terms}, nil
}

func (p *markerParser) parseAnd() (node, error) {
	var terms []node
	for {
		t, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		if a, ok := t.(*andNode); ok {
			terms = append(terms, a.terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.peekWord("and") {
			break
		}
		p.pos++
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &andNode{terms: terms}, nil
}

func (p *markerParser) parseAtom() (node, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("ends where a condition such as python_version >= \"3.11\" is expected")
	}
	if p.toks[p.pos].kind == tokLParen {
		open := p.toks[p.pos]
		p.pos++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokRParen {
			return nil, fmt.Errorf("the ( at offset %d is never closed: add a )", open.pos)
		}
		p.pos++
		return n, nil
	}
	lhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	op, err := p.parseOp()
	if err != nil {
		return nil, err
	}
	rhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if lhs.isVar == rhs.isVar {
		// packaging evaluates neither form sensibly (it looks the literal up as a variable
		// name), so such a marker cannot mean what its author intended.
		return nil, fmt.Errorf("%s %s %s compares two %s: put a variable on one side and a quoted value on the other",
			lhs.display(), op, rhs.display(), map[bool]string{true: "variables", false: "literals"}[lhs.isVar])
	}
	return &cmpNode{lhs: lhs, rhs: rhs, op: op}, nil
}

func (o operand) display() string {
	var b strings.Builder
	o.write(&b)
	return b.String()
}

func (p *markerParser) parseOperand() (operand, error) {
	if p.pos >= len(p.toks) {
		return operand{}, fmt.Errorf("ends where a variable or quoted value is expected")
	}
	t := p.toks[p.pos]
	switch t.kind {
	case tokString:
		p.pos++
		return operand{value: t.text}, nil
	case tokIdent:
		if markerVars[t.text] {
			p.pos++
			return operand{name: t.text, isVar: true}, nil
		}
		if repl, ok := legacyVars[t.text]; ok {
			return operand{}, fmt.Errorf("legacy variable %s at offset %d is not supported (packaging dropped it): write %s", t.text, t.pos, repl)
		}
		return operand{}, fmt.Errorf("unknown variable %q at offset %d: use a PEP 508 variable such as python_version or sys_platform, or quote a value", t.text, t.pos)
	}
	return operand{}, fmt.Errorf("unexpected %s: expected a variable or a quoted value", t)
}

func (p *markerParser) parseOp() (string, error) {
	if p.pos >= len(p.toks) {
		return "", fmt.Errorf("ends where an operator such as == or in is expected")
	}
	t := p.toks[p.pos]
	switch {
	case t.kind == tokOp:
		p.pos++
		return t.text, nil
	case t.kind == tokIdent && t.text == "in":
		p.pos++
		return "in", nil
	case t.kind == tokIdent && t.text == "not":
		if p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokIdent && p.toks[p.pos+1].text == "in" {
			p.pos += 2
			return "not in", nil
		}
		return "", fmt.Errorf("'not' at offset %d must be followed by 'in'", t.pos)
	}
	return "", fmt.Errorf("unexpected %s: expected an operator (== != < <= > >= ~= === in, not in)", t)
}
