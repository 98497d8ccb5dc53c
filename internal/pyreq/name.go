// Package pyreq parses Python requirement strings (PEP 508) and pip requirements files, and
// evaluates environment markers for a target CPython and platform rather than the machine
// running the build.
package pyreq

import (
	"regexp"
	"strings"
)

var (
	nameSepRun = regexp.MustCompile(`[-_.]+`)
	// validName is PEP 508's identifier rule for distribution names and extras.
	validName = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)
)

// NormalizeName returns the PEP 503 normalized name: lowercase, runs of -_. become "-".
func NormalizeName(name string) string {
	return strings.ToLower(nameSepRun.ReplaceAllString(name, "-"))
}
