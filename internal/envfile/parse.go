// Package envfile reads and edits environment files exactly as systemd's
// EnvironmentFile= reads them, so the mathesar launcher and mathesar.service see the
// same settings from the same file.
//
// # Why hand-written
//
// The parser mirrors systemd's parse_env_file_internal() (src/basic/env-file.c) state
// machine followed by the strv_env_clean_with_callback() filter that
// exec_context_load_environment() (src/core/execute.c) applies. The two well-kept Go
// libraries were checked against those rules and both read some files differently:
//
//   - github.com/joho/godotenv expands $VAR and ${VAR} (systemd never expands in
//     EnvironmentFile=), turns \n in double quotes into a newline (systemd keeps the
//     two characters), cuts unquoted values at " #" (systemd keeps "#" in values),
//     strips "export " (systemd ignores the whole line as an invalid name), treats ":"
//     as a separator, does not treat ";" as a comment, joins no continuation lines in
//     unquoted values, fails on invalid names (systemd skips them) and on unterminated
//     quotes (systemd reads to the end of the file).
//   - github.com/hashicorp/go-envparse converts \n and \t escapes and rejects other
//     escapes, strips "export ", and fails on input systemd accepts.
//
// A parser that disagrees with systemd would make `mathesar run` and the service start
// Mathesar with different settings, so this package implements systemd's rules and is
// checked against systemd itself (see CompareWithSystemd).
//
// # The rules (systemd v252 and later)
//
//   - Lines starting with # or ; (after optional whitespace) are comments.
//   - KEY=VALUE; whitespace around the key and before the value is dropped; trailing
//     whitespace of an unquoted value is dropped.
//   - Unquoted: a backslash keeps the next character literally ("\t" is "t"), and a
//     backslash before a newline joins the next line. Quotes inside a value are literal.
//   - '...' keeps everything literally, newlines included; no escapes.
//   - "..." keeps everything except that \" \\ \` \$ lose their backslash and a
//     backslash-newline is removed; any other backslash stays ("\n" is two characters).
//   - Quoted and unquoted pieces concatenate: A="x" 'y' z is "xyz".
//   - No variable expansion: $VAR and ${VAR} are literal.
//   - CR is a line end, so CRLF files work.
//   - A key that is not a valid name ([A-Za-z_][A-Za-z0-9_]*, so "export FOO" too) is
//     ignored with a warning; a line without "=" is ignored silently by systemd. Both
//     come back here as Warnings.
//   - A later assignment of a key replaces an earlier one.
//   - Invalid UTF-8 or a NUL byte makes systemd refuse the whole file (the unit fails to
//     start), so Parse returns an error.
//   - A comment ending in a backslash continued into the next line before systemd v254
//     and does not since; such a file cannot be read the same way everywhere, so Parse
//     returns an error wrapping ErrVersionDependent.
package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// Entry is one effective assignment: the last valid assignment of Key in the file.
type Entry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Line  int    `json:"line"` // 1-based line where the key starts
}

// Warning is something systemd accepts but ignores or reads surprisingly.
type Warning struct {
	Name    string // file name as given to Parse
	Line    int
	Key     string // may be empty when the line has no key
	Message string // says what happens and what to do
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.Name, w.Line, w.Message) }

// ErrVersionDependent marks files that different systemd versions read differently.
var ErrVersionDependent = errors.New("systemd versions read this differently")

// ParseError is a problem that makes systemd refuse the file, or read it differently
// depending on its version.
type ParseError struct {
	Name    string
	Line    int
	Problem string
	Fix     string
	Err     error // ErrVersionDependent or nil
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s; %s", e.Name, e.Line, e.Problem, e.Fix)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads an environment file from r; name is used in messages. It returns the
// effective entries ordered by line, and warnings for what systemd ignores.
func Parse(r io.Reader, name string) ([]Entry, []Warning, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	return parseBytes(data, name)
}

// ParseFile reads the environment file at path.
func ParseFile(path string) ([]Entry, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read environment file %s: %w", path, err)
	}
	return parseBytes(data, path)
}

