// Package homebrew carries the Homebrew formula template, so the renderer
// (internal/homebrew) holds it in its binary and needs no path to the repository.
package homebrew

import _ "embed"

// FormulaTemplate is mathesar.rb.tmpl, a text/template rendered by internal/homebrew.
//
// Embedded rather than read by path: `go tool mage release` and the tests run from any
// working directory, and go:embed makes a change to the template part of the build, so a
// test never renders a stale copy.
//
//go:embed mathesar.rb.tmpl
var FormulaTemplate string
