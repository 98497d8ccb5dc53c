// Package pytags computes the wheel tags a CPython on a target platform accepts, in the
// order pip prefers them (the order of packaging.tags.sys_tags), so that wheels can be
// chosen for machines other than the build machine.
package pytags

import (
	"fmt"
	"strings"
)

// Tag is one (interpreter, ABI, platform) triple of a wheel's compatibility tag set,
// such as cp311-cp311-manylinux_2_17_x86_64 or py3-none-any.
type Tag struct {
	Interpreter string
	ABI         string
	Platform    string
}

// String renders the tag as a wheel filename writes it.
func (t Tag) String() string {
	return t.Interpreter + "-" + t.ABI + "-" + t.Platform
}

// ParseTag reads one uncompressed tag such as "cp311-abi3-linux_x86_64".
func ParseTag(s string) (Tag, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Tag{}, fmt.Errorf("tag %q: want interpreter-abi-platform, such as py3-none-any", s)
	}
	return Tag{Interpreter: parts[0], ABI: parts[1], Platform: parts[2]}, nil
}