func parseBytes(data []byte, name string) ([]Entry, []Warning, error) {
	sc, err := scan(data, name)
	if err != nil {
		return nil, nil, err
	}
	var warns []Warning
	last := map[string]int{} // key -> index in sc.assigns of the winning assignment
	for i, a := range sc.assigns {
		if !validName(a.key) {
			warns = append(warns, invalidNameWarning(name, a))
			continue
		}
		if j, ok := last[a.key]; ok {
			prev := sc.assigns[j]
			warns = append(warns, Warning{Name: name, Line: prev.line, Key: a.key, Message: fmt.Sprintf(
				"%s is set again on line %d, which wins; delete one of the two", a.key, a.line)})
		}
		last[a.key] = i
	}
	for _, l := range sc.noEquals {
		msg := fmt.Sprintf("%q has no \"=\", so systemd ignores this line; write KEY=value or start the line with #", l.text)
		if strings.HasPrefix(l.text, "=") {
			msg = fmt.Sprintf("%q has no variable name before \"=\", so systemd ignores this line; write KEY=value or start the line with #", l.text)
		}
		warns = append(warns, Warning{Name: name, Line: l.line, Message: msg})
	}
	if sc.unterminated != nil {
		u := sc.unterminated
		warns = append(warns, Warning{Name: name, Line: u.line, Key: u.key, Message: fmt.Sprintf(
			"the %s quote opened here is never closed, so the value of %s runs to the end of the file; add the closing quote",
			u.quote, u.key)})
	}
	entries := make([]Entry, 0, len(last))
	for _, i := range last {
		a := sc.assigns[i]
		entries = append(entries, Entry{Key: a.key, Value: a.value, Line: a.line})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Line < entries[j].Line })
	sort.SliceStable(warns, func(i, j int) bool { return warns[i].Line < warns[j].Line })
	return entries, warns, nil
}

func invalidNameWarning(name string, a assignment) Warning {
	fix := "use only letters, digits and _, not starting with a digit"
	if bytes.HasPrefix([]byte(a.key), []byte("export")) && len(a.key) > len("export") &&
		(a.key[6] == ' ' || a.key[6] == '\t') {
		fix = "remove the leading \"export\", which systemd does not understand"
	}
	return Warning{Name: name, Line: a.line, Key: a.key, Message: fmt.Sprintf(
		"invalid variable name %q, so systemd ignores this assignment; %s", a.key, fix)}
}

// validName is systemd's env_name_is_valid (bash's character set).
func validName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// ValidName reports whether systemd accepts key as an environment variable name.
func ValidName(key string) bool { return validName(key) }

// assignment is one KEY=VALUE as systemd pushes it, valid name or not, with the byte
// span it occupies so Set and Unset can rewrite exactly those bytes.
type assignment struct {
	key, value string
	line       int
	start      int // offset of the key's first byte
	termStart  int // offset of the line end that finished it (== end at EOF)
	end        int // offset after that line end
}

type noEquals struct {
	line int
	text string
}

type unterminated struct {
	line       int
	key, quote string
}

type scanResult struct {
	assigns      []assignment
	noEquals     []noEquals
	unterminated *unterminated
}

func isNewline(c byte) bool    { return c == '\n' || c == '\r' }
func isWhitespace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

type state int

const (
	preKey state = iota
	inKey
	preValue
	inValue
	valueEscape
	singleQuote
	doubleQuote
	doubleQuoteEscape
	comment
	commentEscape
)

