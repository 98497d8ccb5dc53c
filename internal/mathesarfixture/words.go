package mathesarfixture

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Vocabulary for identifiers and prose. Single words may be keywords somewhere ("import",
// "table"), so generators join at least two of them or go through ident.
var (
	nouns = []string{
		"table", "column", "record", "schema", "database", "exploration", "user", "role",
		"constraint", "filter", "form", "collaborator", "connection", "file", "link", "view",
		"index", "sequence", "permission", "summary", "group", "sort", "value", "owner",
		"privilege", "cell", "row", "field", "setting", "server", "cursor", "preview",
		"attribute", "relation", "identifier", "token", "session", "query", "result", "page",
		"sheet", "widget", "metadata", "config", "payload", "response", "request", "credential",
		"template", "message", "label", "locale", "transform", "aggregation", "join", "expression",
		"parameter", "default", "comment", "grant",
	}
	verbs = []string{
		"get", "list", "add", "patch", "delete", "build", "parse", "render", "resolve", "fetch",
		"load", "save", "update", "create", "drop", "alter", "validate", "normalize", "format",
		"compute", "infer", "merge", "split", "apply", "reset", "move", "copy", "rename", "find",
		"check", "collect", "encode", "decode", "serialize", "prepare", "extract", "import",
		"export", "sync", "refresh",
	}
	adjectives = []string{
		"current", "default", "cached", "pending", "visible", "primary", "foreign", "unique",
		"nullable", "stale", "active", "shared", "internal", "external", "selected", "sorted",
	}
	prose = []string{
		"the", "a", "of", "for", "each", "given", "when", "with", "and", "or", "into", "from",
		"table", "column", "record", "schema", "database", "user", "role", "value", "values",
		"returns", "raises", "builds", "stores", "keeps", "reads", "writes", "checks", "maps",
		"identifier", "name", "list", "dictionary", "connection", "request", "response", "result",
		"current", "new", "existing", "empty", "valid", "invalid", "optional", "required",
		"PostgreSQL", "Django", "Mathesar", "RPC", "API", "JSON", "SQL", "exploration", "filter",
		"if", "not", "only", "all", "any", "several", "later", "first", "last", "this", "that",
	}
)

// pythonKeywords are the identifiers compound names must avoid (Python's reserved words).
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true, "def": true,
	"del": true, "elif": true, "else": true, "except": true, "finally": true, "for": true,
	"from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true,
	"return": true, "try": true, "while": true, "with": true, "yield": true,
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// ident returns a snake_case identifier that is never a Python keyword.
func ident(r *rand.Rand, parts ...[]string) string {
	for {
		var b []string
		for _, p := range parts {
			b = append(b, pick(r, p))
		}
		s := strings.Join(b, "_")
		if !pythonKeywords[s] {
			return s
		}
	}
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// pascal turns snake_case into PascalCase.
func pascal(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(s, "_") {
		b.WriteString(title(p))
	}
	return b.String()
}

// sentence returns a capitalised sentence of 5–14 words ending with a full stop.
func sentence(r *rand.Rand) string {
	n := 5 + r.IntN(10)
	w := make([]string, n)
	for i := range w {
		w[i] = pick(r, prose)
	}
	return title(strings.Join(w, " ")) + "."
}

func paragraph(r *rand.Rand, n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = sentence(r)
	}
	return strings.Join(s, " ")
}

// sizeBuckets spread file sizes roughly log-uniformly, like a real source tree: many small
// files, a long tail of large ones. Integer buckets keep the draw identical on every platform.
var sizeBuckets = [][2]int{{200, 500}, {500, 1000}, {1000, 2000}, {2000, 5000}, {5000, 10000}, {10000, 20000}}

// drawSize returns a target size in [min, max] bytes from sizeBuckets, clipped.
func drawSize(r *rand.Rand, lo, hi int) int {
	b := pick(r, sizeBuckets)
	n := b[0] + r.IntN(b[1]-b[0])
	return min(max(n, lo), hi)
}

// uniqueNames returns n distinct names made by gen, falling back to numbered names when the
// vocabulary runs dry, so any n works.
func uniqueNames(r *rand.Rand, n int, taken map[string]bool, gen func() string) []string {
	if taken == nil {
		taken = map[string]bool{}
	}
	var out []string
	for tries := 0; len(out) < n; tries++ {
		s := gen()
		if taken[s] {
			if tries < 50*n {
				continue
			}
			s = fmt.Sprintf("%s_%d", s, tries)
			if taken[s] {
				continue
			}
		}
		taken[s] = true
		out = append(out, s)
	}
	return out
}

// spread splits total into buckets counts of at least lo each, at random.
func spread(r *rand.Rand, total, buckets, lo int) []int {
	out := make([]int, buckets)
	for i := range out {
		out[i] = lo
	}
	for left := total - lo*buckets; left > 0; left-- {
		out[r.IntN(buckets)]++
	}
	return out
}

// randomBytes returns n bytes of r, for binary-looking assets.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
