package pyfind

import (
	"fmt"
	"strings"
)

// RejectReason says why an interpreter cannot run the bundle.
type RejectReason string

// Reasons an interpreter was passed over.
const (
	TooOld            RejectReason = "too old"
	TooNew            RejectReason = "too new"
	NotCPython        RejectReason = "not CPython"
	FreeThreadedBuild RejectReason = "free-threaded build"
	DebugBuild        RejectReason = "debug build"
	FailedToRun       RejectReason = "failed to run"
	NotFound          RejectReason = "not found"
)

// Rejected is one interpreter Find saw and could not use.
type Rejected struct {
	Path           string
	Version        [3]int // zero when it did not run
	Implementation string // "" when it did not run
	Reason         RejectReason
	Detail         string // the error for FailedToRun/NotFound, the implementation for NotCPython
}

func (r Rejected) String() string {
	var b strings.Builder
	b.WriteString(r.Path)
	if r.Implementation != "" {
		fmt.Fprintf(&b, " (%s %d.%d.%d)", implName(r.Implementation), r.Version[0], r.Version[1], r.Version[2])
	}
	b.WriteString(": ")
	b.WriteString(string(r.Reason))
	if r.Detail != "" && r.Reason != NotCPython {
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	return b.String()
}

func implName(impl string) string {
	switch impl {
	case "cpython":
		return "CPython"
	case "pypy":
		return "PyPy"
	}
	return impl
}

// NoPythonError is Find's error when no usable interpreter exists.
type NoPythonError struct {
	Min, Max    [2]int
	Explicit    string     // MATHESAR_PYTHON, when it was set
	Rejected    []Rejected // in search order
	Names       []string   // executable names searched for (not set for Explicit)
	Searched    []string   // "PATH" then the extra directories (not set for Explicit)
	InstallHint string     // a command for this OS, or a generic sentence
}

func (e *NoPythonError) Error() string {
	var b strings.Builder
	want := "CPython " + rangeText(e.Min, e.Max)
	if e.Explicit != "" {
		fmt.Fprintf(&b, "MATHESAR_PYTHON=%s cannot run Mathesar, which needs %s (not PyPy, not a free-threaded or debug build):\n", e.Explicit, want)
	} else {
		fmt.Fprintf(&b, "no compatible Python found: Mathesar needs %s (not PyPy, not a free-threaded or debug build).\n", want)
	}
	switch {
	case len(e.Rejected) > 0:
		if e.Explicit == "" {
			b.WriteString("Found:\n")
		}
		for _, r := range e.Rejected {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	case len(e.Names) > 0:
		fmt.Fprintf(&b, "Found none: looked for %s on %s.\n", strings.Join(e.Names, ", "), strings.Join(e.Searched, ", "))
	}
	fmt.Fprintf(&b, "Install one: %s\n", e.InstallHint)
	if e.Explicit != "" {
		fmt.Fprintf(&b, "Then point MATHESAR_PYTHON at it, or unset MATHESAR_PYTHON to let mathesar search PATH.")
	} else {
		fmt.Fprintf(&b, "Or set MATHESAR_PYTHON to the path of a %s interpreter.", want)
	}
	return b.String()
}

// rangeText renders a version range as "3.10 to 3.14", or "3.12" for a single version.
func rangeText(lo, hi [2]int) string {
	if lo == hi {
		return fmt.Sprintf("%d.%d", lo[0], lo[1])
	}
	return fmt.Sprintf("%d.%d to %d.%d", lo[0], lo[1], hi[0], hi[1])
}