// scan runs systemd's state machine over data. Variable names mirror env-file.c so the
// two can be read side by side.
func scan(data []byte, name string) (*scanResult, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &ParseError{Name: name, Line: lineAt(data, i), Problem: "the file contains a NUL byte, so systemd refuses it",
			Fix: "remove the NUL byte (the file must be plain text)"}
	}
	res := &scanResult{}
	var (
		st                 = preKey
		key, value         []byte
		hasValue           bool
		lastKeyWS          = -1
		lastValueWS        = -1
		line               = 1
		keyLine, keyStart  int
		quoteLine          int
		quoteChar          string
		lineStartOfComment int
	)
	push := func(termStart, end int) error {
		k := key
		if lastKeyWS >= 0 {
			k = k[:lastKeyWS]
		}
		v := value
		if !utf8.Valid(k) {
			return &ParseError{Name: name, Line: keyLine, Problem: fmt.Sprintf("invalid UTF-8 in key %q, so systemd refuses the whole file", k),
				Fix: "save the file as UTF-8"}
		}
		if hasValue && !utf8.Valid(v) {
			return &ParseError{Name: name, Line: keyLine, Problem: fmt.Sprintf("invalid UTF-8 in the value of %s, so systemd refuses the whole file", k),
				Fix: "save the file as UTF-8"}
		}
		res.assigns = append(res.assigns, assignment{key: string(k), value: string(v), line: keyLine,
			start: keyStart, termStart: termStart, end: end})
		key, value, hasValue = key[:0], nil, false
		return nil
	}
	// lineEnd returns the offset after the line end at i, treating CRLF as one.
	lineEnd := func(i int) int {
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			return i + 2
		}
		return i + 1
	}
	appendValue := func(c byte) {
		value = append(value, c)
		hasValue = true
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		// Line counting is ours: systemd's counter skips blank lines, ours matches editors.
		newlineHere := c == '\n' || (c == '\r' && (i+1 >= len(data) || data[i+1] != '\n'))
		switch st {
		case preKey:
			if c == '#' || c == ';' {
				st = comment
				lineStartOfComment = line
			} else if !isWhitespace(c) {
				st = inKey
				lastKeyWS = -1
				keyLine, keyStart = line, i
				key = append(key[:0], c)
			}
		case inKey:
			if isNewline(c) {
				res.noEquals = append(res.noEquals, noEquals{line: keyLine, text: string(bytes.TrimRight(key, " \t"))})
				st = preKey
				key = key[:0]
			} else if c == '=' {
				st = preValue
				lastValueWS = -1
			} else {
				if !isWhitespace(c) {
					lastKeyWS = -1
				} else if lastKeyWS < 0 {
					lastKeyWS = len(key)
				}
				key = append(key, c)
			}
		case preValue:
			switch {
			case isNewline(c):
				st = preKey
				end := lineEnd(i)
				if err := push(i, end); err != nil {
					return nil, err
				}
				if end == i+2 {
					i++
					line++
					continue
				}
			case c == '\'':
				st, quoteLine, quoteChar = singleQuote, line, "single"
				hasValue = true
			case c == '"':
				st, quoteLine, quoteChar = doubleQuote, line, "double"
				hasValue = true
			case c == '\\':
				st = valueEscape
			case !isWhitespace(c):
				st = inValue
				appendValue(c)
			}
		case inValue:
			switch {
			case isNewline(c):
				st = preKey
				if lastValueWS >= 0 {
					value = value[:lastValueWS]
				}
				end := lineEnd(i)
				if err := push(i, end); err != nil {
					return nil, err
				}
				if end == i+2 {
					i++
					line++
					continue
				}
			case c == '\\':
				st = valueEscape
				lastValueWS = -1
			default:
				if !isWhitespace(c) {
					lastValueWS = -1
				} else if lastValueWS < 0 {
					lastValueWS = len(value)
				}
				appendValue(c)
			}
		case valueEscape:
			st = inValue
			if !isNewline(c) {
				appendValue(c)
			}
		case singleQuote:
			if c == '\'' {
				st = preValue
			} else {
				appendValue(c)
			}
		case doubleQuote:
			if c == '"' {
				st = preValue
			} else if c == '\\' {
				st = doubleQuoteEscape
			} else {
				appendValue(c)
			}
		case doubleQuoteEscape:
			st = doubleQuote
			switch {
			case c == '"' || c == '\\' || c == '`' || c == '$':
				appendValue(c)
			case c != '\n':
				appendValue('\\')
				appendValue(c)
			}
		case comment:
			if c == '\\' {
				st = commentEscape
			} else if isNewline(c) {
				st = preKey
			}
		case commentEscape:
			if isNewline(c) {
				return nil, &ParseError{Name: name, Line: lineStartOfComment,
					Problem: "this comment ends with a backslash, which systemd before v254 joins with the next line (hiding it) and later versions do not",
					Fix:     "remove the trailing backslash", Err: ErrVersionDependent}
			}
			st = comment
		}
		if newlineHere {
			line++
		}
	}
	switch st {
	case preValue, inValue, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		if st == inValue && lastValueWS >= 0 {
			value = value[:lastValueWS]
		}
		if st == singleQuote || st == doubleQuote || st == doubleQuoteEscape {
			k := key
			if lastKeyWS >= 0 {
				k = k[:lastKeyWS]
			}
			res.unterminated = &unterminated{line: quoteLine, key: string(k), quote: quoteChar}
		}
		if err := push(len(data), len(data)); err != nil {
			return nil, err
		}
	case inKey:
		res.noEquals = append(res.noEquals, noEquals{line: keyLine, text: string(bytes.TrimRight(key, " \t"))})
	}
	return res, nil
}

func lineAt(data []byte, off int) int {
	return bytes.Count(data[:off], []byte("\n")) + 1
}
